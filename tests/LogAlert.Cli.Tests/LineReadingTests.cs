using System.Text;
using LogAlert.Cli.Input.Formats;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// The short cuts of reading server lines fast give what the plain reading gives: the time through
/// the last minute read (<see cref="MinuteCache"/>), a request time checked without converting it,
/// a plain request line split in one pass, and a template that leaves unwanted extras alone
/// (<see cref="LineTemplate.Wanting"/>).
/// </summary>
public sealed class LineReadingTests
{
    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    // ---------------------------------------------------------------- MinuteCache

    [Fact]
    public void MinuteCacheReadsAsTimeLocalAcrossSecondsMinutesDaysAndOffsets()
    {
        string[] times =
        [
            "07/Feb/2019:16:11:00 -0500", "07/Feb/2019:16:11:00 -0500", "07/Feb/2019:16:11:59 -0500",
            "07/Feb/2019:16:11:60 -0500", // a leap second: the next minute's first
            "07/Feb/2019:16:11:61 -0500", "07/Feb/2019:16:11:6x -0500", "07/Feb/2019:16:11:x0 -0500",
            "07/Feb/2019:16:12:00 -0500", "07/Feb/2019:16:12:01 +0000", "07/Feb/2019:16:12:02 -0500",
            "07/Feb/2019:23:59:59 -0500", "08/Feb/2019:00:00:00 -0500", "31/Dec/2019:23:59:59 +0100",
            "01/Jan/2020:00:00:00 +0100", "29/Feb/2020:12:00:00 +0000", "29/Feb/2019:12:00:00 +0000",
            "07/feb/2019:16:11:00 -0500", "07/Feb/2019:16:11:00 -0500",
            "07/Feb/2019:16:11:00 -2500", "07/Feb/2019:16:11:00 -0500x", "07/Feb/2019:16:11:00 -050",
            "07-Feb/2019:16:11:00 -0500", "07/Feb/2019:16:11:00_-0500", "07/Feb/2019:16:11-00 -0500",
            // At the ends of log time, where a minute's second 0 and its second 60 are on either side.
            "01/Jan/1970:00:59:59 +0100", "01/Jan/1970:00:59:60 +0100", "01/Jan/1970:01:00:00 +0100",
            "31/Dec/9999:23:59:59 +0000", "31/Dec/9999:23:59:60 +0000", "31/Dec/9999:23:59:00 -0100",
            "01/Jan/1969:00:00:00 +0000",
        ];
        var cache = new MinuteCache();
        foreach (var time in times.Concat(times.Reverse()))
        {
            var expected = FieldValues.TimeLocal(Bytes(time), out var expectedTime);
            var read = cache.Read(Bytes(time), out var actualTime);
            Assert.True(expected == read, $"{time}: {read}, expected {expected}");
            if (expected != TimeRead.Malformed) Assert.True(expectedTime == actualTime, $"{time}: {actualTime}, expected {expectedTime}");
        }
    }

    [Fact]
    public void MinuteCacheReadsAsTimeLocalOverAWeekOfShuffledSeconds()
    {
        var random = new Random(7);
        var cache = new MinuteCache();
        var start = new DateTimeOffset(2019, 2, 7, 23, 58, 0, TimeSpan.FromHours(-5));
        for (var i = 0; i < 20_000; i++)
        {
            // Mostly in order, a second or a minute at a time, with a few lines late or at another offset.
            var at = start.AddSeconds(i * 30 + (random.Next(10) == 0 ? -random.Next(600) : 0));
            if (random.Next(50) == 0) at = at.ToOffset(TimeSpan.FromHours(1));
            var time = at.ToString("dd/MMM/yyyy:HH:mm:ss ", System.Globalization.CultureInfo.InvariantCulture)
                       + (at.Offset < TimeSpan.Zero ? "-" : "+") + at.Offset.Duration().ToString("hhmm");
            Assert.Equal(TimeRead.Ok, cache.Read(Bytes(time), out var actual));
            Assert.Equal(at.ToUnixTimeSeconds(), actual);
        }
    }

    // ---------------------------------------------------------------- numbers and requests

    [Fact]
    public void IsSecondsTakesWhatTrySecondsTakes()
    {
        var alphabet = "09.-a +e".ToCharArray();
        var texts = new List<string> { "" };
        for (var length = 1; length <= 4; length++)
            texts.AddRange(texts.Where(t => t.Length == length - 1).SelectMany(t => alphabet.Select(c => t + c)).ToList());
        foreach (var text in texts.Append("1.5").Append(new string('9', 400)).Append("0." + new string('1', 600)))
            Assert.True(FieldValues.TrySeconds(Bytes(text), out _) == FieldValues.IsSeconds(Bytes(text)), $"\"{text}\"");
    }

