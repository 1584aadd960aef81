using System.Text;
using LogAlert.Cli.Input.Formats;

namespace LogAlert.Cli.Input;

/// <summary>
/// The format an input is in, as the parsers carry it from chunk to chunk (<see cref="ChunkStart.State"/>).
/// </summary>
/// <param name="Name"><c>csv</c>, <c>common</c>, <c>combined</c>, <c>jsonl</c> or <c>log-format</c>.</param>
/// <param name="Line">What reads its lines; null for CSV, which <see cref="CsvParser"/> reads.</param>
/// <param name="CsvState">The CSV parser's own state (the header's columns); null for other formats.</param>
internal sealed record FormatState(string Name, IAccessLineParser? Line, object? CsvState);

/// <summary>
/// The parser of one parsing thread, for every format: it finds an input's format (the one named, or
/// with <c>auto</c> from the input's first lines, and again from the first lines after a rotation)
/// and hands each chunk to the parser of that format.
/// </summary>
internal sealed class FormatParser(BatchBuilder builder, InputFormat format, Action<int, string, string>? found = null,
    AccessExtras extras = AccessExtras.None)
    : IChunkParser
{
    /// <summary>
    /// Whether the input of this index is followed (live): there, lines that fit a format decide at
    /// once. Null: none is.
    /// </summary>
    public Func<int, bool>? IsLive { get; init; }

    private readonly CsvParser _csv = new(builder);
    private readonly AccessParser _access = new(builder, extras);

    /// <inheritdoc/>
    public ChunkResult ParseChunk(Memory<byte> chunk, ChunkStart at)
    {
        var state = at.State as FormatState;
        // An input's start, or a followed file's new content (line 1 again, the format kept): with
        // auto, the new lines may be in another format.
        if (state is null || (format.IsAuto && at.AtStart && at.LineBase == 0))
        {
            var decided = Decide(chunk.Span, at, state);
            if (decided is null) return Blank(chunk.Span, at);
            if (!ReferenceEquals(decided, state)) found?.Invoke(at.Source, at.Path, decided.Name);
            state = decided;
        }
        if (state.Line is null)
        {
            var csv = _csv.ParseChunk(chunk, at with { State = state.CsvState });
            // The same state object while the columns stay: the reader compares states by reference.
            var after = ReferenceEquals(csv.After.State, state.CsvState) ? state : state with { CsvState = csv.After.State };
            return csv with { After = csv.After with { State = after } };
        }
        builder.Begin(at);
        var last = _access.Parse(chunk.Span, at.LineBase, at.AtStart, state.Line);
        return new ChunkResult(builder.Finish(), at with { LineBase = last, AtStart = false, State = state });
    }

    /// <inheritdoc/>
    public string? Awaits(ChunkStart at) => at.State switch
    {
        FormatState { Line: null } csv => csv.CsvState is null ? "the header" : null,
        FormatState => null,
        _ when format.IsAuto => "a line in a format logalert reads",
        _ when format.Line is null => "the header",
        _ => null,
    };

    /// <inheritdoc/>
    /// <remarks>
    /// Before auto has found the format, an over-long line is one bad line and the lines after it
    /// decide (a scanner's 70 KB URL at the top of a fresh log); a CSV still needs its header first.
    /// </remarks>
    public bool LongLineIsFatal(ChunkStart at) => (at.State is not null || !format.IsAuto) && Awaits(at) is not null;

    /// <inheritdoc/>
    /// <remarks>
    /// With auto, the format is found from the first <see cref="FormatSniffer.SampleLines"/> non-blank
    /// lines (semantics §1). A pipe or a followed file may give fewer at first. A CSV header first
    /// decides at once, as in a file. Otherwise, not live, the reader waits for the rest (or the end of input), so the same bytes find the same format from a file
    /// or a pipe however they arrive: a common-format line before combined ones decided "common"
    /// on a slow pipe and "combined" in a file. Live, lines that fit a format decide at once (a live
    /// log shows its first events without waiting for five requests), and when they fit none the
    /// reader waits for the rest, so that one junk line at the start is outvoted as it is in a file.
    /// </remarks>
    public bool NeedsMore(ReadOnlySpan<byte> head, ChunkStart at)
    {
        // A named format decides at once, but a named csv after a CSV input, which may go on with
        // its columns, is judged on its first lines as auto is (the same from a file or a pipe).
        if ((!format.IsAuto && !(format.Line is null && at.Previous is not null)) || at.State is not null) return false;
        if (at.AtStart && head.StartsWith(BatchBuilder.Bom)) head = head[BatchBuilder.Bom.Length..];
        if (FormatSniffer.NonBlankLines(head) >= FormatSniffer.SampleLines) return false;
        var found = FormatSniffer.Sniff(head).Format;
        // A header first decides CSV whatever follows it, in a file too: nothing to wait for.
        if (found == "csv") return false;
        return IsLive?.Invoke(at.Source) != true || found is null;
    }

    /// <inheritdoc/>
    public void ForgetIds() => builder.ForgetIds();

    /// <summary>
    /// The format of the input whose lines from <paramref name="at"/> on start <paramref name="chunk"/>:
    /// the one named, or the one its first lines fit. Null when the chunk holds only blank lines (the
    /// next chunk decides); <paramref name="before"/> when the new content of a followed file, or an
    /// input after a CSV one, fits no format (a rotated CSV, or the second part of a split one,
    /// without a header of its own keeps the columns in force).
    /// </summary>
    /// <exception cref="InputFormatException">With auto, no format fits the input's first lines.</exception>
    private FormatState? Decide(ReadOnlySpan<byte> chunk, ChunkStart at, FormatState? before)
    {
        // The columns of the CSV input before this one, which a headerless one goes on with when its
        // lines have that many fields: a file named by mistake (an error log) is still no CSV.
        var previous = at.Previous is FormatState { Line: null, CsvState: Columns columns } csv ? (csv, columns.Count) : default;
        if (!format.IsAuto)
        {
            if (format.Line is not null || previous.csv is null) return new FormatState(format.Name, format.Line, null);
            // Named csv after a CSV input: blank lines wait for the next chunk, as with auto.
            if (chunk.IndexOfAnyExcept(" \t\r\n\0"u8) < 0) return null;
            return HasFields(chunk, previous.Count) ? previous.csv : new FormatState(format.Name, null, null);
        }
        if (at.AtStart && chunk.StartsWith(BatchBuilder.Bom)) chunk = chunk[BatchBuilder.Bom.Length..];
        var sniffed = FormatSniffer.Sniff(chunk, at.LineBase);
        if (sniffed.Format is null)
        {
            if (chunk.IndexOfAnyExcept(" \t\r\n\0"u8) < 0) return before;
            // A followed file's new content keeps the format whatever it holds.
            if (before is not null) return before;
            if (previous.csv is not null && HasFields(chunk, previous.Count)) return previous.csv;
            // Compressed bytes on stdin or a pipe (a named file is read decompressed, Compression):
            // their dump said nothing of what they were.
            if (at.AtStart && Compression.Of(chunk) is { } kind)
                throw new InputFormatException(kind == "gzip"
                    ? $"{at.Path}: is gzip-compressed, which logalert reads from a named file only: name the file, or zcat it into logalert -"
                    : $"{at.Path}: is {kind}-compressed, which logalert does not read: {Compression.Reader(kind)} it into logalert -");
            var (number, text) = sniffed.Unfit ?? FirstLine(chunk);
            var carried = previous.csv is not null ? $", the {previous.Count} columns of the CSV input before it" : "";
            // The line and the reasons quote its bytes: their control characters are escaped.
            throw new InputFormatException(Output.Terminal.Escape(
                $"{at.Path}:{at.LineBase + number}: no format logalert knows fits \"{Quote(text)}\" "
                + $"(tried {sniffed.Tried}{carried}); name it with --input-format, or give the server's log format with --log-format"));
        }
        if (before is not null && before.Name == sniffed.Format) return before;
        return new FormatState(sniffed.Format, sniffed.Parser, null);
    }

    /// <summary>
    /// Whether more than half of the first <see cref="FormatSniffer.SampleLines"/> non-blank lines of
    /// <paramref name="chunk"/> have <paramref name="count"/> CSV fields (commas outside quotes, plus one).
    /// </summary>
    private static bool HasFields(ReadOnlySpan<byte> chunk, int count)
    {
        int lines = 0, fit = 0;
        while (!chunk.IsEmpty && lines < FormatSniffer.SampleLines)
        {
            var end = chunk.IndexOf((byte)'\n');
            var line = end < 0 ? chunk : chunk[..end];
            chunk = end < 0 ? default : chunk[(end + 1)..];
            if (line.IndexOfAnyExcept(FormatSniffer.Blank) < 0) continue;
            lines++;
            int fields = 1;
            var quoted = false;
            foreach (var b in line)
            {
                if (b == (byte)'"') quoted = !quoted;
                else if (b == (byte)',' && !quoted) fields++;
            }
            if (fields == count) fit++;
        }
        return fit * 2 > lines;
    }

    /// <summary>A chunk of blank lines before the format is known: counted, nothing else.</summary>
    private ChunkResult Blank(ReadOnlySpan<byte> chunk, ChunkStart at)
    {
        builder.Begin(at);
        var last = at.LineBase + BatchBuilder.CountLines(chunk);
        builder.LinesTo(last);
        return new ChunkResult(builder.Finish(), at with { LineBase = last });
    }

    private static (int Number, string Text) FirstLine(ReadOnlySpan<byte> chunk)
    {
        var number = 0;
        while (!chunk.IsEmpty)
        {
            var end = chunk.IndexOf((byte)'\n');
            var line = end < 0 ? chunk : chunk[..end];
            chunk = end < 0 ? default : chunk[(end + 1)..];
            number++;
            if (line.IndexOfAnyExcept(" \t\r"u8) >= 0) return (number, Encoding.UTF8.GetString(line.TrimEnd((byte)'\r')));
        }
        return (1, "");
    }

    /// <summary>The line as a message quotes it: at most 100 characters.</summary>
    private static string Quote(string line) => line.Length <= 100 ? line : line[..100] + "…";
}
