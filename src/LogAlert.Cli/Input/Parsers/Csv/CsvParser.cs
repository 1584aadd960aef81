using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using CsvHelper;
using LogAlert.Core;

namespace LogAlert.Cli.Input;

/// <summary>Turns chunks of access-log CSV lines into records and bad lines, through a <see cref="BatchBuilder"/>.</summary>
/// <remarks>Its state in <see cref="ChunkStart.State"/> is the <see cref="Columns"/> of the header in force.</remarks>
internal sealed class CsvParser : IChunkParser
{
    private readonly BatchBuilder _builder;
    private readonly bool _plainLines;
    private readonly CsvReaderOptions _options;

    private readonly Queue<(long Line, CsvMalformedReason Reason)> _malformed = new();

    private string _path = "";
    private long _lineBase;       // lines of the current input before the current chunk
    private bool _atStart;        // nothing of the current input parsed yet (byte order mark)
    private Columns? _columns;

    /// <param name="builder">Makes the records and batches; this parser's alone.</param>
    /// <param name="plainLines">Read lines of the plain shape without CsvHelper (tests compare the two ways).</param>
    public CsvParser(BatchBuilder builder, bool plainLines = true)
    {
        _builder = builder;
        _plainLines = plainLines;
        _options = new CsvReaderOptions
        {
            Separator = ',',
            HasHeader = false,               // headers are read here, per input and after a restart
            AllowLineBreaksInQuotes = false, // docs/semantics.md §2: a record is one physical line
            SkipEmptyLines = false,          // every line comes back, so every line is counted
            TrackLineNumbers = true,
            TrimWhitespace = true,           // `, "GET / HTTP/1.1"` still opens a quoted field
            DetectSeparatorHint = false,
            MalformedData = CsvMalformedDataHandling.Recover,
            // Called while reading the malformed record (before Read returns it); queued by line
            // number all the same, so the match does not depend on that.
            OnMalformedRecord = m => _malformed.Enqueue((m.LineNumber, m.Reason)),
        };
    }

    /// <inheritdoc/>
    public ChunkResult ParseChunk(Memory<byte> chunk, ChunkStart at)
    {
        (_path, _lineBase, _atStart, _columns) = (at.Path, at.LineBase, at.AtStart, (Columns?)at.State);
        _builder.Begin(at);
        Parse(chunk);
        var batches = _builder.Finish();
        return new ChunkResult(batches, at with { LineBase = _lineBase, AtStart = _atStart, State = _columns });
    }

    /// <summary>The header, until it is read.</summary>
    public string? Awaits(ChunkStart at) => at.State is null ? "the header" : null;

    /// <summary>Forgets the ids its builder's caches hold: the fold has given ids back (<see cref="SweepPoint"/>).</summary>
    public void ForgetIds() => _builder.ForgetIds();

    /// <summary>
    /// Reads a chunk line by line. A line of the plain shape (see <see cref="PlainFields"/>) that makes a
    /// valid record, or is the header, is read here; any other line (a blank line, a bad line, escaped
    /// quotes, a quote inside an unquoted field) goes to CsvHelper, one line at a time, and after
    /// <see cref="CsvHelperAfter"/> such lines in a chunk the rest of the chunk goes to CsvHelper whole.
    /// </summary>
    private void Parse(Memory<byte> chunk)
    {
        if (_atStart)
        {
            _atStart = false;
            if (chunk.Span.StartsWith(BatchBuilder.Bom)) chunk = chunk[BatchBuilder.Bom.Length..];
        }
        chunk = DropNulPadding(chunk);
        var span = chunk.Span;
        if (span.IsEmpty) return;
        BlankLoneCarriageReturns(span);
        if (!_plainLines)
        {
            ParseWithCsvHelper(chunk);
            return;
        }
        var n = span.Length;
        IndexStops(span);
        var builder = _builder;
        var line = _lineBase;      // physical lines of the input up to and including the current one
        var others = 0;
        var at = 0;
        while (at < n)
        {
            line++;
            var lineEnd = NextStop(_breaks, at, n);
            var next = lineEnd < n ? lineEnd + 1 : n;
            if (_columns is { } columns ? TryPlainLine(span, at, lineEnd, line, columns) : TryPlainHeader(span, at, lineEnd, line))
            {
                PlainLines++;
                at = next;
                if (builder.Full)
                {
                    builder.ResolveHosts(span);
                    builder.LinesTo(line);
                    builder.Seal();
                }
                continue;
            }
            builder.ResolveHosts(span); // CsvHelper may seal a batch
            builder.LinesTo(line - 1);
            _lineBase = line - 1;
            if (++others > CsvHelperAfter)
            {
                ParseWithCsvHelper(chunk[at..]);
                return;
            }
            ParseWithCsvHelper(chunk[at..next]); // counts its line
            at = next;
        }
        builder.ResolveHosts(span);
        builder.LinesTo(line);
        _lineBase = line;
    }

