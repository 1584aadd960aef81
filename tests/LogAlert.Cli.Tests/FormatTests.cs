using System.Text;
using System.Text.Json;
using LogAlert.Cli.Input.Formats;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// Web-server log formats: nginx and Apache format strings compiled into line templates, JSON lines,
/// and telling a format from an input's first lines. Fixture lines are written as the servers write
/// them (nginx's <c>\xHH</c> escapes, Apache's <c>\"</c>).
/// </summary>
public sealed class FormatTests
{
    /// <summary>What a parser made of a line, as plain values (the spans cannot leave the call).</summary>
    private sealed record Parsed(
        long Time, string Host, string User, string Method, string Path, string Section, int Status, long Bytes,
        double RequestTime, double Upstream, string VirtualHost, string Referer, string UserAgent);

    private static string Text(ReadOnlySpan<byte> span) => Encoding.UTF8.GetString(span);

    private static Parsed Parse(IAccessLineParser parser, string line)
    {
        var ok = parser.TryParse(Encoding.UTF8.GetBytes(line), out var f, out var reason);
        Assert.True(ok, reason);
        return new Parsed(f.Time, Text(f.Host), Text(f.User), Text(f.Method), Text(f.Path), Text(f.Section), f.Status,
            f.Bytes, f.RequestTime, f.UpstreamResponseTime, Text(f.VirtualHost), Text(f.Referer), Text(f.UserAgent));
    }

    /// <summary>Seconds equal to 9 places, NaN (not logged) equal to NaN.</summary>
    private static void Seconds(double expected, double actual)
    {
        if (double.IsNaN(expected)) Assert.True(double.IsNaN(actual), $"expected NaN, got {actual}");
        else Assert.Equal(expected, actual, 9);
    }

    private static string Reason(IAccessLineParser parser, string line)
    {
        var ok = parser.TryParse(Encoding.UTF8.GetBytes(line), out _, out var reason);
        Assert.False(ok, $"parsed: {line}");
        Assert.NotNull(reason);
        return reason;
    }

    private static LineTemplate Compile(string format, LogFormatSyntax syntax = LogFormatSyntax.Auto)
    {
        Assert.True(LineTemplate.TryCompile(format, syntax, out var template, out var error), error);
        return template;
    }

    private static string CompileError(string format, LogFormatSyntax syntax = LogFormatSyntax.Auto)
    {
        Assert.False(LineTemplate.TryCompile(format, syntax, out _, out var error), $"compiled: {format}");
        return error;
    }

    // The examples of Apache's log documentation, and an nginx line of today.
    private const string CommonLine = """127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326""";
    private const string CombinedLine = CommonLine + """ "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)" """;
    private const long CommonTime = 971211336; // 2000-10-10T20:55:36Z

    private const string NginxCombined =
        """$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" """;
    private const string NginxLine =
        """203.0.113.7 - - [07/Feb/2019:16:11:00 -0500] "GET /api/user?id=3 HTTP/1.1" 200 612 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64; rv:65.0) Gecko/20100101 Firefox/65.0" """;
    private const long NginxTime = 1549573860; // 16:11:00 at -05:00 is 2019-02-07T21:11:00Z

    // ---------------------------------------------------------------- presets

    [Fact]
    public void CommonPresetReadsApachesExample()
    {
        var p = Parse(LineTemplate.Common, CommonLine);
        Assert.Equal(CommonTime, p.Time);
        Assert.Equal("127.0.0.1", p.Host);
        Assert.Equal("frank", p.User);
        Assert.Equal("GET", p.Method);
        Assert.Equal("/apache_pb.gif", p.Path);
        Assert.Equal("/apache_pb.gif", p.Section);
        Assert.Equal(200, p.Status);
        Assert.Equal(2326, p.Bytes);
        Assert.True(double.IsNaN(p.RequestTime));
        Assert.True(double.IsNaN(p.Upstream));
        Assert.Equal("", p.Referer);
        Assert.Equal("", p.UserAgent);
        Assert.Equal("", p.VirtualHost);
    }

    [Fact]
    public void CombinedPresetReadsRefererAndAgent()
    {
        var p = Parse(LineTemplate.Combined, CombinedLine.TrimEnd());
        Assert.Equal(CommonTime, p.Time);
        Assert.Equal("frank", p.User);
        Assert.Equal("http://www.example.com/start.html", p.Referer);
        Assert.Equal("Mozilla/4.08 [en] (Win98; I ;Nav)", p.UserAgent);
    }

    [Theory]
    [InlineData("common")]
    [InlineData("COMBINED")]
    [InlineData(" combined ")]
    public void PresetNamesCompileToThePresets(string name)
    {
        var template = Compile(name);
        Assert.Same(name.Trim().ToLowerInvariant() == "common" ? LineTemplate.Common : LineTemplate.Combined, template);
    }

    [Fact]
    public void NginxCombinedFormatReadsNginxLines()
    {
        var template = Compile(NginxCombined.TrimEnd());
        var p = Parse(template, NginxLine.TrimEnd());
        Assert.Equal(NginxTime, p.Time);
        Assert.Equal("203.0.113.7", p.Host);
        Assert.Equal("-", p.User);
        Assert.Equal("/api/user?id=3", p.Path);
        Assert.Equal("/api", p.Section);
        Assert.Equal(612, p.Bytes);
        Assert.Equal("https://example.com/start", p.Referer);
        Assert.StartsWith("Mozilla/5.0 (X11;", p.UserAgent);
        // nginx's combined and Apache's are the same shape.
        Assert.Equal(p, Parse(LineTemplate.Combined, NginxLine.TrimEnd()));
    }

    [Fact]
    public void CommonDoesNotReadCombinedLines()
    {
        Assert.Contains("bytes", Reason(LineTemplate.Common, CombinedLine.TrimEnd()));
        Assert.Contains("expected \" \\\"\" at column", Reason(LineTemplate.Combined, CommonLine));
    }

    [Fact]
    public void TrailingLineEndIsIgnored()
    {
        Assert.Equal(CommonTime, Parse(LineTemplate.Common, CommonLine + "\r\n").Time);
        Assert.Equal(CommonTime, Parse(LineTemplate.Common, CommonLine + "\r").Time);
    }

    // ---------------------------------------------------------------- times

    [Theory]
    [InlineData("07/Feb/2019:16:11:00 -0500", 1549573860)]
    [InlineData("07/Feb/2019:21:11:00 +0000", 1549573860)]
    [InlineData("07/Feb/2019:16:11:00 +0530", 1549536060)]
    [InlineData("07/Feb/2019:16:11:00 -1200", 1549599060)]
    [InlineData("29/Feb/2020:12:00:00 +1400", 1582927200)]
    [InlineData("10/oct/2000:13:55:36 -0700", 971211336)] // month names in any case
    [InlineData("01/Jan/1970:00:00:00 +0000", 0)]
    [InlineData("31/Dec/9999:23:59:59 +0000", 253402300799)]
    public void TimeLocalHonoursTheOffset(string time, long expected)
    {
        var line = $"10.0.0.1 - - [{time}] \"GET / HTTP/1.1\" 200 1";
        Assert.Equal(expected, Parse(LineTemplate.Common, line).Time);
    }

    [Theory]
    [InlineData("07/Feb/2019:16:11:00", "is not dd/Mon/yyyy:HH:MM:SS ±hhmm")]
    [InlineData("07/Fev/2019:16:11:00 -0500", "is not dd/Mon/yyyy:HH:MM:SS ±hhmm")]
    // A day or hour that does not exist in the right form: "is not dd/Mon/yyyy…" sent a user to the form.
    [InlineData("30/Feb/2019:16:11:00 -0500", "time \"30/Feb/2019:16:11:00 -0500\" names a day or time of day that does not exist")]
    [InlineData("29/Feb/2019:16:11:00 -0500", "names a day or time of day that does not exist")]
    [InlineData("07/Feb/2019:24:11:00 -0500", "names a day or time of day that does not exist")]
    [InlineData("07/Feb/2019:16:61:00 -0500", "names a day or time of day that does not exist")]
    // Another shape is no day that does not exist: an ISO time here was said to be one.
    [InlineData("2019-02-07T16:11:00.5+0000", "is not dd/Mon/yyyy:HH:MM:SS ±hhmm")]
    [InlineData("07-Feb-2019:16:11:00 -0500", "is not dd/Mon/yyyy:HH:MM:SS ±hhmm")]
    [InlineData("07/Feb/2019:16:11:00 0500", "is not dd/Mon/yyyy:HH:MM:SS ±hhmm")]
    [InlineData("31/Dec/1969:23:59:59 +0000", "outside the valid range of log time")]
    [InlineData("01/Jan/1970:00:00:00 +0100", "outside the valid range of log time")]
    [InlineData("31/Dec/9999:23:59:59 -0100", "outside the valid range of log time")]
    public void BadOrOutOfRangeTimesGiveReasons(string time, string reason)
    {
        var line = $"10.0.0.1 - - [{time}] \"GET / HTTP/1.1\" 200 1";
        Assert.Contains(reason, Reason(LineTemplate.Common, line));
    }

