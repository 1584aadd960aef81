using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace LogAlert.Cli.Properties;

/// <summary>What a generated line is.</summary>
public enum LineKind
{
    /// <summary><see cref="TrafficLine.Count"/> requests at one second.</summary>
    Requests = 0,
    /// <summary>One request years ahead of the log: a corrupt timestamp, skewed (docs/semantics.md §4).</summary>
    Skewed = 1,
    /// <summary>A line that is not a record (docs/semantics.md §2).</summary>
    Bad = 2,
}

/// <summary>
/// One element of generated traffic, small numbers that shrink towards 0 (FsCheck's shrinking then
/// gives small logs): <see cref="Gap"/> seconds after the previous line's second (a code, see
/// <see cref="Traffic.GapSeconds"/>), written <see cref="Back"/> seconds earlier than that (disorder,
/// at most the lateness), <see cref="Count"/> identical requests of one host, section, status and size
/// (indexes into tables: index 0 is the plainest value).
/// </summary>
public sealed record TrafficLine(LineKind Kind, int Gap, int Back, int Host, int Section, int Status, int Bytes, int Count);

/// <summary>Requests added after line <see cref="At"/> (a line of requests), at its second: "more traffic".</summary>
public sealed record ExtraLine(int At, int Host, int Section, int Status, int Bytes, int Count);

/// <summary>
/// A generated log and the variations a property compares it with: a batch size, a time shift, extra
/// requests. <see cref="Start"/> is seconds after 2019-02-07T21:11:00Z.
/// </summary>
public sealed record TrafficCase(int Start, TrafficLine[] Lines, int BatchSize, int Shift, ExtraLine[] Extra)
{
    /// <summary>Total records of the lines (requests and skewed ones).</summary>
    public long Records => Lines.Sum(l => l.Kind == LineKind.Bad ? 0L : l.Kind == LineKind.Skewed ? 1L : Math.Max(1, l.Count));
}

/// <summary>A line of a rendered log: its text, its time (null for a bad line), and whether it must keep its place when records are reordered.</summary>
internal readonly record struct LogLine(string Text, long? Time, bool Pinned);

/// <summary>
/// How generated traffic is written: the seed's CSV, or JSON lines that also hold what only server
/// formats log (<c>request_time</c>, <c>upstream_response_time</c>, <c>vhost</c>, <c>referer</c>,
/// <c>user_agent</c>), for rules that read those: in CSV they are 0 or <c>-</c> on every record,
/// and a rule's latency path was never run.
/// </summary>
internal enum TrafficFormat
{
    Csv,
    Jsonl,
}

/// <summary>Generating, shrinking and writing <see cref="TrafficCase"/>s as the seed's CSV.</summary>
public static class Traffic
{
    /// <summary>The seed's CSV header.</summary>
    public const string Header = "\"remotehost\",\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\"";

    /// <summary>2019-02-07T21:11:00Z, the seed log's first minute.</summary>
    public const long Epoch = 1_549_573_860;

    /// <summary>Gap codes up to this are that many seconds; above, a jump past the skew limit.</summary>
    private const int SmallGaps = 600;

    private static readonly string[] Sections = ["/", "/api", "/report", "/static", "/search", "/admin", "/login", "/cart"];
    private static readonly int[] Statuses = [200, 404, 500, 503, 301, 201, 403, 502, 204, 302];
    private static readonly string[] Users = ["-", "-", "apache", "alice", "bob"];

    /// <summary>Lateness and skew limit of the engine the traffic is for (seconds).</summary>
    public sealed record Limits(long Lateness, long MaxSkew);

    /// <summary>
    /// The seconds of a gap code: up to 600 as they are; above, a jump of more than the skew limit plus
    /// twice the lateness (a quiet night), so that whether a record is a jump never hangs on a second.
    /// The map grows with the code, so a shrunk gap stays a gap of the same kind until it becomes small.
    /// </summary>
    public static long GapSeconds(int code, Limits limits) =>
        code <= SmallGaps ? Math.Max(0, code) : limits.MaxSkew + 2 * limits.Lateness + 1 + (code - SmallGaps - 1);

