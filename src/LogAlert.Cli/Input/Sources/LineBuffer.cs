namespace LogAlert.Cli.Input;

/// <summary>A byte buffer that hands out what it holds up to the last newline, and drops lines over a cap.</summary>
/// <remarks>
/// <para>
/// Two arrays take turns: what is held moves to the other one when room is made, so a chunk handed
/// out stays as it is until room is made twice. The reader parses one chunk on a helper thread while
/// it reads the next, without copying it.
/// </para>
/// <para>
/// A line longer than the cap is not kept: its bytes are dropped as they arrive, and where it stood
/// the buffer hands out its length instead (<see cref="TakeLongLine"/>), in order among the lines.
/// So a 190 MB line without a newline costs no more memory than a short one: an array never grows
/// past its base size plus the cap. Lengths are checked where bytes arrive (<see cref="Advance"/>),
/// one search of up to cap + 1 bytes for the last newline at a time, so the cost is one search per
/// cap bytes of input, not one per line.
/// </para>
/// <para>
/// NULs before a line are not part of it (docs/semantics.md §2): a crash leaves them where a log's
/// last writes were lost, and <c>copytruncate</c> under a writer without <c>O_APPEND</c> leaves a hole
/// of them as long as the old content before the writer's next line. So they do not count against the
/// cap: when a line that starts with NULs gets over it, they are dropped and its text is measured
/// from its first other byte. A line within the cap keeps its NULs (the parsers step over them, and
/// say how many when there is nothing else); a line of NULs alone over the cap is over-long, as any.
/// </para>
/// </remarks>
internal sealed class LineBuffer
{
    private readonly int _maxLine;
    private readonly int _limit;     // the most an array grows to: the base size, the cap and a CR
    private byte[] _buffer;
    private byte[] _other;
    private int _start;              // the first byte not taken
    private int _end;                // after the last byte held
    private int _lineStart;          // the start of the line not yet ended by a newline
    private long _dropping = -1;     // bytes so far of the over-long line being dropped; -1: none
    private bool _droppedCr;         // the last of them is a carriage return
    private bool _padding;           // they are NULs before the line's text (and CRs among them), not yet its text
    private readonly Queue<(int At, long Length)> _long = new(); // over-long lines, where they stood