    // One bit per byte of the chunk: where its quotes are, its line feeds, and every byte that can end
    // an unquoted field (quote, comma, line feed). Finding the next of them is then a bit scan, not a
    // search: found with 64-byte vector compares, the bits cost a fraction of a search per field.
    private ulong[] _quotes = [];
    private ulong[] _breaks = [];
    private ulong[] _stops = [];
    private int _words;

    private void IndexStops(ReadOnlySpan<byte> span)
    {
        _words = (span.Length + 63) >> 6;
        if (_quotes.Length < _words)
        {
            _quotes = new ulong[_words];
            _breaks = new ulong[_words];
            _stops = new ulong[_words];
        }
        ref var start = ref MemoryMarshal.GetReference(span);
        var quote = Vector256.Create((byte)'"');
        var comma = Vector256.Create((byte)',');
        var feed = Vector256.Create((byte)'\n');
        var full = span.Length >> 6;
        for (var w = 0; w < full; w++)
        {
            var low = Vector256.LoadUnsafe(ref start, (nuint)(w << 6));
            var high = Vector256.LoadUnsafe(ref start, (nuint)(w << 6) + 32);
            var quotes = BitScan.Equal(low, high, quote);
            var commas = BitScan.Equal(low, high, comma);
            var breaks = BitScan.Equal(low, high, feed);
            _quotes[w] = quotes;
            _breaks[w] = breaks;
            _stops[w] = quotes | commas | breaks;
        }
        if (full < _words)
        {
            ulong quotes = 0, commas = 0, breaks = 0;
            for (var i = full << 6; i < span.Length; i++)
            {
                var bit = 1UL << (i & 63);
                switch (span[i])
                {
                    case (byte)'"': quotes |= bit; break;
                    case (byte)',': commas |= bit; break;
                    case (byte)'\n': breaks |= bit; break;
                }
            }
            _quotes[full] = quotes;
            _breaks[full] = breaks;
            _stops[full] = quotes | commas | breaks;
        }
    }

    /// <summary>The first position at or after <paramref name="from"/> whose bit is set, or <paramref name="none"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int NextStop(ulong[] bits, int from, int none) => BitScan.Next(bits, _words, from, none);

    /// <summary>Lines read without CsvHelper so far (tests check that both ways were taken).</summary>
    public long PlainLines { get; private set; }

    /// <summary>Lines per chunk that go to CsvHelper one by one before it gets the rest of the chunk.</summary>
    private const int CsvHelperAfter = 64;

    /// <summary>Most fields a plain line may have; an input with more columns goes to CsvHelper.</summary>
    private const int MaxPlainFields = 32;

    private readonly int[] _fieldStart = new int[MaxPlainFields];
    private readonly int[] _fieldLength = new int[MaxPlainFields];

