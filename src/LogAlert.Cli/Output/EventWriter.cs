using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Output;

/// <summary>
/// What the shell adds to the engine's report: it counts lines and bad lines itself, and knows each
/// input's format (named, or found from its first lines).
/// </summary>
public sealed record InputCounts(long Lines, long Bad)
{
    /// <summary>Each input read, in order, with its format.</summary>
    public IReadOnlyList<(string Path, string Format)> Formats { get; init; } = [];

    /// <summary>What each alert destination did (<c>--alertmanager</c>, <c>--webhook</c>); empty without any.</summary>
    public IReadOnlyList<Delivery.DeliveryCount> Delivery { get; init; } = [];
}

/// <summary>Why a run stopped, as the final report says it.</summary>
/// <param name="Reason"><c>end of input</c>, <c>SIGINT</c>, <c>SIGTERM</c>, or what went wrong.</param>
public sealed record RunEnd(string Reason)
{
    /// <summary>The input was read to its end.</summary>
    public static readonly RunEnd EndOfInput = new("end of input");

    /// <summary>Whether the input was read to its end.</summary>
    public bool IsEndOfInput => ReferenceEquals(this, EndOfInput) || Reason == EndOfInput.Reason;
}

/// <summary>Writes engine events to stdout in one format.</summary>
public interface IEventWriter
{
    void Alert(AlertNotice alert);
    void Summary(SummaryNotice summary);
    void Final(RunReport report, InputCounts counts, RunEnd end);
    void Flush();
}

internal static class Format
{
    public static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary><c>2019-02-07T21:12:36Z</c>: <see cref="LogTime.Iso"/>'s text, written digit by digit
    /// for the years 1 to 9999 (a summary's end is stamped 50k times in 5.6 days of log).</summary>
    public static string Time(long second)
    {
        if (second < MinIsoSecond || second > LogAlert.Core.Bounds.MaxTime) return LogTime.Iso(second);
        return string.Create(20, second, static (chars, second) =>
        {
            var (year, month, day) = new DateTime(DateTime.UnixEpoch.Ticks + second * TimeSpan.TicksPerSecond, DateTimeKind.Utc);
            var inDay = (int)(((second % 86400) + 86400) % 86400);
            Digits(chars[..4], year);
            chars[4] = '-';
            Digits(chars.Slice(5, 2), month);
            chars[7] = '-';
            Digits(chars.Slice(8, 2), day);
            chars[10] = 'T';
            Digits(chars.Slice(11, 2), inDay / 3600);
            chars[13] = ':';
            Digits(chars.Slice(14, 2), inDay / 60 % 60);
            chars[16] = ':';
            Digits(chars.Slice(17, 2), inDay % 60);
            chars[19] = 'Z';
        });
    }

    /// <summary>0001-01-01T00:00:00Z, the first second <see cref="DateTime"/> holds.</summary>
    private const long MinIsoSecond = -62135596800L;

    /// <summary>Writes <paramref name="n"/> into all of <paramref name="into"/>, zero-padded.</summary>
    private static void Digits(Span<char> into, int n)
    {
        for (var i = into.Length - 1; i >= 0; i--, n /= 10) into[i] = (char)('0' + n % 10);
    }

    /// <summary>Appends <c>21:12:36</c>, the UTC time of day of <paramref name="second"/>: what follows
    /// the 'T' of <see cref="Time"/>, for any second (before 1970 too: the day is floored the same way).</summary>
    public static void AppendTimeOfDay(StringBuilder sb, long second)
    {
        var inDay = (int)(((second % 86400) + 86400) % 86400);
        Append2(sb, inDay / 3600).Append(':');
        Append2(sb, inDay / 60 % 60).Append(':');
        Append2(sb, inDay % 60);
    }

    private static StringBuilder Append2(StringBuilder sb, int n) => sb.Append((char)('0' + n / 10)).Append((char)('0' + n % 10));

    /// <summary>Rounded to 2 decimals, away from zero, as docs/semantics.md §13 asks; null when not finite,
    /// or too large for a decimal (7.9e27 and up: a whole number, which callers write as it is).</summary>
    /// <remarks>Without trailing zeros, so that a value written as JSON reads the same whichever way it got
    /// there: 0.004 and 0 are both 0 (0.004 was "0.00"), 5.80 is 5.8; and never a negative zero.</remarks>
    public static decimal? Round2(double value)
    {
        if (!double.IsFinite(value) || Math.Abs(value) >= 7.9e27) return null;
        var rounded = Math.Round((decimal)value, 2, MidpointRounding.AwayFromZero) / 1.0000000000000000000000000000m;
        return rounded == 0 ? 0m : rounded;
    }

