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
    [InlineData("--input-format", "xml", "--input-format: \"xml\" is not auto, csv, common, combined, jsonl")]
    [InlineData("--log-format", "$remote_addr [$time_local]", "--log-format: ")]
    [InlineData("--log-format", "%h %Z %t \"%r\" %>s", "--log-format: ")]
    public void A_format_logalert_cannot_read_is_a_one_line_usage_error(string option, string value, string start)
    {
        var r = CliRunner.Run([option, value, "-"], stdin: "");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"logalert: {start}", Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.DoesNotContain("   at ", r.Stderr);
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