    /// <param name="size">The base size of each of the two arrays.</param>
    /// <param name="maxLine">The cap: the most bytes a line may have before its line ending (LF or CRLF).</param>
    public LineBuffer(int size, int maxLine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLine, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLine, Array.MaxLength - size - 1);
        (_buffer, _other) = (new byte[size], new byte[size]);
        _maxLine = maxLine;
        _limit = size + maxLine + 1;
    }

    /// <summary>Takes every whole line held up to the next over-long line, if there is one.</summary>
    public bool TakeLines(out Memory<byte> chunk)
    {
        var end = _long.TryPeek(out var next) ? next.At : _end;
        var newline = _buffer.AsSpan(_start, end - _start).LastIndexOf((byte)'\n');
        if (newline < 0)
        {
            chunk = default;
            return false;
        }
        chunk = _buffer.AsMemory(_start, newline + 1);
        _start += newline + 1;
        return true;
    }

    /// <summary>Takes the over-long line that comes next, if it does: its length, without the line feed.</summary>
    public bool TakeLongLine(out long length)
    {
        length = 0;
        if (!_long.TryPeek(out var next) || next.At != _start) return false;
        length = _long.Dequeue().Length;
        return true;
    }

    /// <summary>
    /// The content ends here (end of input, rotation): a line being dropped as over-long is complete
    /// without its newline, and comes next after the lines before it.
    /// </summary>
    public void EndLine()
    {
        if (_dropping < 0) return;
        _long.Enqueue((_end, _dropping));
        _dropping = -1;
        _padding = false;
    }

    /// <summary>Takes what is held, a line without its newline, if anything (after every whole and over-long line).</summary>
    public bool TakeRest(out Memory<byte> chunk)
    {
        if (_long.Count > 0) throw new InvalidOperationException("the over-long lines held are taken first");
        chunk = _buffer.AsMemory(_start, _end - _start);
        _start = _lineStart = _end;
        return chunk.Length > 0;
    }

    /// <summary>
    /// Room to read into, after what is held (moved to the front of the other array when something
    /// was taken; the arrays grow, up to the base size plus the cap, for lines longer than the base).
    /// </summary>
    public Memory<byte> Free()
    {
        if (_start > 0)
        {
            if (_other.Length < _buffer.Length) _other = new byte[_buffer.Length];
            _buffer.AsSpan(_start, _end - _start).CopyTo(_other);
            (_buffer, _other) = (_other, _buffer);
            MoveBack(_start);
        }
        // What is held is under the base size in whole lines (the sources take them before it gets
        // there) plus at most the cap and a carriage return in a line without its newline, so the
        // limit always leaves room.
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= _limit) throw new InvalidOperationException("the line buffer is full");
            Array.Resize(ref _buffer, (int)Math.Min(2L * _buffer.Length, _limit));
        }
        return _buffer.AsMemory(_end);
    }

    /// <summary>Positions after what is held moved <paramref name="by"/> bytes to the front.</summary>
    private void MoveBack(int by)
    {
        _start -= by;
        _end -= by;
        _lineStart -= by;
        for (var i = _long.Count; i > 0; i--)
        {
            var (at, length) = _long.Dequeue();
            _long.Enqueue((at - by, length));
        }
    }

    /// <summary>Bytes held: read and not yet taken.</summary>
    public int Held => _end - _start;

    /// <summary>Bytes of a line without its newline yet, whether held or, over the cap, dropped as they came.</summary>
    public long Unfinished => _dropping >= 0 ? _dropping + (_end - _lineStart) : _end - _lineStart;

    /// <summary>
    /// What is said of an <see cref="Unfinished"/> line left behind, in one wording for every source:
    /// input <paramref name="name"/> was <paramref name="how"/> (<c>stopped</c>, <c>truncated</c>) in
    /// its middle, and its bytes were <paramref name="fate"/>; null when no line is unfinished.
    /// </summary>
    public string? LeftBehind(string name, string how, string fate) =>
        Unfinished > 0 ? $"{name}: {how} in the middle of a line; its {Unfinished} bytes after the last newline were {fate}" : null;

    /// <summary>Whether an over-long line waits to be taken (the sources hand it out at once).</summary>
    public bool HasLongLine => _long.Count > 0;

    /// <summary>
    /// Counts <paramref name="count"/> bytes read into <see cref="Free"/>, and drops the bytes of any
    /// line that gets longer than the cap: what follows it moves back over it.
    /// </summary>
    public void Advance(int count)
    {
        var from = _end;          // the next byte read to look at
        var to = _end + count;
        var kept = _end;          // where the next byte kept goes
        while (from < to)
        {
            if (_dropping >= 0)
            {
                var rest = _buffer.AsSpan(from, to - from);
                // NULs before a line's text are dropped up to its text, or its line feed if there is none.
                var end = _padding ? rest.IndexOfAnyExcept((byte)0, (byte)'\r') : rest.IndexOf((byte)'\n');
                if (end < 0)
                {
                    _dropping += to - from;
                    _droppedCr = _buffer[to - 1] == (byte)'\r';
                    break;
                }
                if (_padding)
                {
                    _padding = false;
                    if (rest[end] != (byte)'\n')
                    {
                        // The line's text starts here, and the cap counts from here.
                        _dropping = -1;
                        from += end;
                        continue;
                    }
                }
                // Its length, as the cap counts it: without a CR before the line feed.
                var cr = end > 0 ? _buffer[from + end - 1] == (byte)'\r' : _droppedCr;
                _long.Enqueue((kept, _dropping + end - (cr ? 1 : 0)));
                _dropping = -1;
                from += end + 1;
                _lineStart = kept;
                continue;
            }
            // The line from _lineStart may have `room` more bytes before its line feed, or room + 1
            // when the last is a carriage return: a CRLF line's length is that of the same LF line.
            // So the next room + 2 bytes end it, or it is over the cap. `room` is -1 when the line
            // holds the cap and a carriage return, and only its line feed may follow.
            var room = _maxLine - (kept - _lineStart);
            var window = _buffer.AsSpan(from, (int)Math.Min(to - from, room + 2L));
            var last = window.LastIndexOf((byte)'\n');
            // Only the window's first line can be over: a line feed at room + 1 with none before it.
            var endsLate = last == room + 1 && window.IndexOf((byte)'\n') == last;
            var over = last < 0
                ? window.Length > room + 1 || (window.Length == room + 1 && window[room] != (byte)'\r')
                : endsLate && (last > 0 ? window[last - 1] : _buffer[kept - 1]) != (byte)'\r';
            if (over && (kept > _lineStart ? _buffer[_lineStart] : window[0]) == 0)
            {
                // NULs before the line's text: dropped, and the text measured on its own.
                var held = _buffer.AsSpan(_lineStart, kept - _lineStart);
                var text = held.IndexOfAnyExcept((byte)0, (byte)'\r');
                if (text > 0)
                {
                    held[text..].CopyTo(held);
                    kept -= text;
                    continue;
                }
                text = window.IndexOfAnyExcept((byte)0, (byte)'\r');
                if (text < 0)
                {
                    // Nothing but NULs so far, over the cap: dropped as they come until the text starts.
                    _dropping = held.Length + window.Length;
                    _droppedCr = window[^1] == (byte)'\r';
                    _padding = true;
                    kept = _lineStart;
                    from += window.Length;
                    continue;
                }
                if (window[text] != (byte)'\n')
                {
                    kept = _lineStart;
                    from += text;
                    continue;
                }
                // A line of NULs alone, over the cap: over-long, as any line.
            }
            if (over)
            {
                var length = last < 0 ? window.Length : last;
                _dropping = kept - _lineStart + length;
                _droppedCr = window[length - 1] == (byte)'\r';
                kept = _lineStart;
                from += length;
                continue;
            }
            var keep = last < 0 ? window.Length : last + 1;
            if (kept != from) window[..keep].CopyTo(_buffer.AsSpan(kept));
            kept += keep;
            from += keep;
            if (last >= 0) _lineStart = kept;
        }
        _end = kept;
    }

    /// <summary>Forgets what is held.</summary>
    public void Clear()
    {
        _start = _end = _lineStart = 0;
        _dropping = -1;
        _padding = false;
        _long.Clear();
    }
}
