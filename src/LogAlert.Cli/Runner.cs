using System.Diagnostics;
using System.Runtime;
using System.Threading.Channels;
using LogAlert.Cli.Input;
using LogAlert.Cli.Output;
using LogAlert.Core.Interop;

namespace LogAlert.Cli;

/// <summary>Reports bad and skewed lines on stderr: the first 20 one by one, then only a count.</summary>
public sealed class LineReporter(TextWriter stderr, int limit = 20)
{
    private long _reported;
    private long _suppressed;

    public void Report(string path, long line, string reason)
    {
        if (_reported < limit)
        {
            _reported++;
            // The path escaped as -v shows it: a line feed in a file's name split the message in two.
            stderr.WriteLine($"logalert: {Terminal.Escape(path)}:{line}: {reason}");
        }
        else _suppressed++;
    }

    public void Finish()
    {
        if (_suppressed > 0)
            stderr.WriteLine($"logalert: {_suppressed} more bad or skewed lines not shown ({_reported + _suppressed} in all)");
    }
}

/// <summary>How a run ended.</summary>
public enum RunOutcome
{
    /// <summary>The final report was written: the input ended, a signal came, or reading failed (then rethrown).</summary>
    Reported,
    /// <summary>Stdout's reader went away (<c>logalert … | head</c>): nothing more can be written.</summary>
    OutputClosed,
}

/// <summary>The imperative shell's loop: batches in, engine steps, events out.</summary>
/// <remarks>
/// The engine appends each step's events to one <see cref="NoticeBuffer"/> as it computes them
/// (<see cref="Fold.PushInto"/>), and they are written when the step returns. A step that never
/// returns (a rule stuck in a loop, which .NET cannot interrupt) or that ends the process (a rule
/// calling <c>Environment.Exit</c>) is finished from another thread by <see cref="Abort"/>: the
/// events computed so far, then the report of the last whole step, with the reason.
/// </remarks>
public sealed class Runner(EngineSettings settings, IEventWriter writer, TextWriter stderr, IReadOnlyList<string> inputNames)
{
    /// <summary>Wall time without input after which, with <see cref="FollowClock"/>, log time follows the clock.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Live mode (<c>--follow</c>): after <see cref="IdleTimeout"/> without input, log time follows the wall clock.</summary>
    public bool FollowClock { get; init; }

    /// <summary>Write each batch's events at once (a terminal, stdin, <c>--follow</c>), not when the buffer fills.</summary>
    public bool Prompt { get; init; }

    /// <summary>Whether stdout's reader has gone (see <see cref="StandardOutput.IsClosed"/>); null: never asked.</summary>
    public Func<bool>? OutputClosed { get; init; }

    /// <summary>What is running now in the rule host (a rule, a rule file), for the report when it ends the process.</summary>
    public Func<string?>? Running { get; init; }

    /// <summary>
    /// Where the reader waits while label ids no state holds are given back (<see cref="Fold.ReclaimIds"/>):
    /// asked for when the symbol tables have grown enough (<see cref="Fold.ReclaimDue"/>); null: never.
    /// </summary>
    public SweepPoint? Sweep { get; init; }

    /// <summary>Each input's format so far, for the final report (<see cref="InputCounts.Formats"/>); null: none told.</summary>
    public Func<IReadOnlyList<(string Path, string Format)>>? Formats { get; set; }

    /// <summary>Hears every alert event as it is written (delivery to Alertmanager and webhooks); must not block.</summary>
    public Action<AlertNotice>? OnAlert { get; init; }

    /// <summary>
    /// Hears the newest record's log time after each wake of the loop (batches folded, or a quiet
    /// spell's tick): delivery sends the past alerts still firing once the log is current.
    /// </summary>
    public Action<long?>? OnProgress { get; init; }

    // The log time the live clock drove a quiet spell to: with an --idle-timeout over 5 minutes, the
    // first tick closes that much at once, and a firing in it is past until the log time read is
    // the clock's, not the newest record's (which stays where the traffic stopped).
    private long? _clockTime;

    private void Progress() => OnProgress?.Invoke(_clockTime is { } c && c > (_state.NewestTime ?? long.MinValue) ? c : _state.NewestTime);

    /// <summary>
    /// Called before the final report is written: delivers what is pending (within its deadline) and
    /// says what each destination did, for the report. Null: no destinations.
    /// </summary>
    public Func<IReadOnlyList<Delivery.DeliveryCount>>? FinishDelivery { get; init; }

    private InputCounts Counts() =>
        new(_lines + _stepLines, _bad + _stepBad) { Formats = Formats?.Invoke() ?? [], Delivery = FinishDelivery?.Invoke() ?? [] };

    /// <summary>Whether any alert fired during the run.</summary>
    public bool AnyFired { get; private set; }