    /// <summary>
    /// Finds the fields of the line of <paramref name="span"/> from <paramref name="at"/> to
    /// <paramref name="lineEnd"/> (its line feed, or the end) into <c>_fieldStart</c> and
    /// <c>_fieldLength</c>, when the line has the plain shape: at most <see cref="MaxPlainFields"/> fields,
    /// separated by commas, each with optional spaces or tabs around it and either quoted without a
    /// quote inside or unquoted without a quote. Returns the number of fields, or 0 when the line is
    /// not plain (CsvHelper reads it). Each field is what CsvHelper returns (it trims outside quotes
    /// and keeps what is inside them): a test reads generated lines both ways and compares.
    /// </summary>
    private int PlainFields(ReadOnlySpan<byte> span, int at, int lineEnd)
    {
        // A CR is left only before a line feed or at the very end (BlankLoneCarriageReturns).
        var end = lineEnd > at && span[lineEnd - 1] == (byte)'\r' ? lineEnd - 1 : lineEnd;
        var starts = _fieldStart;
        var lengths = _fieldLength;
        var field = 0;
        var i = at;
        while (true)
        {
            while (i < end && span[i] is (byte)' ' or (byte)'\t') i++;
            if (field == MaxPlainFields) return 0;
            int start, stop;
            if (i < end && span[i] == (byte)'"')
            {
                start = i + 1;
                stop = NextStop(_quotes, start, span.Length);
                if (stop >= end) return 0; // unclosed
                i = stop + 1;
                while (i < end && span[i] is (byte)' ' or (byte)'\t') i++;
            }
            else
            {
                start = i;
                i = i < end ? Math.Min(NextStop(_stops, i, span.Length), end) : end;
                if (i < end && span[i] == (byte)'"') return 0;
                stop = i;
                while (stop > start && span[stop - 1] is (byte)' ' or (byte)'\t') stop--;
            }
            starts[field] = start;
            lengths[field] = stop - start;
            field++;
            if (i >= end) return field;
            if (span[i] != (byte)',') return 0; // an escaped quote, or text after a closing quote
            i++;
        }
    }

    /// <summary>
    /// Reads a plain header line (see <see cref="PlainFields"/>) into <c>_columns</c>, and says whether
    /// it did; a header without a required column fails as CsvHelper's reading of it does. A blank line
    /// or any other line goes to CsvHelper. (CsvHelper's first use costs 15-25 ms of start-up, which a
    /// log of plain lines never pays now.)
    /// </summary>
    private bool TryPlainHeader(ReadOnlySpan<byte> span, int at, int lineEnd, long line)
    {
        var count = PlainFields(span, at, lineEnd);
        if (count == 0 || (count == 1 && _fieldLength[0] == 0)) return false;
        var names = new string[count];
        for (var i = 0; i < count; i++) names[i] = Encoding.UTF8.GetString(span.Slice(_fieldStart[i], _fieldLength[i])).Trim();
        _columns = Columns.Match(names, out var missing) ?? throw HeaderLacks(line, missing, names);
        return true;
    }

    /// <summary>
    /// Reads the line of <paramref name="span"/> from <paramref name="at"/> to <paramref name="lineEnd"/>
    /// when it is plain (see <see cref="PlainFields"/>) with the header's number of fields, and makes a
    /// valid record: the date, status and bytes are digits only (bytes may be <c>-</c>). Says whether it
    /// did; otherwise it changes nothing, and CsvHelper reads the line.
    /// </summary>
    private bool TryPlainLine(ReadOnlySpan<byte> span, int at, int lineEnd, long line, Columns columns)
    {
        var count = PlainFields(span, at, lineEnd);
        if (count != columns.Count) return false; // not plain, or a wrong number of fields
        var starts = _fieldStart;
        var lengths = _fieldLength;
        var hostStart = starts[columns.Host];
        var hostLength = lengths[columns.Host];
        var date = span.Slice(starts[columns.Date], lengths[columns.Date]);
        var statusField = span.Slice(starts[columns.Status], lengths[columns.Status]);
        var bytesField = span.Slice(starts[columns.Bytes], lengths[columns.Bytes]);
        if (!TryDigits(date, out var time) || !TryDigits(statusField, out var status)) return false;
        long bytes = 0;
        if (!(bytesField.Length == 1 && bytesField[0] == (byte)'-') && !TryDigits(bytesField, out bytes)) return false;
        if (status is < 100 or > 599) return false; // on the long: up to 18 digits must not wrap into range as an int

        return _builder.TryAdd(
            time, span, hostStart, hostLength,
            span.Slice(starts[columns.User], lengths[columns.User]),
            span.Slice(starts[columns.Request], lengths[columns.Request]),
            (int)status, bytes, line);
    }