    /// <summary>
    /// A value as text, as the events' <c>value</c> reads: rounded (<see cref="Round2"/>, in
    /// <paramref name="format"/> when given, <c>"0.00"</c> for a fixed 2 decimals), the double as it
    /// is past a decimal's range, and <see cref="NotFinite"/> when not finite.
    /// </summary>
    public static string ValueText(double value, string? format = null) =>
        Round2(value) is { } rounded ? rounded.ToString(format, Invariant)
        : double.IsFinite(value) ? value.ToString(Invariant)
        : NotFinite(value);

    /// <summary><c>+Inf</c>, <c>-Inf</c> or <c>NaN</c>: a value that is not finite, as Prometheus and promtool write it.</summary>
    public static string NotFinite(double value) => LogAlert.Core.NumberText.show(value);

    /// <summary>The value <see cref="NotFinite"/> wrote; false for any other text.</summary>
    public static bool TryParseNotFinite(string? text, out double value)
    {
        value = text switch { "+Inf" => double.PositiveInfinity, "-Inf" => double.NegativeInfinity, "NaN" => double.NaN, _ => 0 };
        return text is "+Inf" or "-Inf" or "NaN";
    }

    private static readonly string[] ByteUnits = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];

    /// <summary>Appends <c>381.6 KB</c>: bytes below 1 KB as they are, larger sums in the largest binary
    /// unit under them, one decimal.</summary>
    public static StringBuilder AppendBytes(StringBuilder sb, Int128 bytes)
    {
        var v = (double)bytes;
        var u = 0;
        // Also when it would round to 1024.0 (1,048,575 bytes is 1.0 MB, not 1024.0 KB).
        while (Math.Round(v, 1) >= 1024 && u < ByteUnits.Length - 1) { v /= 1024; u++; }
        return u == 0
            ? sb.Append(Invariant, $"{bytes} B")
            : sb.Append(Invariant, $"{v:0.0}").Append(' ').Append(ByteUnits[u]);
    }

    /// <summary><c>name="value",…</c> for text output, control characters escaped (<see cref="Terminal"/>).</summary>
    public static string Labels(IEnumerable<LabelPair> labels) =>
        string.Join(",", labels.Select(l => $"{Terminal.Escape(l.Name)}=\"{LabelValue(l.Value)}\""));

    /// <summary>
    /// A label's value between its quotes as Prometheus writes one: <c>\</c> and <c>"</c> escaped by
    /// a backslash, so that a value from the log (a section <c>/a"b</c>) cannot end the quotes early
    /// or pass for an escape; then control characters as <see cref="Terminal.Escape(string)"/> does.
    /// </summary>
    private static string LabelValue(string value) =>
        Terminal.Escape(value.AsSpan().IndexOfAny('\\', '"') < 0 ? value : value.Replace("\\", "\\\\").Replace("\"", "\\\""));
}

/// <summary><c>--format jsonl</c>: one JSON object per line, fields exactly as docs/semantics.md §13 lists them.</summary>
public sealed class JsonlEventWriter : IEventWriter
{
    // Each line is written into `_line` and copied to the stream whole. Not straight to the stream:
    // `Utf8JsonWriter.Flush` flushes the stream under it too, so every event was a write(2) of its
    // own, 50k of them for the summaries of 5.6 days of log. The stream is flushed only by
    // `Flush`, which the runner calls after each batch when someone is watching (--follow, stdin, a
    // terminal) and at the end.
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private readonly Utf8JsonWriter _json;
    private readonly Stream _output;

    public JsonlEventWriter(Stream output)
    {
        _output = output;
        _json = new Utf8JsonWriter(_line, new JsonWriterOptions
        {
            // Messages and paths stay readable for jq users: no \u002F for '/', no \u002B for '+'.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            SkipValidation = true,
        });
    }

    private void Number(string name, double value)
    {
        var rounded = Format.Round2(value);
        if (rounded is { } d) _json.WriteNumber(name, d);
        else if (double.IsFinite(value)) _json.WriteNumber(name, value); // past a decimal's range: a whole number
        else _json.WriteNull(name);
    }

    private void PlainNumber(string name, double value)
    {
        if (double.IsFinite(value)) _json.WriteNumber(name, value); else _json.WriteNull(name);
    }

    private void Labels(IEnumerable<LabelPair> labels)
    {
        _json.WriteStartObject("labels");
        foreach (var l in labels) _json.WriteString(l.Name, l.Value);
        _json.WriteEndObject();
    }

    private void EndLine()
    {
        _json.Flush();
        _output.Write(_line.WrittenSpan);
        _output.WriteByte((byte)'\n');
        _line.ResetWrittenCount();
        _json.Reset(_line);
    }

