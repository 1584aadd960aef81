using LogAlert.Cli.Input.Formats;

namespace LogAlert.Cli.Input;

/// <summary>
/// Turns chunks of web-server access-log lines (common, combined, a server's own <c>log_format</c> or
/// <c>LogFormat</c>, JSON lines) into records and bad lines, through a <see cref="BatchBuilder"/>.
/// The line format itself is an <see cref="IAccessLineParser"/>, which the input's state names.
/// </summary>
/// <param name="builder">Makes the records and batches; this parser's alone.</param>
/// <param name="extras">
/// The extras something reads: a <see cref="LineTemplate"/> reads lines <see cref="LineTemplate.Wanting"/>
/// only those, so that the others cost no conversion or unescaping.
/// </param>
internal sealed class AccessParser(BatchBuilder builder, AccessExtras extras = AccessExtras.None)
{
    private readonly MinuteCache _minutes = new();
    private readonly QuoteMap _quotes = new();

    /// <summary>
    /// Reads the whole lines of <paramref name="chunk"/> (the first being line <paramref name="lineBase"/> + 1
    /// of its input) with <paramref name="format"/>; returns the number of the last line read. Blank lines
    /// are skipped (and counted), every other line is a record or a bad line with its reason.
    /// </summary>
    public long Parse(ReadOnlySpan<byte> chunk, long lineBase, bool atStart, IAccessLineParser format)
    {
        if (atStart && chunk.StartsWith(BatchBuilder.Bom)) chunk = chunk[BatchBuilder.Bom.Length..];
        // A template is called directly, with this thread's cache of minutes: no interface call or thread-static a line.
        var template = (format as LineTemplate)?.Wanting(extras);
        // Line feeds, quotes and backslashes found once for the chunk when its lines may go straight to records.
        var quotes = template is { ReadsDirect: true } ? _quotes : null;
        quotes?.Index(chunk);
        var line = lineBase;
        var at = 0;
        while (at < chunk.Length)
        {
            line++;
            var end = quotes is not null ? quotes.NextBreak(at) : chunk[at..].IndexOf((byte)'\n') is var e and >= 0 ? at + e : chunk.Length;
            var next = end < chunk.Length ? end + 1 : chunk.Length;
            var text = chunk[at..end];
            var start = at;
            at = next;
            // Blank: a line that starts with a printable byte (nearly all) is not, without a search.
            if ((text.IsEmpty || text[0] <= (byte)' ') && text.IndexOfAnyExcept((byte)' ', (byte)'\t', (byte)'\r') < 0) continue;
            // NUL bytes before a line are what a crash leaves where a log's last writes were lost
            // (the file's length was saved, its data not): the line after them is whole, and its
            // host is not "\0\0\0…10.0.0.1".
            if (text[0] == 0)
            {
                var pad = text.IndexOfAnyExcept((byte)0);
                if (pad < 0 || text[pad..].IndexOfAnyExcept(" \t\r"u8) < 0)
                {
                    builder.Bad(line, $"{(pad < 0 ? text.Length : pad)} NUL bytes and nothing else (a log's lost writes after a crash)");
                    continue;
                }
                text = text[pad..];
                start += pad;
            }
            // A plain line of common or combined goes straight to a record; any other, through the fields.
            if (quotes is not null && template!.TryAddPlain(text, _minutes, builder, line, quotes, start)) { }
            else if (quotes is null && template is not null && template.TryAddPlain(text, _minutes, builder, line)) { }
            else if (template is not null ? template.TryParse(text, _minutes, out var fields, out var reason) : format.TryParse(text, out fields, out reason))
                builder.AddFields(fields, line);
            else
                builder.Bad(line, reason);
            if (builder.Full)
            {
                builder.LinesTo(line);
                builder.Seal();
            }
        }
        builder.LinesTo(line);
        return line;
    }
}