    /// <summary>
    /// The generator: bursts (many requests in a second, or <paramref name="counts"/>, request counts
    /// that bring a rule's value to its thresholds), gaps and jumps, disorder within the lateness, bad
    /// lines, skewed timestamps, few or many hosts and sections.
    /// </summary>
    public static Arbitrary<TrafficCase> Arbitrary(IReadOnlyList<int> counts, Limits limits)
    {
        var lateness = (int)Math.Min(limits.Lateness, 1000);
        var count = counts.Count > 0
            ? Gen.Frequency((16, Gen.Choose(1, 3)), (6, Gen.Choose(1, 40)), (1, Gen.Choose(100, 1500)), (1, Gen.Elements(counts.ToArray())))
            : Gen.Frequency((16, Gen.Choose(1, 3)), (6, Gen.Choose(1, 40)), (1, Gen.Choose(100, 1500)));
        var host = Gen.Frequency((6, Gen.Choose(0, 3)), (2, Gen.Choose(0, 40)), (1, Gen.Choose(0, 5000)));
        var section = Gen.Frequency((6, Gen.Choose(0, 3)), (2, Gen.Choose(0, Sections.Length - 1)), (1, Gen.Choose(0, 300)));
        var status = Gen.Frequency((5, Gen.Constant(0)), (3, Gen.Choose(0, Statuses.Length - 1)));
        var line =
            from kind in Gen.Frequency((40, Gen.Constant(LineKind.Requests)), (1, Gen.Constant(LineKind.Skewed)), (2, Gen.Constant(LineKind.Bad)))
            from gap in Gen.Frequency((6, Gen.Constant(0)), (6, Gen.Choose(1, 3)), (3, Gen.Choose(4, 200)), (1, Gen.Choose(SmallGaps + 1, SmallGaps + 5 * 86400)))
            from back in Gen.Frequency((4, Gen.Constant(0)), (1, Gen.Choose(0, lateness)))
            from h in host
            from s in section
            from st in status
            from bytes in Gen.Choose(0, 20000)
            from c in count
            select new TrafficLine(kind, gap, back, h, s, st, bytes, c);
        var extra =
            from at in Gen.Choose(0, 100)
            from h in host
            from s in section
            from st in status
            from bytes in Gen.Choose(0, 20000)
            from c in count
            select new ExtraLine(at, h, s, st, bytes, c);
        var shift = Gen.Frequency(
            (1, from days in Gen.Choose(-3650, 3650) select days * 86400),
            (2, Gen.Choose(-100_000_000, 100_000_000)));
        var gen =
            from start in Gen.Choose(0, 10_000_000)
            from lines in Gen.ListOf(line).ScaleSize(size => size / 2)
            from batch in Gen.Choose(1, 64)
            from sh in shift
            from extras in Gen.ListOf(extra).ScaleSize(size => size / 4 + 1)
            select new TrafficCase(start, [.. lines], batch, sh, [.. extras]);
        return Arb.From(gen, Shrink);
    }

    /// <summary>Smaller cases: fewer lines or extras first, then each number towards 0.</summary>
    public static IEnumerable<TrafficCase> Shrink(TrafficCase c)
    {
        foreach (var lines in Shorter(c.Lines)) yield return c with { Lines = lines };
        foreach (var extras in Shorter(c.Extra)) yield return c with { Extra = extras };
        for (var i = 0; i < c.Lines.Length; i++)
        {
            var l = c.Lines[i];
            foreach (var x in Smaller(l)) yield return c with { Lines = Replace(c.Lines, i, x) };
        }
        for (var i = 0; i < c.Extra.Length; i++)
        {
            var e = c.Extra[i];
            foreach (var v in Towards0(e.Count)) yield return c with { Extra = Replace(c.Extra, i, e with { Count = v }) };
            foreach (var v in Towards0(e.At)) yield return c with { Extra = Replace(c.Extra, i, e with { At = v }) };
            foreach (var v in Towards0(e.Host)) yield return c with { Extra = Replace(c.Extra, i, e with { Host = v }) };
            foreach (var v in Towards0(e.Section)) yield return c with { Extra = Replace(c.Extra, i, e with { Section = v }) };
            foreach (var v in Towards0(e.Status)) yield return c with { Extra = Replace(c.Extra, i, e with { Status = v }) };
            foreach (var v in Towards0(e.Bytes)) yield return c with { Extra = Replace(c.Extra, i, e with { Bytes = v }) };
        }
        foreach (var v in Towards0(c.Shift)) yield return c with { Shift = v };
        foreach (var v in Towards0(c.Start)) yield return c with { Start = v };
        foreach (var v in Towards0(c.BatchSize - 1)) yield return c with { BatchSize = v + 1 };
    }

