using System.Collections;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using LogAlert.Core;

namespace LogAlert.Cli.Input;

/// <summary>A line of input that did not yield a record (docs/semantics.md §2): where it is and why.</summary>
/// <param name="Source">Index of the input in the order given, 0-based.</param>
/// <param name="Path">The input as the user named it; <c>&lt;stdin&gt;</c> for <c>-</c>.</param>
/// <param name="Line">1-based physical line number in that input.</param>
/// <param name="Reason">Why, e.g. <c>expected 7 fields, found 3</c>.</param>
public sealed record BadLine(int Source, string Path, long Line, string Reason)
{
    /// <summary><c>path:line: reason</c>, the way compilers and grep name a line.</summary>
    public override string ToString() => $"{Path}:{Line}: {Reason}";
}

/// <summary>
/// Up to <see cref="AccessLogReader.DefaultBatchSize"/> records read in input order, the bad lines met
/// among them, and how many physical lines that took. Every batch is new: the consumer owns it.
/// </summary>
public sealed class InputBatch
{
    /// <summary>A batch with nothing in it: in follow mode, "still there, nothing new" at every poll.</summary>
    public static readonly InputBatch Heartbeat = new([], [], 0);

    /// <summary>
    /// Where the reader waits for the fold to give label ids back (see <see cref="SweepPoint"/>): every
    /// batch before it has been handed out. Told apart from <see cref="Heartbeat"/> by reference.
    /// </summary>
    public static readonly InputBatch SweepMarker = new([], [], 0);

    /// <summary>
    /// Makes a batch. <paramref name="records"/> is taken over, not copied: the reader fills an array
    /// for each batch and never touches it again, so it can stand as the immutable one the engine needs.
    /// </summary>
    public InputBatch(Record[] records, IReadOnlyList<BadLine> bad, long lines)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(bad);
        Records = ImmutableCollectionsMarshal.AsImmutableArray(records);
        Bad = bad;
        Lines = lines;
    }

    /// <summary>The records, in input order; exactly <see cref="Count"/> long (never pooled or reused).</summary>
    public ImmutableArray<Record> Records { get; }

    /// <summary>Number of records, <c>Records.Length</c>.</summary>
    public int Count => Records.Length;

    /// <summary>Lines of this stretch of input that did not yield a record, in input order.</summary>
    public IReadOnlyList<BadLine> Bad { get; }

    /// <summary>
    /// Physical lines consumed, headers and blank lines included: over a whole run the sum is
    /// <c>wc -l</c> of the inputs, plus one for each input whose last line has no newline.
    /// </summary>
    public long Lines { get; }

    /// <summary>Whether the batch carries nothing (see <see cref="Heartbeat"/>).</summary>
    public bool IsHeartbeat => Records.Length == 0 && Bad.Count == 0 && Lines == 0;
}

