using System.Collections;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using LogAlert.Cli.Input.Formats;

namespace LogAlert.Cli.Input;

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
/// by the reader itself (<see cref="CsvParser"/>); every other line goes to CsvHelper, in place, as
/// memory, with line breaks inside quotes switched off, so an unclosed quote ends at its line and the
/// next line is read afresh. A line longer than the cap (<c>maxLineLength</c>) never reaches them: its
/// bytes are dropped as they are read (<see cref="LineBuffer"/>) and it is one bad line.
/// </para>
/// <para>
/// The parts: a source per input (<see cref="StreamSource"/>, <see cref="FollowSource"/>, in
/// Sources/) cuts it into chunks; a parser per format (<see cref="IChunkParser"/>; CSV is
/// <see cref="CsvParser"/>, in Parsers/Csv/) reads the lines of a chunk and makes records through a
/// <see cref="BatchBuilder"/> (Parsing/). This class opens the inputs, hands the chunks to two parsing
/// threads, and hands the batches out in input order.
/// </para>
/// <para>
/// Follow mode (<c>tail -F</c>): the last input, when it is a file, is read from its start and then
/// polled for what is appended; a rotated file (the path names another file) is read to its end before
/// the new one is read from its start; a truncated file, or one emptied and written again (its first
/// bytes changed, see <see cref="FollowSource"/>), is read again from its start. The new content
/// keeps the columns in force unless it starts with a header of its own. A followed file that does not
/// exist yet is waited for, and so, once the run is under way, is a directory or a file that cannot be
/// opened in its place (the notice callback hears about the wait and the file's arrival). A followed
/// file whose content turns out compressed, at the start or later, is refused with an <see cref="InputException"/>.
/// A last line without its newline is held back until the newline arrives; a truncation drops it
/// (and the notice callback hears so), a rotation hands it out whole. The enumeration yields
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
    /// <c>access.csv: no such file yet; waiting for it to appear</c>; default: nobody. Its texts name
    /// files as given: the one who writes them escapes them (a name may hold a line feed).
    /// </param>
    /// <param name="sweep">Where to wait while the fold gives label ids back; null: never.</param>
    /// <param name="maxLineLength">
    /// The most bytes a line may have before its line ending (LF or CRLF), 1 to <see cref="MaxLineLengthLimit"/>: a
    /// longer line is one bad line, and its bytes are dropped as they are read; default 64 KiB.
    /// </param>
    public AccessLogReader(IReadOnlyList<string> inputs, bool follow = false, CancellationToken cancel = default,
                           TimeSpan? pollInterval = null, int batchSize = DefaultBatchSize, Func<Stream>? stdin = null,
                           Action<string>? notice = null, int maxLineLength = DefaultMaxLineLength, SweepPoint? sweep = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("at least one input is needed", nameof(inputs));
        // A record keeps its input's index in a few bits (Bounds.MaxSource).
        if (inputs.Count > LogAlert.Core.Bounds.MaxSource + 1)
            throw new ArgumentException($"at most {LogAlert.Core.Bounds.MaxSource + 1} inputs can be read in one run", nameof(inputs));
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _inputs = [.. inputs];
        foreach (var input in _inputs)
            if (string.IsNullOrEmpty(input)) throw new ArgumentException("an input name is empty", nameof(inputs));
        _follow = follow;
        _cancel = cancel;
        _poll = pollInterval ?? DefaultPollInterval;
        if (_poll <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(pollInterval));
        _batchSize = batchSize;
        _openStdin = stdin ?? OpenStdin;
        _notice = notice ?? (_ => { });
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLineLength, MaxLineLengthLimit);
        _maxLine = maxLineLength;
        _sweep = sweep;
    }

    /// <summary>The format of the inputs (<c>--input-format</c>, <c>--log-format</c>); default: found from each input's first lines.</summary>
    public InputFormat Format { get; init; } = InputFormat.Auto;

    /// <summary>
    /// The fields only some formats log that records are to hold (durations, virtual host, referer,
    /// agent); default all. A run reads those its rules read (<c>EngineSettings.Reads</c>): the
    /// others are checked but not converted, unescaped or interned.
    /// </summary>
    public AccessExtras Extras { get; init; } = AccessExtras.All;

    /// <summary>
    /// Makes the parser of one parsing thread (the reader's, and its helper's) around that thread's own
    /// <see cref="BatchBuilder"/>. Default: a <see cref="FormatParser"/> for <see cref="Format"/>.
    /// </summary>
    internal Func<BatchBuilder, IChunkParser>? NewParser { get; init; }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, (string Path, string Format)> _formats = new();

    /// <summary>
    /// The format of each input read so far, in input order (for a followed file, the format of its
    /// latest content): what <c>auto</c> found, or what was named.
    /// </summary>
    public IReadOnlyList<(string Path, string Format)> Formats =>
        [.. _formats.OrderBy(kv => kv.Key).Select(kv => kv.Value)];

    /// <summary>Whom to tell, besides <see cref="Formats"/>, when an input's format is known: (path, format).</summary>
    public Action<string, string>? FormatFound { get; init; }

    /// <summary>
    /// Whether a second thread may parse (with two cores or more); default true. Off for many small
    /// inputs read one after another (<c>check --properties</c>), where starting the thread costs more
    /// than it saves. The batches are the same either way.
    /// </summary>
    internal bool ParseInParallel { get; init; } = true;

    private IChunkParser MakeParser(BatchBuilder builder) =>
        NewParser?.Invoke(builder) ?? new FormatParser(builder, Format, (source, path, format) =>
        {
            _formats[source] = (path, format);
            FormatFound?.Invoke(path, format);
        }, Extras) { IsLive = index => (Live ?? _follow) && index == _inputs.Length - 1 };

    /// <summary>
    /// Whether the last input is read live (log time following the clock: <c>--follow</c>, or
    /// <c>--idle-timeout</c> on a pipe): there, lines that fit a format decide it at once, without
    /// waiting for five. Default: whether it is followed.
    /// </summary>
    public bool? Live { get; init; }

    /// <summary>
    /// Live: first lines that fit no format wait for the rest of the five that decide it (one junk
    /// line is outvoted); once no more has come for this long (the idle timeout), the notice callback
    /// says so, once. A quiet server's two lines of a format logalert does not know left a followed
    /// run silent, even with <c>-v</c>. Null: nothing is said.
    /// </summary>
    public TimeSpan? WaitNoticeAfter { get; init; }

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
        {
            if (_inputs[i] == "-" || _pipes.ContainsKey(i) || _opening.ContainsKey(i)) continue;
            // A named pipe's open waits for a writer, and a signal could not end that wait (the host
            // gave up on the run 30 s later, with no report): it is opened on a thread of its own,
            // and waited for where the input is read, as long as the run is not stopped.
            if (UnixFileStatus.Of(_inputs[i]) is { IsPipe: true })
            {
                var opening = OpenPipe(_inputs[i]);
                // An open that fails (no permission, gone) fails at once, and is said before anything
                // is read, as a file's is; one with a writer there already is in hand.
                if (Task.WaitAny([opening], TimeSpan.FromMilliseconds(50)) == 0) _pipes[i] = opening.GetAwaiter().GetResult();
                else _opening[i] = opening;
                continue;
            }
            var stream = IsFollowed(i) ? TryOpenFile(_inputs[i]) : OpenFile(_inputs[i]);
            if (stream is { CanSeek: false }) _pipes[i] = stream;
            else
            {
                // A compressed file is read whole, decompressed (Compression); followed, its appends
                // would be compressed bytes, and another compression is not read: said before reading.
                var compressed = stream is null ? null : Compression.Of(stream);
                stream?.Dispose();
                // One that turns up compressed later is refused by its source (FollowSource).
                if (compressed is not null && (IsFollowed(i) || compressed != "gzip"))
                    throw new InputException(Compression.Refusal(compressed, _inputs[i], IsFollowed(i)));
            }
        }
    }

    // Inputs that are pipes (a named pipe, a /dev/fd of the shell's <(...)), kept open from the
    // check for the read: opening a named pipe again waited for a second writer, and closing the
    // first open had killed the writer that was there (SIGPIPE), so its lines were lost.
    private readonly Dictionary<int, FileStream> _pipes = [];

    // Named pipes being opened (CheckInputs): each open waits for the pipe's first writer.
    private readonly Dictionary<int, Task<FileStream>> _opening = [];

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
        var parser = MakeParser(new BatchBuilder(_batchSize, extras: Extras));
        // Parsing is most of the reading: with two cores, two chunks are parsed at once, the first on
        // a helper thread and the second here, and their batches go out in input order.
        using var helper = ParseInParallel && Environment.ProcessorCount > 1 ? new ParseWorker(MakeParser(new BatchBuilder(_batchSize, extras: Extras))) : null;
        // Inputs are one stream (semantics §1): a CSV input without a header of its own, after one
        // with a header (a log split in parts, `split -l`), may be read with the columns in force, as
        // `cat a.csv b.csv | logalert -` reads it. Its format is still found as any input's is (its
        // state starts empty): the parser turns to the columns only when its lines fit them and no
        // format (FormatParser.Decide). Other formats describe every line themselves.
        object? carried = null;
        for (var i = 0; i < _inputs.Length && !cancel.IsCancellationRequested; i++)
        {
            var name = _inputs[i];
            var stdin = name == "-";
            var path = stdin ? StdinName : name;
            using var source = OpenSource(i, follow: IsFollowed(i), cancel);
            var at = new ChunkStart(i, path, LineBase: 0, AtStart: true, State: null) { Previous = carried };
            Step? ahead = null; // a step read while looking for a second chunk
            byte[]? held = null; // whole lines the parser wants more lines after (IChunkParser.NeedsMore)
            var heldAt = 0L; // when the last of them came (Stopwatch ticks)
            var heldSaid = false;
            ExceptionDispatchInfo? failure = null; // a read that failed: thrown at the end it makes
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
                var step = ahead ?? Next(source, path, out chunk, ref failure);
                ahead = null;
                if (step == Step.Chunk && (held is not null || parser.NeedsMore(chunk.Span, at)))
                {
                    // Copied: the source reuses its buffer. At most SampleLines lines, each capped.
                    held = held is null ? chunk.ToArray() : [.. held, .. chunk.Span];
                    heldAt = Stopwatch.GetTimestamp();
                    if (parser.NeedsMore(held, at)) continue;
                    chunk = held;
                    held = null;
                    heldSaid = false;
                }
                else if (held is not null && step == Step.Idle && !heldSaid && WaitNoticeAfter is { } wait
                         && Stopwatch.GetElapsedTime(heldAt) >= wait)
                {
                    heldSaid = true;
                    var lines = BatchBuilder.CountLines(held);
                    _notice($"{path}: {(lines == 1 ? "the first line fits" : $"the first {lines} lines fit")} no format logalert knows; "
                            + $"waiting for more lines to tell (or name it with --input-format, or give the server's log format with --log-format)");
                }
                else if (held is not null && step != Step.Idle)
                {
                    // The input ends or turns to something else: what was held is parsed as it is.
                    var result = parser.ParseChunk(held, at);
                    held = null;
                    heldSaid = false;
                    foreach (var batch in result.Batches) yield return batch;
                    at = result.After;
                }
                if (step == Step.End)
                {
                    failure?.Throw();
                    // An input with nothing to parse has the format named for it all the same (auto
                    // finds none in it): the final report lists every input whose format is known.
                    if (!Format.IsAuto && !_formats.ContainsKey(i)) _formats[i] = (path, Format.Name);
                    carried = at.State is FormatState { Line: null, CsvState: not null } ? at.State : at.State is null ? carried : null;
                    break;
                }
                switch (step)
                {
                    case Step.Chunk when helper is not null && !at.AtStart && parser.Awaits(at) is null
                                         && chunk.Length >= ParallelChunk:
                        // A chunk stays as it is while the source reads one more (LineBuffer), so the
                        // helper parses it in place while the next one is read and parsed here.
                        helper.Start(chunk, at);
                        var next = at with { LineBase = at.LineBase + BatchBuilder.CountLines(chunk.Span) };
                        ChunkResult? second = null;
                        // A read that fails here ends the input once the helper's chunk has gone
                        // out: thrown while it was being parsed, the failure dropped its lines.
                        var step2 = Next(source, path, out var chunk2, ref failure);
                        if (step2 == Step.Chunk) second = parser.ParseChunk(chunk2, next);
                        else ahead = step2;
                        var done = helper.Wait();
                        foreach (var batch in done.Batches) yield return batch;
                        at = done.After;
                        if (second is { } parsed)
                        {
                            // The second chunk was parsed with the state the first one started with;
                            // if the first changed it (CSV: a header inside it), it is parsed again.
                            if (!ReferenceEquals(done.After.State, next.State))
                                parsed = parser.ParseChunk(chunk2, next with { State = done.After.State });
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
                        var (bad, after) = LongLine(at, source.LongLineLength, parser);
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
    /// gone), or, where the header should be (<see cref="IChunkParser.Awaits"/>), an input that is
    /// not in the format.
    /// </summary>
    private (InputBatch Bad, ChunkStart After) LongLine(ChunkStart at, long length, IChunkParser parser)
    {
        var line = at.LineBase + 1;
        if (parser.LongLineIsFatal(at) && parser.Awaits(at) is { } expected)
            throw new InputFormatException(
                $"{at.Path}:{line}: expected {expected}, found a line longer than {_maxLine} bytes ({length} bytes)");
        var bad = new BadLine(at.Source, at.Path, line, $"line longer than {_maxLine} bytes ({length} bytes skipped)");
        return (new InputBatch([], [bad], 1), at with { LineBase = line, AtStart = false });
    }

    /// <summary>
    /// Where the new content of a rotated or truncated file starts: line 1, with the state in force (CSV: the columns).
    /// A writer goes on after <c>copytruncate</c> without writing a header again, and most rotations
    /// give the new file none; a header line at the start still takes over, as one does anywhere.
    /// </summary>
    private static ChunkStart Restarted(ChunkStart at) => at with { LineBase = 0, AtStart = true };

    /// <summary>
    /// The source's next step. A read that fails ends the input (<see cref="Step.End"/>), with the
    /// failure, an <see cref="InputException"/>, kept in <paramref name="failure"/> to be thrown at that
    /// end, once every line read before it has been parsed and has gone out (docs/semantics.md §1).
    /// </summary>
    private static Step Next(ChunkSource source, string path, out Memory<byte> chunk, ref ExceptionDispatchInfo? failure)
    {
        InputException e;
        try
        {
            return source.Next(out chunk);
        }
        catch (IOException io)
        {
            e = new InputException($"{path}: cannot read: {io.Message}", io);
        }
        catch (InvalidDataException data)
        {
            // Damaged gzip data (one cut short is warned of: Compression), with zlib's reason when it
            // was read member by member: the whole lines before the damage were handed out first.
            e = new InputException($"{path}: cannot read: {(data.Data.Contains(GzipMembers.Said) ? data.Message : "the gzip data is damaged")}", data);
        }
        catch (InputException refused)
        {
            // A followed path that turned up as a file not to be read (compressed, a named pipe).
            e = refused;
        }
        catch (Exception other) when (other is NotSupportedException or UnauthorizedAccessException && source is FollowSource)
        {
            // What a followed file that is no longer a file does to its stream (a named pipe cannot
            // seek): the read failed, and is said as one, not as a stack trace.
            e = new InputException($"{path}: cannot read: {other.Message}", other);
        }
        failure = ExceptionDispatchInfo.Capture(e);
        chunk = default;
        return Step.End;
    }

    /// <summary>
    /// stdin, unless it was closed when logalert started (<c>logalert - &lt;&amp;-</c>): the runtime then
    /// took descriptor 0 for a pipe of its own, and reading it waited for ever. Linux tells it by
    /// /proc: this process holds the pipe's write end too (stdin's own writer is another process;
    /// the runtime's dup of stdin is another read end).
    /// </summary>
    private static Stream OpenStdin()
    {
        var closed = false;
        try
        {
            var target = new FileInfo("/proc/self/fd/0").LinkTarget;
            if (target is not null && target.StartsWith("pipe:", StringComparison.Ordinal))
                foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
                    closed |= new FileInfo(fd).LinkTarget == target && WriteOnly(Path.GetFileName(fd));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // No /proc (not Linux, or a sandbox), or a descriptor closed while looked at: stdin as it is.
        }
        if (closed) throw new IOException("not open (closed when logalert started)");
        return Console.OpenStandardInput();

        // fdinfo's "flags:" are octal open flags; their access mode 1 is O_WRONLY.
        static bool WriteOnly(string fd) =>
            File.ReadLines($"/proc/self/fdinfo/{fd}").FirstOrDefault(l => l.StartsWith("flags:", StringComparison.Ordinal)) is { } flags
            && (Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & 3) == 1;
    }

    private ChunkSource OpenSource(int index, bool follow, CancellationToken cancel)
    {
        var name = _inputs[index];
        // A file that became a named pipe since the check (earlier inputs take time) waits as one.
        if (!follow && name != "-" && !_pipes.ContainsKey(index) && !_opening.ContainsKey(index)
            && UnixFileStatus.Of(name) is { IsPipe: true })
            _opening[index] = OpenPipe(name);
        if (_opening.Remove(index, out var opening))
        {
            try { _pipes[index] = opening.WaitAsync(cancel).GetAwaiter().GetResult(); }
            catch (OperationCanceledException)
            {
                // Stopped before a writer came: the input ends, and the run with its report. The
                // open's thread stays blocked until a writer comes or the process ends (nothing can
                // end an open(2) of a pipe); a stream it opens after all is closed.
                _ = opening.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                return new StreamSource(Stream.Null, prompt: true, _poll, cancel, _maxLine, name, _notice);
            }
        }
        // A pipe is read from the open the check made, as stdin is: its lines go out as they come
        // (a pipe that stays open, `<(tail -f x)` or a FIFO, is live), and followed it cannot be
        // rotated: its end is the end of the input.
        if (_pipes.Remove(index, out var pipe)) return new StreamSource(pipe, prompt: true, _poll, cancel, _maxLine, name, _notice);
        if (name == "-")
        {
            Stream stream;
            try { stream = _openStdin(); }
            catch (IOException e) { throw new InputException($"{StdinName}: cannot read: {e.Message}", e); }
            return new StreamSource(stream, prompt: true, _poll, cancel, _maxLine, StdinName, _notice);
        }
        // A followed file is opened by its source, which waits out a path that names no file it can
        // read: one that was missing at the check may be a directory by now (earlier inputs take time).
        return follow
            ? new FollowSource(name, _poll, cancel, _notice, _maxLine)
            : new StreamSource(Compression.Open(OpenFile(name), name, _notice), prompt: false, _poll, cancel, _maxLine, name, _notice);
    }

    /// <summary>
    /// Opens a named pipe on a thread of its own: the open waits for the pipe's first writer, and a
    /// signal could not end that wait (the host gave up on the run 30 s later, with no report).
    /// </summary>
    private static Task<FileStream> OpenPipe(string path) =>
        Task.Factory.StartNew(() => OpenFile(path), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

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