    private static IEnumerable<TrafficLine> Smaller(TrafficLine l)
    {
        if (l.Kind != LineKind.Requests) yield return l with { Kind = LineKind.Requests };
        foreach (var v in Towards0(l.Count)) yield return l with { Count = v };
        foreach (var v in Towards0(l.Gap)) yield return l with { Gap = v };
        foreach (var v in Towards0(l.Back)) yield return l with { Back = v };
        foreach (var v in Towards0(l.Host)) yield return l with { Host = v };
        foreach (var v in Towards0(l.Section)) yield return l with { Section = v };
        foreach (var v in Towards0(l.Status)) yield return l with { Status = v };
        foreach (var v in Towards0(l.Bytes)) yield return l with { Bytes = v };
    }

    private static T[] Replace<T>(T[] items, int index, T item)
    {
        var copy = (T[])items.Clone();
        copy[index] = item;
        return copy;
    }

    /// <summary>The list without a stretch: all of it, then halves, quarters, ... single items.</summary>
    private static IEnumerable<T[]> Shorter<T>(T[] items)
    {
        for (var k = items.Length; k > 0; k /= 2)
            for (var at = 0; at + k <= items.Length; at += k)
                yield return [.. items[..at], .. items[(at + k)..]];
    }

    /// <summary>0, then values halfway closer to <paramref name="x"/> (as FsCheck shrinks integers); negatives mirrored.</summary>
    private static IEnumerable<int> Towards0(int x)
    {
        if (x == 0) yield break;
        if (x < 0)
        {
            foreach (var v in Towards0(-x)) yield return -v;
            yield break;
        }
        yield return 0;
        for (var d = x / 2; d > 0; d /= 2) yield return x - d;
    }

    /// <summary>Host <paramref name="i"/>'s address.</summary>
    private static string Host(int i) => string.Create(CultureInfo.InvariantCulture, $"10.0.{i / 250 % 256}.{i % 250 + 1}");

    private static string Section(int i) => i < Sections.Length ? Sections[i] : $"/s{i}";

    private static string Request(int section, int bytes)
    {
        var s = Section(section);
        var path = s == "/" ? "/" : s + "/item";
        return (bytes % 7 == 3 ? "POST " : "GET ") + path + " HTTP/1.1";
    }

    private static readonly string[] VirtualHosts = ["www.example.com", "api.example.com", "static.example.com"];
    private static readonly string[] Agents = ["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Googlebot/2.1", "-"];

    private static string RequestLine(TrafficFormat format, int host, int section, int status, int bytes, long time)
    {
        if (format == TrafficFormat.Csv)
            return string.Create(CultureInfo.InvariantCulture,
                $"\"{Host(host)}\",\"-\",\"{Users[host % Users.Length]}\",{time},\"{Request(section, bytes)}\",{Statuses[status % Statuses.Length]},{bytes}");
        // The server's fields from the ones generated, so that they shrink with them (bytes 0: a
        // request of 0 s): 0 to 5 s of request time, most of it upstream, none for some ('-').
        var requestTime = bytes * 7 % 5000 / 1000.0;
        var upstream = bytes % 11 == 5 ? "-" : (requestTime * 0.9).ToString("0.###", CultureInfo.InvariantCulture);
        var referer = host % 2 == 0 ? "-" : "https://www.example.com" + Section(section);
        return string.Create(CultureInfo.InvariantCulture,
            $"{{\"remotehost\":\"{Host(host)}\",\"authuser\":\"{Users[host % Users.Length]}\",\"date\":{time},\"request\":\"{Request(section, bytes)}\","
            + $"\"status\":{Statuses[status % Statuses.Length]},\"bytes\":{bytes},\"request_time\":{requestTime:0.###},\"upstream_response_time\":\"{upstream}\","
            + $"\"host\":\"{VirtualHosts[(host + section) % VirtualHosts.Length]}\",\"http_referer\":\"{referer}\",\"http_user_agent\":\"{Agents[host % Agents.Length]}\"}}");
    }

    private static string BadLine(int variant, long time) => (variant % 5) switch
    {
        0 => string.Create(CultureInfo.InvariantCulture, $"\"10.0.0.1\",\"-\",\"-\",{time},\"GET /api/item HTTP/1.1\",600,100"),
        1 => "\"10.0.0.1\",\"-\",\"-\",yesterday,\"GET / HTTP/1.1\",200,1",
        2 => string.Create(CultureInfo.InvariantCulture, $"\"10.0.0.2\",\"-\",\"-\",{time},\"GET /report HTTP/1.1\",200"),
        3 => string.Create(CultureInfo.InvariantCulture, $"\"10.0.0.3\",\"-\",\"-\",{time},\"GET /api/item HTTP/1.1,200,1"),
        _ => "<html><body>502 Bad Gateway</body></html>",
    };