/// <summary>An input cannot be read: missing, unreadable, or not in the format (<see cref="InputFormatException"/>).</summary>
public class InputException : Exception
{
    /// <summary>Makes the exception; <paramref name="message"/> names the input and the reason.</summary>
    public InputException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// An input was read but is not in the format: it does not start with a header naming the columns
/// the format needs. The user's mistake, not an I/O failure (exit code 2, not 1).
/// </summary>
public sealed class InputFormatException : InputException
{
    /// <summary>Makes the exception; <paramref name="message"/> is <c>path:line: reason</c>.</summary>
    public InputFormatException(string message) : base(message) { }
}

/// <summary>
/// Reads access-log CSV (docs/semantics.md §1) from files or stdin as one stream of <see cref="InputBatch"/>es.
/// </summary>
/// <remarks>
/// <para>
/// Each input starts with its own header; columns are found by name, extra columns are ignored.
/// A record is one physical line. The reader cuts the input itself into chunks of whole lines (cut
/// after a <c>\n</c>, so a chunk boundary is always a record boundary): CsvHelper would fill its
/// whole buffer from a stream before returning a record, holding back the lines of a slow pipe or a
/// followed file. A line of the plain shape (fields quoted without a quote inside, or unquoted) is read
/// by the reader itself (<see cref="BatchParser"/>); every other line goes to CsvHelper, in place, as
/// memory, with line breaks inside quotes switched off, so an unclosed quote ends at its line and the
/// next line is read afresh. A line longer than the cap (<c>maxLineLength</c>) never reaches them: its
/// bytes are dropped as they are read (<see cref="LineBuffer"/>) and it is one bad line.
/// </para>
/// <para>
/// Follow mode (<c>tail -F</c>): the last input, when it is a file, is read from its start and then
/// polled for what is appended; a rotated file (the path names another file) is read to its end before
/// the new one is read from its start; a truncated file, or one emptied and written again (its first
/// bytes changed, see <see cref="FollowSource"/>), is read again from its start. The new content
/// keeps the columns in force unless it starts with a header of its own. A followed file that does not
/// exist yet is waited for (the notice callback hears about the wait and the file's arrival).
/// A last line without its newline is held back until the newline arrives. The enumeration yields
/// <see cref="InputBatch.Heartbeat"/> at each poll that found nothing, so a consumer hears about
/// idleness without a timeout of its own, and it ends (without an exception) when the token is
/// cancelled. <see cref="Start"/> runs the same enumeration on a background thread into a channel.
/// </para>
/// <para>
/// A batch is handed out when it is full, and also, in follow mode and for stdin, whenever no more
/// input is ready, so a quiet log or a slow pipe never holds records back.
/// </para>
/// </remarks>
public sealed class AccessLogReader : IEnumerable<InputBatch>
{
    /// <summary>Records per batch unless told otherwise.</summary>
    // Each batch is one hand-over between the reader and the fold threads, so a batch must be large
    // enough that hand-overs cost little, and small enough to stay in the caches (docs/performance.md,
    // "Choices in the code and what they bought"). The batch array is
    // 256 KB, under logalert's large-object threshold (1 MB, see LogAlert.Cli.csproj): the store
    // keeps it only as long as the windows that read records need it, so it usually dies young.
    public const int DefaultBatchSize = 4096;

    /// <summary>The most bytes a line may have, unless told otherwise: a longer line is one bad line.</summary>
    public const int DefaultMaxLineLength = 64 * 1024;

    /// <summary>The largest cap on a line's length that may be asked for (1 GiB).</summary>
    public const int MaxLineLengthLimit = 1 << 30;

    /// <summary>How often a followed file is polled unless told otherwise.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The display name of stdin in <see cref="BadLine.Path"/> and error messages.</summary>
    public const string StdinName = "<stdin>";

    private readonly string[] _inputs;
    private readonly bool _follow;
    private readonly CancellationToken _cancel;
    private readonly TimeSpan _poll;
    private readonly int _batchSize;
    private readonly Func<Stream> _openStdin;
    private readonly SweepPoint? _sweep;
    private readonly Action<string> _notice;
    private readonly int _maxLine;

    /// <summary>Reads <paramref name="inputs"/> in order; <c>-</c> is stdin.</summary>
    /// <param name="inputs">File paths, or <c>-</c> for stdin; at least one.</param>
    /// <param name="follow">Keep reading what is appended to the last input (see the remarks).</param>
    /// <param name="cancel">Stops the reading (in follow mode, the only way it stops).</param>
    /// <param name="pollInterval">How often a followed file is polled; default 200 ms.</param>
    /// <param name="batchSize">Most records per batch; default 4096.</param>
    /// <param name="stdin">Opens stdin (tests pass a pipe); default <see cref="Console.OpenStandardInput()"/>.</param>
    /// <param name="notice">
    /// Hears what a user following a file should know that is not an error, one line each, e.g.
    /// <c>access.csv: no such file yet; waiting for it to appear</c>; default: nobody.
    /// </param>
    /// <param name="sweep">Where to wait while the fold gives label ids back; null: never.</param>
    /// <param name="maxLineLength">
    /// The most bytes a line may have before its line feed, 1 to <see cref="MaxLineLengthLimit"/>: a
    /// longer line is one bad line, and its bytes are dropped as they are read; default 64 KiB.
    /// </param>
    public AccessLogReader(IReadOnlyList<string> inputs, bool follow = false, CancellationToken cancel = default,
                           TimeSpan? pollInterval = null, int batchSize = DefaultBatchSize, Func<Stream>? stdin = null,
                           Action<string>? notice = null, int maxLineLength = DefaultMaxLineLength, SweepPoint? sweep = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("at least one input is needed", nameof(inputs));
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _inputs = [.. inputs];
        foreach (var input in _inputs)
            if (string.IsNullOrEmpty(input)) throw new ArgumentException("an input name is empty", nameof(inputs));
        _follow = follow;
        _cancel = cancel;
        _poll = pollInterval ?? DefaultPollInterval;
        if (_poll <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(pollInterval));
        _batchSize = batchSize;
        _openStdin = stdin ?? Console.OpenStandardInput;
        _notice = notice ?? (_ => { });
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLineLength, MaxLineLengthLimit);
        _maxLine = maxLineLength;
        _sweep = sweep;
    }

