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
        var line = lineBase;
        var at = 0;
        while (at < chunk.Length)
        {
            line++;
            var end = chunk[at..].IndexOf((byte)'\n');
            var next = end < 0 ? chunk.Length : at + end + 1;
            var text = chunk[at..(end < 0 ? chunk.Length : at + end)];
            at = next;
            if (text.IndexOfAnyExcept((byte)' ', (byte)'\t', (byte)'\r') < 0) continue; // blank
            // A plain line of common or combined goes straight to a record; any other, through the fields.
            if (template is not null && template.TryAddPlain(text, _minutes, builder, line)) { }
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
