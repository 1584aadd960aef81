namespace LogAlert.Cli.Input;

/// <summary>A file read to its end, stdin, or a pipe named as an input.</summary>
/// <remarks>
/// With <c>prompt</c> (stdin, a pipe), reads run as tasks: when one is not done at once, the source says
/// <see cref="Step.Idle"/> so the batch in hand goes out before the wait, and again every poll interval
/// while the pipe stays quiet. A plain file is read synchronously. Cancelled, it hands out the whole
/// lines it holds before it ends: a pipe cannot be read again.
/// </remarks>
internal sealed class StreamSource(Stream stream, bool prompt, TimeSpan poll, CancellationToken cancel, int maxLine,
                                   string name, Action<string> notice)
    : ChunkSource
{
    private const int BufferSize = 1 << 20;
    private const int ChunkTarget = BufferSize / 2;
    private static readonly TimeSpan Moment = TimeSpan.FromMilliseconds(2);

    /// <summary>How long a read in flight when the source is stopped may take to finish (a signal's exit waits that much on a quiet pipe).</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromMilliseconds(250);

    private readonly LineBuffer _lines = new(BufferSize, maxLine);
    private Task<int>? _pending;
    private bool _idleSaid;
    private bool _eof;
    private bool _stopSaid;
    private bool _graceGiven;
    private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _failure;

    public override Step Next(out Memory<byte> chunk)
    {
        while (true)
        {
            // Lines go out in chunks of half a megabyte or more (a pipe hands out 64 KB a read), or
            // as soon as no more input is ready; a line over the cap goes out at once, in its place.
            chunk = default;
            Step step;
            if (_failure is { } failure)
            {
                // A read failed (damaged gzip data, an I/O error): the whole lines read before it go
                // out first, then the failure; a line it cut in two is not read.
                if (TryTake(_lines, final: false, out step, out chunk)) return step;
                _failure = null;
                failure.Throw();
            }
            if ((_lines.Held >= ChunkTarget || _lines.HasLongLine || _eof) && TryTake(_lines, final: _eof, out step, out chunk))
                return step;
            if (_eof) return Step.End;
            int read;
            if (cancel.IsCancellationRequested)
            {
                // What was read before the signal goes out: a read that completed, then whole lines.
                // A read in flight takes bytes out of the pipe that cannot be read again, and under
                // load its thread may not have run yet when the signal comes (a pipe-full of lines,
                // 2,191, was lost so): it gets a moment to finish. A quiet pipe's read stays blocked
                // through it, having taken nothing.
                if (_pending is { IsCompleted: false } inFlight && !_graceGiven)
                {
                    _graceGiven = true;
                    try { inFlight.Wait(StopGrace); }
                    catch (AggregateException) { } // a read that failed: as below, nothing more to hand out
                }
                if (_pending is { IsCompletedSuccessfully: true } done)
                {
                    _pending = null;
                    read = done.Result;
                    if (read == 0) _eof = true;
                    else _lines.Advance(read);
                    continue;
                }
                return TryTake(_lines, final: false, out step, out chunk) ? step : Stopped();
            }
            if (prompt)
            {
                _pending ??= stream.ReadAsync(_lines.Free()).AsTask();
                if (!_pending.IsCompleted && !Wait(_pending, _idleSaid ? poll : Moment))
                {
                    // The read in flight writes after what is held, so the lines held can go out.
                    if (TryTake(_lines, final: false, out step, out chunk)) return step;
                    _idleSaid = true;
                    return Step.Idle;
                }
                var pending = _pending;
                _pending = null;
                _idleSaid = false;
                if (!Completed(() => pending.GetAwaiter().GetResult(), out read)) continue;
            }
            else if (!Completed(() => stream.Read(_lines.Free().Span), out read)) continue;
            if (read == 0) _eof = true;
            else _lines.Advance(read);
        }
    }

    /// <summary>
    /// The end of a read that was stopped. A last line without its newline stays unread (cut short,
    /// it can parse as a wrong record); from a pipe those bytes are gone, so it is said, as a
    /// followed file's is. (A plain file stopped part-way is simply not read to its end.)
    /// </summary>
    private Step Stopped()
    {
        if (prompt && !_stopSaid && _lines.LeftBehind(name, "stopped", "not read") is { } said) notice(said);
        _stopSaid = true;
        return Step.End;
    }

    /// <summary>A read's result; false, with the failure kept for after the lines held, when it failed.</summary>
    private bool Completed(Func<int> read, out int count)
    {
        try
        {
            count = read();
            return true;
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            _failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            count = 0;
            return false;
        }
    }

    private bool Wait(Task task, TimeSpan timeout)
    {
        try { return task.Wait(timeout, cancel); }
        catch (OperationCanceledException) { return false; }
        // A read that failed (stdin a directory: EISDIR): done, and GetResult throws its IOException
        // as a read that failed at once does, which the reader says in one line. Wait wrapped it, and
        // a stack trace came out whenever the read had not failed before the wait began.
        catch (AggregateException) { return true; }
    }

    public override void Dispose()
    {
        // A read still pending on stdin cannot be cancelled; it ends with the process.
        if (_pending is null || _pending.IsCompleted) stream.Dispose();
    }
}