    /// <summary>The inputs, in the order they are read.</summary>
    public IReadOnlyList<string> Inputs => _inputs;

    /// <summary>
    /// Checks now that every file input can be opened, so a typo fails before anything is read. A
    /// followed file may be missing: it is waited for, as <c>tail -F</c> does.
    /// </summary>
    /// <exception cref="InputException">An input is missing (not followed) or unreadable.</exception>
    public void CheckInputs()
    {
        for (var i = 0; i < _inputs.Length; i++)
            if (_inputs[i] != "-")
                (IsFollowed(i) ? TryOpenFile(_inputs[i]) : OpenFile(_inputs[i]))?.Dispose();
    }

    /// <summary>Whether input <paramref name="index"/> is followed: the last one, a file, in follow mode.</summary>
    private bool IsFollowed(int index) => _follow && index == _inputs.Length - 1 && _inputs[index] != "-";

    /// <summary>
    /// The batches, read on the calling thread as it enumerates. The inputs are checked at once
    /// (<see cref="CheckInputs"/>); a read failure later is thrown by the enumeration as an
    /// <see cref="InputException"/>. Cancelling either token ends the enumeration quietly.
    /// </summary>
    public IEnumerable<InputBatch> ReadBatches(CancellationToken cancel = default)
    {
        CheckInputs();
        return Enumerate(cancel);
    }