    /// <summary>A field of 1 to 18 ASCII digits (no sign, no space: anything else goes to CsvHelper).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryDigits(ReadOnlySpan<byte> field, out long value) => Formats.FieldValues.TryDigits(field, out value);

    /// <summary>Reads a stretch of whole lines that starts at line <c>_lineBase + 1</c> with CsvHelper.</summary>
    private void ParseWithCsvHelper(Memory<byte> chunk)
    {
        var span = chunk.Span;
        // Lines are counted as `wc -l` does; the line numbers come from CsvHelper, which agrees now
        // that no lone CR is left.
        var chunkLines = BatchBuilder.CountLines(span);
        var chunkEnd = _lineBase + chunkLines;
        var builder = _builder; // its lines are counted up to _lineBase
        _malformed.Clear();
        using (var csv = CsvReader.Create(chunk, _options))
        {
            while (csv.Read())
            {
                ParseLine(csv);
                if (builder.Full)
                {
                    builder.LinesTo(Math.Min(_lineBase + csv.LineNumber, chunkEnd));
                    builder.Seal();
                }
            }
        }
        builder.LinesTo(chunkEnd);
        _lineBase = chunkEnd;
    }

    /// <summary>
    /// NUL bytes before a line's text, what a crash leaves where a log's last writes were lost, are
    /// taken out (in place; the chunk gets shorter): the host was read as <c>\0\0\0"10.0.0.1"</c>.
    /// A line of NULs alone stays, and is a bad line. One search for a NUL a chunk when there is none.
    /// </summary>
    private static Memory<byte> DropNulPadding(Memory<byte> chunk)
    {
        var span = chunk.Span;
        var first = span.IndexOf((byte)0);
        if (first < 0) return chunk;
        var read = span[..first].LastIndexOf((byte)'\n') + 1;
        var write = read;
        while (read < span.Length)
        {
            var lf = span[read..].IndexOf((byte)'\n');
            var end = lf < 0 ? span.Length : read + lf + 1;
            var start = read;
            if (span[start] == 0)
            {
                var pad = span[start..end].IndexOfAnyExcept((byte)0);
                if (pad >= 0 && span[start + pad] is not ((byte)'\n' or (byte)'\r')) start += pad;
            }
            if (write != start) span[start..end].CopyTo(span[write..]);
            write += end - start;
            read = end;
        }
        return chunk[..write];
    }

