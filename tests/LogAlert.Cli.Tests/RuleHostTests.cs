using System.Runtime.Versioning;
using LogAlert.Cli.Rules;
using LogAlert.Core;
using LogAlert.Core.Interop;
using Xunit;
using CoreRules = LogAlert.Core.Interop.Rules;
using Record = LogAlert.Core.Record;

namespace LogAlert.Cli.Tests;

public sealed class RuleHostTests : IDisposable
{
    private const long Start = 1549573860;

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-rules-").FullName;

    private string CacheDir => Path.Combine(_dir, "cache");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private RuleHost Host() => new(CacheDir);

    /// <summary>The cache's entries: its files but the temporary ones and the pruning stamp.</summary>
    private string[] Entries() =>
        Directory.GetFiles(CacheDir).Where(f => !f.EndsWith(".tmp") && Path.GetFileName(f) != "pruned").Order(StringComparer.Ordinal).ToArray();

    [UnsupportedOSPlatform("windows")]
    private static UnixFileMode Mode(string path) => File.GetUnixFileMode(path);

    private RuleLoadResult Load(params string[] files)
    {
        using var host = Host();
        return host.Load(files);
    }

    private const string ServerErrors = """
        // server errors
        Alert("server_errors")
            .When(q => q.Rate("requests", TimeSpan.FromMinutes(1), "status_class=\"5xx\""))
            .Above(0.5)
            .RecoverBelow(0.2)
            .For(TimeSpan.FromSeconds(30))
            .Message("5xx at {value} req/s since {time}");
        """;

    [Fact]
    public void A_rule_registers_with_its_thresholds_and_messages()
    {
        var result = Load(Write("errors.csx", ServerErrors));

        Assert.Empty(result.Errors);
        var rule = Assert.Single(result.Rules);
        Assert.Equal("server_errors", rule.RuleName);
        Assert.Equal(0.5, rule.Threshold);
        Assert.Equal(0.2, rule.Recover);
        Assert.Equal(30L, rule.For);
        Assert.False(rule.IsPerGroup);
        Assert.Equal("5xx at {value} req/s since {time}", rule.Message?.Value);
        Assert.Null(rule.RecoveryMessage);
    }