    /// <summary>The batches of <see cref="ReadBatches"/>, with the constructor's token only.</summary>
    public IEnumerator<InputBatch> GetEnumerator() => ReadBatches().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Reads on a background thread into a bounded channel and returns its reader, so a consumer can
    /// wait for input with a timeout (live mode). The channel completes at the end of the input or on
    /// cancellation; a read failure completes it with the <see cref="InputException"/>, which
    /// <c>Completion</c> carries and which <c>ReadAsync</c> throws wrapped in a
    /// <see cref="ChannelClosedException"/>. Heartbeats are passed through.
    /// </summary>
    /// <exception cref="InputException">An input is missing or unreadable (checked before returning).</exception>
    public ChannelReader<InputBatch> Start(CancellationToken cancel = default)
    {
        var batches = ReadBatches(cancel);
        var channel = Channel.CreateBounded<InputBatch>(
            new BoundedChannelOptions(8) { SingleReader = true, SingleWriter = true });
        var thread = new Thread(() =>
        {
            try
            {
                foreach (var batch in batches)
                    channel.Writer.WriteAsync(batch, cancel).AsTask().GetAwaiter().GetResult();
                channel.Writer.TryComplete();
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        })
        { IsBackground = true, Name = "logalert input" };
        thread.Start();
        return channel.Reader;
    }

    /// <summary>Chunks smaller than this are parsed where they are read: a second thread would not pay.</summary>
    private const int ParallelChunk = 64 * 1024;

    private IEnumerable<InputBatch> Enumerate(CancellationToken extra)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cancel, extra);
        var cancel = linked.Token;
        var parser = new BatchParser(_batchSize);
        // Parsing is most of the reading: with two cores, two chunks are parsed at once, the first on
        // a helper thread and the second here, and their batches go out in input order.
        using var helper = Environment.ProcessorCount > 1 ? new ParseWorker(_batchSize) : null;
        for (var i = 0; i < _inputs.Length && !cancel.IsCancellationRequested; i++)
        {
            var name = _inputs[i];
            var stdin = name == "-";
            var path = stdin ? StdinName : name;
            using var source = OpenSource(name, follow: IsFollowed(i), cancel);
            var at = new ChunkStart(i, path, LineBase: 0, AtStart: true, Columns: null);
            Step? ahead = null; // a step read while looking for a second chunk
            while (true)
            {
                if (_sweep is { Requested: true })
                {
                    // Between chunks: every id this reader handed out is in a batch before the marker.
                    yield return InputBatch.SweepMarker;
                    _sweep.WaitForResume(cancel);
                    parser.ForgetIds();
                    helper?.ForgetIds();
                }
                Memory<byte> chunk = default;
                var step = ahead ?? Next(source, path, out chunk);
                ahead = null;
                if (step == Step.End) break;
                switch (step)
                {
                    case Step.Chunk when helper is not null && at is { AtStart: false, Columns: not null }
                                         && chunk.Length >= ParallelChunk:
                        // A chunk stays as it is while the source reads one more (LineBuffer), so the
                        // helper parses it in place while the next one is read and parsed here.
                        helper.Start(chunk, at);
                        var next = at with { LineBase = at.LineBase + BatchParser.CountLines(chunk.Span) };
                        ChunkResult? second = null;
                        var step2 = Next(source, path, out var chunk2);
                        if (step2 == Step.Chunk) second = parser.ParseChunk(chunk2, next);
                        else ahead = step2;
                        var done = helper.Wait();
                        foreach (var batch in done.Batches) yield return batch;
                        at = done.After;
                        if (second is { } parsed)
                        {
                            // The second chunk was parsed with the columns the first one started with;
                            // if a header inside the first changed them, it is parsed again.
                            if (!ReferenceEquals(done.After.Columns, next.Columns))
                                parsed = parser.ParseChunk(chunk2, next with { Columns = done.After.Columns });
                            foreach (var batch in parsed.Batches) yield return batch;
                            at = parsed.After;
                        }
                        break;
                    case Step.Chunk:
                        var result = parser.ParseChunk(chunk, at);
                        foreach (var batch in result.Batches) yield return batch;
                        at = result.After;
                        break;
                    case Step.LongLine:
                        var (bad, after) = LongLine(at, source.LongLineLength);
                        yield return bad;
                        at = after;
                        break;
                    case Step.Idle:
                        if (_follow) yield return InputBatch.Heartbeat;
                        break;
                    case Step.Restart:
                        at = Restarted(at);
                        break;
                }
            }
        }
    }

    /// <summary>
    /// A line longer than the cap, at <paramref name="at"/>: one bad line of its own (its bytes are
    /// gone), or, where the header should be, an input that is not in the format.
    /// </summary>
    private (InputBatch Bad, ChunkStart After) LongLine(ChunkStart at, long length)
    {
        var line = at.LineBase + 1;
        if (at.Columns is null)
            throw new InputFormatException(
                $"{at.Path}:{line}: expected the header, found a line longer than {_maxLine} bytes ({length} bytes)");
        var bad = new BadLine(at.Source, at.Path, line, $"line longer than {_maxLine} bytes ({length} bytes skipped)");
        return (new InputBatch([], [bad], 1), at with { LineBase = line, AtStart = false });
    }

    /// <summary>
    /// Where the new content of a rotated or truncated file starts: line 1, with the columns in force.
    /// A writer goes on after <c>copytruncate</c> without writing a header again, and most rotations
    /// give the new file none; a header line at the start still takes over, as one does anywhere.
    /// </summary>
    private static ChunkStart Restarted(ChunkStart at) => at with { LineBase = 0, AtStart = true };

    private static Step Next(ChunkSource source, string path, out Memory<byte> chunk)
    {
        try
        {
            return source.Next(out chunk);
        }
        catch (IOException e)
        {
            throw new InputException($"{path}: cannot read: {e.Message}", e);
        }
    }

    private ChunkSource OpenSource(string name, bool follow, CancellationToken cancel)
    {
        if (name == "-")
        {
            Stream stream;
            try { stream = _openStdin(); }
            catch (IOException e) { throw new InputException($"{StdinName}: cannot read: {e.Message}", e); }
            return new StreamSource(stream, prompt: true, _poll, cancel, _maxLine);
        }
        return follow
            ? new FollowSource(name, TryOpenFile(name), _poll, cancel, _notice, _maxLine)
            : new StreamSource(OpenFile(name), prompt: false, _poll, cancel, _maxLine);
    }

    /// <summary>Opens a file the way a log reader must: sharing it with writers, renames and deletes.</summary>
    /// <exception cref="InputException">The file is missing or cannot be opened.</exception>
    internal static FileStream OpenFile(string path) =>
        TryOpenFile(path) ?? throw new InputException($"{path}: no such file");

    /// <summary>Opens a file as <see cref="OpenFile"/> does; null when there is no such file (yet).</summary>
    /// <exception cref="InputException">The file exists but cannot be opened (a directory, no permission).</exception>
    internal static FileStream? TryOpenFile(string path)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0, // the reader buffers whole lines itself
                Options = FileOptions.SequentialScan,
            });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InputException($"{path}: cannot open: permission denied or not a file", e);
        }
        catch (IOException e)
        {
            throw new InputException($"{path}: cannot open: {e.Message}", e);
        }
    }
}

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
/// </remarks>
internal sealed class LineBuffer
{
    private readonly int _maxLine;
    private readonly int _limit;     // the most an array grows to: the base size plus the cap
    private byte[] _buffer;
    private byte[] _other;
    private int _start;              // the first byte not taken
    private int _end;                // after the last byte held
    private int _lineStart;          // the start of the line not yet ended by a newline
    private long _dropping = -1;     // bytes so far of the over-long line being dropped; -1: none
    private readonly Queue<(int At, long Length)> _long = new(); // over-long lines, where they stood