    /// <summary>
    /// The log's lines, without the header: the case shifted by <paramref name="shift"/> seconds, with
    /// its extra requests when <paramref name="extra"/> (never after a pinned line). Pinned lines are those whose place decides what
    /// the engine accepts (docs/semantics.md §4): the first two records, skewed ones and the records
    /// next to them, the first two records after a jump; the others may be reordered within the lateness.
    /// </summary>
    internal static List<LogLine> Lines(TrafficCase c, Limits limits, long shift = 0, bool extra = false, TrafficFormat format = TrafficFormat.Csv)
    {
        var result = new List<LogLine>();
        var extras = extra ? c.Extra.Where(e => c.Lines.Length > 0).ToLookup(e => e.At % c.Lines.Length) : null;
        var cursor = Traffic.Epoch + c.Start;
        var skewed = 0;
        var pinNext = 2; // records still to pin: the first two of the log, and of each jump
        var previousRecord = -1; // index in result of the last request record
        for (var i = 0; i < c.Lines.Length; i++)
        {
            var l = c.Lines[i];
            var gap = i == 0 ? 0 : GapSeconds(l.Gap, limits);
            cursor += gap;
            if (gap > limits.MaxSkew) pinNext = 2;
            switch (l.Kind)
            {
                case LineKind.Bad:
                    result.Add(new LogLine(BadLine(l.Status + l.Host, cursor + shift), null, true));
                    break;
                case LineKind.Skewed:
                    // Centuries ahead, and each a year before the skewed line before it: a record
                    // after a suspect that is later still confirms it as a jump (§4), one that falls
                    // back disproves it. A case has far fewer than 2,000 lines.
                    skewed++;
                    var far = cursor + shift + (2000L - skewed) * 366L * 86400;
                    result.Add(new LogLine(RequestLine(format, l.Host, l.Section, l.Status, l.Bytes, far), far, true));
                    if (previousRecord >= 0) result[previousRecord] = result[previousRecord] with { Pinned = true };
                    pinNext = Math.Max(pinNext, 1);
                    break;
                default:
                    var time = cursor - Math.Min(l.Back, limits.Lateness) + shift;
                    var text = RequestLine(format, l.Host, l.Section, l.Status, l.Bytes, time);
                    var n = Math.Max(1, l.Count);
                    // "More traffic" must change no decision of the engine's besides the counts: a copy
                    // after a record held as a suspect (the first after a jump, docs/semantics.md §4)
                    // confirms the jump, which the lone suspect of the smaller log did not, and moves
                    // log time. So requests are added only after records accepted as they come.
                    var decides = pinNext > 0;
                    for (var k = 0; k < n; k++)
                    {
                        result.Add(new LogLine(text, time, pinNext > 0));
                        if (pinNext > 0) pinNext--;
                    }
                    if (extras is not null && !decides)
                        foreach (var e in extras[i])
                        {
                            var added = RequestLine(format, e.Host, e.Section, e.Status, e.Bytes, time);
                            for (var k = 0; k < Math.Max(1, e.Count); k++) result.Add(new LogLine(added, time, false));
                        }
                    previousRecord = result.Count - 1;
                    break;
            }
        }
        return result;
    }

    /// <summary>The same lines with the unpinned records between two pinned lines sorted by time: the same records, reordered within the lateness.</summary>
    internal static List<LogLine> Sorted(List<LogLine> lines)
    {
        var result = new List<LogLine>(lines.Count);
        var run = new List<LogLine>();
        foreach (var line in lines)
        {
            if (line.Pinned)
            {
                result.AddRange(run.OrderBy(l => l.Time)); // OrderBy is stable
                run.Clear();
                result.Add(line);
            }
            else run.Add(line);
        }
        result.AddRange(run.OrderBy(l => l.Time));
        return result;
    }

    /// <summary>The log as text: CSV with its header first, or JSON lines.</summary>
    internal static string Text(IEnumerable<LogLine> lines, TrafficFormat format = TrafficFormat.Csv)
    {
        var sb = new StringBuilder();
        if (format == TrafficFormat.Csv) sb.Append(Header).Append('\n');
        foreach (var l in lines) sb.Append(l.Text).Append('\n');
        return sb.ToString();
    }
}
