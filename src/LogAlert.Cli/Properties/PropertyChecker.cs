using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using LogAlert.Cli.Input;
using LogAlert.Cli.Input.Formats;
using LogAlert.Cli.Rules;
using LogAlert.Core.Interop;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace LogAlert.Cli.Properties;

/// <summary>Why a case fails a property: what differed, and the logs that show it (name, CSV).</summary>
internal sealed record Failure(IReadOnlyList<string> Detail, IReadOnlyList<(string Name, string Csv)> Logs, string? Note = null);

/// <summary>One property of one rule: its name and its check of a case (null when it holds).</summary>
internal sealed record RuleProperty(string Name, Func<TrafficCase, Failure?> Check);

/// <summary>
/// <c>logalert check --properties</c>: checks each loaded rule on generated traffic (<see cref="Traffic"/>)
/// with FsCheck, one property at a time, and prints each failure shrunk to a small log as CSV.
/// </summary>
/// <remarks>
/// Each run of a case reads its CSV with <see cref="AccessLogReader"/> and folds it through the engine
/// (<see cref="Fold"/>) exactly as <c>logalert --rules FILE case.csv</c> would, with the default
/// lateness and skew limit and no summaries: bad lines and skewed records are what they are in a real run.
/// </remarks>
internal sealed class PropertyChecker
{
    private readonly RuleLoadResult _loaded;
    private readonly TextWriter _out;
    private readonly int _cases;
    private readonly ulong _seed;
    private readonly Traffic.Limits _limits;
    private readonly TimeSpan _lateness = TimeSpan.FromSeconds(5);
    private readonly TimeSpan _maxSkew = TimeSpan.FromHours(1);

    // What runs now, for a rule stuck past the timeout: the watchdog's thread reports it.
    private volatile string? _runningProperty;
    private volatile RuleDescription? _runningRule;
    private volatile string? _runningCsv;
    // How the current rule's traffic is written: JSON lines when it reads a field CSV has not.
    private volatile TrafficFormat _runningFormat;

    /// <summary>A log's file name for the current rule's format: <c>case.csv</c>, or <c>case.jsonl</c>.</summary>
    private string LogName(string stem) => stem + (_runningFormat == TrafficFormat.Jsonl ? ".jsonl" : ".csv");

    public PropertyChecker(RuleLoadResult loaded, TextWriter output, int cases, ulong seed)
    {
        _loaded = loaded;
        _out = output;
        _cases = cases;
        _seed = seed;
        _limits = new Traffic.Limits((long)_lateness.TotalSeconds, (long)_maxSkew.TotalSeconds);
    }

    /// <summary>The property names, in the order they are checked.</summary>
    public const string NeverThrows = "never throws";
    public const string Rebatching = "determinism under re-batching";
    public const string Reordering = "determinism under reordering within the lateness";
    public const string Translation = "determinism under time translation";
    public const string Alternation = "fire and resolve alternate, thresholds strict";
    public const string MonotonicName = "monotonic: more traffic never resolves what less traffic fires";
    public const string Timeout = "evaluation exceeded the rule timeout";
    public const string EndedProcess = "the rule ended the process (Environment.Exit)";

    private int _passed;
    private int _failed;

    /// <summary>
    /// Checks every property of every rule; returns the exit code (0 all pass, 1 any failed, or 128 +
    /// the signal's number when <paramref name="stop"/> was signalled: the property being checked
    /// counts neither way, and the summary says so).
    /// </summary>
    public int Run(SignalStop? stop = null)
    {
        _cancel = stop?.Token ?? CancellationToken.None;
        _out.WriteLine($"logalert check --properties: {_loaded.Descriptions.Count} rule{(_loaded.Descriptions.Count == 1 ? "" : "s")}, {_cases} case{(_cases == 1 ? "" : "s")} per property, seed {_seed}");
        foreach (var rule in _loaded.Descriptions)
        {
            foreach (var property in Properties(rule))
            {
                if (_cancel.IsCancellationRequested) break;
                var held = CheckOne(rule, property);
                if (_cancel.IsCancellationRequested) break; // cut short: neither held nor failed
                if (held) Interlocked.Increment(ref _passed);
                else Interlocked.Increment(ref _failed);
                _out.Flush();
            }
        }
        lock (_out)
        {
            // A forced stop (a rule held the run past the grace) claimed the report and is ending the process.
            if (Interlocked.Exchange(ref _reported, 1) == 1) Monitor.Wait(_out);
            if (stop?.Signal is { } signal)
            {
                WriteStopped(signal, running: null);
                return stop.ExitCode;
            }
            _out.WriteLine($"{_passed} passed, {_failed} failed");
            _out.WriteLine($"seed {_seed} (the same run: --seed {_seed})");
        }
        return _failed == 0 ? ExitCodes.Ok : 1;
    }