    [Theory]
    [InlineData("0.002", true)]
    [InlineData("0.002, 0.003 : -", true)]
    [InlineData("-", true)]
    [InlineData("1.2.3", false)]
    [InlineData("0.002, abc", false)]
    [InlineData("", false)]
    public void AnUpstreamListIsCheckedTheSameWhetherConvertedOrNot(string list, bool valid)
    {
        Assert.Equal(valid, FieldValues.TryUpstreamSeconds(Bytes(list), convert: true, out _));
        Assert.Equal(valid, FieldValues.TryUpstreamSeconds(Bytes(list), convert: false, out var unconverted));
        Assert.True(double.IsNaN(unconverted));
    }

    [Theory]
    [InlineData("GET /a HTTP/1.1", "GET", "/a")]
    [InlineData("GET /a b HTTP/1.1", "GET", "/a b")]
    [InlineData("GET /a  HTTP/1.1", "GET", "/a")]
    [InlineData("GET  /a HTTP/1.1", "GET", "/a")]
    [InlineData("GET / HTTP/1.1 ", "GET", "/")]
    [InlineData("GET /", "GET", "/")]
    [InlineData("GET /a b", "-", "-")]
    [InlineData("GET /a HTTP/x", "-", "-")]
    [InlineData("GET /a HTTP/", "-", "-")]
    [InlineData("G@T /a HTTP/1.1", "-", "-")]
    [InlineData("GET http://example.com/a/b HTTP/1.1", "GET", "/a/b")]
    [InlineData("GET * HTTP/1.1", "GET", "-")] // a target that is no path keeps its method
    [InlineData("GET", "-", "-")]
    [InlineData("GET ", "-", "-")]
    [InlineData(" /a HTTP/1.1", "-", "-")]
    [InlineData("-", "-", "-")]
    public void SplitRequestReadsPlainAndOtherRequestLines(string request, string method, string path)
    {
        FieldValues.SplitRequest(Bytes(request), out var m, out var p);
        Assert.Equal((method, path), (Encoding.UTF8.GetString(m), Encoding.UTF8.GetString(p)));
    }

    // ---------------------------------------------------------------- Wanting

    private const string Timed =
        "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time $upstream_response_time";

    private const string Hosted =
        "$host $remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time";

    private static readonly string[] TimedLines =
    [
        """203.0.113.7 - - [07/Feb/2019:16:11:00 -0500] "GET /api/user?id=3 HTTP/1.1" 200 612 "https://example.com/start" "Mozilla/5.0" 0.094 0.093""",
        """203.0.113.7 - bob [07/Feb/2019:16:11:01 -0500] "GET /a\x22b HTTP/1.1" 404 - "-" "curl \x22quoted\x22" 0.001 0.002, 0.003 : -""",
        """203.0.113.7 - - [07/Feb/2019:16:11:02 -0500] "-" 400 0 "-" "-" 0.000 -""",
        """203.0.113.7 - - [07/Feb/2019:16:11:03 -0500] "GET / HTTP/1.1" 200 1 "-" "-" abc 0.1""",
        """203.0.113.7 - - [07/Feb/2019:16:11:04 -0500] "GET / HTTP/1.1" 200 1 "-" "-" 0.1 1.2.3""",
        """203.0.113.7 - - [07/Feb/2019:16:11:05 -0500] "GET / HTTP/1.1" 200 1 "-" "-" -1 0.1""",
        """203.0.113.7 - - [07/Feb/2019:16:11:06 -0500] "GET / HTTP/1.1" 200 1 "-" "unclosed 0.1 0.1""",
        """203.0.113.7 - - [07/Feb/2019:16:11:07 -0500] "GET / HTTP/1.1" 2000 1 "-" "-" 0.1 0.1""",
        """203.0.113.7 - - [07/Feb/2019:16:11:61 -0500] "GET / HTTP/1.1" 200 1 "-" "-" 0.1 0.1""",
        """203.0.113.7 - - [07/Feb/2019:16:11:08 -0500] "GET / HTTP/1.1" 200 1 "-" "-" 0.1""",
        """203.0.113.7 - - [07/Feb/2019:16:11:09 -0500] "GET / HTTP/1.1" 200 1 "-" "-" 0.1 0.1 trailing""",
    ];