    /// <summary>
    /// A physical line ends with LF (as <c>wc -l</c> and <c>sed -n</c> count), but CsvHelper also ends
    /// a record at a CR that no LF follows: such a CR becomes a space, so that one line stays one record
    /// and line numbers stay right. The CR of CRLF, and a CR that ends the input, stay line breaks.
    /// </summary>
    private static void BlankLoneCarriageReturns(Span<byte> chunk)
    {
        var at = chunk.IndexOf((byte)'\r');
        while (at >= 0 && at + 1 < chunk.Length)
        {
            if (chunk[at + 1] != (byte)'\n') chunk[at] = (byte)' ';
            var next = chunk[(at + 1)..].IndexOf((byte)'\r');
            at = next < 0 ? -1 : at + 1 + next;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ParseLine(CsvReader csv)
    {
        var csvLine = csv.LineNumber;
        var line = _lineBase + csvLine;
        var fields = csv.FieldCount;

        if (_malformed.Count > 0 && MalformedAt(csvLine) is { } reason)
        {
            if (_columns is null)
                throw new InputFormatException($"{_path}:{line}: the header line is malformed: {reason}");
            Bad(line, reason);
            return;
        }
        if (fields == 1 && csv.RawRecord.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0) return; // blank
        var columns = _columns;
        if (columns is null)
        {
            _columns = Columns.TryRead(csv, out var missing, out var names) ?? throw HeaderLacks(line, missing, names);
            return;
        }
        if (fields != columns.Count)
        {
            if (!IsRepeatedHeader(csv)) Bad(line, $"expected {columns.Count} fields, found {fields}");
            return;
        }
        if (!csv.TryParse<long>(columns.Date, out var time))
        {
            if (!IsRepeatedHeader(csv))
                Bad(line, $"date \"{csv.GetString(columns.Date)}\" is not Unix time (whole seconds, {Bounds.MinTime} to {Bounds.MaxTime})");
            return;
        }
        // Out of range, it is quoted as logged ("status 099"), as the server formats quote it: the
        // record's own check would say the number ("status 99").
        if (!csv.TryParse<int>(columns.Status, out var status) || status is < 100 or > 599)
        {
            var text = csv.GetString(columns.Status);
            Bad(line, IsWholeNumber(text) ? $"status {text.Trim()} is not in 100..599" : $"status \"{text}\" is not an integer");
            return;
        }
        long bytes = 0;
        var bytesField = csv.GetSpan(columns.Bytes);
        if (!(bytesField.Length == 1 && bytesField[0] == (byte)'-') && !csv.TryParse(columns.Bytes, out bytes))
        {
            var text = csv.GetString(columns.Bytes);
            Bad(line, !IsWholeNumber(text) ? $"bytes \"{text}\" is not an integer or '-'"
                : text.StartsWith('-') ? $"bytes {text} is negative" : $"bytes {text} is above the limit of {Bounds.MaxBytes} (1 PiB)");
            return;
        }

        // Each span stays valid until the next Read.
        _builder.Add(time, csv.GetSpan(columns.Host), csv.GetSpan(columns.User), csv.GetSpan(columns.Request),
                     status, bytes, line);
    }

    /// <summary>The first line of an input is not a header with the columns the format needs.</summary>
    private InputFormatException HeaderLacks(long line, List<string> missing, string[] names) =>
        new($"{_path}:{line}: the header lacks column{(missing.Count > 1 ? "s" : "")} " +
            $"{string.Join(", ", missing.Select(m => $"\"{m}\""))} " +
            $"(found {string.Join(", ", names.Select(n => $"\"{n}\""))})");

    /// <summary>
    /// A header line again in the middle of an input (<c>cat a.csv b.csv | logalert -</c>): it becomes
    /// the header from here on instead of a bad line. Only asked of lines that are bad anyway.
    /// </summary>
    private bool IsRepeatedHeader(CsvReader csv)
    {
        if (Columns.TryRead(csv, out _, out _) is not { } columns) return false;
        _columns = columns;
        return true;
    }

    private string? MalformedAt(long csvLine)
    {
        while (_malformed.TryPeek(out var m) && m.Line < csvLine) _malformed.Dequeue();
        if (!_malformed.TryPeek(out var at) || at.Line != csvLine) return null;
        _malformed.Dequeue();
        return at.Reason switch
        {
            CsvMalformedReason.LineBreakInQuotes or CsvMalformedReason.UnterminatedQuote => "unclosed quote",
            CsvMalformedReason.TextAfterClosingQuote => "text after a closing quote",
            _ => null, // a stray quote inside an unquoted field is kept as text, as RFC 4180 readers do
        };
    }

    private void Bad(long line, string reason) => _builder.Bad(line, reason);

    /// <summary>A whole number, with an optional minus: one that did not parse is out of range, not "not an integer".</summary>
    private static bool IsWholeNumber(string text)
    {
        var digits = text.StartsWith('-') ? text.AsSpan(1) : text.AsSpan();
        return !digits.IsEmpty && !digits.ContainsAnyExceptInRange('0', '9');
    }
}