    private CancellationToken _cancel;
    private int _reported;

    /// <summary>Reports a rule stuck past the timeout with the log it was running on; the caller then ends the process.</summary>
    public void ReportRunaway(string message) => ReportStop(Timeout, message);

    /// <summary>Reports a rule that called <c>Environment.Exit</c>, with the log it was running on; the process is ending.</summary>
    public void ReportEndedProcess(string message) => ReportStop(EndedProcess, message);

    /// <summary>
    /// A signal stopped the run while a case was still being checked (<paramref name="running"/>: the
    /// rule call it interrupted, if any): said with the counts so far; no property is charged with it.
    /// </summary>
    /// <returns>False when the run already wrote its summary.</returns>
    public bool ReportInterrupted(string signal, string? running)
    {
        lock (_out)
        {
            if (Interlocked.Exchange(ref _reported, 1) == 1) return false;
            WriteStopped(signal, running);
            return true;
        }
    }

    // The same lines whether the run reached the end of its case or the grace ran out first: which
    // one it was depends on the machine's load, not on anything the user can act on.
    private void WriteStopped(string signal, string? running)
    {
        _out.WriteLine();
        var during = running is null ? "" : $" while {running} was running";
        var where = _runningProperty is { } property ? $"checking \"{property}\" of {_runningRule?.Name}" : "before the first property";
        _out.WriteLine($"stopped: {signal}{during}, {where}");
        _out.WriteLine($"{_passed} passed, {_failed} failed (the run was stopped by {signal})");
        _out.WriteLine($"seed {_seed} (the same run: --seed {_seed})");
        _out.Flush();
    }

    /// <summary>
    /// A failure the run cannot go on from: the property being checked fails with the case it was on,
    /// and the count covers the properties checked before it.
    /// </summary>
    private void ReportStop(string heading, string message)
    {
        var rule = _runningRule;
        lock (_out)
        {
            if (Interlocked.Exchange(ref _reported, 1) == 1) return;
            _out.WriteLine();
            _out.WriteLine($"FAIL  {heading}: {rule?.Name ?? "?"}{Where(rule)}, while checking \"{_runningProperty}\"");
            _out.WriteLine($"  {message}");
            if (_runningCsv is { } csv) WriteLog(LogName("case"), csv);
            if (rule is not null) WriteReplay(rule, LogName("case"));
            _out.WriteLine($"{_passed} passed, {_failed + 1} failed (the run stops: a rule held in a loop or ending the process cannot be resumed)");
            _out.WriteLine($"seed {_seed} (the same run: --seed {_seed})");
            _out.Flush();
        }
    }

    private static string Where(RuleDescription? rule) =>
        rule is null ? "" : rule.Line > 0 ? $" ({rule.File}:{rule.Line})" : $" ({rule.File})";

    private sealed class ResultRunner : IRunner
    {
        public TestResult? Result { get; private set; }
        public void OnStartFixture(Type t) { }
        public void OnArguments(int ntest, FSharpList<object> args, FSharpFunc<int, FSharpFunc<FSharpList<object>, string>> every) { }
        public void OnShrink(FSharpList<object> args, FSharpFunc<FSharpList<object>, string> everyShrink) { }
        public void OnFinished(string name, TestResult testResult) => Result = testResult;
    }

    /// <summary>A stable 64-bit mix of the seed and a name (FNV-1a), so each property of each rule has its own cases.</summary>
    private ulong SeedFor(string property, string rule)
    {
        var h = 14695981039346656037UL ^ _seed;
        foreach (var ch in property + "\0" + rule)
        {
            h ^= ch;
            h *= 1099511628211UL;
        }
        return h;
    }

