using System.Text;
using FsCheck;
using FsCheck.Fluent;
using LogAlert.Cli.Input.Formats;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// The reader of the start that common, combined and most pasted formats share (host, user, time,
/// request, status, bytes) reads a line only when it is plain, and then as the general loop does:
/// on lines put together from plain and odd pieces, every template reads the same fields, and gives
/// the same reasons, with it and without it.
/// </summary>
public sealed class PrefixProperties
{
    private static int Tests => int.TryParse(Environment.GetEnvironmentVariable("LOGALERT_PROPTEST_N"), out var n) ? n * 40 : 2000;

    private const string NginxCombined =
        "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

    private const string Timed = NginxCombined + " $request_time $upstream_response_time";

    private static readonly LineTemplate[] Templates =
        [LineTemplate.Common, LineTemplate.Combined, Compile(NginxCombined), Compile(Timed), Compile("%h %l %u %t \"%r\" %>s %b %D")];

    private static LineTemplate Compile(string format)
    {
        Assert.True(LineTemplate.TryCompile(format, out var template, out var error), error);
        return template;
    }

    // Half the lines are plain throughout, so that each template reads some; in the others each piece
    // is odd one time in three.
    private static Gen<string> Piece(bool odd, string[] plain, params string[] others) =>
        odd ? Gen.Frequency((2, Gen.Elements(plain)), (1, Gen.Elements(others))) : Gen.Elements(plain);

    private static readonly string[] Odd = ["", " ", "\\\"", "a b", "\\x22", "x\\", "\""];

    private static readonly Gen<string> Lines =
        from odd in Gen.Elements(false, true)
        from host in Piece(odd, ["10.0.0.1", "2001:db8::1", "h"], [.. Odd, "-"])
        from identity in Piece(odd, [" - "], " x ", "  - ", " -- ", "-", " ")
        from user in Piece(odd, ["-", "bob", "alice"], Odd)
        from open in Piece(odd, [" ["], " ", "[", "  [")
        from time in Piece(odd, ["07/Feb/2019:16:11:00 -0500", "07/Feb/2019:16:11:59 +0000", "07/Feb/2019:16:12:00 +0130",
            "01/Jan/1970:00:00:00 -0100"], "07/Feb/2019:16:11:61 -0500", "7/Feb/2019:16:11:00 -0500", "07/Feb/2019:16:11:00",
            "31/Dec/9999:23:59:59 -0100", "01/Jan/1970:00:00:00 +0100")
        from close in Piece(odd, ["] \""], "]\"", "] ", "]  \"")
        from request in Piece(odd, ["GET /api/user?id=3 HTTP/1.1", "POST /a HTTP/1.0", "-", "GET /", "\\x16\\x03\\x01", "GET /a\\x2Fb HTTP/1.1"], Odd)
        from afterRequest in Piece(odd, ["\" "], "\"  ", "\"", " ")
        from status in Piece(odd, ["200", "404", "503", "100", "599"], "600", "099", "2000", "20", "abc", "-", "")
        from space in Piece(odd, [" "], "  ", "")
        from bytes in Piece(odd, ["0", "612", "-", "123456789012345"], "-5", "1125899906842624", "99999999999999999", "12a", "", "0x10", "--")
        from oddTail in Gen.Elements(false, true) // on its own: an odd end of an otherwise plain line
        from tail in Piece(oddTail, ["", " \"-\" \"curl/8.5.0\"", " \"https://a.example/\" \"Mozilla/5.0 (X11)\" 0.094 0.093, 0.001",
            " \"-\" \"-\" 0.001 -", " 1234"], " \"unclosed", " x", "\"-\" \"-\"", " \"-\" \"-\" 1234", " ",
            " \"-\" \"-\" abc -", " \"-\" \"-\" 0.1 1.2.3", " \"-\" \"-\" -1 0.1", " \"-\" \"-\" 0.1 0.2 : x", " 12x", " -")
        select host + identity + user + open + time + close + request + afterRequest + status + space + bytes + tail;