    /// <summary>The signal that stopped the run, if one did (set before the token is cancelled).</summary>
    public string? Signal { get; set; }

    /// <summary>How often the loop wakes without input: to notice a closed stdout and, live, to follow the clock.</summary>
    private static readonly TimeSpan Wake = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Bytes allocated (by both stages) between two young collections. The runtime sizes its young
    /// generation from the L3 cache: with a large L3, over a hundred megabytes of dead batches and
    /// tallies piled up between collections, so peak memory depended on the machine more than on the
    /// log (docs/performance.md, "Choices in the code and what they bought"). A young collection
    /// costs what survives it, here the windows' newest seconds.
    /// </summary>
    private const long YoungBudget = 16 << 20;
    private long _allocatedAtCollect;
    private readonly LineReporter _reporter = new(stderr);
    private readonly Lock _gate = new();
    private readonly NoticeBuffer _pending = new();
    private EngineState _state;
    private volatile bool _stepping;
    private bool _aborted;
    private bool _done;
    private RunEnd _end = RunEnd.EndOfInput;
    // Lines and bad lines of the batches the state has taken in: the report counts what it covers.
    private long _lines;
    private long _bad;
    // The lines of the batch being folded: read (its bad lines reported) though its step has not
    // returned. A run stopped inside the step (a stuck rule) counts them; its records are the
    // engine's, of the steps that returned.
    private long _stepLines;
    private long _stepBad;

    private string NameOf(int source) =>
        source >= 0 && source < inputNames.Count ? (inputNames[source] == "-" ? "<stdin>" : inputNames[source]) : "<input>";

    private void Emit(Notice notice)
    {
        switch (notice)
        {
            case AlertNotice a:
                if (a.Transition == AlertTransition.Fired) AnyFired = true;
                writer.Alert(a);
                OnAlert?.Invoke(a);
                break;
            case SummaryNotice s:
                writer.Summary(s);
                break;
            case RuleFailedNotice f:
                stderr.WriteLine($"logalert: rule \"{f.Rule}\" failed at {LogTime.Iso(f.Time)}: {Output.Terminal.Escape(f.Message)} (rule switched off; other rules go on)");
                break;
            case SkewedNotice k:
                _reporter.Report(NameOf(k.Record.Source), k.Record.Line,
                    $"timestamp {k.Record.Time} is {k.Record.Time - k.Newest}s ahead of the newest accepted one ({k.Newest}); skipped as skewed");
                break;
            case FinishedNotice f:
                Progress(); // past alerts that the last batches made current are sent before the flush
                writer.Flush(); // the events are out before a delivery deadline is waited for
                writer.Final(f.Report, Counts(), _end);
                break;
        }
    }

    /// <summary>One engine step; its events are written when it returns (unless the run was aborted meanwhile).</summary>
    private void Step(Func<EngineState, NoticeBuffer, EngineState> step, long lines = 0, long bad = 0)
    {
        lock (_gate)
        {
            _stepLines = lines;
            _stepBad = bad;
        }
        _stepping = true;
        EngineState next;
        try
        {
            next = step(_state, _pending);
        }
        finally
        {
            _stepping = false;
        }
        lock (_gate)
        {
            if (_aborted) return;
            _state = next;
            _lines += lines;
            _bad += bad;
            _stepLines = 0;
            _stepBad = 0;
            for (var i = 0; i < _pending.Count; i++) Emit(_pending[i]);
            _pending.Clear();
        }
    }

    private static Runner? s_current;

    /// <summary>
    /// The run going on, if any: what ends the process from another thread (an exception a rule's own
    /// thread did not catch) stops it with its report (<see cref="Abort"/>).
    /// </summary>
    public static Runner? Current
    {
        get => Volatile.Read(ref s_current);
        private set => Volatile.Write(ref s_current, value);
    }

    /// <summary>A young collection once <see cref="YoungBudget"/> more bytes were allocated.</summary>
    private void CollectYoung()
    {
        var allocated = GC.GetTotalAllocatedBytes();
        if (allocated - _allocatedAtCollect < YoungBudget) return;
        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        _allocatedAtCollect = allocated;
    }

    /// <summary>
    /// Ends the run from another thread while a step cannot finish: writes the events the step has
    /// computed so far and the report of the last whole step (with the lines of the step's batch
    /// counted: they were read), saying <paramref name="reason"/>.
    /// Later events of that step are dropped. Does nothing once the run is over.
    /// </summary>
    public void Abort(string reason)
    {
        if (TryAbort(reason, out var failure) && failure is not null) stderr.WriteLine($"logalert: {failure}");
    }