    public void Alert(AlertNotice a)
    {
        var fired = a.Transition == AlertTransition.Fired;
        _json.WriteStartObject();
        _json.WriteString("type", "alert");
        _json.WriteString("rule", a.Rule);
        _json.WriteString("state", fired ? "firing" : "resolved");
        _json.WriteNumber("ts", a.Time);
        _json.WriteString("time", Format.Time(a.Time));
        Number("value", a.Value);
        PlainNumber("threshold", a.Threshold);
        Labels(a.Labels);
        _json.WriteString("message", a.Message);
        if (!fired) _json.WriteNumber("firing_since", a.FiringSince);
        _json.WriteEndObject();
        EndLine();
    }

    public void Summary(SummaryNotice s)
    {
        _json.WriteStartObject();
        _json.WriteString("type", "summary");
        _json.WriteNumber("start", s.Start);
        _json.WriteNumber("end", s.End);
        _json.WriteNumber("requests", s.Requests);
        Number("rps", s.Rps);
        // An Int128 (no input makes the sum wrap); Utf8JsonWriter has no overload for it.
        _json.WritePropertyName("bytes");
        _json.WriteRawValue(s.Bytes.ToString(Format.Invariant), skipInputValidation: true);
        _json.WriteStartArray("sections");
        foreach (var x in s.Sections)
        {
            _json.WriteStartObject();
            _json.WriteString("section", x.Section);
            _json.WriteNumber("hits", x.Hits);
            _json.WriteEndObject();
        }
        _json.WriteEndArray();
        _json.WriteStartObject("status");
        foreach (var x in s.Status) _json.WriteNumber(x.StatusClass, x.Requests);
        _json.WriteEndObject();
        _json.WriteNumber("hosts", s.Hosts);
        _json.WriteBoolean("partial", s.Partial);
        _json.WriteEndObject();
        EndLine();
    }

    public void Final(RunReport r, InputCounts counts, RunEnd end)
    {
        _json.WriteStartObject();
        _json.WriteString("type", "stats");
        _json.WriteNumber("lines", counts.Lines);
        _json.WriteNumber("records", r.Records);
        _json.WriteNumber("bad", counts.Bad);
        _json.WriteNumber("skewed", r.Skewed);
        _json.WriteNumber("late", r.Late);
        _json.WriteStartArray("firing");
        foreach (var f in r.Firing)
        {
            _json.WriteStartObject();
            _json.WriteString("rule", f.Rule);
            Labels(f.Labels);
            _json.WriteNumber("since", f.Since);
            _json.WriteString("time", Format.Time(f.Since));
            Number("value", f.Value);
            if (f.RuleFailed) _json.WriteBoolean("rule_failed", true);
            _json.WriteEndObject();
        }
        _json.WriteEndArray();
        _json.WriteStartArray("inputs");
        foreach (var (path, format) in counts.Formats)
        {
            _json.WriteStartObject();
            _json.WriteString("path", path);
            _json.WriteString("format", format);
            _json.WriteEndObject();
        }
        _json.WriteEndArray();
        if (counts.Delivery.Count > 0)
        {
            _json.WriteStartArray("delivery");
            foreach (var d in counts.Delivery)
            {
                _json.WriteStartObject();
                _json.WriteString("destination", d.Destination);
                _json.WriteString("kind", d.Kind);
                _json.WriteNumber("delivered", d.Delivered);
                _json.WriteNumber("failed", d.Failed);
                _json.WriteNumber("dropped", d.Dropped);
                _json.WriteEndObject();
            }
            _json.WriteEndArray();
        }
        _json.WriteString("stopped", end.Reason);
        _json.WriteEndObject();
        EndLine();
    }

    public void Flush() => _output.Flush();
}

/// <summary>
/// <c>--format text</c>: one readable line per event; ANSI colour only when asked to. Text from the
/// log or a rule is written with its control characters escaped (<see cref="Terminal"/>).
/// </summary>
/// <param name="output">Where the lines go.</param>
/// <param name="color">Whether to write ANSI colour.</param>
/// <param name="summaryInterval">The run's summary interval: of a day or more, every summary (a final
/// partial one too) shows full times.</param>
public sealed class TextEventWriter(TextWriter output, bool color, TimeSpan summaryInterval = default) : IEventWriter
{
    private string Paint(string code, string text) => color ? $"\u001b[{code}m{text}\u001b[0m" : text;

    public void Alert(AlertNotice a)
    {
        var fired = a.Transition == AlertTransition.Fired;
        var tag = fired ? Paint("1;31", "FIRING  ") : Paint("1;32", "RESOLVED");
        var labels = a.Labels.Count == 0 ? "" : "{" + Format.Labels(a.Labels) + "} ";
        output.Write($"{Format.Time(a.Time)}  {tag}  {Paint("1", Terminal.Escape(a.Rule))} {labels}{Terminal.Escape(a.Message)}\n");
    }