    private static string Read(LineTemplate template, string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        if (!template.TryParse(bytes, out var f, out var reason)) return "bad: " + reason;
        static string T(ReadOnlySpan<byte> s) => Encoding.UTF8.GetString(s);
        return string.Join(" | ", f.Time, T(f.Host), T(f.User), T(f.Method), T(f.Path), f.Status, f.Bytes, f.RequestTime,
            f.UpstreamResponseTime, T(f.VirtualHost), T(f.Referer), T(f.UserAgent));
    }

    [Fact]
    public void The_formats_that_share_the_start_are_read_by_the_prefix_reader()
    {
        Assert.Equal([7, 7, 6, 6, 7], Templates.Select(t => t.PrefixSteps));
        Assert.Equal(0, Compile("$time_local $remote_addr \"$request\" $status").PrefixSteps);
        Assert.Equal(0, Templates[2].WithoutPrefix().PrefixSteps);
        // Straight to records when nothing after the prefix is wanted; through the fields otherwise.
        Assert.All(Templates, t => Assert.True(t.Wanting(AccessExtras.None).Direct, t.Format));
        Assert.Equal([true, false, false, false, false], Templates.Select(t => t.Direct));
        Assert.False(Templates[3].Wanting(AccessExtras.RequestTime).Direct);
    }

    [Fact]
    [Trait("Category", "property")]
    public void A_line_reads_the_same_with_the_prefix_reader_and_without_it()
    {
        var general = Templates.Select(t => t.WithoutPrefix()).ToArray();
        var good = new int[Templates.Length];
        var property = Prop.ForAll(Lines.ToArbitrary(), line =>
        {
            for (var i = 0; i < Templates.Length; i++)
            {
                var read = Read(Templates[i], line);
                Assert.Equal(Read(general[i], line), read);
                if (!read.StartsWith("bad: ", StringComparison.Ordinal)) good[i]++;
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Tests), property);
        // Both good and bad lines were compared, for every template.
        Assert.All(good, count => Assert.InRange(count, Tests / 50, Tests - Tests / 50));
    }

    private static (List<string> Records, List<string> Bad) Parse(LineTemplate template, string chunk)
    {
        var builder = new Input.BatchBuilder(64);
        builder.Begin(new Input.ChunkStart(0, "t.log", 0, AtStart: true, State: null));
        new Input.AccessParser(builder).Parse(Encoding.UTF8.GetBytes(chunk), 0, atStart: true, template);
        var batches = builder.Finish();
        return ([.. batches.SelectMany(b => b.Records).Select(r => $"{r.Line} {r.Time} {r.Host} {r.User} {r.Method} {r.Section} {r.Status} {r.Bytes}")],
                [.. batches.SelectMany(b => b.Bad).Select(b => $"{b.Line}: {b.Reason}")]);
    }

    [Fact]
    [Trait("Category", "property")]
    public void A_chunk_makes_the_same_records_and_bad_lines_with_the_prefix_reader_and_without_it()
    {
        // Common and combined, wanting nothing extra, go straight to records; the others through fields.
        var templates = Templates.Select(t => t.Wanting(AccessExtras.None)).Concat(Templates).ToArray();
        var general = templates.Select(t => t.WithoutPrefix()).ToArray();
        var records = 0;
        var property = Prop.ForAll(Gen.ListOf(Lines).Select(l => string.Join("\n", l) + (l.Count % 2 == 0 ? "\r\n" : "")).ToArbitrary(), chunk =>
        {
            for (var i = 0; i < templates.Length; i++)
            {
                var (expected, expectedBad) = Parse(general[i], chunk);
                var (got, gotBad) = Parse(templates[i], chunk);
                Assert.Equal(expected, got);
                Assert.Equal(expectedBad, gotBad);
                records += got.Count;
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Tests / 10), property);
        Assert.True(records > Tests / 10, $"only {records} records compared");
    }

    [Fact]
    public void Plain_lines_of_each_format_are_read()
    {
        // The generator's plain pieces make good lines too: the property compares more than failures.
        Assert.StartsWith("1549573860 | 10.0.0.1 | bob | GET | /api/user?id=3 | 200 | 612",
            Read(Templates[3], "10.0.0.1 - bob [07/Feb/2019:16:11:00 -0500] \"GET /api/user?id=3 HTTP/1.1\" 200 612 \"-\" \"curl\" 0.5 -"));
    }
}