    /// <summary>
    /// <see cref="Abort"/>, saying whether this call ended the run (false: it was over already), and
    /// with <paramref name="failure"/> why stdout could not be written (a full disk, a descriptor
    /// not open), for the caller to say after its reason; null when it was, or its reader went away.
    /// </summary>
    private bool TryAbort(string reason, out string? failure)
    {
        failure = null;
        lock (_gate)
        {
            if (_aborted || _done || !_state.IsStarted) return false;
            _aborted = true;
            try
            {
                // Only the fold thread adds, and it is stuck in a rule: the first Count are written.
                var computed = _pending.Count;
                for (var i = 0; i < computed; i++) Emit(_pending[i]);
                writer.Flush();
                writer.Final(Fold.Report(_state, _pending, computed), Counts(), new RunEnd(reason));
                writer.Flush();
            }
            catch (IOException e) when (!StandardOutput.IsBrokenPipe(e))
            {
                // A full disk or a descriptor not open: stderr is there to say it, after the reason
                // the run stopped.
                failure = e.Message;
            }
            catch (IOException)
            {
                // stdout's reader went away: nobody is left to tell, as when that alone ends a run.
            }
            _reporter.Finish();
            return true;
        }
    }

    // Environment.Exit runs this on another thread while the caller waits in Exit: a rule that
    // calls it inside a step is reported, what it interrupted is written, and the exit status is 2
    // (a rule error), not the rule's.
    private void OnProcessExit(object? sender, EventArgs e)
    {
        if (!_stepping || DeliberateExit.Explained) return;
        var what = Running?.Invoke() ?? "a rule";
        // A signal ends the process by this path too: then the rule is not to blame (exit 0, as
        // after any SIGTERM), only interrupted.
        var signal = Signals.Received;
        var reason = signal is null ? $"{what} ended the process (Environment.Exit)" : $"{signal} while {what} was running";
        if (!TryAbort(signal ?? reason, out var failure)) return; // ended by logalert itself (a runaway rule), already reported
        stderr.WriteLine($"logalert: {reason}; the run stopped there");
        if (failure is not null) stderr.WriteLine($"logalert: {failure}");
        // The rule's mistake decides the code; after a signal, stdout's failure does, as in any run.
        Environment.ExitCode = signal is null ? ExitCodes.Usage : failure is not null ? ExitCodes.IoFailure : ExitCodes.Ok;
    }

    private void Absorb(InputBatch batch)
    {
        foreach (var b in batch.Bad) _reporter.Report(b.Path, b.Line, b.Reason);
    }

    /// <summary>Reports the batch's bad lines and folds its records, or counts its lines when it has none; whether it had records.</summary>
    private bool FoldBatch(InputBatch batch)
    {
        Absorb(batch);
        if (batch.Count > 0)
        {
            Step((s, events) => Fold.PushInto(s, batch.Records, events), batch.Lines, batch.Bad.Count);
            return true;
        }
        if (batch.Lines > 0 || batch.Bad.Count > 0)
            lock (_gate)
            {
                _lines += batch.Lines;
                _bad += batch.Bad.Count;
            }
        return false;
    }

    /// <summary>
    /// Runs to the end of <paramref name="batches"/> (or until cancelled), then ends the fold and writes
    /// the final report; a read failure is rethrown after the report. Stops at once, writing nothing
    /// more, when stdout is closed.
    /// </summary>
    public async Task<RunOutcome> RunAsync(IEnumerable<InputBatch> batches, CancellationToken cancel)
    {
        _state = Fold.Start(settings);
        Current = this;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        try
        {
            return await Loop(batches, cancel);
        }
        catch (IOException e) when (StandardOutput.IsBrokenPipe(e))
        {
            return RunOutcome.OutputClosed;
        }
        finally
        {
            lock (_gate) _done = true;
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            Interlocked.CompareExchange(ref s_current, null, this);
        }
    }