    // One summary per interval: 50k lines for 5.6 days of log. The line is built in one reused
    // builder and written from it, with no LINQ, joins or interpolated pieces in between
    // (docs/performance.md, 2026-12-04).
    private readonly StringBuilder _line = new(256);

    public void Summary(SummaryNotice s)
    {
        var sb = _line.Clear();
        // Stamped with the interval's end, when it is emitted, so that lines stay in time order
        // among alerts; the interval itself follows as start–end (time of day, UTC).
        sb.Append(Format.Time(s.End)).Append("  ");
        Close(Open(sb, "36").Append("summary "));
        sb.Append("  ");
        // An interval of a day or more (--summary-interval 1d) has its dates: as times of day its
        // start and end read the same (00:00:00–00:00:00). So does the final, partial one of such a
        // run, which is shorter but would otherwise be the only summary without them. So does one
        // that starts on the day before its last second (--summary-interval 23h or 7s across
        // midnight): "10:00:00–00:01:41" read as if it ran backwards.
        if (s.End - s.Start >= 86400 || summaryInterval >= TimeSpan.FromDays(1) || s.Start / 86400 != (s.End - 1) / 86400) sb.Append(Format.Time(s.Start)).Append('–').Append(Format.Time(s.End));
        else
        {
            Format.AppendTimeOfDay(sb, s.Start);
            sb.Append('–');
            Format.AppendTimeOfDay(sb, s.End);
        }
        sb.Append("  ");
        sb.Append(s.Requests).Append(" req ");
        Close(Open(sb, "2").Append('(').Append(Format.Invariant, $"{s.Rps:0.00}").Append("/s)"));
        sb.Append(" | top ");
        var sections = s.Sections;
        for (var i = 0; i < sections.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(Terminal.Escape(sections[i].Section)).Append(' ').Append(sections[i].Hits);
        }
        sb.Append(" | ");
        var status = s.Status;
        for (var i = 0; i < status.Count; i++)
        {
            if (i > 0) sb.Append(' ');
            var x = status[i];
            if (x.StatusClass == "5xx" && x.Requests > 0) Close(Open(sb, "31").Append(x.StatusClass).Append(' ').Append(x.Requests));
            else sb.Append(x.StatusClass).Append(' ').Append(x.Requests);
        }
        sb.Append(" | ");
        Format.AppendBytes(sb, s.Bytes);
        sb.Append(" | ").Append(s.Hosts).Append(s.Hosts == 1 ? " host" : " hosts");
        if (s.Partial) Close(Open(sb, "33").Append(" (partial)"));
        output.Write(sb.Append('\n'));
    }

    // `Paint` for a builder: what is appended between Open and Close is in colour `code` (when on).
    private StringBuilder Open(StringBuilder sb, string code) => color ? sb.Append("\u001b[").Append(code).Append('m') : sb;

    private StringBuilder Close(StringBuilder sb) => color ? sb.Append("\u001b[0m") : sb;

    public void Final(RunReport r, InputCounts counts, RunEnd end)
    {
        var why = end.IsEndOfInput ? "end of input" : $"stopped ({Terminal.Escape(end.Reason)})";
        output.Write(Paint("2", $"-- {why}: {Count(counts.Lines, "line")}, {Count(r.Records, "record")}, {counts.Bad} bad, {r.Skewed} skewed, {r.Late} late") + "\n");
        foreach (var d in counts.Delivery)
            output.Write(Paint("2", $"-- {d.Kind} {Terminal.Escape(d.Destination)}: {d.Delivered} delivered, {d.Failed} failed, {d.Dropped} dropped") + "\n");
        if (r.Firing.Count == 0)
        {
            output.Write(Paint("2", "-- no alert firing") + "\n");
            return;
        }
        foreach (var f in r.Firing)
        {
            var labels = f.Labels.Count == 0 ? "" : " {" + Format.Labels(f.Labels) + "}";
            var failed = f.RuleFailed ? " (its rule failed: not evaluated since)" : "";
            output.Write($"-- {Paint("1;31", "still firing")}: {Terminal.Escape(f.Rule)}{labels} since {Format.Time(f.Since)}, value {Format.ValueText(f.Value, "0.00")}{failed}\n");
        }
    }

    // "1 line", "2 lines": the report is read by people (jsonl's keys carry the numbers for programs).
    private static string Count(long n, string noun) => n == 1 ? $"{n} {noun}" : $"{n} {noun}s";

    public void Flush() => output.Flush();
}
