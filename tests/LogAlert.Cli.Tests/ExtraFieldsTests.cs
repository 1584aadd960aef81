using System.Text.Json;
using LogAlert.Cli.Input;
using LogAlert.Cli.Input.Formats;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// The fields only some formats log, as rules read them: <c>request_time</c> and
/// <c>upstream_response_time</c> as metrics, <c>vhost</c>, <c>referer</c> and <c>user_agent</c> as
/// labels; and a run that reads none of them does not put them in its records.
/// </summary>
public sealed class ExtraFieldsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-extras-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string NginxFormat =
        "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time $upstream_response_time $host";

    // Second 0: three requests of 0.100, 0.200 and 0.600 s (mean 0.3), upstream 0.05 + 0.01, none,
    // and 0.1 + 0.2 after an internal redirect (0.36 in all). Second 5: one request on another host.
    private static readonly string[] Lines =
    [
        "10.0.0.1 - - [07/Feb/2019:21:11:00 +0000] \"GET /api/a HTTP/1.1\" 200 10 \"https://a.example/\" \"curl/8.5.0\" 0.100 0.050, 0.010 a.example",
        "10.0.0.2 - - [07/Feb/2019:21:11:00 +0000] \"GET /static/x.css HTTP/1.1\" 200 20 \"-\" \"Mozilla/5.0 (X11)\" 0.200 - a.example",
        "10.0.0.3 - - [07/Feb/2019:21:11:00 +0000] \"POST /api/b HTTP/1.1\" 502 30 \"https://a.example/\" \"curl/8.5.0\" 0.600 0.100 : 0.200 b.example",
        "10.0.0.1 - - [07/Feb/2019:21:11:05 +0000] \"GET /api/c HTTP/1.1\" 200 40 \"-\" \"curl/8.5.0\" 0.900 0.800 b.example",
    ];

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static JsonElement[] Alerts(CliRunner.Result r) =>
        [.. r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("type").GetString() == "alert")];

    private static string Label(JsonElement alert, string name) => alert.GetProperty("labels").GetProperty(name).GetString()!;

    [Fact]
    public void Request_time_sums_in_seconds_so_a_rule_can_compute_the_mean_latency()
    {
        var log = Write("access.log", Lines);
        var rule = Write("latency.csx",
            "Alert(\"slow\").When(q => q.Sum(\"request_time\", TimeSpan.FromSeconds(3)) / Math.Max(1, q.Sum(\"requests\", TimeSpan.FromSeconds(3))))",
            "    .Above(0.25).Message(\"mean {value}\");",
            "Alert(\"upstream\").When(q => q.Sum(\"upstream_response_time\", TimeSpan.FromSeconds(3))).Above(0.3).Message(\"upstream {value}\");");

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", "--log-format", NginxFormat, "--rules", rule, log);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var alerts = Alerts(r);
        var slow = alerts.Where(a => a.GetProperty("rule").GetString() == "slow").ToArray();
        // Fires at second 0 (mean 0.3), resolves at second 3 when the window is empty (0).
        Assert.Equal(["firing", "resolved", "firing"], slow.Select(a => a.GetProperty("state").GetString()));
        Assert.Equal(0.3, slow[0].GetProperty("value").GetDouble(), 9);
        Assert.Equal(0.9, slow[2].GetProperty("value").GetDouble(), 9);
        var upstream = alerts.First(a => a.GetProperty("rule").GetString() == "upstream");
        Assert.Equal(0.36, upstream.GetProperty("value").GetDouble(), 9);
        Assert.Equal(1549573860, upstream.GetProperty("ts").GetInt64());
    }

    [Fact]
    public void Vhost_referer_and_user_agent_are_labels_to_group_and_select_by()
    {
        var log = Write("access.log", Lines);
        var rule = Write("labels.csx",
            "Alert(\"per_vhost\").WhenEach(q => q.SumBy(\"requests\", TimeSpan.FromSeconds(2), \"vhost\")).Above(1.5).Message(\"{vhost}\");",
            "Alert(\"per_referer\").WhenEach(q => q.SumBy(\"bytes\", TimeSpan.FromSeconds(2), \"referer\", \"user_agent=~\\\"curl/.*\\\"\")).Above(35).Message(\"{referer}\");",
            "Alert(\"agents\").When(q => q.Distinct(\"user_agent\", TimeSpan.FromSeconds(2))).Above(1.5).Message(\"{value}\");");

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", "--log-format", NginxFormat, "--rules", rule, log);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var fired = Alerts(r).Where(a => a.GetProperty("state").GetString() == "firing").ToArray();
        Assert.Equal("a.example", Label(fired.Single(a => a.GetProperty("rule").GetString() == "per_vhost"), "vhost"));
        // curl's bytes per referer at second 0: https://a.example/ 10 + 30 = 40; at second 5, "-" 40.
        var referers = fired.Where(a => a.GetProperty("rule").GetString() == "per_referer").ToArray();
        Assert.Equal(["https://a.example/", "-"], referers.Select(a => Label(a, "referer")));
        Assert.Equal(40, referers[0].GetProperty("value").GetDouble());
        Assert.Equal(2, fired.Single(a => a.GetProperty("rule").GetString() == "agents").GetProperty("value").GetDouble());
    }

    [Fact]
    public void Json_lines_give_the_same_durations_and_texts_numbers_or_strings()
    {
        var jsonl = Write("access.jsonl",
            """{"remote_addr":"10.0.0.1","time_iso8601":"2019-02-07T21:11:00+00:00","request":"GET /a HTTP/1.1","status":"200","body_bytes_sent":"5","request_time":"0.250","upstream_response_time":"0.250","host":"j.example","http_referer":"r","http_user_agent":"u"}""",
            """{"remote_addr":"10.0.0.2","time_iso8601":"2019-02-07T21:11:00+00:00","request":"GET /b HTTP/1.1","status":200,"body_bytes_sent":5,"request_time":0.5,"host":"j.example","http_referer":"r","http_user_agent":"u"}""");
        var rule = Write("json.csx",
            "Alert(\"time\").WhenEach(q => q.SumBy(\"request_time\", TimeSpan.FromSeconds(2), \"vhost\", \"referer=\\\"r\\\", user_agent=\\\"u\\\"\")).Above(0.7).Message(\"{value}\");",
            "Alert(\"up\").When(q => q.Sum(\"upstream_response_time\", TimeSpan.FromSeconds(2))).Above(0.1).Message(\"{value}\");");

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", "--rules", rule, jsonl);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var alerts = Alerts(r);
        var time = alerts.First(a => a.GetProperty("rule").GetString() == "time");
        Assert.Equal(0.75, time.GetProperty("value").GetDouble(), 9);
        Assert.Equal("j.example", Label(time, "vhost"));
        Assert.Equal(0.25, alerts.First(a => a.GetProperty("rule").GetString() == "up").GetProperty("value").GetDouble(), 9);
    }

    // nginx with `escape=json` writes a variable that has no value as "" (text formats write "-"):
    // a request no upstream served has "upstream_response_time":"".
    [Theory]
    [InlineData("auto")]
    [InlineData("jsonl")]
    [InlineData("log_format")]
    public void Json_lines_from_nginx_escape_json_read_an_empty_duration_as_not_recorded(string how)
    {
        var jsonl = Write("escaped.jsonl",
            """{"time_iso8601":"2019-02-07T21:11:00+00:00","remote_addr":"10.0.0.1","remote_user":"","request":"GET /static/a.css HTTP/1.1","status":"200","body_bytes_sent":"10","request_time":"0.500","upstream_response_time":"","http_referer":"","http_user_agent":"curl","host":"h"}""",
            """{"time_iso8601":"2019-02-07T21:11:01+00:00","remote_addr":"10.0.0.1","remote_user":"","request":"GET /api/a HTTP/1.1","status":"200","body_bytes_sent":"10","request_time":"","upstream_response_time":"0.250","http_referer":"","http_user_agent":"curl","host":"h"}""");
        var rule = Write("up.csx",
            "Alert(\"up\").When(q => q.Sum(\"upstream_response_time\", TimeSpan.FromSeconds(5)) + q.Sum(\"request_time\", TimeSpan.FromSeconds(5))).Above(0.6).Message(\"{value}\");");
        string[] format = how switch
        {
            "jsonl" => ["--input-format", "jsonl"],
            "log_format" => ["--log-format",
                """log_format j escape=json '{"time_iso8601":"$time_iso8601","remote_addr":"$remote_addr","remote_user":"$remote_user","request":"$request","status":"$status","body_bytes_sent":"$body_bytes_sent","request_time":"$request_time","upstream_response_time":"$upstream_response_time","http_referer":"$http_referer","http_user_agent":"$http_user_agent","host":"$host"}';"""],
            _ => [],
        };

        var r = CliRunner.Run([.. format, "--format", "jsonl", "--summary-interval", "off", "--rules", rule, jsonl]);

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("", r.Stderr);
        var stats = JsonDocument.Parse(r.StdoutLines[^1]).RootElement;
        Assert.Equal(2, stats.GetProperty("records").GetInt64());
        Assert.Equal(0, stats.GetProperty("bad").GetInt64());
        Assert.Equal(0.75, Alerts(r).Single().GetProperty("value").GetDouble(), 9);
    }

    [Fact]
    public void A_format_without_the_fields_reads_as_zero_and_dash()
    {
        var csv = Path.Combine(_dir, "a.csv");
        Assert.Equal(0, CliRunner.Run("generate", "--duration", "30s", "--rate", "4", "-o", csv).ExitCode);
        var rule = Write("zero.csx",
            "Alert(\"time\").When(q => q.Sum(\"request_time\", TimeSpan.FromSeconds(10)) + 1).Above(0.5).Message(\"{value}\");",
            "Alert(\"ref\").WhenEach(q => q.SumBy(\"requests\", TimeSpan.FromSeconds(10), \"referer\")).Above(0).Message(\"{referer}\");");

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", "--rules", rule, csv);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var alerts = Alerts(r);
        Assert.Equal(1.0, alerts.First(a => a.GetProperty("rule").GetString() == "time").GetProperty("value").GetDouble());
        Assert.Equal(["-"], alerts.Where(a => a.GetProperty("rule").GetString() == "ref").Select(a => Label(a, "referer")).Distinct());
    }

    [Fact]
    public void A_run_puts_into_its_records_only_the_fields_its_rules_read()
    {
        var log = Write("access.log", Lines);
        var format = InputFormat.TryCreate("auto", NginxFormat, out var error) ?? throw new InvalidOperationException(error);

        LogAlert.Core.Record[] Read(AccessExtras extras) =>
            [.. new AccessLogReader([log]) { Format = format, Extras = extras }.SelectMany(b => b.Records)];

        var none = Read(AccessExtras.None);
        var all = Read(AccessExtras.All);
        var some = Read(AccessExtras.RequestTime | AccessExtras.Referer);

        Assert.Equal(4, none.Length);
        Assert.All(none, r => Assert.Equal((0L, 0L, "-", "-", "-"), (r.RequestMicros, r.UpstreamMicros, r.VirtualHost, r.Referer, r.UserAgent)));
        Assert.Equal([100_000L, 200_000, 600_000, 900_000], all.Select(r => r.RequestMicros));
        Assert.Equal([60_000L, 0, 300_000, 800_000], all.Select(r => r.UpstreamMicros));
        Assert.Equal(["a.example", "a.example", "b.example", "b.example"], all.Select(r => r.VirtualHost));
        Assert.Equal(["curl/8.5.0", "Mozilla/5.0 (X11)", "curl/8.5.0", "curl/8.5.0"], all.Select(r => r.UserAgent));
        Assert.Equal(all.Select(r => r.RequestMicros), some.Select(r => r.RequestMicros));
        Assert.Equal(all.Select(r => r.Referer), some.Select(r => r.Referer));
        Assert.All(some, r => Assert.Equal((0L, "-", "-"), (r.UpstreamMicros, r.VirtualHost, r.UserAgent)));
        // The fields every record has do not depend on the extras.
        Assert.Equal(all.Select(r => (r.Time, r.Host, r.Section, r.Status, r.Bytes)), none.Select(r => (r.Time, r.Host, r.Section, r.Status, r.Bytes)));
    }

    [Theory]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Message(\"x\");", AccessExtras.None)]
    [InlineData("Alert(\"a\").When(q => q.Sum(\"request_time\", TimeSpan.FromMinutes(1))).Above(1).Message(\"x\");", AccessExtras.RequestTime)]
    [InlineData("Alert(\"a\").When(q => q.Sum(\"requests\", TimeSpan.FromMinutes(1), \"user_agent=~\\\".*bot.*\\\"\")).Above(1).Message(\"x\");", AccessExtras.UserAgent)]
    [InlineData("Alert(\"a\").WhenEach(q => q.TopK(3, \"upstream_response_time\", TimeSpan.FromMinutes(1), \"vhost\")).Above(1).Message(\"x\");", AccessExtras.UpstreamTime | AccessExtras.VirtualHost)]
    [InlineData("Alert(\"a\").When(q => q.Distinct(\"referer\", TimeSpan.FromMinutes(1))).Above(1).Message(\"x\");", AccessExtras.Referer)]
    public void The_fields_a_run_reads_are_those_its_rules_ask_for(string script, AccessExtras expected)
    {
        var rule = Write("r.csx", script);
        using var host = new Rules.RuleHost();
        var loaded = host.Load([rule]);
        Assert.True(loaded.Ok, string.Join("\n", loaded.Errors));
        var settings = new LogAlert.Core.Interop.EngineSettings();
        settings.Windows.AddRange(loaded.Told);

        Assert.Equal(expected, AccessExtrasNames.Read(settings.Reads));
    }

    // The reader leaves out the fields of this list no rule reads, and the engine fails a query of
    // one the engine's list says was left out: a field in one list only would read 0 again, or fail
    // rules that told it.
    [Fact]
    public void The_reader_and_the_engine_name_the_same_optional_fields()
    {
        Assert.Equal(LogAlert.Core.Interop.EngineSettings.Optional.Order(StringComparer.Ordinal),
            AccessExtrasNames.All.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(AccessExtras.All, AccessExtrasNames.All.Aggregate(AccessExtras.None, (set, e) => set | e.Extra));
    }
}