    private async Task<RunOutcome> Loop(IEnumerable<InputBatch> batches, CancellationToken cancel)
    {
        // Parsing runs on its own threads, the fold on this one: two cores, two stages. Both go in
        // bursts (the reader parses two chunks at once; the fold closes seconds, summaries, top-k
        // scans), so each needs room to run ahead of the other: 16 batches (64k records, 4 MB at
        // most) keep both cores busier than 8 did. Not 32: where the fold is the slow stage (a
        // sparse log) the queue stays full, and every young collection copied its 8 MB of batches
        // to the next generation (docs/performance.md).
        var channel = Channel.CreateBounded<InputBatch>(new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true });
        // Not linked to `cancel`: after a signal the reader still hands out what it read (its
        // sources give their whole lines, then end), and this loop folds it (below).
        using var stopReading = new CancellationTokenSource();
        Exception? readFailure = null;
        var producer = Task.Factory.StartNew(() =>
        {
            try
            {
                foreach (var batch in batches)
                {
                    if (stopReading.IsCancellationRequested) break;
                    while (!channel.Writer.TryWrite(batch))
                        if (!channel.Writer.WaitToWriteAsync(stopReading.Token).AsTask().GetAwaiter().GetResult()) return;
                }
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { readFailure = e; }
            finally { channel.Writer.TryComplete(); }
        }, TaskCreationOptions.LongRunning);

        var idleSince = Stopwatch.StartNew();
        long? idleBase = null;

        // No line for IdleTimeout of wall time: log time follows the wall clock from the newest
        // timestamp on, so that alerts resolve when traffic stops altogether.
        void FollowClockWhenIdle()
        {
            // A first record still held (docs/semantics.md §4) is a base too: the tick accepts it,
            // so one request and then quiet still gets its summary.
            if (!FollowClock || idleSince.Elapsed < IdleTimeout || (_state.NewestTime ?? _state.HeldTime) is not { } newest) return;
            idleBase ??= newest;
            var second = idleBase.Value + (long)idleSince.Elapsed.TotalSeconds;
            Step((s, events) => Fold.TickInto(s, second, events));
            _clockTime = second;
        }

        var reader = channel.Reader;
        var signalled = false;
        try
        {
            while (true)
            {
                bool more = true;
                // A timed wait only when nothing is queued: a busy run does not make a timer a batch.
                if (reader.Count == 0)
                {
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                    wait.CancelAfter(Wake);
                    try
                    {
                        more = await reader.WaitToReadAsync(wait.Token);
                    }
                    catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                    {
                        // Nothing came for a while: an endless quiet input must not keep a closed stdout alive.
                        if (OutputClosed?.Invoke() == true) return RunOutcome.OutputClosed;
                        FollowClockWhenIdle();
                        Progress();
                        if (Prompt) writer.Flush();
                        continue;
                    }
                }
                cancel.ThrowIfCancellationRequested();
                if (!more) break;
                while (reader.TryRead(out var batch))
                {
                    if (ReferenceEquals(batch, InputBatch.SweepMarker))
                    {
                        // Every batch the reader made is in the state now, and the reader waits.
                        Fold.ReclaimIds(_state);
                        // The tables just rebuilt left their old arrays on the large-object heap,
                        // which only a full collection frees: freed now, while the reader waits
                        // anyway, they do not add up to the peak.
                        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                        Sweep!.Resume();
                        continue;
                    }
                    if (FoldBatch(batch))
                    {
                        if (Sweep is { Requested: false } && Fold.ReclaimDue) Sweep.Request();
                        CollectYoung();
                        idleSince.Restart();
                        idleBase = null;
                    }
                }
                Progress();
                // Once a batch (a poll syscall): `logalert big.csv | head` stops within a batch.
                if (OutputClosed?.Invoke() == true) return RunOutcome.OutputClosed;
                if (Prompt)
                {
                    FollowClockWhenIdle();
                    writer.Flush();
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // Ctrl-C or SIGTERM: fall through to the final report, after the drain below.
            signalled = true;
        }
        finally
        {
            // Every other way out stops the reader now: a return (stdout closed) or an exception
            // after a signal skips the drain, and a reader left waiting on a full queue never ends.
            if (!signalled) stopReading.Cancel();
            Sweep?.Abandon();
        }
        if (signalled)
        {
            // What was read before the signal is counted: the batches queued, and those the reader
            // makes of what its sources still hold (a pipe cannot be read again), for 2 s at most.
            // A rotated file's first lines, their format just told with -v, were left out of a
            // report made a moment later; a pipe's lines read but not yet parsed were lost.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                while (await reader.WaitToReadAsync(deadline.Token))
                    while (reader.TryRead(out var queued))
                        if (!ReferenceEquals(queued, InputBatch.SweepMarker)) FoldBatch(queued);
            }
            catch (OperationCanceledException) { }
            stopReading.Cancel();
        }
        await producer.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { });

        // Even when an input fails part-way, what was read is reported before the error. Lines that
        // waited for more to tell their format are read as they are at a signal, as at the end of
        // input: that none fits is the run's end, and said, not a silent "0 lines" (§12).
        var unknownFormat = readFailure is InputFormatException;
        _end = cancel.IsCancellationRequested && !unknownFormat ? new RunEnd(Signal ?? "interrupted")
            : readFailure is not null ? new RunEnd($"error: {readFailure.Message}")
            : RunEnd.EndOfInput;
        Step(Fold.EndInto);
        lock (_gate)
        {
            if (!_aborted)
            {
                writer.Flush();
                _reporter.Finish();
            }
        }
        if (readFailure is not null && (!cancel.IsCancellationRequested || unknownFormat))
            throw readFailure;
        return RunOutcome.Reported;
    }
}