    [Theory]
    [InlineData("2019-02-07T16:11:00-05:00", 1549573860)]
    [InlineData("2019-02-07T21:11:00+00:00", 1549573860)]
    [InlineData("2019-02-07T21:11:00Z", 1549573860)]
    [InlineData("2019-02-07T21:11:00.999Z", 1549573860)]
    [InlineData("2019-02-08T02:41:00+0530", 1549573860)]
    public void TimeIso8601(string time, long expected)
    {
        var template = Compile("$remote_addr [$time_iso8601] \"$request\" $status");
        Assert.Equal(expected, Parse(template, $"10.0.0.1 [{time}] \"GET / HTTP/1.1\" 200").Time);
    }

    [Theory]
    [InlineData("2019-02-07T16:11:00")] // no offset: not guessed
    [InlineData("2019-02-07 16:11:00-05:00")]
    [InlineData("2019-13-07T16:11:00-05:00")]
    [InlineData("2019-02-29T00:00:00-05:00x")]
    [InlineData("2019-02-07T16-11-00Z")]
    [InlineData("07/Feb/2019:16:11:00 +0000")]
    public void TimeIso8601Malformed(string time)
    {
        var template = Compile("$remote_addr [$time_iso8601] \"$request\" $status");
        Assert.Contains("is not an ISO 8601 time", Reason(template, $"10.0.0.1 [{time}] \"GET / HTTP/1.1\" 200"));
    }

    [Theory]
    [InlineData("1549573860.123", 1549573860)]
    [InlineData("1549573860.999", 1549573860)]
    [InlineData("1549573860", 1549573860)]
    public void MsecIsFloored(string msec, long expected)
    {
        var template = Compile("$msec $remote_addr \"$request\" $status");
        Assert.Equal(expected, Parse(template, $"{msec} 10.0.0.1 \"GET / HTTP/1.1\" 200").Time);
    }

    [Theory]
    [InlineData("253402300800.000", "outside the valid range")]
    [InlineData("-5.000", "is not Unix seconds")]
    [InlineData("1549573860.", "is not Unix seconds")]
    [InlineData("15495x3860.1", "is not Unix seconds")]
    public void MsecMalformedOrOutOfRange(string msec, string reason)
    {
        var template = Compile("$msec $remote_addr \"$request\" $status");
        Assert.Contains(reason, Reason(template, $"{msec} 10.0.0.1 \"GET / HTTP/1.1\" 200"));
    }

    // ---------------------------------------------------------------- hosts, bytes, escapes

    [Fact]
    public void Ipv6HostIsText()
    {
        var p = Parse(LineTemplate.Combined, """2001:db8::1 - - [07/Feb/2019:16:11:00 -0500] "GET /v6 HTTP/2.0" 200 5 "-" "curl/8.5.0" """.TrimEnd());
        Assert.Equal("2001:db8::1", p.Host);
        Assert.Equal("-", p.Referer);
        Assert.Equal("curl/8.5.0", p.UserAgent);
    }