    /// <param name="size">The base size of each of the two arrays.</param>
    /// <param name="maxLine">The cap: the most bytes a line may have before its line feed.</param>
    public LineBuffer(int size, int maxLine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLine, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLine, Array.MaxLength - size);
        (_buffer, _other) = (new byte[size], new byte[size]);
        _maxLine = maxLine;
        _limit = size + maxLine;
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
        // there) plus at most the cap in a line without its newline, so the limit always leaves room.
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
                var newline = _buffer.AsSpan(from, to - from).IndexOf((byte)'\n');
                if (newline < 0)
                {
                    _dropping += to - from;
                    break;
                }
                _long.Enqueue((kept, _dropping + newline));
                _dropping = -1;
                from += newline + 1;
                _lineStart = kept;
                continue;
            }
            // The line from _lineStart may have `room` more bytes; if the next room + 1 hold no line
            // feed, it is over the cap.
            var room = _maxLine - (kept - _lineStart);
            var window = _buffer.AsSpan(from, (int)Math.Min(to - from, room + 1L));
            var last = window.LastIndexOf((byte)'\n');
            if (last < 0 && window.Length > room)
            {
                _dropping = kept - _lineStart + window.Length;
                kept = _lineStart;
                from += window.Length;
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
        _long.Clear();
    }
}

