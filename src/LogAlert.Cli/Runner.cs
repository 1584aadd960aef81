using System.Diagnostics;
using System.Threading.Channels;
using LogAlert.Cli.Input;
using LogAlert.Cli.Output;
using LogAlert.Core;
using LogAlert.Core.Interop;
using Microsoft.FSharp.Core;

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
            stderr.WriteLine($"logalert: {path}:{line}: {reason}");
        }
        else _suppressed++;
    }

    public void Finish()
    {
        if (_suppressed > 0)
            stderr.WriteLine($"logalert: {_suppressed} more bad or skewed lines not shown ({_reported + _suppressed} in all)");
    }
}

/// <summary>The imperative shell's loop: batches in, engine steps, events out.</summary>
public sealed class Runner(EngineSettings settings, IEventWriter writer, TextWriter stderr, IReadOnlyList<string> inputNames)
{
    /// <summary>Wall time without input after which, in live mode, log time follows the clock.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Live mode: flush after every batch, advance log time when idle.</summary>
    public bool Live { get; init; }

    /// <summary>Whether any alert fired during the run.</summary>
    public bool AnyFired { get; private set; }

    private readonly LineReporter _reporter = new(stderr);
    private long _lines;
    private long _bad;

    private string NameOf(int source) =>
        source >= 0 && source < inputNames.Count ? (inputNames[source] == "-" ? "<stdin>" : inputNames[source]) : "<input>";

    private void Emit(IReadOnlyList<Event> events)
    {
        foreach (var e in events)
        {
            switch (e)
            {
                case Event.Alert a:
                    if (a.Item.Transition.IsFired) AnyFired = true;
                    writer.Alert(a.Item);
                    break;
                case Event.SummaryReady s:
                    writer.Summary(s.Item);
                    break;
                case Event.RuleFailed f:
                    stderr.WriteLine($"logalert: rule \"{f.rule}\" failed at {LogTime.Iso(f.time)}: {f.message} (rule switched off; other rules go on)");
                    break;
                case Event.Skewed k:
                    _reporter.Report(NameOf(k.record.Source), k.record.Line,
                        $"timestamp {k.record.Time} is {k.record.Time - k.newest}s ahead of the newest accepted one ({k.newest}); skipped as skewed");
                    break;
                case Event.Finished f:
                    writer.Final(f.Item, new InputCounts(_lines, _bad));
                    break;
            }
        }
    }

    private void Absorb(InputBatch batch)
    {
        _lines += batch.Lines;
        foreach (var b in batch.Bad)
        {
            _bad++;
            _reporter.Report(b.Path, b.Line, b.Reason);
        }
    }

    /// <summary>Runs to the end of <paramref name="batches"/> (or until cancelled), then ends the fold.</summary>
    public async Task RunAsync(IEnumerable<InputBatch> batches, CancellationToken cancel)
    {
        var state = Fold.Start(settings);
        // Parsing runs on its own threads, the fold on this one: two cores, two stages. Both go in
        // bursts (the reader parses two chunks at once; the fold closes seconds, summaries, top-k
        // scans), so each needs room to run ahead of the other. 32 batches (128k records, 8 MB at
        // most): with 8, a 100k-host run kept the cores 1.55 busy on average against 1.68 with 32,
        // and took 1.66 s against 1.50 s (low cardinality: 0.98 -> 0.93 s, the same 87 MB peak).
        // 64 was no faster and raised the peak by 8 MB.
        var channel = Channel.CreateBounded<InputBatch>(new BoundedChannelOptions(32) { SingleReader = true, SingleWriter = true });
        Exception? readFailure = null;
        var producer = Task.Factory.StartNew(() =>
        {
            try
            {
                foreach (var batch in batches)
                {
                    if (cancel.IsCancellationRequested) break;
                    while (!channel.Writer.TryWrite(batch))
                        if (!channel.Writer.WaitToWriteAsync(cancel).AsTask().GetAwaiter().GetResult()) return;
                }
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { readFailure = e; }
            finally { channel.Writer.TryComplete(); }
        }, TaskCreationOptions.LongRunning);

        var idleSince = Stopwatch.StartNew();
        long? idleBase = null;

        // No line for IdleTimeout of wall time: log time follows the wall clock from the newest
        // timestamp on, so that alerts resolve when traffic stops altogether (SPEC §8).
        void FollowClockWhenIdle()
        {
            if (idleSince.Elapsed < IdleTimeout || state.NewestTime is not { } newest) return;
            idleBase ??= newest.Value;
            var r = Fold.Tick(state, idleBase.Value + (long)idleSince.Elapsed.TotalSeconds);
            state = r.State;
            Emit(r.Events);
        }
        var reader = channel.Reader;
        try
        {
            while (true)
            {
                bool more;
                if (Live)
                {
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                    wait.CancelAfter(TimeSpan.FromMilliseconds(500));
                    try { more = await reader.WaitToReadAsync(wait.Token); }
                    catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                    {
                        FollowClockWhenIdle();
                        continue;
                    }
                }
                else more = await reader.WaitToReadAsync(cancel);
                if (!more) break;
                while (reader.TryRead(out var batch))
                {
                    Absorb(batch);
                    if (batch.Count > 0)
                    {
                        var r = Fold.Push(state, batch.Records); // exactly Count long
                        state = r.State;
                        Emit(r.Events);
                        idleSince.Restart();
                        idleBase = null;
                    }
                }
                if (Live)
                {
                    FollowClockWhenIdle();
                    writer.Flush();
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // Ctrl-C or SIGTERM: fall through to the final report.
        }
        await producer.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { });

        // Even when an input fails part-way, what was read is reported before the error.
        var end = Fold.End(state);
        Emit(end.Events);
        writer.Flush();
        _reporter.Finish();
        if (readFailure is not null && !cancel.IsCancellationRequested)
            throw readFailure;
    }
}