    [Fact]
    public void DashBytesAreZero()
    {
        var p = Parse(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "HEAD /health HTTP/1.1" 304 -""");
        Assert.Equal(0, p.Bytes);
        Assert.Equal("HEAD", p.Method);
        Assert.Equal(304, p.Status);
    }

    [Fact]
    public void NginxHexEscapesInUserAgentAreUndone()
    {
        var template = Compile(NginxCombined.TrimEnd());
        var line = """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 \x22quoted\x22 back\x5Cslash caf\xC3\xA9" """;
        Assert.Equal("Mozilla/5.0 \"quoted\" back\\slash café", Parse(template, line.TrimEnd()).UserAgent);
    }

    // A client's raw bytes that are no UTF-8, which nginx logs as \xFF, became U+FFFD once undone, and
    // different paths one section (QA): such a text stays as logged, so they stay apart.
    [Fact]
    public void Escapes_that_undo_into_bytes_that_are_no_UTF8_stay_as_logged()
    {
        var template = Compile(NginxCombined.TrimEnd());
        string PathOf(string target) =>
            Parse(template, $"""10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET {target} HTTP/1.1" 200 1 "-" "-" """.TrimEnd()).Path;
        Assert.Equal(("/\\xFF/a", "/\\xFE/a", "/\\xFF\\x22/a"), (PathOf("/\\xFF/a"), PathOf("/\\xFE/a"), PathOf("/\\xFF\\x22/a")));
        Assert.Equal(("/café/a", "/\"q\"/a"), (PathOf("/caf\\xC3\\xA9/a"), PathOf("/\\x22q\\x22/a"))); // UTF-8 and quotes still undone

        var log = string.Concat(new[] { "/\\xFF/a", "/\\xFE/a", "/\\xEF\\xBF\\xBD/a" }.Select(t =>
            $"""10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET {t} HTTP/1.1" 200 1 "-" "-" """.TrimEnd() + "\n"));
        var r = CliRunner.Run(["--format", "jsonl", "--summary-interval", "1h", "-"], stdin: log);
        var sections = JsonDocument.Parse(r.StdoutLines[0]).RootElement.GetProperty("sections").EnumerateArray()
            .Select(e => (e.GetProperty("section").GetString(), e.GetProperty("hits").GetInt64())).ToArray();
        Assert.Equal([("/\\xFE", 1L), ("/\\xFF", 1L), ("/\uFFFD", 1L)], sections); // U+FFFD itself is UTF-8
    }

    // log_format ... escape=none writes texts as they are: a backslash is a backslash, and a quote
    // may stand inside a quoted field. They were unescaped, and such a quote made the line bad.
    [Fact]
    public void NginxEscapeNoneTextsAreAsLogged()
    {
        var template = Compile(NginxCombined.TrimEnd()).Literally();
        var line = """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET /lit"quote\x22 HTTP/1.1" 200 1 "-" "agent "x" \x41\" """;
        var p = Parse(template, line.TrimEnd());
        Assert.Equal(("/lit\"quote\\x22", "agent \"x\" \\x41\\"), (p.Path, p.UserAgent));
        Assert.NotNull(Reason(Compile(NginxCombined.TrimEnd()), line.TrimEnd())); // with nginx's default escaping it is not a line
        Assert.StartsWith("no closing quote", Reason(template, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 1 "-" "agent"x"""));
    }

    // log_format ... escape=json writes \" \\ and control bytes as \u00XX; they were left in labels.
    [Fact]
    public void NginxJsonEscapesAreUndone()
    {
        var template = Compile(NginxCombined.TrimEnd());
        var line = """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET /a\u0001 HTTP/1.1" 200 1 "http:\/\/ex.com\/" "esc\u001B[0m \"q\" \\ \ud83d\ude00 \ud800x" """;
        var p = Parse(template, line.TrimEnd());
        Assert.Equal("http://ex.com/", p.Referer);
        Assert.Equal("esc\u001B[0m \"q\" \\ \U0001F600 \\ud800x", p.UserAgent); // half a pair stays as it stands
        Assert.Equal("/a\u0001", p.Path);
    }

    [Fact]
    public void ApacheBackslashEscapesInRefererAreUndone()
    {
        var line = """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 1 "http://ex.com/?q=\"x\" \\d+" "Agent \"007\"" """;
        var p = Parse(LineTemplate.Combined, line.TrimEnd());
        Assert.Equal("http://ex.com/?q=\"x\" \\d+", p.Referer);
        Assert.Equal("Agent \"007\"", p.UserAgent);
    }

    [Fact]
    public void EscapedUserIsUndone()
    {
        var p = Parse(LineTemplate.Common, """10.0.0.1 - jo\x20e [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 1""");
        Assert.Equal("jo e", p.User);
    }

    // ---------------------------------------------------------------- request lines

    [Fact]
    public void DashRequestIsARecordWithoutMethodOrSection()
    {
        // nginx, for a connection closed before it sent a request.
        var p = Parse(LineTemplate.Combined, """198.51.100.4 - - [07/Feb/2019:16:11:00 -0500] "-" 400 0 "-" "-" """.TrimEnd());
        Assert.Equal("-", p.Method);
        Assert.Equal("-", p.Path);
        Assert.Equal("-", p.Section);
        Assert.Equal(400, p.Status);
    }

    [Fact]
    public void TlsHandshakeRequestIsARecordWithoutMethodOrSection()
    {
        // A TLS ClientHello sent to port 80, as nginx logs it.
        var line = """198.51.100.4 - - [07/Feb/2019:16:11:00 -0500] "\x16\x03\x01\x00\xCA\x01\x00\x00\xC6\x03\x03\xE1\xBA\x9C" 400 157 "-" "-" """;
        var p = Parse(LineTemplate.Combined, line.TrimEnd());
        Assert.Equal("-", p.Method);
        Assert.Equal("-", p.Section);
        Assert.Equal(157, p.Bytes);
    }

    [Theory]
    [InlineData("GET /a/b HTTP/1.1", "GET", "/a/b", "/a")]
    [InlineData("GET /a/b", "GET", "/a/b", "/a")] // HTTP/0.9 style: no protocol
    [InlineData("POST  /two/spaces  HTTP/1.0", "POST", "/two/spaces", "/two")]
    [InlineData("GET http://example.com/a/b HTTP/1.1", "GET", "/a/b", "/a")] // to a proxy: the URL's path
    [InlineData("GET http://example.com HTTP/1.1", "GET", "/", "/")]
    [InlineData("GET https://example.com:8443?x=1 HTTP/1.1", "GET", "/", "/")]
    [InlineData("GET /a b HTTP/1.1", "GET", "/a b", "/a b")] // a space in the target, as sent
    [InlineData("PROPFIND /dav/ HTTP/1.1", "PROPFIND", "/dav/", "/dav")]
    [InlineData("GET /x?y=/z HTTP/2.0", "GET", "/x?y=/z", "/x")]
    [InlineData("-", "-", "-", "-")]
    [InlineData("", "-", "-", "-")]
    [InlineData("GET", "-", "-", "-")]
    // A target that is no path keeps the method the client sent: a flood of CONNECTs is one to see.
    [InlineData("GET nopath HTTP/1.1", "GET", "-", "-")]
    [InlineData("CONNECT example.com:443 HTTP/1.1", "CONNECT", "-", "-")]
    [InlineData("OPTIONS * HTTP/1.1", "OPTIONS", "-", "-")]
    [InlineData("OPTIONS  *  HTTP/1.0", "OPTIONS", "-", "-")]
    [InlineData("GET /a junk", "-", "-", "-")]
    [InlineData("G(T /a HTTP/1.1", "-", "-", "-")]
    public void RequestLines(string request, string method, string path, string section)
    {
        var p = Parse(LineTemplate.Common, $"10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"{request}\" 200 1");
        Assert.Equal((method, path, section), (p.Method, p.Path, p.Section));
    }

    [Fact]
    public void TenKilobyteUri()
    {
        var uri = "/search/" + new string('q', 10 * 1024) + "?x=" + new string('y', 500);
        var p = Parse(LineTemplate.Combined, $"10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET {uri} HTTP/1.1\" 200 1 \"-\" \"-\"");
        Assert.Equal(uri, p.Path);
        Assert.Equal("/search", p.Section);
        // A reason quotes only the start of a long field.
        var reason = Reason(LineTemplate.Common, $"10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET {uri} HTTP/1.1\" 200 {uri}");
        Assert.True(reason.Length < 200, reason);
    }

    // ---------------------------------------------------------------- malformed lines

    [Fact]
    public void MissingBracketNamesTheColumn() =>
        Assert.Equal("expected \"[\" at column 19",
            Reason(LineTemplate.Common, """127.0.0.1 - frank 10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"""));

    [Fact]
    public void BadStatus()
    {
        Assert.Equal("status \"abc\" is not an integer",
            Reason(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" abc 1"""));
        Assert.Equal("status 600 is not in 100..599",
            Reason(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 600 1"""));
        Assert.Equal("status 99 is not in 100..599",
            Reason(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 99 1"""));
        // As logged: "099" read "status 99".
        Assert.Equal("status 099 is not in 100..599",
            Reason(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 099 1"""));
        // 2^32 + 200: must not wrap into range.
        Assert.Equal("status 4294967496 is not in 100..599",
            Reason(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 4294967496 1"""));
    }

    [Fact]
    public void BadBytes()
    {
        Assert.Equal("bytes \"12a\" is not an integer or '-'",
            Reason(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 12a"""));
        Assert.Contains("above the limit",
            Reason(LineTemplate.Common, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 99999999999999999"""));
    }

    [Fact]
    public void TruncatedQuote()
    {
        var reason = Reason(LineTemplate.Combined, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (X11""");
        Assert.Equal("no closing quote for %{User-Agent}i, which starts at column 71", reason);
        // An escaped quote at the very end does not close.
        Assert.StartsWith("no closing quote", Reason(LineTemplate.Combined,
            """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "GET / HTTP/1.1" 200 1 "-" "agent\" """.TrimEnd()));
    }

    [Theory]
    [InlineData("", "expected \" \" at column 1, found the end of the line")]
    [InlineData("10.0.0.1", "expected \" \" at column 9, found the end of the line")]
    [InlineData("10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] GET / HTTP/1.1 200 1", "expected \"\\\"\" at column 43")]
    [InlineData("10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\" 200 1 extra", "bytes \"1 extra\" is not an integer or '-'")]
    [InlineData("10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\"  200 1", "status \"\" is not an integer")]
    [InlineData("10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\" 2000000000000000000000 1", "status \"2000000000000000000000\" is not in 100..599")]
    [InlineData("10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\" 200 99999999999999999999", "bytes \"99999999999999999999\" is above the limit of 1125899906842624 (1 PiB)")]
    [InlineData("10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\" 200 -5", "bytes \"-5\" is negative")]
    [InlineData("10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\" -200 5", "status \"-200\" is not in 100..599")]
    public void MalformedCommonLines(string line, string reason) =>
        Assert.Equal(reason, Reason(LineTemplate.Common, line));

    [Fact]
    public void TextAfterTheLastLiteral() =>
        Assert.Equal($"unexpected text at column {CombinedLine.TrimEnd().Length + 1}: \" extra\"",
            Reason(LineTemplate.Combined, CombinedLine.TrimEnd() + " extra"));

    // ---------------------------------------------------------------- nginx variables

    [Fact]
    public void EveryNginxVariable()
    {
        var template = Compile(
            "$remote_addr $remote_user [$time_local] $time_iso8601 $msec \"$request\" $request_method ${request_uri} $uri " +
            "$status $body_bytes_sent $bytes_sent $request_time $upstream_response_time \"$http_referer\" \"$http_user_agent\" $host");
        var p = Parse(template,
            "2001:db8::7 alice [07/Feb/2019:16:11:00 -0500] 2019-02-07T16:11:00-05:00 1549573860.250 \"GET /old/path HTTP/1.1\" " +
            "POST /api/v2/items?page=2 /api/v2/items 201 1024 1311 0.250 0.120, 0.100 : 0.025 \"https://ref.example/\" \"curl/8.5.0\" shop.example.com");
        Assert.Equal(NginxTime, p.Time);
        Assert.Equal("2001:db8::7", p.Host);
        Assert.Equal("alice", p.User);
        Assert.Equal("POST", p.Method); // $request_method wins over the request line's
        Assert.Equal("/api/v2/items?page=2", p.Path); // $request_uri wins over $uri and the request line
        Assert.Equal("/api", p.Section);
        Assert.Equal(201, p.Status);
        Assert.Equal(1024, p.Bytes); // $body_bytes_sent wins over $bytes_sent
        Seconds(0.25, p.RequestTime);
        Seconds(0.245, p.Upstream);
        Assert.Equal("https://ref.example/", p.Referer);
        Assert.Equal("curl/8.5.0", p.UserAgent);
        Assert.Equal("shop.example.com", p.VirtualHost);
    }

    [Theory]
    [InlineData("0.004 0.002", 0.004, 0.002)]
    [InlineData("0.004 -", 0.004, double.NaN)]
    [InlineData("- -", double.NaN, double.NaN)]
    [InlineData("1.500 0.002, 0.003", 1.5, 0.005)]
    [InlineData("1.500 0.002 : 0.003", 1.5, 0.005)]
    [InlineData("1.500 -, 0.003 : -", 1.5, 0.003)]
    public void RequestAndUpstreamTimes(string times, double request, double upstream)
    {
        var template = Compile(NginxCombined.TrimEnd() + " $request_time $upstream_response_time");
        var p = Parse(template, NginxLine.TrimEnd() + " " + times);
        Seconds(request, p.RequestTime);
        Seconds(upstream, p.Upstream);
    }

    [Fact]
    public void UpstreamListInTheMiddleOfTheLine()
    {
        var template = Compile("$remote_addr [$time_local] \"$request\" $status urt=$upstream_response_time rt=$request_time $host");
        var p = Parse(template, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\" 502 urt=0.002, 0.003 : - rt=0.010 api.example");
        Seconds(0.005, p.Upstream);
        Seconds(0.01, p.RequestTime);
        Assert.Equal("api.example", p.VirtualHost);
    }

    // nginx logs an upstream tried more than once, and each internal redirect's, as a list; a proxy
    // chain's X-Forwarded-For is one too. Unquoted in mid-line, their ", " and " : " once ended them.
    [Theory]
    [InlineData("$upstream_status $upstream_addr", "502, 200 : 404", "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80")]
    [InlineData("$upstream_connect_time $upstream_header_time", "0.001, 0.002", "-, 0.004 : 0.005")]
    [InlineData("$upstream_bytes_received $upstream_response_length", "120, 340", "0, 12")]
    [InlineData("$http_x_forwarded_for $proxy_add_x_forwarded_for", "198.51.100.1, 10.0.0.9", "198.51.100.1, 10.0.0.9, 203.0.113.7")]
    [InlineData("$upstream_status $http_x_forwarded_for", "200", "-")]
    [InlineData("$upstream_status $http_x_forwarded_for", "502, 200", "1.1.1.1,2.2.2.2")] // a client's own, without spaces
    public void UnquotedListsInTheMiddleOfTheLineAreOneField(string variables, string first, string second)
    {
        // Before a longer literal, a list ends at that literal, whatever it has in it.
        foreach (var xff in new[] { "1.1.1.1,2.2.2.2", "1.1.1.1, 2.2.2.2", "1.1.1.1," })
            Assert.Equal(200, Parse(Compile("$remote_addr $http_x_forwarded_for [$time_local] \"$request\" $status"),
                $"10.0.0.1 {xff} [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200").Status);
        var template = Compile("$remote_addr [$time_local] \"$request\" $status " + variables + " $request_time $upstream_response_time $host");
        var p = Parse(template, $"10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 502 {first} {second} 0.010 0.002, 0.003 api.example");
        Assert.Equal((502, "/a", "api.example"), (p.Status, p.Path, p.VirtualHost));
        Seconds(0.01, p.RequestTime);
        Seconds(0.005, p.Upstream);
        var apache = Compile("%h %t \"%r\" %>s %{X-Forwarded-For}i %D");
        Assert.Equal(1.5, Parse(apache, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200 198.51.100.1, 10.0.0.9 1500000").RequestTime, 9);
    }

    // A request not between quotes (nginx accepts `$request $status`): it ended at its first space,
    // and every line was bad with "status "/a" is not an integer". Its method, URI and protocol now.
    // Read as the same request between quotes is.
    [Theory]
    [InlineData("GET /a HTTP/1.1", "GET", "/a")]
    [InlineData("GET /b/x?y=1", "GET", "/b/x?y=1")]
    [InlineData("OPTIONS * HTTP/1.1", "OPTIONS", null)]
    [InlineData("GET http://x.example/c HTTP/1.0", "GET", null)]
    [InlineData("CONNECT www.example.com:443 HTTP/1.1", "CONNECT", null)] // a target that is no URI: review
    [InlineData("GET example.com/x HTTP/1.1", "GET", null)]
    [InlineData("GET /sp ace HTTP/1.1", "GET", null)] // as nginx logs a bad request (QA)
    [InlineData("GET  /dbl  HTTP/1.1", "GET", "/dbl")]
    [InlineData("GET /nine", "GET", "/nine")] // HTTP/0.9, with an HTTP/ word later in the line (below)
    [InlineData("GARBAGE", null, null)]
    [InlineData("-", null, null)]
    public void An_unquoted_request_is_read_to_its_protocol(string request, string? method, string? path)
    {
        var quoted = Parse(Compile("$remote_addr [$time_local] \"$request\" $status $body_bytes_sent"), $"10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"{request}\" 404 5");
        if (method is not null) Assert.Equal(method, quoted.Method);
        if (path is not null) Assert.Equal(path, quoted.Path);
        foreach (var format in new[] { "$remote_addr [$time_local] $request $status $body_bytes_sent", "%h %t %r %>s %b" })
            Assert.Equal(quoted, Parse(Compile(format), $"10.0.0.1 [07/Feb/2019:16:11:00 -0500] {request} 404 5"));
        // An unquoted field after the status that starts with HTTP/ ($server_protocol) is no protocol of the request.
        var later = Parse(Compile("$remote_addr [$time_local] $request $status $body_bytes_sent $server_protocol"),
            $"10.0.0.1 [07/Feb/2019:16:11:00 -0500] {request} 404 5 HTTP/1.1");
        Assert.Equal((quoted.Method, quoted.Path, 404, 5L), (later.Method, later.Path, later.Status, later.Bytes));
    }

    // A client writes X-Forwarded-For as it likes: "a , b" or "a,  b" ended the list at its first
    // space, and the next field (the client's address, a host label) became ", b 10.0.0.2" — a new
    // host for every request, that no per-client rule could add up.
    [Theory]
    [InlineData("10.1.1.1, 10.2.2.2")]
    [InlineData("10.1.1.1 , 10.2.2.2")]
    [InlineData("10.1.1.1,  10.2.2.2")]
    [InlineData("10.1.1.1 ,10.2.2.2, 10.3.3.3")]
    public void An_unquoted_forwarded_for_with_uneven_spaces_stays_one_field(string xff)
    {
        var template = Compile("$http_x_forwarded_for $remote_addr [$time_local] \"$request\" $status $body_bytes_sent $host");
        var p = Parse(template, $"{xff} 127.0.0.2 [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200 5 api.example");
        Assert.Equal(("127.0.0.2", 200, "api.example"), (p.Host, p.Status, p.VirtualHost));
    }

    // nginx logs a Host header of an IPv6 address with its brackets; `$host:$server_port` read the
    // virtual host "[" (at the first colon) and "[2001".
    [Theory]
    [InlineData("[::1]")]
    [InlineData("[2001:db8::1]")]
    [InlineData("api.example")]
    public void A_bracketed_ipv6_virtual_host_before_its_port_is_read_whole(string host)
    {
        var template = Compile("$remote_addr [$time_local] \"$request\" $status $host:$server_port");
        var p = Parse(template, $"10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200 {host}:18481");
        Assert.Equal((200, host), (p.Status, p.VirtualHost));
    }

    [Fact]
    public void A_host_and_request_uri_with_nothing_between_split_at_the_slash()
    {
        var template = Compile("$remote_addr [$time_local] \"$request_method $scheme://$host$request_uri\" $status");
        var p = Parse(template, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET https://api.example:8443/v1/x?y=1\" 200");
        Assert.Equal(("api.example:8443", "/v1/x?y=1", "/v1", "GET"), (p.VirtualHost, p.Path, p.Section, p.Method));
        Assert.Equal("api.example", Parse(Compile("%t %>s \"%m %{Host}i%U%q\""), "[07/Feb/2019:16:11:00 -0500] 200 \"GET api.example/a?b\"").VirtualHost);
        Assert.StartsWith("no \"/\" after column", Reason(template, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET https://api.example\" 200"));
        // nginx's request URI is "-" for a request it could not read, "*" for OPTIONS *: still records.
        Assert.Equal(("api.example", "-", "GET"), Parse(template, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET http://api.example-\" 400") is var dash ? (dash.VirtualHost, dash.Path, dash.Method) : default);
        Assert.Equal(("api.example", 200, "OPTIONS", "-"), Parse(template, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"OPTIONS http://api.example*\" 200") is var star ? (star.VirtualHost, star.Status, star.Method, star.Section) : default);
        // A method that is no method makes both '-', whatever the URI.
        Assert.Equal(("-", "-"), Parse(template, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"G(T http://api.example/a\" 200") is var bad ? (bad.Method, bad.Path) : default);
        // The slash is looked for only up to the text after the URI, not in later fields.
        var later = Compile("$remote_addr \"$host$request_uri\" [$time_local] \"$request\" $status");
        Assert.StartsWith("no \"/\" after column", Reason(later, "10.0.0.1 \"api.example\" [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200"));
        Assert.Contains("have no text between them", CompileError("$remote_addr$request_uri [$time_local] \"$request\" $status"));
    }

    // Apache's documentation logs milliseconds as [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t]: one time in
    // three directives, none a time with an offset alone. The format was refused ("no offset (%z)").
    [Theory]
    [InlineData("%h [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] \"%r\" %>s", "127.0.0.1 [10/Oct/2000 13:55:36.123 -0700] \"GET / HTTP/1.0\" 200")]
    [InlineData("%h %{%Y-%m-%dT%H:%M:%S}t.%{usec_frac}t%{%z}t \"%r\" %>s", "127.0.0.1 2000-10-10T13:55:36.123456-0700 \"GET / HTTP/1.0\" 200")]
    [InlineData("%h %{begin:%Y-%m-%dT%H:%M:%S}t.%{begin:msec_frac}t%{begin:%z}t \"%r\" %>s", "127.0.0.1 2000-10-10T13:55:36.999-0700 \"GET / HTTP/1.0\" 200")]
    public void An_apache_time_in_several_directives_is_one_time(string format, string line)
    {
        var template = Compile(format);
        Assert.Equal(CommonTime, Parse(template, line).Time); // whole seconds: the fraction is read and dropped
        Assert.Contains("is not in the format of %{", Reason(template, line.Replace(":36.", ":3x.")));
    }

    // %a is the client (behind a proxy, as mod_remoteip sees it), %{c}a and %h the proxy: the last
    // of them logged was taken, whichever it was.
    [Theory]
    [InlineData("%{c}a %a %t \"%r\" %>s", "198.51.100.7")]
    [InlineData("%a %{c}a %t \"%r\" %>s", "10.0.0.1")]
    [InlineData("%a %h %t \"%r\" %>s", "10.0.0.1")]
    public void Apache_a_is_the_client_whichever_other_address_is_logged(string format, string host) =>
        Assert.Equal(host, Parse(Compile(format), "10.0.0.1 198.51.100.7 [07/Feb/2019:16:11:00 -0500] \"GET / HTTP/1.1\" 200").Host);

    // nginx writes an IPv6 client without brackets: its port is after the last colon.
    [Theory]
    [InlineData("::1:37216", "::1")]
    [InlineData("2001:db8::7:54321", "2001:db8::7")]
    [InlineData("10.0.0.1:5000", "10.0.0.1")]
    [InlineData("cafe:5000", "cafe")]
    public void A_client_address_before_a_colon_and_port_ends_at_the_last_colon(string logged, string host)
    {
        // More colons after the port ($server_port, a time's offset): the port is still the first number.
        var ports = Compile("$remote_addr:$remote_port:$server_port [$time_local] \"$request\" $status");
        Assert.Equal(host, Parse(ports, $"{logged}:80 [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200").Host);
        var piped = Compile("$remote_addr:$remote_port|$time_iso8601|$request|$status");
        Assert.Equal(host, Parse(piped, $"{logged}|2019-02-07T16:11:00-05:00|GET /a HTTP/1.1|200").Host);
        var template = Compile("$remote_addr:$remote_port - $remote_user [$time_local] \"$request\" $status $body_bytes_sent");
        var p = Parse(template, $"{logged} - - [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200 5");
        Assert.Equal((host, 200, 5L), (p.Host, p.Status, p.Bytes));
        Assert.Equal(host, Parse(Compile("%h:%{remote}p %t \"%r\" %>s %b"), $"{logged} [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200 5").Host);
    }

    [Theory]
    [InlineData("abc -", "request time \"abc\" is not seconds or '-'")]
    [InlineData("-1 -", "request time \"-1\" is not seconds or '-'")]
    [InlineData("0.1 0.2,,0.3", "upstream response time \"0.2,,0.3\" is not a list of seconds or '-'")]
    public void BadDurations(string times, string reason)
    {
        var template = Compile(NginxCombined.TrimEnd() + " $request_time $upstream_response_time");
        Assert.Equal(reason, Reason(template, NginxLine.TrimEnd() + " " + times));
    }

    [Fact]
    public void SkippedVariablesAreMatchedAndIgnored()
    {
        // nginx's "main" format from its default nginx.conf.
        var template = Compile(NginxCombined.TrimEnd() + " \"$http_x_forwarded_for\" $connection ${pipe}");
        var p = Parse(template, NginxLine.TrimEnd() + " \"203.0.113.1, 10.0.0.1\" 88123 p");
        Assert.Equal("203.0.113.7", p.Host);
        Assert.StartsWith("Mozilla", p.UserAgent);
        Assert.Equal($"expected \" \\\"\" at column {NginxLine.TrimEnd().Length + 1}, found the end of the line",
            Reason(template, NginxLine.TrimEnd()));
    }

    [Fact]
    public void NginxVariablesIgnoreCaseAndMayBeBraced()
    {
        var template = Compile("${REMOTE_ADDR}|${time_local}|${request}|${status}|${body_bytes_sent}");
        var p = Parse(template, "10.0.0.1|07/Feb/2019:16:11:00 -0500|GET /x/y HTTP/1.1|200|5");
        Assert.Equal(("10.0.0.1", NginxTime, "/x", 5L), (p.Host, p.Time, p.Section, p.Bytes));
    }

    [Fact]
    public void NginxMethodAndUriWithoutRequest()
    {
        var template = Compile("$remote_addr [$time_iso8601] $request_method $uri $status");
        var p = Parse(template, "10.0.0.1 [2019-02-07T16:11:00-05:00] DELETE /items/7 204");
        Assert.Equal(("DELETE", "/items/7", "/items"), (p.Method, p.Path, p.Section));
        // An empty method (a connection closed early) makes both '-'.
        p = Parse(template, "10.0.0.1 [2019-02-07T16:11:00-05:00]  /items/7 400");
        Assert.Equal(("-", "-"), (p.Method, p.Path));
    }

    [Fact]
    public void NginxPathWithItsQueryIsOnePath()
    {
        var template = Compile("$remote_addr [$time_local] $request_method $uri$is_args$args $status");
        var p = Parse(template, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] GET /find/x?q=1 200");
        Assert.Equal(("/find/x?q=1", "/find"), (p.Path, p.Section));
    }

    // ---------------------------------------------------------------- Apache directives

    [Fact]
    public void EveryApacheDirective()
    {
        var template = Compile(
            "%h %a %l %u %t %{%Y-%m-%dT%H:%M:%S%z}t \\\"%r\\\" %m %U%q %H %s %>s %b %B %D %T " +
            "\\\"%{Referer}i\\\" \\\"%{User-Agent}i\\\" %{Host}i %v %V");
        var p = Parse(template,
            "192.0.2.10 10.1.1.1 - bob [10/Oct/2000:13:55:36 -0700] 2000-10-10T13:55:36-0700 \"GET /old HTTP/1.1\" PUT /files/a.txt?v=2 HTTP/1.1 " +
            "302 201 - 0 12345 0 \"http://ref/\" \"Wget/1.21\" files.example:8080 www.example www.example");
        Assert.Equal(CommonTime, p.Time);
        Assert.Equal("10.1.1.1", p.Host); // %a after %h: the later of two equals
        Assert.Equal("bob", p.User);
        Assert.Equal(("PUT", "/files/a.txt?v=2"), (p.Method, p.Path)); // %m and %U%q win over %r
        Assert.Equal(201, p.Status); // %>s wins over %s
        Assert.Equal(0, p.Bytes);
        Seconds(0.012345, p.RequestTime); // %D (microseconds) wins over %T
        Assert.Equal("http://ref/", p.Referer);
        Assert.Equal("Wget/1.21", p.UserAgent);
        Assert.Equal("files.example:8080", p.VirtualHost); // the Host header wins over %v and %V
    }

    // Apache logs '-' for %{Host}i when the request had no Host header (HTTP/1.0): the server's
    // name (%v) is then the virtual host, in either order; '-' only when no field names one.
    [Theory]
    [InlineData("%{Host}i %v", "- www.example", "www.example")]
    [InlineData("%v %{Host}i", "www.example -", "www.example")]
    [InlineData("%{Host}i %v", "files.example www.example", "files.example")]
    [InlineData("%v %{Host}i", "www.example files.example", "files.example")]
    [InlineData("%{Host}i %v", "- -", "-")]
    [InlineData("%{Host}i", "-", "-")]
    public void A_host_header_of_dash_leaves_the_virtual_host_to_the_server_name(string fields, string values, string vhost)
    {
        var p = Parse(Compile($"%h %t \\\"%r\\\" %>s {fields}"), $"192.0.2.10 [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 {values}");
        Assert.Equal(vhost, p.VirtualHost);
    }

    [Theory]
    [InlineData("%D", "250000", 0.25)]
    [InlineData("%T", "2", 2.0)]
    [InlineData("%{ms}T", "250", 0.25)]
    [InlineData("%{us}T", "250000", 0.25)]
    [InlineData("%{s}T", "3", 3.0)]
    [InlineData("%D", "-", double.NaN)]
    public void ApacheRequestTimes(string directive, string value, double seconds)
    {
        var template = Compile($"%h %l %u %t \"%r\" %>s %b {directive}");
        Seconds(seconds, Parse(template, CommonLine + " " + value).RequestTime);
    }

    [Theory]
    [InlineData("%{sec}t", "971211336")]
    [InlineData("%{msec}t", "971211336999")]
    [InlineData("%{begin:usec}t", "971211336000001")]
    [InlineData("%{end:%d/%b/%Y:%H:%M:%S %z}t", "10/Oct/2000:13:55:36 -0700")]
    [InlineData("%{%d/%b/%Y:%T %z}t", "10/Oct/2000:13:55:36 -0700")]
    [InlineData("%{%F %T %z}t", "2000-10-10 20:55:36 +0000")]
    [InlineData("%{%e %b %y %R:%S %z}t", "10 Oct 00 13:55:36 -0700")]
    [InlineData("%{%s}t", "971211336")]
    public void ApacheTimeFormats(string directive, string value)
    {
        var template = Compile($"{directive} %h \"%r\" %>s");
        Assert.Equal(CommonTime, Parse(template, $"{value} 10.0.0.1 \"GET / HTTP/1.1\" 200").Time);
    }

    [Fact]
    public void ApacheTimeFormatWithoutOffsetIsAcceptedButGivesNoTime()
    {
        // Accepted beside %t, ignored.
        var template = Compile("%h %t %{%Y-%m-%d %H:%M:%S}t \"%r\" %>s");
        Assert.Equal(CommonTime, Parse(template, "10.0.0.1 [10/Oct/2000:13:55:36 -0700] 2000-10-10 13:55:36 \"GET / HTTP/1.1\" 200").Time);
        Assert.Contains("has no offset (%z)", CompileError("%h %{%Y-%m-%d %H:%M:%S}t \"%r\" %>s"));
        Assert.Contains("%a, which logalert does not read", CompileError("%h %{%a %d/%b/%Y:%T %z}t \"%r\" %>s"));
        Assert.Contains("%{msec_frac}t", Compile("%h %t.%{msec_frac}t \"%r\" %>s").Format);
    }

    [Fact]
    public void ApacheModifiersAndConditions()
    {
        var template = Compile("%h %l %u %t \"%r\" %<s %400,501{X-Debug}i %!200,304{Referer}i %%");
        var p = Parse(template, "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 404 - http://r/ %");
        Assert.Equal((404, "http://r/"), (p.Status, p.Referer));
    }

    [Fact]
    public void ApacheFormatAsPastedFromTheConfig()
    {
        // LogFormat "%h %l %u %t \"%r\" %>s %b" common — the string between the outer quotes.
        var template = Compile("%h %l %u %t \\\"%r\\\" %>s %b");
        Assert.Equal(Parse(LineTemplate.Common, CommonLine), Parse(template, CommonLine));
    }

    // ---------------------------------------------------------------- format errors

    [Theory]
    [InlineData("%h %l %u %t \"%r\" %>s %J", "unknown directive \"%J\" at column 22")]
    [InlineData("%h %t \"%r\" %>s %{Referer", "unclosed \"%{\" at column 17")]
    [InlineData("%h %t \"%r\" %>s %", "\"%\" at column 16 is not followed by a directive")]
    [InlineData("%h %t \"%r\" %>s %{x}T", "\"%{x}T\" has unit \"x\", not s, ms or us at column 16")]
    [InlineData("%h %t \"%r\" %>s %i", "\"%i\" names no header (as in %{Referer}i) at column 16")]
    [InlineData("%h %t \"%r\" %>s %^tx", "unknown directive \"%^tx\" at column 16")]
    [InlineData("$remote_addr [${time_local] \"$request\" $status", "unclosed \"${\" at column 15")]
    [InlineData("$remote_addr [$time_local] \"$request\" $status ${}", "\"${}\" at column 47 is not a variable name (letters, digits and _)")]
    [InlineData("$remote_addr [$time_local] \"$request\" $status $", "\"$\" at column 47 is not followed by a variable name")]
    [InlineData("$remote_addr [$time_local] \"$request\" $status$body_bytes_sent",
        "$status and $body_bytes_sent have no text between them, so where one ends and the other begins is unknown")]
    [InlineData("$remote_addr \"$request\" $status", "the format gives no time: it needs $time_local, $time_iso8601 or $msec")]
    [InlineData("$remote_addr [$time_local] \"$request\"", "the format gives no status: it needs $status")]
    [InlineData("$remote_addr [$time_local] $request_method $status",
        "the format gives no request: it needs $request, or $request_method with $request_uri or $uri")]
    [InlineData("%h %t %>s", "the format gives no request: it needs %r, or %m with %U")]
    [InlineData("%h \"%r\" %>s", "the format gives no time: it needs %t, %{sec}t, %{msec}t, %{usec}t or a %{format}t with a date, time and %z")]
    [InlineData("%h %t \"%r\"", "the format gives no status: it needs %>s or %s")]
    [InlineData("hello", "the format has no directives (%h, %>s, ...)")]
    [InlineData("", "the format has no directives (%h, %>s, ...)")]
    [InlineData("%h %t\\n\"%r\" %>s", "\"\\n\" at column 6 is a line break, which a line cannot contain")]
    public void BadFormatsSayWhatIsWrong(string format, string error) => Assert.Equal(error, CompileError(format));

    [Fact]
    public void SyntaxIsToldOrGiven()
    {
        // A "$" that starts no variable name leaves an Apache format Apache's.
        var apache = Compile("%h %t \"%r\" %>s $%b");
        Assert.Equal(5, Parse(apache, "10.0.0.1 [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 $5").Bytes);
        // Told: "%" in an nginx format is a literal.
        var nginx = Compile("$remote_addr [$time_local] \"$request\" $status $body_bytes_sent 100%", LogFormatSyntax.Nginx);
        Assert.Equal(7, Parse(nginx, "10.0.0.1 [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 7 100%").Bytes);
        Assert.Equal("the format has no variables ($remote_addr, $status, ...)", CompileError("%h %t", LogFormatSyntax.Nginx));
    }

    // ---------------------------------------------------------------- JSON lines

    private const string JsonLine =
        """{"time_iso8601":"2019-02-07T16:11:00-05:00","remote_addr":"2001:db8::1","remote_user":"","request":"GET /api/user?id=3 HTTP/1.1","status":"200","body_bytes_sent":"612","request_time":"0.004","upstream_response_time":"0.002, 0.001","http_referer":"","http_user_agent":"curl/8.5.0","host":"api.example"}""";

    [Fact]
    public void JsonWithStringNumbers()
    {
        var p = Parse(JsonLineParser.Instance, JsonLine);
        Assert.Equal(NginxTime, p.Time);
        Assert.Equal("2001:db8::1", p.Host);
        Assert.Equal("-", p.User); // nginx's escape=json writes an empty string for no user
        Assert.Equal(("GET", "/api/user?id=3", "/api"), (p.Method, p.Path, p.Section));
        Assert.Equal((200, 612L), (p.Status, p.Bytes));
        Seconds(0.004, p.RequestTime);
        Seconds(0.003, p.Upstream);
        Assert.Equal(("", "curl/8.5.0", "api.example"), (p.Referer, p.UserAgent, p.VirtualHost));
    }

    [Fact]
    public void JsonWithNumbersEscapesAndUnknownKeys()
    {
        var p = Parse(JsonLineParser.Instance,
            """ {"msec":1549573860.5,"extra":{"a":[1,{"b":null}]},"remote_addr":"10.0.0.1","request_method":"POST","request_uri":"/upload/x","status":201,"bytes_sent":77,"http_user_agent":"say \"hi\" \u00e9","upstream_response_time":null,"flag":true} """);
        Assert.Equal(NginxTime, p.Time);
        Assert.Equal(("POST", "/upload/x", "/upload"), (p.Method, p.Path, p.Section));
        Assert.Equal((201, 77L), (p.Status, p.Bytes));
        Assert.Equal("say \"hi\" é", p.UserAgent);
        Assert.True(double.IsNaN(p.Upstream));
    }

    // nginx's escape=json writes bytes from 0x80 as they are and control bytes as \u00XX: a TLS
    // handshake sent to a plain-HTTP port has both, and was a bad line blaming a surrogate pair.
    [Fact]
    public void JsonWithEscapesAndRawBytesThatAreNotUtf8()
    {
        byte[] line =
        [
            .. """{"date":1549573860,"status":400,"request":"\u0016\u0003\u0001"""u8, 0xFC, 0x80,
            .. "\",\"http_user_agent\":\"caf\\u00e9 \\ud83d\\ude00 \\\\ \\/ \\t"u8, 0xFF, .. "\"}"u8,
        ];
        Assert.True(JsonLineParser.Instance.TryParse(line, out var f, out var reason), reason);
        Assert.Equal((NginxTime, 400, "-"), (f.Time, f.Status, Text(f.Section)));
        Assert.Equal("caf\u00e9 \U0001F600 \\ / \t\uFFFD", Text(f.UserAgent));
    }

    // Half of a UTF-16 pair escaped alone is no text: the reader threw (the run stopped there), then
    // the line was bad, where the server formats keep such an escape as written (semantics §1).
    [Fact]
    public void JsonKeepsHalfASurrogatePairAsWritten()
    {
        var p = Parse(JsonLineParser.Instance, """{"date":1549573860,"x\ud800y":1,"status":200,"request":"GET /g\udc00 HTTP/1.1","http_user_agent":"a\ud800\u0041 \ud83d\ude00"}""");
        Assert.Equal((NginxTime, 200, "/g\\udc00"), (p.Time, p.Status, p.Section));
        Assert.Equal("a\\ud800A \U0001F600", p.UserAgent);
    }

    // A JSON log_format without escape=json (a common slip): nginx writes \x22 for a quote and the
    // bytes of é as \xC3\xA9, which is not JSON, and every such line was bad (12 of 58 in a QA run).
    [Fact]
    public void JsonWithNginxDefaultEscapes()
    {
        var p = Parse(JsonLineParser.Instance,
            """{"time_iso8601":"2019-02-07T21:11:00+00:00","request":"GET /caf\xC3\xA9/\x22q\x22 HTTP/1.1","status":"200","http_user_agent":"a \x22b\x22 \x5C \x1B \\x22"}""");
        Assert.Equal((NginxTime, 200, "/caf\u00e9"), (p.Time, p.Status, p.Section));
        Assert.Equal("a \"b\" \\ \u001b \\x22", p.UserAgent); // \\x22 is JSON's backslash, then text
    }

    [Fact]
    public void JsonWithSeedColumnNames()
    {
        var p = Parse(JsonLineParser.Instance,
            """{"remotehost":"10.0.0.2","rfc931":"-","authuser":"apache","date":1549573860,"request":"GET /api/user HTTP/1.0","status":200,"bytes":1234}""");
        Assert.Equal((NginxTime, "10.0.0.2", "apache", "/api", 200, 1234L), (p.Time, p.Host, p.User, p.Section, p.Status, p.Bytes));
        p = Parse(JsonLineParser.Instance,
            """{"remotehost":"10.0.0.2","authuser":"-","date":"1549573860","request":"-","status":"400","bytes":"-"}""");
        Assert.Equal((NginxTime, "-", 400, 0L), (p.Time, p.Section, p.Status, p.Bytes));
    }

    [Fact]
    public void JsonTimeKeys()
    {
        const string rest = """ "request":"GET / HTTP/1.1","status":200}""";
        Assert.Equal(NginxTime, Parse(JsonLineParser.Instance, """{"time_local":"07/Feb/2019:16:11:00 -0500",""" + rest).Time);
        // time_iso8601 wins over msec, whichever comes first.
        Assert.Equal(NginxTime, Parse(JsonLineParser.Instance, """{"msec":"1.000","time_iso8601":"2019-02-07T21:11:00Z",""" + rest).Time);
    }

    [Theory]
    [InlineData("""{"remote_addr":"10.0.0.1","status":200,"request":"GET / HTTP/1.1"}""", "no time: none of \"time_iso8601\", \"time_local\", \"msec\", \"date\"")]
    [InlineData("""{"date":1549573860,"request":"GET / HTTP/1.1"}""", "no \"status\"")]
    [InlineData("""{"date":1549573860,"status":200,"request_method":"GET"}""", "no request: no \"request\", nor \"request_method\" with \"request_uri\" or \"uri\"")]
    [InlineData("""{"date":1549573860,"status":"2xx","request":"GET /"}""", "status \"2xx\" is not an integer")]
    [InlineData("""{"date":1549573860,"status":200.0,"request":"GET /"}""", "status \"200.0\" is not an integer")]
    [InlineData("""{"date":-1,"status":200,"request":"GET /"}""", "time \"-1\" is not whole Unix seconds")]
    [InlineData("""{"date":253402300800,"status":200,"request":"GET /"}""", "outside the valid range of log time")]
    [InlineData("""{"date":1549573860,"status":{"code":200},"request":"GET /"}""", "\"status\" is an object, not a string or a number")]
    [InlineData("""{"date":1549573860,"status":200,"request":"GET /",""", "not valid JSON at column")]
    [InlineData("""{"date":1549573860,"status":200,"request":"GET /"} x""", "not valid JSON at column")]
    [InlineData("""{"date":1549573860,"status":200,"request":"GET /", "ua":"Mozilla \x2"}""", "not valid JSON at column")] // not a whole \xHH
    [InlineData("""[1,2]""", "not a JSON object")]
    [InlineData("""127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1""", "JSON")]
    // A date that does not exist: it read "is not an ISO 8601 time with an offset", which it is.
    [InlineData("""{"time_iso8601":"2019-02-29T00:00:00+00:00","status":200,"request":"GET /"}""", "time \"2019-02-29T00:00:00+00:00\" names a day or time of day that does not exist")]
    [InlineData("""{"time_local":"29/Feb/2019:00:00:00 +0000","status":200,"request":"GET /"}""", "names a day or time of day that does not exist")]
    [InlineData("""{"time_iso8601":"07/Feb/2019:16:11:00 +0000","status":200,"request":"GET /"}""", "time \"07/Feb/2019:16:11:00 +0000\" is not an ISO 8601 time with an offset")]
    public void MalformedJson(string line, string reason) => Assert.Contains(reason, Reason(JsonLineParser.Instance, line));

    // An ISO time cut short where nginx's time belongs, at the end of a line: the message sliced
    // 26 bytes of a shorter rest and the run stopped on ArgumentOutOfRangeException.
    [Theory]
    [InlineData("1.1.1.1 - - [2019-02-07T16:11:00Z")]
    [InlineData("1.1.1.1 - - [2019-02-29T16:11:00Z")]
    [InlineData("1.1.1.1 - - [29/Feb/2019:16:11:00")]
    public void A_time_cut_short_at_the_end_of_a_line_is_a_bad_line(string line) =>
        Assert.Contains("is not dd/Mon/yyyy:HH:MM:SS ±hhmm", Reason(LineTemplate.Common, line));

    // ---------------------------------------------------------------- hostile input

    [Fact]
    public void DamagedLinesGiveReasonsNotExceptions()
    {
        var custom = Compile(NginxCombined.TrimEnd() + " $request_time \"$upstream_response_time\" [$time_iso8601] $msec %{x}t");
        var clock = Compile("%{%d/%b/%Y:%T %z}t %h \"%r\" %>s %D %{ms}T");
        var samples = new (IAccessLineParser Parser, string Line)[]
        {
            (LineTemplate.Combined, CombinedLine.TrimEnd()),
            (LineTemplate.Combined, """10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] "\x16\x03 a\\\" b" 400 0 "-" "\x22x\x2" """.TrimEnd()),
            (custom, NginxLine.TrimEnd() + " 0.004 \"0.002, - : 0.001\" [2019-02-07T16:11:00.5+05:30] 1549573860.123 %{x}t"),
            (clock, "10/Oct/2000:13:55:36 -0700 10.0.0.1 \"GET / HTTP/1.1\" 200 1234 12"),
            (JsonLineParser.Instance, JsonLine),
        };
        const string bytes = " \"\\[]{}:,-./0123456789x\r\n\0\u00ff%$";
        var random = new Random(14);
        for (var i = 0; i < 40_000; i++)
        {
            var (parser, line) = samples[i % samples.Length];
            var text = new StringBuilder(line);
            for (var edits = random.Next(1, 4); edits > 0 && text.Length > 0; edits--)
            {
                var at = random.Next(text.Length);
                switch (random.Next(4))
                {
                    case 0: text.Remove(at, 1); break;
                    case 1: text.Insert(at, bytes[random.Next(bytes.Length)]); break;
                    case 2: text[at] = bytes[random.Next(bytes.Length)]; break;
                    default: text.Length = at; break;
                }
            }
            var damaged = Encoding.UTF8.GetBytes(text.ToString());
            if (parser.TryParse(damaged, out var f, out var reason))
            {
                Assert.InRange(f.Status, 100, 599);
                Assert.InRange(f.Time, 0, 253402300799);
                Assert.True(f.Bytes >= 0);
                Assert.False(f.Method.IsEmpty || f.Path.IsEmpty || f.Section.IsEmpty || f.Host.IsEmpty || f.User.IsEmpty);
            }
            else Assert.False(string.IsNullOrEmpty(reason));
        }
    }

    // ---------------------------------------------------------------- allocation

    [Fact]
    public void ParsingAllocatesNothingForAPlainLine()
    {
        var template = Compile(NginxCombined.TrimEnd() + " $request_time \"$upstream_response_time\" $host");
        var line = Encoding.UTF8.GetBytes(NginxLine.TrimEnd() + " 0.004 \"0.002, 0.001\" api.example");
        var combined = Encoding.UTF8.GetBytes(NginxLine.TrimEnd());
        var json = Encoding.UTF8.GetBytes(JsonLine);
        Assert.Equal(0, Allocated(template, line));
        Assert.Equal(0, Allocated(LineTemplate.Combined, combined));
        Assert.Equal(0, Allocated(JsonLineParser.Instance, json));
    }

    /// <summary>Bytes allocated by 1000 parses of <paramref name="line"/>, after as many to warm up (JIT, statics).</summary>
    private static long Allocated(IAccessLineParser parser, byte[] line)
    {
        long allocated = 0, sum = 0;
        for (var round = 0; round < 2; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                if (!parser.TryParse(line, out var f, out _)) return -1;
                sum += f.Time + f.Section.Length + f.UserAgent.Length;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        return sum > 0 ? allocated : -1;
    }

    // ---------------------------------------------------------------- sniffing

    private static SniffResult Sniff(params string[] lines) => FormatSniffer.Sniff(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"));

    [Fact]
    public void SniffsCsv()
    {
        var result = Sniff("", TestLogs.Header, "\"10.0.0.1\",\"-\",\"apache\",1549573860,\"GET /api/user HTTP/1.0\",200,1234");
        Assert.Equal("csv", result.Format);
        Assert.Null(result.Parser);
        Assert.Equal("csv", Sniff("RemoteHost, authuser,date,request,status,bytes").Format);
    }

    // A header with most columns was "not the header", where --input-format csv named the lacking one.
    [Theory]
    [InlineData("\"date\",\"request\",\"status\",\"bytes\",\"remotehost\",\"extra\"", "csv (line 1 is a header without the column \"authuser\")")]
    [InlineData("remotehost,date,request,bytes", "csv (line 1 is a header without the columns \"authuser\", \"status\")")]
    [InlineData("a,b,date,c", "csv (line 1 is not the header \"remotehost\",")]
    public void A_csv_header_lacking_a_column_is_named_so(string header, string said)
    {
        var result = Sniff(header);
        Assert.Null(result.Format);
        Assert.StartsWith(said, result.Tried);
    }

    [Fact]
    public void SniffsCombinedBeforeCommon()
    {
        var result = Sniff(NginxLine.TrimEnd(), CombinedLine.TrimEnd(), "", NginxLine.TrimEnd());
        Assert.Equal("combined", result.Format);
        Assert.Same(LineTemplate.Combined, result.Parser);
        Assert.StartsWith("csv (line 1 is not the header", result.Tried);
    }

    [Fact]
    public void SniffsCommon()
    {
        var result = Sniff(CommonLine, CommonLine.Replace("frank", "-"), "\r", CommonLine);
        Assert.Equal("common", result.Format);
        Assert.Same(LineTemplate.Common, result.Parser);
        Assert.Contains($"combined (line 1: expected \" \\\"\" at column {CommonLine.Length + 1}, found the end of the line)", result.Tried);
    }

    // Apache's stock vhost_combined (Debian's other_vhosts_access.log), and nginx's common
    // "$host $remote_addr - $remote_user [...]": a field before the client's address.
    private const string VhostLine = """www.example.com:443 203.0.113.5 - - [10/Oct/2000:13:55:36 -0700] "GET /a/b HTTP/1.1" 200 123 "-" "curl/8" """;
    private const string NginxHostFirst = """example.com 203.0.113.5 - bob [10/Oct/2000:13:55:36 -0700] "GET /a/b HTTP/1.1" 200 123 "-" "curl/8" """;

    [Fact]
    public void SniffsVhostCombinedAndReadsTheClientNotTheVirtualHost()
    {
        var result = Sniff(VhostLine.TrimEnd(), VhostLine.TrimEnd());
        Assert.Equal("vhost_combined", result.Format);
        Assert.Same(LineTemplate.VhostCombined, result.Parser);
        var parsed = Parse(LineTemplate.VhostCombined, VhostLine.TrimEnd());
        Assert.Equal(("203.0.113.5", "-", "www.example.com", "/a", 200, 123L, CommonTime),
            (parsed.Host, parsed.User, parsed.VirtualHost, parsed.Section, parsed.Status, parsed.Bytes, parsed.Time));
        Assert.Same(LineTemplate.VhostCombined, Compile("vhost_combined"));
    }

    [Fact]
    public void A_field_before_the_client_makes_a_common_or_combined_line_bad_not_misread()
    {
        // Read as combined, the virtual host was the client, the address the ident, and "- -" the user.
        foreach (var parser in new[] { LineTemplate.Combined, LineTemplate.Common })
        {
            Assert.StartsWith("\"203.0.113.5\" stands where the ident (%l) should, and the user would be \"- -\"",
                Reason(parser, parser == LineTemplate.Common ? VhostLine[..VhostLine.IndexOf(" \"-\"", StringComparison.Ordinal)] : VhostLine.TrimEnd()));
            Assert.Contains("--input-format vhost_combined", Reason(parser, parser == LineTemplate.Common ? VhostLine[..VhostLine.IndexOf(" \"-\"", StringComparison.Ordinal)] : VhostLine.TrimEnd()));
            // A host without a port is not vhost_combined's "%v:%p", which read none of these lines.
            Assert.EndsWith("give the server's format with --log-format (a virtual host without a port is not Apache's vhost_combined)",
                Reason(parser, NginxHostFirst.TrimEnd()));
        }
        // nginx's host-first lines fit none of the presets: the error says to give the format.
        Assert.Null(Sniff(NginxHostFirst.TrimEnd(), NginxHostFirst.TrimEnd()).Format);
        // An ident that is not "-" (Apache's IdentityCheck on) with a user without a space is still a line,
        // and so is a user with a space after the "-" nginx writes.
        Assert.Equal(("127.0.0.1", "frank"), Parse(LineTemplate.Combined, CombinedLine.Replace("127.0.0.1 - frank", "127.0.0.1 root frank").TrimEnd()) is var p ? (p.Host, p.User) : default);
        Assert.Equal("frank smith", Parse(LineTemplate.Combined, CombinedLine.Replace("frank", "frank smith").TrimEnd()).User);
    }

    [Theory]
    [InlineData("x [")]
    [InlineData("a [b")]
    [InlineData("x [01/y")]
    [InlineData("[ [")]
    [InlineData("x [10/Oct/2000")]
    public void A_user_with_a_bracket_after_a_space_is_read_not_a_bad_line(string user)
    {
        // nginx logs $remote_user from any client's "Authorization: Basic" header as sent: a client that
        // sent the user "x [" made every one of its lines bad (the user ended at its own " ["), so it
        // could hide its own requests. A Basic user has no colon, so it cannot hold a time.
        var common = CommonLine.Replace("frank", user);
        var combined = CombinedLine.Replace("frank", user).TrimEnd();
        foreach (var (parser, line) in new (IAccessLineParser, string)[]
                 {
                     (LineTemplate.Common, common), (LineTemplate.Combined, combined),
                     (LineTemplate.Combined.WithoutPrefix(), combined),
                     (Compile("$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\""), combined),
                     (Compile("%h %l %u [%{%d/%b/%Y:%H:%M:%S %z}t] \"%r\" %>s %b"), common),
                 })
        {
            var parsed = Parse(parser, line);
            Assert.Equal((user, "127.0.0.1", 971211336L, 200), (parsed.User, parsed.Host, parsed.Time, parsed.Status));
        }
        // Five such lines first are combined, not "no format fits".
        Assert.Equal("combined", Sniff(Enumerable.Repeat(combined, 5).ToArray()).Format);
        // A line whose time is wrong still says so, about the time, also when its request holds a time.
        Assert.StartsWith("time ", Reason(LineTemplate.Combined, combined.Replace("10/Oct/2000:13", "10/Oct/2000:25")));
        Assert.StartsWith("time ", Reason(LineTemplate.Combined.WithoutPrefix(),
            combined.Replace(" -0700]", "]").Replace("/apache_pb.gif", "/a [10/Oct/2000:13:55:36 -0700]")));
    }

    [Fact]
    public void SniffsJsonLines()
    {
        var result = Sniff(JsonLine, JsonLine);
        Assert.Equal("jsonl", result.Format);
        Assert.Same(JsonLineParser.Instance, result.Parser);
    }

    [Fact]
    public void OneDamagedLineDoesNotHideTheFormat()
    {
        Assert.Equal("combined", Sniff(CombinedLine[..40], CombinedLine.TrimEnd(), CombinedLine.TrimEnd()).Format);
        Assert.Null(Sniff(CombinedLine[..40], CombinedLine.TrimEnd()).Format); // not more than half
    }

    [Fact]
    public void SniffingGarbageSaysWhatWasTried()
    {
        var result = Sniff("hello world", "this is not a log");
        Assert.Null(result.Format);
        Assert.Null(result.Parser);
        Assert.Equal(
            "csv (line 1 is not the header \"remotehost\",\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\"), " +
            "combined (line 1: expected \" \" at column 12, found the end of the line), " +
            "common (line 1: expected \" \" at column 12, found the end of the line), " +
            "vhost_combined (line 1: expected \":\" at column 12, found the end of the line), " +
            "jsonl (line 1: not valid JSON at column 1: 'h' is an invalid start of a value.)",
            result.Tried);
        Assert.Null(Sniff("", " \t", "").Format);
    }
}