/// <summary>A file read to its end, or stdin.</summary>
/// <remarks>
/// With <c>prompt</c> (stdin), reads run as tasks: when one is not done at once, the source says
/// <see cref="Step.Idle"/> so the batch in hand goes out before the wait, and again every poll interval
/// while the pipe stays quiet. A plain file is read synchronously.
/// </remarks>
internal sealed class StreamSource(Stream stream, bool prompt, TimeSpan poll, CancellationToken cancel, int maxLine)
    : ChunkSource
{
    private const int BufferSize = 1 << 20;
    private const int ChunkTarget = BufferSize / 2;
    private static readonly TimeSpan Moment = TimeSpan.FromMilliseconds(2);

    private readonly LineBuffer _lines = new(BufferSize, maxLine);
    private Task<int>? _pending;
    private bool _idleSaid;
    private bool _eof;

    public override Step Next(out Memory<byte> chunk)
    {
        while (true)
        {
            // Lines go out in chunks of half a megabyte or more (a pipe hands out 64 KB a read), or
            // as soon as no more input is ready; a line over the cap goes out at once, in its place.
            chunk = default;
            Step step;
            if ((_lines.Held >= ChunkTarget || _lines.HasLongLine || _eof) && TryTake(_lines, final: _eof, out step, out chunk))
                return step;
            if (_eof || cancel.IsCancellationRequested) return Step.End;
            int read;
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
                read = _pending.GetAwaiter().GetResult();
                _pending = null;
                _idleSaid = false;
            }
            else read = stream.Read(_lines.Free().Span);
            if (read == 0) _eof = true;
            else _lines.Advance(read);
        }
    }

    private bool Wait(Task task, TimeSpan timeout)
    {
        try { return task.Wait(timeout, cancel); }
        catch (OperationCanceledException) { return false; }
    }

    public override void Dispose()
    {
        // A read still pending on stdin cannot be cancelled; it ends with the process.
        if (_pending is null || _pending.IsCompleted) stream.Dispose();
    }
}

/// <summary>A file followed like <c>tail -F</c>: appended lines, rotation, truncation, a file yet to come.</summary>
/// <param name="path">The path followed.</param>
/// <param name="file">The file it names now; null when there is none yet (it is waited for).</param>
/// <param name="poll">How long to wait when nothing is new.</param>
/// <param name="cancel">Ends the following.</param>
/// <param name="notice">Hears the wait for a missing file and its arrival.</param>
/// <param name="maxLine">The most bytes a line may have (see <see cref="LineBuffer"/>).</param>
internal sealed class FollowSource(string path, FileStream? file, TimeSpan poll, CancellationToken cancel,
                                  Action<string> notice, int maxLine) : ChunkSource
{
    private const int BufferSize = 1 << 20;

    /// <summary>
    /// How much of the start of the file is kept to tell whether it still holds what was read: a file
    /// emptied and written again past the point read to looks, by its length, like one appended to.
    /// </summary>
    internal const int HeadSize = 4096;

    private readonly LineBuffer _lines = new(BufferSize, maxLine);
    private FileStream? _file = file; // null until the path names a file
    private bool _waiting;            // the wait for the file has been announced
    private long _position;           // bytes read from _file
    private bool _sleep;              // the last read found nothing new: wait a poll before the next
    private FileStream? _successor;   // the file the path names now, once the old one is read to its end
    private bool _restart;            // hand out the old file's last partial line, then start afresh
    private bool _truncated;
    private readonly byte[] _head = new byte[HeadSize];    // the file's first bytes, as read
    private int _headLength;                               // how many: min(HeadSize, _position)
    private readonly byte[] _headNow = new byte[HeadSize]; // the same bytes as the file holds them now

    public override Step Next(out Memory<byte> chunk)
    {
        while (true)
        {
            // When the old content is finished, its unterminated last line will never be completed.
            if (TryTake(_lines, final: _restart, out var step, out chunk)) return step;
            if (_restart)
            {
                StartAfresh();
                return Step.Restart;
            }
            if (cancel.IsCancellationRequested) return Step.End; // a partial line stays unread
            if (_sleep)
            {
                _sleep = false;
                if (cancel.WaitHandle.WaitOne(poll)) return Step.End;
            }
            if (_file is null && !TryOpenFirst())
            {
                _sleep = true;
                return Step.Idle;
            }
            if (ReplacedInPlace())
            {
                _truncated = true;
                _restart = true;
                continue;
            }
            var room = _lines.Free();
            var read = _file!.Read(room.Span);
            if (read > 0)
            {
                RememberHead(room.Span[..read]);
                _lines.Advance(read);
                _position += read;
                continue;
            }
            if (_successor is not null)
            {
                // Rotated, and the old file has now been read to its end.
                _restart = true;
                continue;
            }
            if (_file.Length < _position)
            {
                _truncated = true;
                _restart = true;
                continue;
            }
            if (TryOpenSuccessor() is { } successor)
            {
                _successor = successor;
                continue; // one more read of the old file: what was written before the switch
            }
            _sleep = true;
            return Step.Idle;
        }
    }

    /// <summary>
    /// Whether the file no longer holds what was read from it: it is shorter than the point read to,
    /// or its first bytes changed (emptied and written again, <c>copytruncate</c>, within one poll).
    /// Asked before every read, so the reader does not go on reading new content from an old offset.
    /// Still unseen: new content that starts with the same first bytes as the old (a regrowth of the
    /// same header and lines), and a replacement between this look and the read after it.
    /// </summary>
    private bool ReplacedInPlace()
    {
        if (_position == 0) return false;
        if (_file!.Length < _position) return true;
        var now = _headNow.AsSpan(0, _headLength);
        var got = 0;
        while (got < now.Length && RandomAccess.Read(_file.SafeFileHandle, now[got..], got) is var n and > 0) got += n;
        return got < now.Length || !now.SequenceEqual(_head.AsSpan(0, _headLength));
    }

    /// <summary>Keeps what of <paramref name="read"/>, read at the current position, falls in the file's first bytes.</summary>
    private void RememberHead(ReadOnlySpan<byte> read)
    {
        if (_position >= HeadSize) return;
        var kept = (int)Math.Min(read.Length, HeadSize - _position);
        read[..kept].CopyTo(_head.AsSpan((int)_position));
        _headLength = (int)_position + kept;
    }

    /// <summary>
    /// Opens the file the path names, when it was missing so far; says once that it is waited for
    /// (<c>tail -F</c> does the same) and once that it came.
    /// </summary>
    private bool TryOpenFirst()
    {
        _file = AccessLogReader.TryOpenFile(path);
        if (_file is null)
        {
            if (!_waiting) notice($"{path}: no such file yet; waiting for it to appear");
            _waiting = true;
            return false;
        }
        if (_waiting) notice($"{path}: has appeared; following it");
        return true;
    }

    private void StartAfresh()
    {
        _restart = false;
        _lines.Clear();
        _position = 0;
        _headLength = 0;
        if (_truncated)
        {
            _truncated = false;
            _file!.Seek(0, SeekOrigin.Begin);
        }
        else if (_successor is not null)
        {
            _file!.Dispose();
            _file = _successor;
            _successor = null;
        }
    }

    /// <summary>The file the path names now, when it is not the one being read (rotation).</summary>
    private FileStream? TryOpenSuccessor()
    {
        FileStream now;
        try
        {
            now = AccessLogReader.OpenFile(path);
        }
        catch (InputException)
        {
            return null; // between a rename and the new file's creation: keep reading the old one
        }
        if (FileIdentity.Same(_file!, now))
        {
            now.Dispose();
            return null;
        }
        return now;
    }

    public override void Dispose()
    {
        _successor?.Dispose();
        _file?.Dispose();
    }
}

