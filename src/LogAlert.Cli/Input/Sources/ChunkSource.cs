namespace LogAlert.Cli.Input;

/// <summary>What a <see cref="ChunkSource"/> has next.</summary>
internal enum Step
{
    /// <summary>Whole lines (or, last of all, a final line without its newline).</summary>
    Chunk,
    /// <summary>One line longer than the cap, dropped: its length is <see cref="ChunkSource.LongLineLength"/>.</summary>
    LongLine,
    /// <summary>Nothing is ready now: hand out what is pending.</summary>
    Idle,
    /// <summary>The followed path now starts afresh (rotation, truncation): line numbers start again.</summary>
    Restart,
    /// <summary>The input is over (or reading was cancelled).</summary>
    End,
}

/// <summary>Bytes of one input, cut into chunks of whole lines.</summary>
internal abstract class ChunkSource : IDisposable
{
    /// <summary>The next step; a chunk stays valid until the call after the next (see <see cref="LineBuffer"/>).</summary>
    public abstract Step Next(out Memory<byte> chunk);

    /// <summary>The length of the line the last <see cref="Step.LongLine"/> stood for; kept until the next call.</summary>
    public long LongLineLength { get; private set; }

    /// <summary>
    /// What <paramref name="lines"/> has next: whole lines, else a line over the cap; with
    /// <paramref name="final"/> (the content ends here) also its last line, without a newline.
    /// </summary>
    protected bool TryTake(LineBuffer lines, bool final, out Step step, out Memory<byte> chunk)
    {
        if (final) lines.EndLine();
        step = Step.Chunk;
        if (lines.TakeLines(out chunk)) return true;
        if (lines.TakeLongLine(out var length))
        {
            LongLineLength = length;
            step = Step.LongLine;
            return true;
        }
        return final && lines.TakeRest(out chunk);
    }

    public abstract void Dispose();
}