    [Theory]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Message(\"hits {vaule}\");",
        "message placeholder {vaule} is not one of {value}, {time}, {threshold}, {rule}, {since}")]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).RecoveryMessage(\"{section} calm\");",
        "message placeholder {section} is not one of {value}, {time}, {threshold}, {rule}, {since}")]
    [InlineData("Alert(\"a\").WhenEach(q => q.RateBy(\"requests\", TimeSpan.FromMinutes(1), \"section\")).Above(1).Message(\"{host} is hot\");",
        "message placeholder {host} is not one of {value}, {time}, {threshold}, {rule}, {since}, {label}, {section}")]
    // Every one at once, in both messages: only the first was said, the next after a fix and a reload.
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Message(\"at {vaule} {section} {vaule}\").RecoveryMessage(\"{host} calm\");",
        "message placeholders {vaule}, {section}, {host} are not among {value}, {time}, {threshold}, {rule}, {since}")]
    [InlineData("Alert(\"a\").WhenEach(q => q.RateBy(\"requests\", TimeSpan.FromMinutes(1), \"section\")).Above(1).Message(\"{section} {label} {value} {time} {threshold} {rule} {since} {not a placeholder}\");",
        null)]
    // A C# author's format stayed as written ("a {value:F3} b"); other text in braces still stays.
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Message(\"at {value:F3}\");",
        "message placeholder {value:F3} has a format, which placeholders do not take ({value} is written with 2 decimals, {time} in ISO 8601)")]
    [InlineData("Alert(\"a\").WhenEach(q => q.RateBy(\"requests\", TimeSpan.FromMinutes(1), \"section\")).Above(1).RecoveryMessage(\"{section,10} calm\");",
        "message placeholder {section,10} has a format, which placeholders do not take ({value} is written with 2 decimals, {time} in ISO 8601)")]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Message(\"{value} {key: x} {{value}}\");",
        null)]
    // All at once (review: the format hid the typo), and a label with a format where nothing fills it.
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Message(\"{host:x} {vaule} {value:F2}\");",
        "message placeholders {host}, {vaule} are not among {value}, {time}, {threshold}, {rule}, {since}; "
        + "message placeholder {value:F2} has a format, which placeholders do not take ({value} is written with 2 decimals, {time} in ISO 8601)")]
    public void A_message_placeholder_nothing_fills_is_a_load_error(string rule, string? error)
    {
        var path = Write("msg.csx", rule);

        var result = Load(path);

        if (error is null) Assert.Empty(result.Errors);
        else Assert.Equal($"{path}:1: error: rule \"a\": {error}", Assert.Single(result.Errors));
    }

    [Theory]
    [InlineData("Alert(\"a\").WhenEach(q => q.RateBy(\"requests\", TimeSpan.FromMinutes(1), \"section\")).Above(1).Labels((\"section\", \"web\"));",
        "label \"section\" is the label this rule groups by: each group's alert carries its own value; give the label another name")]
    [InlineData("Alert(\"a\").WhenEach(q => q.TopK(3, \"requests\", TimeSpan.FromMinutes(1), \"host\")).Above(1).Labels((\"team\", \"web\"), (\"host\", \"x\"));",
        "label \"host\" is the label this rule groups by: each group's alert carries its own value; give the label another name")]
    [InlineData("Alert(\"a\").WhenEach(q => q.RateBy(\"requests\", TimeSpan.FromMinutes(1), \"section\")).Above(1).Labels((\"host\", \"x\"), (\"severity\", \"page\"));",
        null)]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Labels((\"section\", \"/api\"));",
        null)]
    public void A_label_a_per_group_rule_groups_by_cannot_be_set_to_one_value(string rule, string? error)
    {
        var path = Write("labels.csx", rule);

        var result = Load(path);

        if (error is null) Assert.Empty(result.Errors);
        else Assert.Equal($"{path}:1: error: rule \"a\": {error}", Assert.Single(result.Errors));
    }

    // Each was taken before, the later call or name silently winning or dropped.
    [Theory]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).Above(5);",
        "rule \"a\": Above is given more than once")]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(5).For(TimeSpan.FromMinutes(1)).For(TimeSpan.FromMinutes(2));",
        "rule \"a\": For is given more than once")]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(5).Labels((\"team\", \"web\"), (\"team\", \"db\"));",
        "rule \"a\": label \"team\" is given more than once")]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(5).Monotonic().Monotonic();",
        "rule \"a\": Monotonic is given more than once")]
    // One error, not two: it was followed by 'rule "a" has no When/WhenEach'.
    [InlineData("Alert(\"a\").When(null!).Above(5);",
        "rule \"a\": When(null): give it the rule's value, e.g. q => q.Rate(...)")]
    // NaN is no threshold: it said "RecoverBelow (NaN) must not be above the firing threshold (1)".
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1).RecoverBelow(double.NaN);",
        "rule \"a\": RecoverBelow must be a number")]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(5).Annotations((\"value\", \"high\"));",
        "rule \"a\": annotation \"value\" is logalert's own (message, value, threshold); give it another name")]
    [InlineData("Alert(\"a\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(5).Annotations((\"runbook\", \"x\")).Annotations((\"runbook\", \"y\"));",
        "rule \"a\": annotation \"runbook\" is given more than once")]
    [InlineData("Alert(\"summary\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(5);",
        "rule \"summary\": the name is the summaries' in --only and --disable; give the rule another name")]
    [InlineData("Alert(\"a\\nb\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(5);",
        "rule \"a\\x0ab\": a rule's name cannot hold a control character")]
    public void A_setting_given_twice_or_a_name_that_cannot_work_is_a_load_error(string rule, string error)
    {
        var path = Write("twice.csx", rule);

        var result = Load(path);

        Assert.Equal($"{path}:1: error: {error}", Assert.Single(result.Errors));
    }

    // The load-time call's queries answer 0 and empty groups, so a k computed from the data is
    // often 0 there: such a rule was refused ("TopK(0, ...): k must be at least 1") and could never load.
    [Theory]
    [InlineData("(int)Math.Ceiling(q.Distinct(\"host\", w) * 0.1)", 0)]
    [InlineData("q.SumBy(\"requests\", w, \"host\").Count", 0)]
    [InlineData("0", 0)]  // a literal: the probe cannot tell it from the others; check warns, and it fails at its first second
    [InlineData("-3", -3)]
    public void A_TopK_whose_k_is_below_1_on_the_load_time_calls_empty_data_loads_with_its_window(string k, int probed)
    {
        var path = Write("top.csx", $$"""
            Alert("top_decile")
                .WhenEach(q =>
                {
                    var w = TimeSpan.FromMinutes(1);
                    var k = {{k}};
                    return q.TopK(k, "requests", w, "host") / 60;
                })
                .Above(2).Message("{host} at {value} req/s");
            """);

        var result = Load(path);

        Assert.Empty(result.Errors);
        var rule = Assert.Single(result.Descriptions);
        Assert.Null(rule.ProbeError);
        Assert.Equal("host", rule.GroupLabel);
        var top = Assert.Single(rule.Windows, u => u.Function == "TopK");
        Assert.Equal(new WindowUse("TopK", "requests", TimeSpan.FromMinutes(1), "host", null, probed), top);
        Assert.True(result.Told.Single().Complete);
    }

    [Fact]
    public void A_rule_file_that_is_not_UTF8_is_an_error_at_its_line_and_column()
    {
        // Saved as Latin-1: the é was read as U+FFFD, and the rule was named "caf\uFFFD" without a word.
        var path = Path.Combine(_dir, "latin1.csx");
        var text = "// a comment\nAlert(\"café\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1);\n";
        File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes(text));
        var utf8 = Path.Combine(_dir, "utf8.csx");
        File.WriteAllBytes(utf8, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(text)]);

        var latin1 = Load(path);
        var good = Load(utf8);

        Assert.Equal($"{path}:2:11: error: byte 0xE9 is not UTF-8; save the rule file as UTF-8", Assert.Single(latin1.Errors));
        Assert.Empty(good.Errors);
        Assert.Equal("café", Assert.Single(good.Descriptions).Name);
    }

    [Fact]
    public void A_rule_file_in_UTF16_with_its_BOM_loads()
    {
        // What Windows PowerShell 5's `>` writes; it loaded before the strict UTF-8 reading, which refused it.
        var path = Path.Combine(_dir, "utf16.csx");
        File.WriteAllText(path, "Alert(\"café\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(1);\n", System.Text.Encoding.Unicode);

        var result = Load(path);

        Assert.Empty(result.Errors);
        Assert.Equal("café", Assert.Single(result.Descriptions).Name);
    }

    [Fact]
    public void Rules_come_in_file_order_then_registration_order()
    {
        var a = Write("a.csx", """
            Alert("a2").When(q => q.Sum("bytes", TimeSpan.FromSeconds(10))).Above(1);
            Alert("a1").WhenEach(q => q.SumBy("requests", TimeSpan.FromSeconds(10), "method")).Above(1);
            """);
        var b = Write("b.csx", """Alert("b").When(q => 1).Above(0);""");

        var result = Load(b, a);

        Assert.Empty(result.Errors);
        Assert.Equal(["b", "a2", "a1"], result.Rules.Select(r => r.RuleName));
        Assert.True(result.Rules[2].IsPerGroup);
    }

    [Fact]
    public void Every_compile_error_is_reported_as_file_line_col_error_code()
    {
        var path = Write("broken.csx", """
            Alert("x")
                .When(q => q.Rate("requests", TimeSpan.FromMinutes(1)))
                .Above(1);
            int y = "text";
              Foo();
            """);

        var result = Load(path);

        Assert.Empty(result.Rules);
        Assert.Equal(2, result.Errors.Count);
        Assert.StartsWith($"{path}:4:9: error CS0029: ", result.Errors[0]);
        Assert.StartsWith($"{path}:5:3: error CS0103: ", result.Errors[1]);
        Assert.Contains("'Foo'", result.Errors[1]);
    }

    [Fact]
    public void A_compile_error_names_the_file_as_given()
    {
        Write("rel/bad.csx", "Alert(\"x\").When(q => q.Nope()).Above(1);");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(_dir, "rel", "bad.csx"));

        var result = Load(relative);

        var error = Assert.Single(result.Errors);
        Assert.StartsWith($"{relative}:1:", error);
        Assert.Contains(": error CS1061: ", error);
    }

    [Fact]
    public void Hash_r_is_rejected_with_its_position()
    {
        var path = Write("r.csx", """
            // a comment first
            #r "System.Xml.dll"
            #r "nuget: Newtonsoft.Json, 13.0.1"
            Alert("x").When(q => 1).Above(0);
            """);

        var result = Load(path);

        Assert.Empty(result.Rules);
        Assert.Equal(
            [
                $"{path}:2:1: error: #r is not allowed in rule files; rules may only use the logalert rule API and the .NET base library",
                $"{path}:3:1: error: #r is not allowed in rule files; rules may only use the logalert rule API and the .NET base library",
            ],
            result.Errors);
    }

    [Fact]
    public void Hash_load_works_inside_the_rule_folder_and_is_refused_outside_it()
    {
        Write("rules/lib/helpers.csx", """
            static TimeSpan Minutes(int n) => TimeSpan.FromMinutes(n);
            void Busy(string name) => Alert(name).When(q => q.Rate("requests", Minutes(2))).Above(100);
            """);
        var good = Write("rules/good.csx", """
            #load "lib/helpers.csx"
            Busy("busy");
            """);
        Write("outside.csx", "static int Two() => 2;");
        var bad = Write("rules/bad.csx", """
            #load "../outside.csx"
            Alert("x").When(q => Two()).Above(0);
            """);

        var ok = Load(good);
        Assert.Empty(ok.Errors);
        Assert.Equal("Rate(requests, 2m)", Assert.Single(ok.Descriptions).Expression);

        var refused = Load(bad);
        Assert.Empty(refused.Rules);
        Assert.Equal(
            $"{bad}:1:1: error: #load \"../outside.csx\": only files in the folder of the rule file (or below it) may be loaded",
            Assert.Single(refused.Errors));
    }

    [Fact]
    public void A_rule_defined_in_a_loaded_file_is_reported_at_its_own_line()
    {
        Write("rules/lib/helpers.csx", """
            // helpers

            void Broken(string name) => Alert(name).Above(1);
            """);
        var main = Write("rules/main.csx", """
            #load "lib/helpers.csx"
            Broken("broken");
            """);

        var result = Load(main);

        var error = Assert.Single(result.Errors);
        Assert.EndsWith("helpers.csx:3: error: rule \"broken\" has no When/WhenEach", error);
    }

    [Fact]
    public void Duplicate_names_across_files_are_rejected_naming_both_places()
    {
        var a = Write("a.csx", """
            Alert("dup").When(q => 1).Above(0);
            """);
        var b = Write("b.csx", """
            // b

            Alert("dup").When(q => 2).Above(0);
            """);

        var result = Load(a, b);

        Assert.Empty(result.Rules);
        Assert.Equal($"{b}:3: error: rule \"dup\" is already defined at {a}:1", Assert.Single(result.Errors));
    }

    // A rule in a file #load-ed by two rule files was reported "lib/shared.csx:2: ... already defined
    // at lib/shared.csx:2", naming neither loader; a file that #loads itself, likewise (QA).
    [Fact]
    public void A_rule_defined_twice_through_load_names_the_files_that_loaded_it()
    {
        Write("lib/shared.csx", """
            static TimeSpan W = TimeSpan.FromMinutes(1);
            Alert("from_lib").When(q => q.Rate("requests", W)).Above(5);
            """);
        var a = Write("a.csx", "#load \"lib/shared.csx\"\nAlert(\"a\").When(q => q.Rate(\"requests\", W)).Above(6);\n");
        var b = Write("b.csx", "#load \"lib/shared.csx\"\nAlert(\"b\").When(q => q.Rate(\"requests\", W)).Above(7);\n");
        var self = Write("self.csx", "#load \"self.csx\"\nAlert(\"self\").When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(6);\n");
        var shared = Path.Combine(_dir, "lib", "shared.csx");

        const string Shared = "a file that defines rules runs in each rule file that #loads it, and on its own when it is named too; "
                              + "load it from one, or keep rules out of shared files";
        Assert.Equal($"{shared}:2: error: rule \"from_lib\" (loaded by {b}) is already defined at {shared}:2 (loaded by {a}): {Shared}",
            Assert.Single(Load(a, b).Errors));
        // Named by a glob as well as loaded (review): the same hint.
        Assert.Equal($"{shared}:2: error: rule \"from_lib\" (loaded by {a}) is already defined at {shared}:2: {Shared}",
            Assert.Single(Load(shared, a).Errors));
        const string Twice = "the same Alert call ran twice (in a loop, a helper called twice, or a file that #loads itself)";
        Assert.Equal($"{self}:2: error: rule \"self\" is already defined at {self}:2: {Twice}", Assert.Single(Load(self).Errors));
        // A helper called twice is no #load (review: it was told the file #loads itself).
        var helper = Write("helper.csx", "void Busy(string n, double t) => Alert(n).When(q => q.Rate(\"requests\", TimeSpan.FromMinutes(1))).Above(t);\nBusy(\"busy\", 10);\nBusy(\"busy\", 20);\n");
        Assert.Equal($"{helper}:1: error: rule \"busy\" is already defined at {helper}:1: {Twice}", Assert.Single(Load(helper).Errors));
    }

    [Fact]
    public void Incomplete_or_inconsistent_definitions_are_reported_at_the_Alert_line()
    {
        var path = Write("invalid.csx", """
            Alert("no_when").Above(1);
            Alert("no_above").When(q => 1);
            Alert("inverted")
                .When(q => 1)
                .Above(0.5)
                .RecoverBelow(0.8);
            Alert("good").When(q => 1).Above(0);
            Alert("twice").When(q => 1).WhenEach(q => q.SumBy("requests", TimeSpan.FromSeconds(5), "section")).Above(0);
            Alert("").When(q => 1).Above(0);
            Alert("fractional").When(q => 1).Above(0).For(TimeSpan.FromMilliseconds(1500));
            Alert("negative").When(q => 1).Above(0).For(TimeSpan.FromMinutes(-90));
            Alert("fine_grained").When(q => 1).Above(0).For(TimeSpan.FromTicks(12_345));
            Alert("long").When(q => 1).Above(0).For(TimeSpan.FromDays(-401.5));
            """);

        var result = Load(path);

        Assert.Empty(result.Rules);
        Assert.Equal(
            [
                $"{path}:1: error: rule \"no_when\" has no When/WhenEach",
                $"{path}:2: error: rule \"no_above\" has no Above(threshold)",
                $"{path}:3: error: rule \"inverted\": RecoverBelow (0.8) must not be above the firing threshold (0.5)",
                $"{path}:8: error: rule \"twice\" has more than one When/WhenEach",
                $"{path}:9: error: a rule needs a non-empty name",
                // As Prometheus writes durations: these read For(00:00:01.5000000) and For(-01:30:00).
                $"{path}:10: error: rule \"fractional\": For(1s500ms) must be a whole, non-negative number of seconds",
                $"{path}:11: error: rule \"negative\": For(-1h30m) must be a whole, non-negative number of seconds",
                $"{path}:12: error: rule \"fine_grained\": For(0.0012345s) must be a whole, non-negative number of seconds",
                $"{path}:13: error: rule \"long\": For(-1y5w1d12h) must be a whole, non-negative number of seconds",
            ],
            result.Errors);
        Assert.Single(result.Descriptions); // "good" is fine; the errors still stop the run.
    }

    [Fact]
    public void A_query_the_engine_would_reject_is_a_load_error()
    {
        var path = Write("typo.csx", """
            Alert("typo")
                .When(q => q.Rate("reqests", TimeSpan.FromMinutes(1)))
                .Above(1);
            Alert("bad_selector").When(q => q.Sum("requests", TimeSpan.FromMinutes(1), "status=~\"5..")).Above(1);
            Alert("bad_label").WhenEach(q => q.SumBy("requests", TimeSpan.FromMinutes(1), "path")).Above(1);
            """);

        var result = Load(path);

        Assert.Equal(3, result.Errors.Count);
        Assert.StartsWith($"{path}:1: error: rule \"typo\": unknown metric \"reqests\"", result.Errors[0]);
        Assert.StartsWith($"{path}:4: error: rule \"bad_selector\": selector ", result.Errors[1]);
        Assert.StartsWith($"{path}:5: error: rule \"bad_label\": unknown label \"path\"", result.Errors[2]);
    }

    [Theory]
    [InlineData("q.Sum(\"reqests\", TimeSpan.FromMinutes(1))", "unknown metric \"reqests\"")]
    [InlineData("q.Distinct(\"path\", TimeSpan.FromMinutes(1))", "unknown label \"path\"")]
    [InlineData("q.TopK(1, \"bytes\", TimeSpan.FromMinutes(1), \"host\", \"status=~\\\"5..\").Count", "selector \"status=~\"5..\"")]
    [InlineData("q.Rate(\"requests\", TimeSpan.FromMilliseconds(1500))", "window 1s500ms is not")]
    // Groups of two labels divided: they share no key but by chance (the quotient was empty).
    [InlineData("(q.SumBy(\"requests\", TimeSpan.FromMinutes(1), \"host\") / q.SumBy(\"requests\", TimeSpan.FromMinutes(1), \"section\")).Count",
                "a / b: groups by host divided by groups by section; both must group by the same label")]
    // Two mistakes: the same one is named first at load time and at run time.
    [InlineData("q.SumBy(\"reqests\", TimeSpan.FromMilliseconds(500), \"path\")[\"/\"]", "window 500ms is not")]
    [InlineData("q.SumBy(\"reqests\", TimeSpan.FromMinutes(1), \"path\", \"x=\")[\"/\"]", "unknown metric \"reqests\"")]
    public void A_rejected_query_reads_the_same_at_load_time_and_at_run_time(string query, string start)
    {
        // Asked at once, the load-time call rejects it; asked only once there is traffic (the load-time
        // call sees none), the engine does, while the rules run.
        var path = Write("rejected.csx", $$"""
            Alert("at_load").When(q => {{query}}).Above(1);
            """);
        var deferred = Write("deferred.csx", $$"""
            Alert("at_run").When(q => q.Sum("requests", TimeSpan.FromSeconds(1)) > 0 ? {{query}} : 0).Above(1);
            """);
        using var host = Host();

        var atLoad = Assert.Single(host.Load([path]).Errors);
        var loaded = host.Load([deferred]);
        Assert.Empty(loaded.Errors);
        var failed = Assert.Single(Run(loaded.Rules, Records(Start, 5, _ => 1)).OfType<RuleFailedNotice>());

        Assert.StartsWith(start, failed.Message);
        Assert.Equal($"{path}:1: error: rule \"at_load\": {failed.Message}", atLoad);
    }

    [Fact]
    public void A_rule_file_that_throws_is_reported_at_the_line_that_threw()
    {
        var path = Write("throws.csx", """
            Alert("fine").When(q => 1).Above(0);
            throw new InvalidOperationException("boom");
            """);
        var nested = Write("nested.csx", """
            Alert("fine").When(q => 1).Above(0);
            Check(2);

            static void Check(int n)
            {
                if (n > 1) throw new ArgumentException("n is " + n);
            }
            """);

        // Thrown by the top-level code of a file it #loads: that file's line.
        var helper = Write("lib/throws.csx", """
            var ready = true;
            throw new InvalidOperationException("lib boom");
            """);
        var loads = Write("loads.csx", """
            #load "lib/throws.csx"
            Alert("fine").When(q => 1).Above(0);
            """);

        var result = Load(path);
        var inner = Load(nested);
        var loaded = Load(loads);

        Assert.Equal($"{path}:2: error: the rule file threw InvalidOperationException: boom", Assert.Single(result.Errors));
        Assert.Equal($"{nested}:6: error: the rule file threw ArgumentException: n is 2", Assert.Single(inner.Errors));
        Assert.Equal($"{helper}:2: error: the rule file threw InvalidOperationException: lib boom", Assert.Single(loaded.Errors));
    }

    [Fact]
    public void Probing_lists_the_windows_each_rule_asks_for()
    {
        var path = Write("probe.csx", ServerErrors + """

            Alert("share")
                .When(q =>
                {
                    var total = q.Sum("requests", TimeSpan.FromMinutes(2));
                    var top = q.TopK(1, "requests", TimeSpan.FromMinutes(2), "host");
                    var again = q.Sum("requests", TimeSpan.FromMinutes(2));
                    return top.Entries[0].Value / total; // throws on the empty probe: fine
                })
                .Above(0.5);
            Alert("hot").WhenEach(q => q.RateBy("requests", TimeSpan.FromSeconds(90), "section", "method!=\"GET\"")).Above(5).For(TimeSpan.FromSeconds(5400));
            Alert("hosts").When(q => q.Distinct("host", TimeSpan.FromHours(1))).Above(100);
            Alert("per_minute").When(q => q.Rate("requests", TimeSpan.FromMinutes(1)) * 60).Above(500);
            Alert("idle").When(q => 100 - q.Rate("requests", TimeSpan.FromMinutes(1))).Above(95);
            Alert("scaled").WhenEach(q => q.TopK(3, "requests", TimeSpan.FromMinutes(1), "host") / 60).Above(1);
            Alert("top").WhenEach(q => q.TopK(3, "requests", TimeSpan.FromMinutes(1), "host")).Above(1);
            Alert("nodata").When(q => { var r = q.Rate("requests", TimeSpan.FromMinutes(1)); return r == 0 ? 100 : r; }).Above(50);
            Alert("floor").When(q => Math.Max(q.Rate("requests", TimeSpan.FromMinutes(1)), 5)).Above(1);
            """);

        var result = Load(path);

        Assert.Empty(result.Errors);
        var d = result.Descriptions;
        Assert.Equal("Rate(requests, 1m, status_class=\"5xx\")", d[0].Expression);
        Assert.Equal("> 0.5, resolves < 0.2, for 30s", d[0].Condition);
        Assert.Equal(["Sum(requests, 2m)", "TopK(1, requests, 2m, host)"], d[1].Windows.Select(w => w.ToString()));
        Assert.Equal("f(Sum(requests, 2m), TopK(1, requests, 2m, host))", d[1].Expression);
        Assert.NotNull(d[1].ProbeError);
        // Durations as Prometheus writes them, and as an error about the same window or For says them:
        // "90s" and "for 90m" here once, where errors said "1m30s" and "1h30m".
        Assert.Equal("RateBy(requests, 1m30s, section, method!=\"GET\") > 5, for 1h30m, per section", d[2].ToString());
        Assert.Equal("Distinct(host, 1h) > 100", d[3].ToString());
        // A function of one query is not shown as the bare query: "Rate(requests, 1m) > 500" said a
        // condition the rule does not test.
        Assert.Equal("f(Rate(requests, 1m)) > 500", d[4].ToString());
        Assert.Equal("f(Rate(requests, 1m)) > 95", d[5].ToString());
        Assert.Equal("f(TopK(3, requests, 1m, host)) > 1, per host", d[6].ToString());
        Assert.Equal("TopK(3, requests, 1m, host) > 1, per host", d[7].ToString());
        // Equal to the query on the odd answer but not on 0 (no traffic): it said "Rate(...) > 50".
        Assert.Equal("f(Rate(requests, 1m)) > 50", d[8].ToString());
        Assert.Equal("f(Rate(requests, 1m)) > 1", d[9].ToString());
        Assert.Equal(TimeSpan.FromHours(1), Settings(result).Retention);
        Assert.Equal(new WindowUse("Rate", "requests", TimeSpan.FromMinutes(1), null, "status_class=\"5xx\""), d[0].Windows[0]);
    }

    [Fact]
    public void Records_are_kept_only_as_long_as_the_windows_that_select_or_group_need_them()
    {
        var path = Write("retention.csx", """
            Alert("traffic").When(q => q.Rate("requests", TimeSpan.FromHours(1)) + q.Sum("bytes", TimeSpan.FromHours(1), "")).Above(10);
            Alert("errors").When(q => q.Rate("requests", TimeSpan.FromMinutes(5), "status_class=\"5xx\"")).Above(1);
            Alert("hot").WhenEach(q => q.RateBy("requests", TimeSpan.FromMinutes(3), "section")).Above(5);
            Alert("odd").When(q =>
            {
                var all = q.Sum("requests", TimeSpan.FromMinutes(10));
                if (all == 0) throw new InvalidOperationException("no data yet");
                return q.Distinct("host", TimeSpan.FromMinutes(10));
            }).Above(1);
            """);

        var result = Load(path);

        Assert.Empty(result.Errors);
        var d = result.Descriptions;
        Assert.All(d.Take(3), r => Assert.True(r.Told.Complete));
        Assert.Equal(["1h", "1h"], d[0].Told.Windows.Select(w => Durations.Format(w.Width)));
        // The load-time call threw before asking everything: it may read windows it did not tell.
        Assert.NotNull(d[3].ProbeError);
        Assert.False(d[3].Told.Complete);
        var settings = Settings(result);
        Assert.Equal(TimeSpan.FromHours(1), settings.Retention);
        // Records only for the rule that could not tell, for its widest window; the others' windows
        // that select or group read the per-second tallies of their series.
        Assert.Equal(TimeSpan.FromMinutes(10), settings.RecordRetention);
        Assert.Equal(["|status_class=\"5xx\"", "section|"], settings.Series.Select(w => $"{w.Label}|{w.Selector}"));
        // Only the series of the rules that run are tallied.
        Assert.Equal(["section|"], Settings(result, "traffic", "hot").Series.Select(w => $"{w.Label}|{w.Selector}"));
        Assert.Equal(TimeSpan.Zero, Settings(Load(Write("told.csx", """
            Alert("hot").WhenEach(q => q.RateBy("requests", TimeSpan.FromMinutes(3), "section")).Above(5);
            """))).RecordRetention);
    }

    [Fact]
    public void Check_prints_one_line_per_rule_and_errors_on_stderr()
    {
        var good = Write("good.csx", ServerErrors + "\nAlert(\"hot\").WhenEach(q => q.RateBy(\"requests\", TimeSpan.FromMinutes(2), \"section\")).Above(5);");
        var bad = Write("bad.csx", "Alert(\"x\").When(q => q.Nope()).Above(1);");
        using var host = Host();

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, host.Check([Path.Combine(_dir, "goo?.csx")], stdout, stderr, expand: true));
        Assert.Equal(
            "server_errors  Rate(requests, 1m, status_class=\"5xx\") > 0.5, resolves < 0.2, for 30s\n"
            + "hot            RateBy(requests, 2m, section) > 5, per section\n",
            stdout.ToString().ReplaceLineEndings("\n"));
        Assert.Equal("", stderr.ToString());

        stdout = new StringWriter();
        Assert.Equal(2, host.Check([good, bad], stdout, stderr, expand: true));
        Assert.Equal("", stdout.ToString());
        Assert.StartsWith($"{bad}:1:", stderr.ToString());

        stderr = new StringWriter();
        Assert.Equal(2, host.Check([Path.Combine(_dir, "nope.csx")], stdout, stderr, expand: true));
        Assert.Equal($"logalert: {Path.Combine(_dir, "nope.csx")}: no such file\n", stderr.ToString().ReplaceLineEndings("\n"));
    }

    // A rule that threw on empty data was listed as `?` and nothing more, exit 0: one that throws on
    // every call passed check in silence. It is still no error (a rule may need data), but noted.
    [Fact]
    public void Check_notes_a_rule_whose_call_on_empty_data_threw()
    {
        var file = Write("throws.csx", "Alert(\"t\").When(q => q.Sum(\"requests\", TimeSpan.FromMinutes(1)) < 1 ? throw new Exception(\"nope\") : 1).Above(1);");
        using var host = Host();
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        Assert.Equal(0, host.Check([file], stdout, stderr, expand: true));

        Assert.Equal("t  f(Sum(requests, 1m)) > 1\n", stdout.ToString().ReplaceLineEndings("\n"));
        Assert.Equal($"{file}:1: note: rule \"t\": its call on empty data threw (Exception at {file}:1: nope): listed is what it read before that; on data, a throw switches the rule off\n",
            stderr.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Globs_expand_in_ordinal_order_and_explicit_order_is_kept()
    {
        foreach (var name in new[] { "rules/b.csx", "rules/a.csx", "rules/B.csx", "rules/notes.md", "rules/.hidden.csx", "rules/sub/c.csx", "rules/sub/deep/d.csx", "x.csx" })
            Write(name, "");
        var rules = Path.Combine(_dir, "rules");

        Assert.Equal(
            [$"{rules}/B.csx", $"{rules}/a.csx", $"{rules}/b.csx"],
            RuleHost.ExpandRuleArguments([$"{rules}/*.csx"]));
        Assert.Equal(
            [$"{_dir}/x.csx", $"{rules}/B.csx", $"{rules}/a.csx", $"{rules}/b.csx"],
            RuleHost.ExpandRuleArguments([$"{_dir}/x.csx", $"{rules}/*.csx", $"{rules}/a.csx"]));
        Assert.Equal(
            [$"{rules}/b.csx", $"{rules}/a.csx"],
            RuleHost.ExpandRuleArguments([$"{rules}/b.csx", $"{rules}/a.csx"]));
        Assert.Equal(
            [$"{rules}/B.csx", $"{rules}/a.csx", $"{rules}/b.csx", $"{rules}/sub/c.csx", $"{rules}/sub/deep/d.csx"],
            RuleHost.ExpandRuleArguments([$"{rules}/**/*.csx"]));
        Assert.Equal([$"{rules}/a.csx"], RuleHost.ExpandRuleArguments([$"{rules}/?.csx"]).Where(p => p.EndsWith("a.csx")));
        Assert.Equal([$"{rules}/sub/c.csx"], RuleHost.ExpandRuleArguments([$"{_dir}/*/sub/*.csx"]));

        var missing = Assert.Throws<UsageException>(() => RuleHost.ExpandRuleArguments([$"{rules}/a.csx", $"{rules}/nope.csx"]));
        Assert.Equal($"{rules}/nope.csx: no such file", missing.Message);
        var none = Assert.Throws<UsageException>(() => RuleHost.ExpandRuleArguments([$"{rules}/*.cs"]));
        Assert.Equal($"{rules}/*.cs: no file matches", none.Message);

        // A glob picks rule files only; a file named as it is is taken as named.
        Assert.Equal([$"{rules}/B.csx", $"{rules}/a.csx", $"{rules}/b.csx"], RuleHost.ExpandRuleArguments([$"{rules}/*"]));
        var other = Assert.Throws<UsageException>(() => RuleHost.ExpandRuleArguments([$"{rules}/*.md"]));
        Assert.Equal($"{rules}/*.md: no .csx file matches (1 other file does)", other.Message);
        Assert.Equal([$"{rules}/notes.md"], RuleHost.ExpandRuleArguments([$"{rules}/notes.md"]));
    }

    // "Every problem is printed, all of them": a glob that matched nothing hid the errors of the files found.
    [Fact]
    public void A_missing_rule_argument_and_the_errors_of_the_files_found_are_all_said()
    {
        var bad = Write("metric.csx", "Alert(\"m\").When(q => q.Sum(\"reqests\", TimeSpan.FromSeconds(1))).Above(1);");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = RuleHost.Check([bad, $"{_dir}/nomatch*.csx", $"{_dir}/nope.csx"], stdout, stderr);

        Assert.Equal(ExitCodes.Usage, code);
        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"logalert: {_dir}/nomatch*.csx: no file matches", lines[0]);
        Assert.Equal($"logalert: {_dir}/nope.csx: no such file", lines[1]);
        Assert.StartsWith($"{bad}:1: error: rule \"m\": unknown metric \"reqests\"", lines[2]);
        Assert.Equal(3, lines.Length);
        Assert.Equal("", stdout.ToString());
    }

    [Fact]
    public void Relative_globs_keep_the_spelling_of_the_pattern()
    {
        Write("rel2/one.csx", "");
        Write("rel2/two.csx", "");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(_dir, "rel2"));

        Assert.Equal([$"{relative}/one.csx", $"{relative}/two.csx"], RuleHost.ExpandRuleArguments([$"{relative}/*.csx"]));
    }

    [Fact]
    public void A_second_load_comes_from_the_cache_and_a_corrupt_entry_is_rebuilt()
    {
        var path = Write("cached.csx", ServerErrors);

        using (var cold = Host())
        {
            Assert.True(cold.Load([path]).Ok);
            Assert.Equal((0, 1), (cold.CacheHits, cold.Compilations));
        }
        var entry = Assert.Single(Entries());

        using (var warm = Host())
        {
            var result = warm.Load([path]);
            Assert.Empty(result.Errors);
            Assert.Equal((1, 0), (warm.CacheHits, warm.Compilations));
            Assert.Equal(0.2, Assert.Single(result.Rules).Recover);
        }

        File.WriteAllBytes(entry, [0x4D, 0x5A, 1, 2, 3]);
        using (var rebuilt = Host())
        {
            var result = rebuilt.Load([path]);
            Assert.Empty(result.Errors);
            Assert.Equal((0, 1), (rebuilt.CacheHits, rebuilt.Compilations));
            Assert.Equal("server_errors", Assert.Single(result.Rules).RuleName);
        }
        using (var again = Host())
        {
            Assert.True(again.Load([path]).Ok);
            Assert.Equal((1, 0), (again.CacheHits, again.Compilations));
        }

        // An edit is a new key; errors are never cached, so they are printed every time.
        File.WriteAllText(path, ServerErrors + "\nNope();");
        for (var i = 0; i < 2; i++)
        {
            using var host = Host();
            Assert.Contains(": error CS0103: ", Assert.Single(host.Load([path]).Errors));
            Assert.Equal(1, host.Compilations);
        }
        Assert.Single(Entries());
        Assert.Empty(Directory.GetFiles(CacheDir, "*.tmp"));
    }

    [Fact]
    public void An_edit_to_a_loaded_file_is_a_new_cache_entry()
    {
        var helper = Write("lib.csx", "static double Limit() => 1;");
        var main = Write("main.csx", """
            #load "lib.csx"
            Alert("x").When(q => 0).Above(Limit());
            """);

        using (var host = Host()) Assert.Equal(1, host.Load([main]).Rules[0].Threshold);
        File.WriteAllText(helper, "static double Limit() => 7;");
        using (var host = Host())
        {
            Assert.Equal(7, host.Load([main]).Rules[0].Threshold);
            Assert.Equal((0, 1), (host.CacheHits, host.Compilations));
        }
    }

    [Fact]
    public void Without_a_cache_folder_nothing_is_written()
    {
        var path = Write("nocache.csx", ServerErrors);
        using var host = new RuleHost(cacheDirectory: null);

        Assert.True(host.Load([path]).Ok);
        Assert.True(host.Load([path]).Ok);
        Assert.Equal(2, host.Compilations);
        Assert.False(Directory.Exists(CacheDir));
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n\t\n")]
    [InlineData("// not yet\n/* a rule will come here */\n")]
    [InlineData("var limit = 10;\n")]
    [InlineData("#load \"lib/nothing.csx\"\n")]
    public void A_rule_file_that_registers_no_rule_says_so(string text)
    {
        Write("lib/nothing.csx", "static int Ten() => 10;");
        var path = Write("none.csx", text);

        var result = Load(path);

        Assert.Equal(
            $"{path}: error: defines no rule (register one with Alert(\"name\").When(q => ...).Above(threshold))",
            Assert.Single(result.Errors));
    }

    [Fact]
    public void An_entry_copied_under_another_key_is_compiled_afresh_not_run()
    {
        var a = Write("a.csx", """Alert("from_a").When(q => 1).Above(0);""");
        var b = Write("b.csx", """Alert("from_b").When(q => 1).Above(0);""");
        Assert.True(Load(a).Ok);
        var entryOfA = Assert.Single(Entries());
        Assert.True(Load(b).Ok);
        var entryOfB = Assert.Single(Entries(), e => e != entryOfA);

        File.Copy(entryOfA, entryOfB, overwrite: true);
        using var host = Host();
        var result = host.Load([b]);

        Assert.Equal("from_b", Assert.Single(result.Rules).RuleName);
        Assert.Equal((0, 1), (host.CacheHits, host.Compilations));
        Assert.NotEqual(File.ReadAllBytes(entryOfA), File.ReadAllBytes(entryOfB)); // overwritten
    }

    [Fact]
    public void An_altered_entry_is_compiled_afresh_not_run()
    {
        var path = Write("altered.csx", """Alert("original").When(q => 1).Above(0);""");
        Assert.True(Load(path).Ok);
        var entry = Assert.Single(Entries());
        // The rule's name is a UTF-16 literal in the image: an edit there keeps a loadable assembly.
        var bytes = File.ReadAllBytes(entry);
        var name = System.Text.Encoding.Unicode.GetBytes("original");
        var at = bytes.AsSpan().IndexOf(name);
        Assert.True(at > 0);
        System.Text.Encoding.Unicode.GetBytes("tampered").CopyTo(bytes, at);
        File.WriteAllBytes(entry, bytes);

        using var host = Host();
        var result = host.Load([path]);

        Assert.Equal("original", Assert.Single(result.Rules).RuleName);
        Assert.Equal((0, 1), (host.CacheHits, host.Compilations));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public void The_cache_folder_is_made_for_its_owner_only()
    {
        Assert.True(Load(Write("modes.csx", ServerErrors)).Ok);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, Mode(CacheDir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Mode(Assert.Single(Entries())));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public void An_entry_others_can_write_is_not_loaded_and_is_replaced()
    {
        var path = Write("groupwritable.csx", ServerErrors);
        Assert.True(Load(path).Ok);
        var entry = Assert.Single(Entries());
        File.SetUnixFileMode(entry, Mode(entry) | UnixFileMode.GroupWrite);

        using (var host = Host())
        {
            Assert.True(host.Load([path]).Ok);
            Assert.Equal((0, 1), (host.CacheHits, host.Compilations));
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Mode(Assert.Single(Entries())));
        using (var again = Host())
        {
            Assert.True(again.Load([path]).Ok);
            Assert.Equal((1, 0), (again.CacheHits, again.Compilations));
        }
    }

    [Fact]
    public void An_entry_owned_by_another_user_is_not_loaded()
    {
        // Only root can give a file away; elsewhere this case cannot be set up.
        if (!Environment.IsPrivilegedProcess) return;
        var path = Write("foreign.csx", ServerErrors);
        Assert.True(Load(path).Ok);
        var entry = Assert.Single(Entries());
        using (var chown = System.Diagnostics.Process.Start("chown", ["65534", entry]))
        {
            chown.WaitForExit();
            Assert.Equal(0, chown.ExitCode);
        }

        using var host = Host();
        Assert.True(host.Load([path]).Ok);
        Assert.Equal((0, 1), (host.CacheHits, host.Compilations));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public void A_cache_folder_others_can_write_is_neither_read_nor_written()
    {
        var path = Write("open.csx", ServerErrors);
        var other = Write("other.csx", """Alert("other").When(q => 1).Above(0);""");
        Assert.True(Load(path).Ok);
        var before = Entries().Select(e => (e, File.GetLastWriteTimeUtc(e), File.ReadAllBytes(e).Length)).ToArray();
        File.SetUnixFileMode(CacheDir, (UnixFileMode)0x1FF); // 0777

        using var host = Host();
        var warnings = new StringWriter();
        host.Warnings = warnings;
        var result = host.Load([path, other]);

        Assert.True(result.Ok);
        Assert.Equal(["server_errors", "other"], result.Rules.Select(r => r.RuleName));
        Assert.Equal((0, 2), (host.CacheHits, host.Compilations));
        Assert.Null(host.CacheDirectory);
        Assert.Equal(before, Entries().Select(e => (e, File.GetLastWriteTimeUtc(e), File.ReadAllBytes(e).Length)).ToArray());
        Assert.Empty(Directory.GetFiles(CacheDir, "*.tmp"));
        Assert.Equal(
            $"logalert: warning: rule cache off: {CacheDir} is writable by its group and others (mode 0777), so another user could plant code in it; rules are compiled afresh (chmod go-w {CacheDir} to use it)\n",
            warnings.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public void A_symlinked_cache_folder_is_judged_by_the_folder_it_points_to()
    {
        var real = Directory.CreateDirectory(Path.Combine(_dir, "real-cache"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute).FullName;
        Directory.CreateSymbolicLink(CacheDir, real); // the link itself reads 0777
        var path = Write("linked.csx", ServerErrors);

        Assert.True(Load(path).Ok);
        using var host = Host();
        Assert.True(host.Load([path]).Ok);

        Assert.Equal((1, 0), (host.CacheHits, host.Compilations));
        Assert.Single(Directory.GetFiles(real, "*.rule"));
    }

    [Fact]
    public void Entries_unused_for_a_month_are_pruned_at_most_once_a_day()
    {
        var path = Write("pruned.csx", ServerErrors);
        Assert.True(Load(path).Ok); // makes the folder, the entry and the stamp
        var live = Assert.Single(Entries());
        var stamp = Path.Combine(CacheDir, "pruned");
        Assert.True(File.Exists(stamp));
        string Plant(string name, int daysAgo)
        {
            var file = Path.Combine(CacheDir, name);
            File.WriteAllBytes(file, [1, 2, 3]);
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddDays(-daysAgo));
            return file;
        }
        var key = new string('a', 32);
        var old = Plant(key + ".rule", 40);
        var legacy = Plant(new string('b', 32) + ".dll", 40); // the format before this one
        var recent = Plant(new string('c', 32) + ".rule", 20);
        var abandoned = Plant(key + ".rule.123.0123456789abcdef.tmp", 2);
        var writing = Plant(key + ".rule.456.0123456789abcdef.tmp", 0); // another process is writing it
        var foreign = Plant("notes.txt", 400);

        Assert.True(Load(path).Ok); // pruned less than a day ago: nothing happens
        Assert.True(File.Exists(old));

        File.SetLastWriteTimeUtc(stamp, DateTime.UtcNow.AddDays(-2));
        Assert.True(Load(path).Ok);

        Assert.False(File.Exists(old));
        Assert.False(File.Exists(legacy));
        Assert.False(File.Exists(abandoned));
        Assert.True(File.Exists(recent));
        Assert.True(File.Exists(writing));
        Assert.True(File.Exists(foreign));
        Assert.True(File.Exists(live));
        Assert.True(File.GetLastWriteTimeUtc(stamp) > DateTime.UtcNow.AddHours(-1));
    }

    [Fact]
    public void An_entry_in_use_is_marked_so_and_not_pruned()
    {
        var path = Write("used.csx", ServerErrors);
        Assert.True(Load(path).Ok);
        var entry = Assert.Single(Entries());
        File.SetLastWriteTimeUtc(entry, DateTime.UtcNow.AddDays(-40));
        File.SetLastWriteTimeUtc(Path.Combine(CacheDir, "pruned"), DateTime.UtcNow.AddDays(-2));

        using var host = Host();
        Assert.True(host.Load([path]).Ok);

        Assert.Equal((1, 0), (host.CacheHits, host.Compilations));
        Assert.True(File.Exists(entry));
        Assert.True(File.GetLastWriteTimeUtc(entry) > DateTime.UtcNow.AddHours(-1));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public void Beyond_the_entry_cap_the_least_recently_used_are_pruned()
    {
        Directory.CreateDirectory(CacheDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var now = DateTime.UtcNow;
        var planted = Enumerable.Range(0, 1005).Select(i =>
        {
            var file = Path.Combine(CacheDir, $"{i:x32}.rule");
            File.WriteAllBytes(file, [1]);
            File.SetLastWriteTimeUtc(file, now.AddMinutes(-i)); // higher i: used longer ago
            return file;
        }).ToArray();

        Assert.True(Load(Write("cap.csx", ServerErrors)).Ok); // one more entry: 1006

        Assert.Equal(1000, Entries().Length);
        Assert.All(planted[..999], f => Assert.True(File.Exists(f)));
        Assert.All(planted[999..], f => Assert.False(File.Exists(f)));
    }

    [Fact]
    public void Hash_load_through_a_symbolic_link_out_of_the_rule_folder_is_refused()
    {
        var outside = Write("elsewhere/evil.csx", """Alert("evil").When(q => 1).Above(0);""");
        Write("rules/lib/helpers.csx", """Alert("helper").When(q => 1).Above(0);""");
        File.CreateSymbolicLink(Path.Combine(_dir, "rules", "lib", "evil.csx"), outside);
        Directory.CreateSymbolicLink(Path.Combine(_dir, "rules", "shared"), Path.Combine(_dir, "elsewhere"));
        File.CreateSymbolicLink(Path.Combine(_dir, "rules", "alias.csx"), "lib/helpers.csx"); // stays inside
        var viaFile = Write("rules/a.csx", "#load \"lib/evil.csx\"\n");
        var viaFolder = Write("rules/b.csx", "#load \"shared/evil.csx\"\n");
        var inside = Write("rules/c.csx", "#load \"alias.csx\"\n");

        var refused = Load(viaFile);
        Assert.Empty(refused.Rules);
        Assert.Equal(
            $"{viaFile}:1:1: error: #load \"lib/evil.csx\": it leads through a symbolic link to {outside}; only files in the folder of the rule file (or below it) may be loaded",
            Assert.Single(refused.Errors));
        Assert.Equal(
            $"{viaFolder}:1:1: error: #load \"shared/evil.csx\": it leads through a symbolic link to {outside}; only files in the folder of the rule file (or below it) may be loaded",
            Assert.Single(Load(viaFolder).Errors));
        Assert.Equal("helper", Assert.Single(Load(inside).Rules).RuleName);
    }

    [Fact]
    public void A_runaway_rule_is_reported_by_name()
    {
        // Loops for 0.7s (longer than the timeout) only when evaluated on real data, not when probed.
        var path = Write("loop.csx", """
            Alert("spinner")
                .When(q =>
                {
                    var v = q.Sum("requests", TimeSpan.FromSeconds(10));
                    if (q.Now.Year > 2000)
                    {
                        var sw = System.Diagnostics.Stopwatch.StartNew();
                        while (sw.ElapsedMilliseconds < 700) { }
                    }
                    return v;
                })
                .Above(1000);
            """);
        AssertReportedOnce(path, "spinner");
    }

    [Fact]
    public void A_runaway_Select_function_is_reported_by_its_rule_name()
    {
        // The engine calls a WhenEach result's Select function after the rule returned the result
        // (only for the groups it looks at): the watchdog still names the rule. Loops for 0.7s
        // only on real data, not when probed.
        var path = Write("select.csx", """
            Alert("selecting")
                .WhenEach(q => q.SumBy("requests", TimeSpan.FromSeconds(10), "section").Select(v =>
                {
                    if (v > 0)
                    {
                        var sw = System.Diagnostics.Stopwatch.StartNew();
                        while (sw.ElapsedMilliseconds < 700) { }
                    }
                    return v;
                }))
                .Above(1000);
            """);
        var runningAfter = AssertReportedOnce(path, "selecting");
        Assert.Null(runningAfter); // nothing is left running once the result is read
    }

    // A rule holding on to all it allocates was reported as "stuck in a loop?" while its memory grew
    // by a gigabyte a second (QA); the report says how much. 1.5 GB at most, then it spins.
    [Fact]
    public void A_runaway_that_allocates_is_reported_with_what_it_allocated()
    {
        var path = Write("hog.csx", """
            Alert("hog")
                .When(q =>
                {
                    if (q.Now.Year < 2000) return q.Sum("requests", TimeSpan.FromSeconds(1)); // not when probed at load
                    var held = new List<byte[]>();
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    while (sw.ElapsedMilliseconds < 3000)
                        if (held.Count < 1500) held.Add(new byte[1 << 20]);
                    return held.Count;
                })
                .Above(1);
            """);
        var (report, _) = RunawayReport(path, TimeSpan.FromSeconds(1));

        Assert.Matches(@"^logalert: rule ""hog"" did not finish within 1s at \S+; memory in use grew by [01]\.\d GB meanwhile: is it holding on to all it builds\?\n$", report);
    }

    // What a loop allocates and drops (strings, LINQ) is no growth: such a rule still "loops".
    [Fact]
    public void A_runaway_that_allocates_only_garbage_is_asked_about_a_loop()
    {
        var path = Write("churn.csx", """
            Alert("churn")
                .When(q =>
                {
                    if (q.Now.Year < 2000) return q.Sum("requests", TimeSpan.FromSeconds(1)); // not when probed at load
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    var n = 0L;
                    while (sw.ElapsedMilliseconds < 2000) n += $"x{n}".Length;
                    return n;
                })
                .Above(1);
            """);
        var (report, _) = RunawayReport(path, TimeSpan.FromSeconds(1));

        Assert.EndsWith("; is it stuck in a loop?\n", report);
    }

    /// <summary>
    /// Loads <paramref name="path"/> with a 200 ms rule timeout, runs it over one record and checks
    /// that the watchdog reported <paramref name="rule"/> once, at that record's second (and not
    /// while the rule was probed at load time). Returns what the watchdog has running after the run.
    /// </summary>
    private string? AssertReportedOnce(string path, string rule)
    {
        var (report, running) = RunawayReport(path, TimeSpan.FromMilliseconds(200));
        Assert.Equal($"logalert: rule \"{rule}\" did not finish within 200ms at {LogTime.Iso(Start)}; is it stuck in a loop?\n", report);
        return running;
    }

    /// <summary>
    /// Loads <paramref name="path"/> with rule timeout <paramref name="timeout"/>, runs it over one
    /// record and checks that the watchdog reported once, then and not at load time. Returns its
    /// report and what it has running after the run.
    /// </summary>
    private (string Report, string? Running) RunawayReport(string path, TimeSpan timeout)
    {
        using var host = Host();
        var report = new StringWriter();
        var runaways = 0;
        host.RuleTimeout = timeout;
        host.Watchdog.Error = report;
        host.Watchdog.OnRunaway = () => Interlocked.Increment(ref runaways);

        var result = host.Load([path]);
        Assert.Empty(result.Errors);
        Assert.Equal(0, runaways);

        Run(result.Rules, Records(Start, 1, _ => 1));

        Assert.Equal(1, runaways);
        return (report.ToString().ReplaceLineEndings("\n"), host.Watchdog.Running);
    }

    [Fact]
    public void A_rule_that_throws_reaches_the_engine()
    {
        var path = Write("throwing.csx", """
            Alert("thrower").When(q => q.Now.Year > 2000 ? throw new InvalidOperationException("no") : 0).Above(1);
            """);
        using var host = Host();
        var result = host.Load([path]);

        var events = Run(result.Rules, Records(Start, 5, _ => 1));

        var failed = Assert.Single(events.OfType<RuleFailedNotice>());
        Assert.Equal("thrower", failed.Rule);
        Assert.Matches(@"^InvalidOperationException at \S*throwing\.csx:1: no$", failed.Message);
    }

    [Theory]
    [InlineData("var a = new int[1]; if (q.Now.Year > 2000) return a[5];", "IndexOutOfRangeException")]
    [InlineData("string s = q.Now.Year > 2000 ? null : \"x\"; if (s.Length > 0) return 2;", "NullReferenceException")]
    [InlineData("var d = new Dictionary<string, int>(); if (q.Now.Year > 2000) return d[\"x\"];", "KeyNotFoundException")]
    [InlineData("var zero = q.Now.Year - q.Now.Year; if (q.Now.Year > 2000) return 1 / zero;", "DivideByZeroException")]
    public void An_exception_the_runtime_raises_in_a_rule_names_the_line_it_was_raised_at(string statement, string type)
    {
        // Compiled optimised, a bounds check or a null reference was placed at the last line the
        // JIT kept a mapping for: the lambda's first line, or the line of the call before.
        var path = Write("raising.csx", $$"""
            // a comment
            Alert("raiser").When(q =>
            {
                var r = q.Rate("requests", TimeSpan.FromSeconds(30));
                {{statement}}
                return r;
            }).Above(100);
            """);
        using var host = Host();
        var result = host.Load([path]);

        var events = Run(result.Rules, Records(Start, 5, _ => 1));

        var failed = Assert.Single(events.OfType<RuleFailedNotice>());
        Assert.Matches($@"^{type} at \S*raising\.csx:5: ", failed.Message);
    }

    [Fact]
    public void An_exception_the_runtime_raises_in_top_level_code_names_its_line()
    {
        // It named no line at all: "raising.csx: error: the rule file threw IndexOutOfRangeException".
        var path = Write("top.csx", """
            // a comment
            var arr = new int[2];
            var n = 3;
            var x = arr[n];
            Alert("fine").When(q => 1).Above(0);
            """);

        var result = Load(path);

        Assert.Equal($"{path}:4: error: the rule file threw IndexOutOfRangeException: Index was outside the bounds of the array.", Assert.Single(result.Errors));
    }

    // The engine calls a WhenEach result's Select and Where functions after the rule returned:
    // what they throw is named and placed as the rule's own exceptions are.
    [Theory]
    [InlineData(".Select(v => v > 0 ? throw new InvalidOperationException(\"no\") : v)", "InvalidOperationException", ": no")]
    [InlineData(".Where((k, v) => v > 0 && ((string)null!).Length > 0)", "NullReferenceException", ": Object reference")]
    public void What_Select_and_Where_throw_is_named_with_its_line(string call, string type, string message)
    {
        var path = Write("grouped.csx", $$"""
            Alert("grouped")
                .WhenEach(q => q.RateBy("requests", TimeSpan.FromSeconds(10), "host")
                    {{call}})
                .Above(100);
            """);
        using var host = Host();
        var result = host.Load([path]);
        Assert.Empty(result.Errors);

        var failed = Assert.Single(Run(result.Rules, Records(Start, 5, _ => 1)).OfType<RuleFailedNotice>());

        Assert.Equal("grouped", failed.Rule);
        Assert.StartsWith($"{type} at ", failed.Message);
        Assert.Matches(@"^\w+ at \S*grouped\.csx:3" + message, failed.Message);
    }

    // Its alerts are kept by label value and named by the label: a rule that switched from status
    // to section resolved status "503" as {section="503"}, and printed {status} as it is.
    [Fact]
    public void A_WhenEach_rule_that_changes_its_label_fails_and_no_alert_is_mislabelled()
    {
        var path = Write("switch.csx", """
            Alert("switch")
                .WhenEach(q => q.Sum("requests", TimeSpan.FromSeconds(1)) > 2
                    ? q.SumBy("requests", TimeSpan.FromSeconds(1), "section")
                    : q.SumBy("requests", TimeSpan.FromSeconds(1), "status"))
                .Above(0.5)
                .Message("{status} {value}");
            """);
        using var host = Host();
        var result = host.Load([path]);
        Assert.Empty(result.Errors);

        var events = Run(result.Rules, Records(Start, 6, s => s < 3 ? 1 : 3));

        var failed = Assert.Single(events.OfType<RuleFailedNotice>());
        Assert.Equal(Start + 3, failed.Time);
        Assert.Equal("WhenEach returned groups by section, not by status as before: a rule's groups are of one label", failed.Message);
        Assert.All(Alerts(events), a => Assert.Equal("status", Assert.Single(a.Labels).Name));
        Assert.NotEmpty(Alerts(events));
    }

    // When the load-time call throws, it tells no label: the first result tells it, and the
    // message's placeholders are checked against it then.
    [Fact]
    public void A_WhenEach_rule_whose_label_shows_only_at_run_time_has_its_placeholders_checked_then()
    {
        var path = Write("late.csx", """
            Alert("late")
                .WhenEach(q => q.Sum("requests", TimeSpan.FromSeconds(1)) == 0
                    ? throw new InvalidOperationException("no traffic")
                    : q.SumBy("requests", TimeSpan.FromSeconds(1), "status"))
                .Above(0.5)
                .Message("{section} {value}");
            """);
        using var host = Host();
        var result = host.Load([path]);
        Assert.Empty(result.Errors);

        var events = Run(result.Rules, Records(Start, 3, _ => 1));

        Assert.Empty(Alerts(events));
        var failed = Assert.Single(events.OfType<RuleFailedNotice>());
        Assert.Equal("WhenEach returned groups by status, and message placeholder {section} is not one of {value}, {time}, {threshold}, {rule}, {since}, {label}, {status}", failed.Message);
    }

    // ---- The shipped rules ----

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LogAlertFunctional.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("LogAlertFunctional.sln not found above the test assembly");
    }

    private RuleLoadResult LoadShipped(string pattern)
    {
        using var host = Host();
        return host.Load(RuleHost.ExpandRuleArguments([Path.Combine(RepoRoot(), "rules", pattern)]));
    }

    [Fact]
    public void The_shipped_rules_all_compile()
    {
        var result = LoadShipped("*.csx");

        Assert.Empty(result.Errors);
        Assert.Equal(["dominant_host", "high_traffic", "hot_section", "server_errors"], result.Rules.Select(r => r.RuleName));
        Assert.All(result.Descriptions, d => Assert.NotEmpty(d.Windows));
        Assert.Equal("TopK(1, requests, 2m, host)", result.Descriptions[0].Windows[1].ToString());
        var settings = Settings(result);
        Assert.Equal(TimeSpan.FromMinutes(2), settings.Retention);
        Assert.Equal(TimeSpan.Zero, settings.RecordRetention); // every rule tells what it reads
        // high_traffic counts every request: the totals suffice, no series.
        Assert.Equal(["host|", "section|", "|status_class=\"5xx\""], settings.Series.Select(w => $"{w.Label}|{w.Selector}"));
    }

    [Fact]
    public void The_shipped_high_traffic_rule_behaves_exactly_like_the_built_in_one()
    {
        var script = Assert.Single(LoadShipped("high_traffic.csx").Rules);
        var builtIn = CoreRules.HighTraffic(10, TimeSpan.FromMinutes(2));
        // Quiet, a burst well above 10 req/s, a ramp hovering around the threshold, quiet again.
        var records = Records(Start, 1200, s => s switch
        {
            < 180 => 4 + s % 3,
            < 420 => 25,
            < 700 => 9 + (s / 7 % 4),
            _ => 2,
        });

        var fromScript = Alerts(Run([script], records));
        var fromBuiltIn = Alerts(Run([builtIn], records));

        Assert.Contains(fromBuiltIn, a => a.Transition == AlertTransition.Fired);
        Assert.Contains(fromBuiltIn, a => a.Transition == AlertTransition.Resolved);
        Assert.Equal(fromBuiltIn, fromScript);
        Assert.StartsWith("High traffic generated an alert - hits = ", fromScript[0].Message);
    }

    [Fact]
    public void The_shipped_per_group_rules_carry_their_label()
    {
        var result = LoadShipped("*.csx");
        // Everything on /api from one host at 12 req/s, then 0.5 req/s: a hot section and a dominant host, resolved.
        var records = Records(Start, 480, s => s < 300 ? 12 : s % 2, host: _ => "10.0.0.1");

        var alerts = Alerts(Run(result.Rules, records));

        var hot = alerts.First(a => a.Rule == "hot_section");
        Assert.Equal([new LabelPair("section", "/api")], hot.Labels);
        Assert.StartsWith("Section /api is hot - ", hot.Message);
        var dominant = alerts.First(a => a.Rule == "dominant_host");
        Assert.Equal([new LabelPair("host", "10.0.0.1")], dominant.Labels);
        Assert.StartsWith("Host 10.0.0.1 sends 100.00% of all requests over 2m", dominant.Message);
        Assert.Contains(alerts, a => a.Rule == "hot_section" && a.Transition == AlertTransition.Resolved);
        Assert.Contains(alerts, a => a.Rule == "dominant_host" && a.Transition == AlertTransition.Resolved);
    }

    // ---- Driving the core ----

    private static Record[] Records(long start, int seconds, Func<int, int> perSecond, Func<int, string>? host = null)
    {
        var sections = new[] { "/api/user", "/api/orders", "/report", "/" };
        var records = new List<Record>();
        var line = 1L;
        for (var s = 0; s < seconds; s++)
            for (var i = 0; i < perSecond(s); i++)
            {
                var n = records.Count;
                var created = RecordModule.create(
                    start + s, host?.Invoke(n) ?? $"10.0.0.{n % 7}", "-", $"GET {(host is null ? sections[n % sections.Length] : "/api/x")} HTTP/1.0",
                    n % 13 == 0 ? 503 : 200, 100 + n % 50, 0, line++);
                Assert.True(created.IsOk);
                records.Add(created.ResultValue);
            }
        return records.ToArray();
    }

    /// <summary>The engine settings of a run of <paramref name="result"/>'s rules (or only those named): the rules, and what every loaded one told.</summary>
    private static EngineSettings Settings(RuleLoadResult result, params string[] running)
    {
        var settings = new EngineSettings { Rules = result.Rules.Where(r => running.Length == 0 || running.Contains(r.RuleName)).ToList() };
        settings.Windows.AddRange(result.Told);
        return settings;
    }

    private static List<Notice> Run(IReadOnlyList<Rule> rules, Record[] records) =>
        TestLogs.Fold(new EngineSettings { Rules = rules, SummaryInterval = TimeSpan.Zero }, records);

    private static List<AlertNotice> Alerts(List<Notice> events) => events.OfType<AlertNotice>().ToList();
}