    private static readonly string[] HostedLines =
    [
        """example.com 203.0.113.7 - - [07/Feb/2019:16:11:00 -0500] "GET /a HTTP/1.1" 200 612 "https://example.com/\x5Cstart" "Mozilla/5.0" 0.094""",
        """ex\x41mple.com 203.0.113.7 - - [07/Feb/2019:16:11:00 -0500] "GET /a HTTP/1.1" 200 612 "-" "Mozilla/5.0" -""",
        """example.com 203.0.113.7 - - [07/Feb/2019:16:11:00 -0500] "GET /a HTTP/1.1" 200 612 "-" "Mozilla/5.0" 1e3""",
    ];

    private static readonly string[] CombinedLines =
    [
        """127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)" """,
        """127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "http://example.com/\"q\"" "agent \\ with \"quotes\"" """,
        """127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" """,
        """127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 x "-" "-" """,
    ];

    private static LineTemplate Compile(string format)
    {
        Assert.True(LineTemplate.TryCompile(format, out var template, out var error), error);
        return template;
    }

    public static TheoryData<string> Formats => ["combined", Timed, Hosted];

    private static string[] LinesOf(string format) =>
        format == "combined" ? CombinedLines : format == Timed ? TimedLines : HostedLines;

    [Theory]
    [MemberData(nameof(Formats))]
    public void EveryChoiceOfExtrasGivesTheSameCoreFieldsAndBadLines(string format)
    {
        var all = Compile(format);
        Assert.Equal(AccessExtras.All, all.Extras);
        foreach (var line in LinesOf(format))
        {
            var bytes = Bytes(line.TrimEnd());
            var allOk = all.TryParse(bytes, out var full, out var allReason);
            for (var extras = AccessExtras.None; extras <= AccessExtras.All; extras++)
            {
                var some = all.Wanting(extras);
                Assert.Equal(extras, some.Extras);
                var ok = some.TryParse(bytes, out var f, out var reason);
                Assert.True(allOk == ok, $"{extras}: {line}: {reason ?? allReason}");
                Assert.Equal(allReason, reason);
                if (!ok) continue;
                Assert.Equal((full.Time, Text(full.Host), Text(full.User), Text(full.Method), Text(full.Path), full.Status, full.Bytes),
                    (f.Time, Text(f.Host), Text(f.User), Text(f.Method), Text(f.Path), f.Status, f.Bytes));
                Same(full.RequestTime, f.RequestTime, extras.HasFlag(AccessExtras.RequestTime));
                Same(full.UpstreamResponseTime, f.UpstreamResponseTime, extras.HasFlag(AccessExtras.UpstreamTime));
                Assert.Equal(extras.HasFlag(AccessExtras.VirtualHost) ? Text(full.VirtualHost) : "", Text(f.VirtualHost));
                Assert.Equal(extras.HasFlag(AccessExtras.Referer) ? Text(full.Referer) : "", Text(f.Referer));
                Assert.Equal(extras.HasFlag(AccessExtras.UserAgent) ? Text(full.UserAgent) : "", Text(f.UserAgent));
            }
        }
    }

    private static string Text(ReadOnlySpan<byte> span) => Encoding.UTF8.GetString(span);

    private static void Same(double all, double wanting, bool wanted)
    {
        if (wanted && !double.IsNaN(all)) Assert.Equal(all, wanting);
        else Assert.True(double.IsNaN(wanting), $"expected NaN, got {wanting}");
    }

    [Fact]
    public void WantingIsMadeOnceAndThePresetsGiveAllExtras()
    {
        Assert.Equal(AccessExtras.All, LineTemplate.Combined.Extras);
        Assert.Equal(AccessExtras.All, LineTemplate.Common.Extras);
        Assert.Same(LineTemplate.Combined, LineTemplate.Combined.Wanting(AccessExtras.All));
        var none = LineTemplate.Combined.Wanting(AccessExtras.None);
        Assert.Same(none, LineTemplate.Combined.Wanting(AccessExtras.None));
        Assert.Same(LineTemplate.Combined, none.Wanting(AccessExtras.All));
        Assert.Equal(LineTemplate.Combined.Format, none.Format);
        Assert.NotSame(none, LineTemplate.Common.Wanting(AccessExtras.None));
    }

    [Fact]
    public void AnEscapedTextIsUnescapedOnlyWhenWanted()
    {
        var line = Bytes(CombinedLines[1].TrimEnd());
        Assert.True(LineTemplate.Combined.TryParse(line, out var all, out _));
        Assert.Equal("http://example.com/\"q\"", Text(all.Referer));
        Assert.Equal("agent \\ with \"quotes\"", Text(all.UserAgent));
        Assert.True(LineTemplate.Combined.Wanting(AccessExtras.Referer).TryParse(line, out var referer, out _));
        Assert.Equal("http://example.com/\"q\"", Text(referer.Referer));
        Assert.Equal("", Text(referer.UserAgent));
    }
}
