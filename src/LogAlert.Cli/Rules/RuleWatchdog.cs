using System.Diagnostics;
using LogAlert.Core;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Rules;

/// <summary>
/// Rules are trusted code, but a rule stuck in a loop must not hang the process without a word
/// (STYLE.md, "The Roslyn rule host"): every rule delegate is wrapped so that it marks itself as
/// running, and a background thread checking every 100 ms reports a rule that runs longer than
/// <see cref="Timeout"/> by name and ends the process with exit code 2.
/// </summary>
/// <remarks>
/// One slot, not one per thread: the engine evaluates rules one after another on one thread. The
/// slot is published name-last (volatile), so the checking thread never pairs a rule that is still
/// running with an older start time; a rule that finishes while being checked is at worst reported
/// when it really did overrun.
/// </remarks>
public sealed class RuleWatchdog : IDisposable
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromMilliseconds(100);

    private volatile string? _running;
    private volatile string? _where;
    private long _startedAt;
    private long _logTime;
    private volatile bool _reported;
    private Thread? _thread;
    private readonly CancellationTokenSource _stop = new();

    /// <summary>How long one evaluation of one rule may take (<c>--rule-timeout</c>, default 5s); zero or less switches the watchdog off.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Where the report goes (stderr by default).</summary>
    public TextWriter Error { get; set; } = Console.Error;

    /// <summary>
    /// What happens after the report: <c>Environment.Exit(2)</c> unless replaced (a run writes what
    /// it computed first, and tests count).
    /// </summary>
    public Action OnRunaway { get; set; } = () => Environment.Exit(ExitCodes.Usage);

    /// <summary>What is running now: <c>rule "name"</c> or <c>rule file path</c>; null between evaluations.</summary>
    public string? Running => _running;

    /// <summary>The report of the runaway, once there was one (what <see cref="OnRunaway"/> follows).</summary>
    public string? RunawayMessage { get; private set; }

    /// <summary>Log time passed to <see cref="Enter"/> by the load-time probe, which has none.</summary>
    internal const long LoadTime = long.MinValue;

    /// <summary>Wraps a scalar rule's value so the watchdog sees it run; <paramref name="where"/> (<c>file:line</c>
    /// of its <c>Alert</c> call) heads the report of a call at load time.</summary>
    public Func<IQuery, double> Watch(string rule, Func<IQuery, double> value, string? where = null) => Watched(rule, value, where);

    /// <summary>Wraps a per-group rule's values so the watchdog sees it run.</summary>
    public Func<IQuery, Grouped> Watch(string rule, Func<IQuery, Grouped> values, string? where = null) => Watched(rule, values, where);

    private Func<IQuery, T> Watched<T>(string rule, Func<IQuery, T> value, string? where)
    {
        var what = $"rule \"{rule}\"";
        return q =>
        {
            var now = NowOf(q);
            // At load time there is no log time to say where it stuck: its file and line are said
            // instead. Set only then (every load-time entry sets it, `Run` too), not on every
            // evaluation of a run, whose report never reads it.
            if (now == LoadTime) _where = where;
            Enter(what, now);
            var held = false;
            try
            {
                var result = value(q);
                // The engine calls a WhenEach result's Select and Where functions after the rule
                // returned it: such a rule is watched until the engine has read its result.
                if (result is Grouped { CallsRuleCode: true } && q is IEvaluationScope scope)
                {
                    scope.OnEvaluated(_leave);
                    held = true;
                }
                return result;
            }
            finally
            {
                if (!held) _running = null; // Exceptions go on to the engine, which reports the rule and switches it off.
            }
        };
    }

    private readonly Action _leave;

    /// <summary>A watchdog; its thread starts with the first rule it watches.</summary>
    public RuleWatchdog() => _leave = () => _running = null;

    /// <summary>Runs a rule file's top-level code (where <c>Alert</c> is called) under the watchdog.</summary>
    internal T Run<T>(string file, Func<T> body)
    {
        _where = null;
        Enter($"rule file {file}", LoadTime);
        try
        {
            return body();
        }
        finally
        {
            _running = null;
        }
    }

    private static long NowOf(IQuery q) => q is ProbeQuery ? LoadTime : q.Now.ToUnixTimeSeconds();

    private void Enter(string rule, long logTime)
    {
        Volatile.Write(ref _startedAt, Stopwatch.GetTimestamp());
        Volatile.Write(ref _logTime, logTime);
        _running = rule;
        EnsureStarted();
    }

    private void EnsureStarted()
    {
        if (_thread is not null) return;
        lock (_stop)
        {
            if (_thread is not null || _stop.IsCancellationRequested) return;
            var thread = new Thread(Loop) { IsBackground = true, Name = "logalert rule watchdog" };
            thread.Start();
            _thread = thread;
        }
    }

    /// <summary>Growth of the heap while a rule ran past the timeout above which the report says so.</summary>
    private const long ManyBytes = 256L << 20;

    private void Loop()
    {
        // The heap at the check before an evaluation was first seen running: a rule that holds on to
        // all it builds (a list of arrays) was reported as "stuck in a loop?" while its memory grew by
        // a gigabyte a second. The heap in use, not the bytes allocated, which a loop of short-lived
        // strings also runs up. Read here, not on entry, which every closed second pays.
        long seenStart = 0, heapThen = 0, heapLast = GC.GetTotalMemory(false);
        while (!_stop.Token.WaitHandle.WaitOne(CheckEvery))
        {
            var heapBefore = heapLast;
            heapLast = GC.GetTotalMemory(false);
            var rule = _running;
            if (rule is null || _reported || Timeout <= TimeSpan.Zero) continue;
            var startedAt = Volatile.Read(ref _startedAt);
            if (startedAt != seenStart) (seenStart, heapThen) = (startedAt, heapBefore);
            var elapsed = Stopwatch.GetElapsedTime(startedAt);
            if (elapsed <= Timeout || !ReferenceEquals(rule, _running)) continue;
            _reported = true;
            var logTime = Volatile.Read(ref _logTime);
            var at = logTime == LoadTime ? "load time" : LogTime.Iso(logTime);
            var where = logTime == LoadTime && _where is { } w ? w + ": " : "";
            var grown = heapLast - heapThen;
            var why = grown > ManyBytes
                ? $"memory in use grew by {(grown / (double)(1 << 30)).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)} GB meanwhile: is it holding on to all it builds?"
                : "is it stuck in a loop?";
            RunawayMessage = $"{where}{rule} did not finish within {Durations.Format(Timeout)} at {at}; {why}";
            try
            {
                Error.WriteLine($"logalert: {RunawayMessage}");
                Error.Flush();
            }
            catch (IOException)
            {
                // stderr is gone; exiting is all that is left.
            }
            OnRunaway();
        }
    }


    /// <summary>Stops the checking thread.</summary>
    public void Dispose()
    {
        lock (_stop) _stop.Cancel();
        _thread?.Join();
    }
}