    private bool CheckOne(RuleDescription rule, RuleProperty property)
    {
        _runningProperty = property.Name;
        _runningRule = rule;
        var arb = Traffic.Arbitrary(InterestingCounts(rule), _limits);
        var runner = new ResultRunner();
        var config = Config.Quick
            .WithMaxTest(_cases)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(SeedFor(property.Name, rule.Name)), FSharpOption<int>.None)))
            .WithRunner(runner);
        // After a signal every case holds at once, so that FsCheck ends; the caller discards the result.
        Check.One(config, Prop.ForAll(arb, (TrafficCase c) => _cancel.IsCancellationRequested || property.Check(c) is null));
        if (_cancel.IsCancellationRequested) return false;
        switch (runner.Result)
        {
            case TestResult.Passed passed:
                _out.WriteLine($"ok    {property.Name}: {rule.Name}  ({passed.Item1.NumberOfTests} case{(passed.Item1.NumberOfTests == 1 ? "" : "s")})");
                return true;
            case TestResult.Failed f:
                _out.WriteLine();
                _out.WriteLine($"FAIL  {property.Name}: {rule.Name}{Where(rule)}  (case {f.Item1.NumberOfTests} of {_cases}, shrunk {f.Item1.NumberOfShrinks} time{(f.Item1.NumberOfShrinks == 1 ? "" : "s")})");
                var shrunk = f.Item3.OfType<TrafficCase>().FirstOrDefault();
                Failure? failure;
                try
                {
                    failure = shrunk is null ? null : property.Check(shrunk);
                }
                catch (Exception e)
                {
                    // A fault of this checker, not of the rule (the engine catches what a rule throws).
                    _out.WriteLine($"  the check itself failed: {e.GetType().Name}: {e.Message}");
                    return false;
                }
                if (failure is null)
                {
                    // Only a rule that depends on something outside the log (the wall clock, state kept
                    // between calls) fails a case once and passes it the next time.
                    _out.WriteLine("  the shrunk case passed when run again: the rule depends on something besides the log (the clock, state kept between calls)");
                    if (shrunk is not null) WriteLog(LogName("case"), Traffic.Text(Traffic.Lines(shrunk, _limits, format: _runningFormat), _runningFormat));
                    return false;
                }
                foreach (var line in failure.Detail) _out.WriteLine($"  {line}");
                foreach (var (name, csv) in failure.Logs) WriteLog(name, csv);
                if (failure.Note is { } note) _out.WriteLine($"  {note}");
                WriteReplay(rule, failure.Logs.Count > 0 ? failure.Logs[0].Name : LogName("case"));
                _out.WriteLine();
                return false;
            default:
                _out.WriteLine($"FAIL  {property.Name}: {rule.Name}  (no case could be generated)");
                return false;
        }
    }

    private void WriteLog(string name, string csv)
    {
        var lines = csv.Count(ch => ch == '\n');
        _out.WriteLine($"----- 8< ----- {name} ({lines} lines)");
        _out.Write(csv);
        _out.WriteLine("----- >8 -----");
    }

    private void WriteReplay(RuleDescription rule, string file)
    {
        var only = _loaded.Descriptions.Count(d => d.File == rule.File) > 1 ? $" --only {rule.Name}" : "";
        var format = file.EndsWith(".jsonl", StringComparison.Ordinal) ? " --input-format jsonl" : "";
        _out.WriteLine($"  save the log between the marks as {file} and replay it with: logalert --rules {Quote(rule.File)}{only}{format} --summary-interval off {file}");
    }

    private static string Quote(string path) => path.Any(ch => char.IsWhiteSpace(ch) || ch is '\'' or '"' or '$' or '*' or '?') ? $"'{path.Replace("'", "'\\''")}'" : path;

    /// <summary>
    /// Request counts that bring the rule's value to a threshold exactly, where its windows count
    /// requests: <c>T</c>, <c>T·w</c> (a rate over <c>w</c> seconds), <c>R</c>, <c>R·w</c>, and one on either side.
    /// </summary>
    internal static int[] InterestingCounts(RuleDescription rule)
    {
        var counts = new SortedSet<int>();
        var widths = rule.Windows.Select(w => (long)w.Width.TotalSeconds).Append(1L).Distinct();
        foreach (var threshold in new[] { rule.Rule.Threshold, rule.Rule.Recover })
            foreach (var w in widths)
            {
                var v = threshold * w;
                if (double.IsFinite(v) && v >= 1 && v <= 20_000 && Math.Abs(v - Math.Round(v)) < 1e-9)
                    for (var d = -1; d <= 1; d++)
                        if (Math.Round(v) + d >= 1) counts.Add((int)Math.Round(v) + d);
            }
        return [.. counts];
    }

    private IEnumerable<RuleProperty> Properties(RuleDescription rule)
    {
        var settings = new EngineSettings { Lateness = _lateness, MaxSkew = _maxSkew, SummaryInterval = TimeSpan.Zero, Rules = [rule.Rule] };
        settings.Windows.Add(rule.Told);
        var extras = AccessExtrasNames.Read(settings.Reads);
        var format = extras == AccessExtras.None ? TrafficFormat.Csv : TrafficFormat.Jsonl;
        _runningFormat = format;
        var inputFormat = format == TrafficFormat.Jsonl ? InputFormat.TryCreate("jsonl", null, out _)! : InputFormat.Auto;

        List<Notice> Run(string csv, int batchSize = AccessLogReader.DefaultBatchSize)
        {
            _runningCsv = csv;
            var bytes = Encoding.UTF8.GetBytes(csv);
            var reader = new AccessLogReader(["-"], stdin: () => new MemoryStream(bytes), batchSize: batchSize)
            {
                Extras = extras,
                Format = inputFormat,
                ParseInParallel = false,
            };
            var state = Fold.Start(settings);
            var events = new List<Notice>();
            foreach (var batch in reader.ReadBatches())
            {
                // A signal: the property's answer is discarded (Run), so the rest of this log need not be read.
                _cancel.ThrowIfCancellationRequested();
                if (batch.Count == 0) continue;
                var step = Fold.Push(state, batch.Records);
                events.AddRange(step.Events);
                state = step.State;
            }
            events.AddRange(Fold.End(state).Events);
            return events;
        }

        string Csv(TrafficCase c, long shift = 0, bool extra = false) => Traffic.Text(Traffic.Lines(c, _limits, shift, extra, format), format);
        var (caseLog, sortedLog, shiftedLog, lessLog, moreLog) = (LogName("case"), LogName("sorted"), LogName("shifted"), LogName("less"), LogName("more"));

        yield return new RuleProperty(NeverThrows, c =>
        {
            var csv = Csv(c);
            var thrown = Run(csv).OfType<RuleFailedNotice>().FirstOrDefault();
            return thrown is null ? null : new Failure(
                [$"at {LogTime.Iso(thrown.Time)} the rule threw: {thrown.Message}"], [(caseLog, csv)]);
        });

        yield return new RuleProperty(Rebatching, c =>
        {
            var csv = Csv(c);
            var whole = Describe(Run(csv), 0, message: true);
            var split = Describe(Run(csv, c.BatchSize), 0, message: true);
            return Differ(whole, split) is { } diff
                ? new Failure([$"read in batches of {c.BatchSize} record{(c.BatchSize == 1 ? "" : "s")} instead of all at once, the same log gives other events:", .. diff], [(caseLog, csv)])
                : null;
        });

        yield return new RuleProperty(Reordering, c =>
        {
            var lines = Traffic.Lines(c, _limits, format: format);
            var csv = Traffic.Text(lines, format);
            var sortedCsv = Traffic.Text(Traffic.Sorted(lines), format);
            var given = Describe(Run(csv), 0, message: true);
            var sorted = Describe(Run(sortedCsv), 0, message: true);
            return Differ(given, sorted) is { } diff
                ? new Failure(["the same records sorted by time (each within the lateness of the newest) give other events:", .. diff],
                    [(caseLog, csv), (sortedLog, sortedCsv)], "both logs hold the same records; no record is late in either")
                : null;
        });

        yield return new RuleProperty(Translation, c =>
        {
            var csv = Csv(c);
            var shiftedCsv = Csv(c, c.Shift);
            // The log's own events moved by the shift, against the shifted log's: times move, values and labels stay.
            var expected = Describe(Run(csv), c.Shift, message: false);
            var got = Describe(Run(shiftedCsv), 0, message: false);
            var seconds = $"{(c.Shift >= 0 ? "+" : "")}{c.Shift.ToString(CultureInfo.InvariantCulture)}s";
            var readable = $"{(c.Shift >= 0 ? "+" : "-")}{Durations.Format(TimeSpan.FromSeconds(Math.Abs((long)c.Shift)))}";
            var by = readable == seconds ? seconds : $"{seconds} ({readable})";
            return Differ(expected, got) is { } diff
                ? new Failure([$"the same log shifted by {by} gives events that are not the log's own shifted by as much:", .. diff,
                        "a rule's value must depend only on what its queries return, not on q.Now or the clock"],
                    [(caseLog, csv), (shiftedLog, shiftedCsv)])
                : null;
        });

        yield return new RuleProperty(Alternation, c =>
        {
            var csv = Csv(c);
            var problem = AlternationProblem(Run(csv), rule);
            return problem is null ? null : new Failure([problem], [(caseLog, csv)]);
        });

        if (rule.Monotonic)
            yield return new RuleProperty(MonotonicName, c =>
            {
                var lessCsv = Csv(c);
                var moreCsv = Csv(c, extra: true);
                if (lessCsv == moreCsv) return null;
                var problem = MonotonicProblem(Run(lessCsv), Run(moreCsv), lessLog, moreLog);
                return problem is null ? null : new Failure([.. problem, "the rule declares .Monotonic(): its value must not decrease when records are added"],
                    [(lessLog, lessCsv), (moreLog, moreCsv)], $"{moreLog} is {lessLog} with requests added at seconds it already has (never next to a record that opens a jump)");
            });
    }

    private static string Labels(IReadOnlyList<LabelPair> labels) =>
        labels.Count == 0 ? "" : "{" + string.Join(",", labels.Select(l => $"{l.Name}=\"{l.Value}\"")) + "}";

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The events as lines to compare, times moved by <paramref name="shift"/>; messages only when asked (they name times).</summary>
    private static List<string> Describe(List<Notice> events, long shift, bool message)
    {
        var lines = new List<string>();
        foreach (var e in events)
            switch (e)
            {
                case AlertNotice a:
                    var what = a.Transition == AlertTransition.Fired
                        ? $"fired     value {Number(a.Value)} > {Number(a.Threshold)}"
                        : $"resolved  value {Number(a.Value)}, firing since {LogTime.Iso(a.FiringSince + shift)}";
                    lines.Add($"{LogTime.Iso(a.Time + shift)}  {a.Rule}{Labels(a.Labels)}  {what}{(message ? $"  \"{a.Message}\"" : "")}");
                    break;
                case RuleFailedNotice f:
                    lines.Add($"{LogTime.Iso(f.Time + shift)}  {f.Rule}  threw: {Output.Terminal.Escape(f.Message)}");
                    break;
                case FinishedNotice end:
                    var r = end.Report;
                    lines.Add($"end: {r.Records} record{(r.Records == 1 ? "" : "s")}, {r.Skewed} skewed, {r.Late} late");
                    foreach (var s in r.Firing)
                        lines.Add($"end: {s.Rule}{Labels(s.Labels)} still firing since {LogTime.Iso(s.Since + shift)}, value {Number(s.Value)}");
                    break;
            }
        return lines;
    }

    /// <summary>Null when equal; else the first difference and a few lines after it, expected against got.</summary>
    private static List<string>? Differ(List<string> expected, List<string> got)
    {
        var i = 0;
        while (i < expected.Count && i < got.Count && expected[i] == got[i]) i++;
        if (i == expected.Count && i == got.Count) return null;
        var result = new List<string> { $"  from event {i + 1} on:" };
        const int show = 4;
        result.Add("  expected:");
        result.AddRange(expected.Skip(i).Take(show).Select(l => "    " + l));
        if (i >= expected.Count) result.Add("    (no more events)");
        else if (expected.Count - i > show) result.Add($"    ... {expected.Count - i - show} more");
        result.Add("  got:");
        result.AddRange(got.Skip(i).Take(show).Select(l => "    " + l));
        if (i >= got.Count) result.Add("    (no more events)");
        else if (got.Count - i > show) result.Add($"    ... {got.Count - i - show} more");
        return result;
    }

    /// <summary>
    /// Per alert (rule and labels): events alternate fired, resolved, fired..., starting with fired; a
    /// fired value is strictly above the threshold and a resolved one strictly below the recovery
    /// threshold (so a value equal to either never flips the state); the alerts still firing at the end
    /// are those whose last event fired.
    /// </summary>
    private static string? AlternationProblem(List<Notice> events, RuleDescription rule)
    {
        var firing = new Dictionary<string, AlertNotice>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (e is FinishedNotice end)
            {
                var still = end.Report.Firing.Select(f => f.Rule + Labels(f.Labels)).Order(StringComparer.Ordinal).ToList();
                var expected = firing.Keys.Order(StringComparer.Ordinal).ToList();
                if (!still.SequenceEqual(expected))
                    return $"the final report lists as firing [{string.Join(", ", still)}], but the events leave [{string.Join(", ", expected)}] firing";
                continue;
            }
            if (e is not AlertNotice a) continue;
            var key = a.Rule + Labels(a.Labels);
            var at = LogTime.Iso(a.Time);
            if (a.Transition == AlertTransition.Fired)
            {
                if (firing.TryGetValue(key, out var before))
                    return $"{key} fired at {at} while firing since {LogTime.Iso(before.Time)} (no resolve in between)";
                if (!(a.Value > rule.Rule.Threshold))
                    return $"{key} fired at {at} with value {Number(a.Value)}, not above the threshold {Number(rule.Rule.Threshold)}";
                firing[key] = a;
            }
            else
            {
                if (!firing.Remove(key))
                    return $"{key} resolved at {at} without having fired";
                if (!(a.Value < rule.Rule.Recover))
                    return $"{key} resolved at {at} with value {Number(a.Value)}, not below the recovery threshold {Number(rule.Rule.Recover)}";
            }
        }
        return null;
    }

    /// <summary>
    /// With less traffic and more: every second at which an alert of the rule is firing with less
    /// traffic, the same alert (rule and labels) is firing with more. (For a value that never decreases
    /// when records are added this holds whatever <c>For</c> and the thresholds are: above the threshold
    /// for <c>For</c> seconds with less traffic is above it with more, and a value that stays at or above
    /// the recovery threshold with less stays there with more.)
    /// </summary>
    private static List<string>? MonotonicProblem(List<Notice> less, List<Notice> more, string lessLog, string moreLog)
    {
        static Dictionary<string, List<(long From, long To, AlertNotice Fired)>> Intervals(List<Notice> events)
        {
            var result = new Dictionary<string, List<(long, long, AlertNotice)>>(StringComparer.Ordinal);
            var open = new Dictionary<string, AlertNotice>(StringComparer.Ordinal);
            foreach (var a in events.OfType<AlertNotice>())
            {
                var key = a.Rule + Labels(a.Labels);
                if (a.Transition == AlertTransition.Fired) open[key] = a;
                else if (open.Remove(key, out var fired))
                {
                    if (!result.TryGetValue(key, out var list)) result[key] = list = [];
                    list.Add((fired.Time, a.Time, fired));
                }
            }
            foreach (var (key, fired) in open)
            {
                if (!result.TryGetValue(key, out var list)) result[key] = list = [];
                list.Add((fired.Time, long.MaxValue, fired));
            }
            return result;
        }

        static string Span(long from, long to) =>
            to == long.MaxValue ? $"from {LogTime.Iso(from)} to the end" : $"from {LogTime.Iso(from)} until {LogTime.Iso(to)}";

        var small = Intervals(less);
        var large = Intervals(more);
        foreach (var (key, intervals) in small.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var cover = large.TryGetValue(key, out var l) ? l.OrderBy(i => i.From).ToList() : [];
            foreach (var (from, to, fired) in intervals)
            {
                var x = from;
                foreach (var (cf, ct, _) in cover)
                    if (cf <= x && x < ct) x = ct;
                if (x >= to) continue;
                var moreSpans = cover.Count == 0 ? "never fires" : "fires " + string.Join(", ", cover.Select(i => Span(i.From, i.To)));
                return
                [
                    $"{key} is firing at {LogTime.Iso(x)} with less traffic but not with more:",
                    $"  {lessLog}: fires {Span(from, to)} (fired with value {Number(fired.Value)})",
                    $"  {moreLog}: {moreSpans}",
                ];
            }
        }
        return null;
    }
}