/// <summary>Whether two open files are the same file.</summary>
/// <remarks>
/// .NET exposes no inode. On Linux, <c>/proc/self/fd/N</c> names the file a descriptor is open on,
/// as the kernel sees it now: after a rename it shows the new name, after a delete it says
/// "(deleted)"; two descriptors of one file show the same path. The two names are read at two
/// moments, though: a rename in between (logrotate moving the file just as the reader looks) made
/// the one file look like two, and the reader read it again from its start as its own successor.
/// So the first name is read once more, and only a pair taken while it held still counts. Elsewhere
/// the creation (birth) times are compared.
/// </remarks>
internal static class FileIdentity
{
    public static bool Same(FileStream a, FileStream b) =>
        Same(a, b, OperatingSystem.IsLinux() ? Target : null);

    /// <param name="a">One open file.</param>
    /// <param name="b">The other.</param>
    /// <param name="target">The name a descriptor is open on now, if known (tests pass their own).</param>
    internal static bool Same(FileStream a, FileStream b, Func<FileStream, string?>? target)
    {
        if (target is not null)
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                if (target(a) is not { } before || target(b) is not { } other || target(a) is not { } after) break;
                if (before == after) return before == other;
            }
        }
        return File.GetCreationTimeUtc(a.SafeFileHandle) == File.GetCreationTimeUtc(b.SafeFileHandle);
    }

    private static string? Target(FileStream file)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
