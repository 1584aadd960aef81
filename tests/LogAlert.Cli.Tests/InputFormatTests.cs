using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary><c>--input-format</c>, <c>--log-format</c> and <c>-v</c> as a user meets them.</summary>
public sealed class InputFormatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-input-format-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Generate(string name, params string[] format)
    {
        var path = Path.Combine(_dir, name);
        var r = CliRunner.Run(["generate", "--duration", "2m", "--rate", "5", .. format, "-o", path]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return path;
    }

    private static JsonElement Stats(CliRunner.Result r) =>
        JsonDocument.Parse(r.StdoutLines.Last()).RootElement;

    [Fact]
    public void Verbose_says_each_inputs_format_and_the_report_lists_it()
    {
        var csv = Generate("a.csv");
        var combined = Generate("b.log", "--output-format", "combined");
        var jsonl = Generate("c.jsonl", "--output-format", "jsonl");

        var r = CliRunner.Run("--format", "jsonl", "-v", csv, combined, jsonl);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal([$"logalert: {csv}: format csv", $"logalert: {combined}: format combined", $"logalert: {jsonl}: format jsonl"],
            r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var inputs = Stats(r).GetProperty("inputs").EnumerateArray()
            .Select(i => (i.GetProperty("path").GetString(), i.GetProperty("format").GetString())).ToArray();
        Assert.Equal([(csv, "csv"), (combined, "combined"), (jsonl, "jsonl")], inputs);
        Assert.Equal(0, Stats(r).GetProperty("bad").GetInt64());
    }

    [Fact]
    public void A_named_format_applies_to_every_input_and_other_lines_are_bad_lines()
    {
        var combined = Generate("b.log", "--output-format", "combined");
        var common = Generate("c.log", "--output-format", "common");

        // common lines end after the bytes: read as combined they lack the referer and agent.
        var r = CliRunner.Run("--format", "jsonl", "--input-format", "combined", combined, common);

        Assert.Equal(0, r.ExitCode);
        var lines = File.ReadAllLines(common).Length;
        Assert.Equal(lines, Stats(r).GetProperty("bad").GetInt64());
        Assert.Contains($"{common}:1: expected \" \\\"\" at column", r.Stderr);
    }

    [Theory]
    [InlineData("--input-format", "xml", "--input-format: \"xml\" is not auto, csv, common, combined, vhost_combined, jsonl")]
    [InlineData("--log-format", "$remote_addr [$time_local]", "--log-format: ")]
    [InlineData("--log-format", "%h %Z %t \"%r\" %>s", "--log-format: ")]
    [InlineData("--log-format", "log_format main '$remote_addr [$time_local] \"$request\" $status", "--log-format: the quote before ")]
    [InlineData("--log-format", "log_format '$remote_addr'", "--log-format: log_format needs a name")]
    [InlineData("--log-format", "LogFormat %h common", "--log-format: LogFormat's format is one double-quoted string")]
    public void A_format_logalert_cannot_read_is_a_one_line_usage_error(string option, string value, string start)
    {
        var r = CliRunner.Run([option, value, "-"], stdin: "");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"logalert: {start}", Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void A_json_line_with_half_a_surrogate_pair_is_a_record_with_the_escape_as_written()
    {
        var path = Generate("g.jsonl", "--output-format", "jsonl");
        var lines = File.ReadAllLines(path).ToList();
        var good = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", path);
        lines.Insert(300, """{"time_iso8601":"2019-02-07T21:12:00+00:00","remote_addr":"10.0.0.9","request":"GET /g\udc00 HTTP/1.1","status":200}""");
        File.WriteAllLines(path, lines);

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", path);

        // It was one bad line ("not valid JSON at column 80: a \u escape is half of a UTF-16 surrogate pair").
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        Assert.Equal(Stats(good).GetProperty("records").GetInt64() + 1, Stats(r).GetProperty("records").GetInt64());
        Assert.Equal(lines.Count, Stats(r).GetProperty("lines").GetInt64());
        Assert.Equal(0, Stats(r).GetProperty("bad").GetInt64());
    }

    // nginx's stock `main` format, as nginx.conf writes it, and what a user may copy of it.
    private const string Main = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent " +
                                "\"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\"";

    [Theory]
    [InlineData("log_format  main  '$remote_addr - $remote_user [$time_local] \"$request\" '\n" +
                "                  '$status $body_bytes_sent \"$http_referer\" '\n" +
                "                  '\"$http_user_agent\" \"$http_x_forwarded_for\"';")]
    [InlineData("log_format  main  '$remote_addr - $remote_user [$time_local] \"$request\" '  # the request\n" +
                "                  # then what the server answered\n" +
                "                  '$status $body_bytes_sent \"$http_referer\" '\n" +
                "                  '\"$http_user_agent\" \"$http_x_forwarded_for\"'; # as main")]
    [InlineData("log_format main escape=default '$remote_addr - $remote_user [$time_local] \"$request\" $status ' " +
                "'$body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\"';")]
    [InlineData("'$remote_addr - $remote_user [$time_local] \"$request\" ' '$status $body_bytes_sent \"$http_referer\" ' " +
                "'\"$http_user_agent\" \"$http_x_forwarded_for\"'")]
    [InlineData("\"$remote_addr - $remote_user [$time_local] \\\"$request\\\" $status $body_bytes_sent " +
                "\\\"$http_referer\\\" \\\"$http_user_agent\\\" \\\"$http_x_forwarded_for\\\"\";")]
    public void An_nginx_log_format_pasted_with_its_directive_and_quotes_reads_as_the_bare_string(string pasted)
    {
        var path = Generate("main.log", "--log-format", Main);
        var bare = CliRunner.Run("--format", "jsonl", "--log-format", Main, path);
        Assert.True(bare.ExitCode == 0, bare.Stderr);
        Assert.Equal(0, Stats(bare).GetProperty("bad").GetInt64());
        Assert.True(Stats(bare).GetProperty("records").GetInt64() > 500);

        var r = CliRunner.Run("--format", "jsonl", "--log-format", pasted, path);

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(bare.Stdout, r.Stdout);
    }

    [Theory]
    [InlineData("log_format  main  '$remote_addr - $remote_user [$time_local] \"$request\" '\n" +
                "                  '$status $body_bytes_sent \"$http_referer\" '\n" +
                "                  '\"$http_user_agent\" \"$http_x_forwarded_for\"';")]
    [InlineData("\"$remote_addr - $remote_user [$time_local] \\\"$request\\\" $status $body_bytes_sent " +
                "\\\"$http_referer\\\" \\\"$http_user_agent\\\" \\\"$http_x_forwarded_for\\\"\";")]
    public void Generate_writes_a_pasted_log_format_as_the_bare_string_writes_it(string pasted)
    {
        // The directive, its quotes and \" were written into every line as they stood
        // ("log_format main '10.121.154.227 - - [07/Feb/2019:21:11:01 +0000] '"), exit 0.
        var bare = Generate("bare.log", "--log-format", Main);

        var pastedLog = Generate("pasted.log", "--log-format", pasted);

        Assert.Equal(File.ReadAllText(bare), File.ReadAllText(pastedLog));
        var r = CliRunner.Run("--format", "jsonl", "--log-format", pasted, pastedLog);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(0, Stats(r).GetProperty("bad").GetInt64());
    }

    [Theory]
    [InlineData("%h %l %u %t \"%r\" %>s %b")]
    [InlineData("LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common")]
    [InlineData("vhost_combined")]
    public void Generate_refuses_a_format_it_cannot_write(string format)
    {
        // An Apache format was written as it stood, "%h %l %u %t "%r" %>s %b" on every line, exit 0.
        var r = CliRunner.Run("generate", "--duration", "10s", "--log-format", format);

        Assert.Equal((2, ""), (r.ExitCode, r.Stdout));
        Assert.Equal("logalert: --log-format: generate writes an nginx log_format ($remote_addr, $time_local, $request, ...), "
                     + "not an Apache LogFormat or vhost_combined; for Apache's common or combined use --output-format", r.Stderr.Trim());
    }

    [Theory]
    [InlineData("common", "common")]
    [InlineData("combined", "combined")]
    [InlineData("combined", "Combined")] // as the reader takes it
    public void Generate_writes_a_preset_log_format_as_output_format_does(string preset, string given)
    {
        // It wrote the preset's name on every line.
        Assert.Equal(File.ReadAllText(Generate("output.log", "--output-format", preset)),
                     File.ReadAllText(Generate("log.log", "--log-format", given)));
    }

    [Theory]
    [InlineData("'$remote_addr\\t[$time_local]\\t\"$request\"\\t$status\\t$body_bytes_sent'", "\t")]
    [InlineData("$remote_addr [$time_local] \\\"$request\\\" \\'$status\\' $body_bytes_sent", " ")]
    public void Generate_undoes_a_log_formats_escapes_as_the_reader_does(string format, string separator)
    {
        // \t was written as a backslash and a t, and the log did not read back with its own format.
        var log = Generate("escaped.log", "--log-format", format);

        Assert.Contains(separator + "[07/Feb/2019:", File.ReadLines(log).First());
        Assert.DoesNotContain("\\", File.ReadAllText(log));
        var r = CliRunner.Run("--format", "jsonl", "--log-format", format, log);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(0, Stats(r).GetProperty("bad").GetInt64());
        Assert.True(Stats(r).GetProperty("records").GetInt64() > 500);
    }

    [Theory]
    [InlineData("CustomLog ${APACHE_LOG_DIR}/access.log \"%h %l %u %t \\\"%r\\\" %>s %b\"")]
    [InlineData("CustomLog \"|/usr/bin/rotatelogs /var/log/access.%Y 86400\" common env=!dontlog")]
    public void An_apache_customlog_line_reads_as_its_format(string pasted)
    {
        var path = Generate("common.log", "--output-format", "common");
        var bare = CliRunner.Run("--format", "jsonl", "--log-format", "%h %l %u %t \\\"%r\\\" %>s %b", path);
        Assert.True(bare.ExitCode == 0, bare.Stderr);

        var r = CliRunner.Run("--format", "jsonl", "--log-format", pasted, path);

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(bare.Stdout.Replace("\"log-format\"", "\"common\""), r.Stdout.Replace("\"log-format\"", "\"common\""));
        Assert.Equal("{\"path\":\"" + path.Replace("\\", "\\\\") + "\",\"format\":\"" + (pasted.Contains(" common ") ? "common" : "log-format") + "\"}",
            JsonDocument.Parse(r.StdoutLines[^1]).RootElement.GetProperty("inputs")[0].GetRawText());
        var unclosed = CliRunner.Run("--log-format", "CustomLog logs/access.log \"%h %t", path);
        Assert.Equal((2, "logalert: --log-format: CustomLog's format has no closing quote\n"), (unclosed.ExitCode, unclosed.Stderr));
        var own = CliRunner.Run("--log-format", "CustomLog logs/access.log mine", path);
        Assert.Equal((2, "logalert: --log-format: CustomLog names the format \"mine\" that a LogFormat line defines: give that line instead\n"),
            (own.ExitCode, own.Stderr));
    }

    [Fact]
    public void An_nginx_directive_with_escape_none_reads_texts_as_logged_and_a_wrong_escape_is_an_error()
    {
        var path = Path.Combine(_dir, "none.log");
        File.WriteAllText(path, "10.0.0.1 [07/Feb/2019:16:11:00 -0500] \"GET /a\"b HTTP/1.1\" 200\n");
        var r = CliRunner.Run("--format", "jsonl", "--log-format", "log_format raw escape=none '$remote_addr [$time_local] \"$request\" $status';", path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(1, Stats(r).GetProperty("records").GetInt64());
        Assert.Contains("\"section\":\"/a\\\"b\"", r.Stdout);

        var bad = CliRunner.Run("--log-format", "log_format raw escape=xml '$remote_addr [$time_local] \"$request\" $status';", path);
        Assert.Equal((2, "logalert: --log-format: log_format's escape=xml is not escape=default, escape=json or escape=none\n"), (bad.ExitCode, bad.Stderr));
    }

    [Fact]
    public void An_apache_logformat_line_pasted_whole_reads_as_its_format_string()
    {
        var path = Generate("common.log", "--output-format", "common");
        var bare = CliRunner.Run("--format", "jsonl", "--log-format", "%h %l %u %t \\\"%r\\\" %>s %b", path);
        Assert.True(bare.ExitCode == 0, bare.Stderr);
        Assert.Equal(0, Stats(bare).GetProperty("bad").GetInt64());

        var r = CliRunner.Run("--format", "jsonl", "--log-format", "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common", path);

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(bare.Stdout, r.Stdout);
    }

    [Fact]
    public void An_apache_logformat_pasted_from_the_config_reads_the_log()
    {
        var path = Path.Combine(_dir, "apache.log");
        File.WriteAllText(path,
            "192.0.2.1 - alice [07/Feb/2019:16:11:00 -0500] \"GET /api/users HTTP/1.1\" 200 512 1234\n" +
            "2001:db8::1 - - [07/Feb/2019:16:11:01 -0500] \"GET /static/app.js HTTP/1.1\" 304 - 99\n" +
            "192.0.2.1 - - [07/Feb/2019:16:11:02 -0500] \"-\" 408 - 5\n");

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "10s", "--log-format", "%h %l %u %t \\\"%r\\\" %>s %b %D", path);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var summary = JsonDocument.Parse(r.StdoutLines.Single(l => l.Contains("\"summary\""))).RootElement;
        Assert.Equal(1549573860, summary.GetProperty("start").GetInt64()); // 16:11 -0500 is 21:11Z
        Assert.Equal(3, summary.GetProperty("requests").GetInt64());
        Assert.Equal(512, summary.GetProperty("bytes").GetInt64());
        Assert.Equal(2, summary.GetProperty("hosts").GetInt32());
        Assert.Equal(["-", "/api", "/static"], summary.GetProperty("sections").EnumerateArray().Select(s => s.GetProperty("section").GetString())); // 1 hit each: ties by name
    }
}
