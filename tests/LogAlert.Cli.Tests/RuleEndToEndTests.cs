using System.Runtime.Versioning;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>Rule scripts through the real CLI: globs as bash passes them, errors, check, the cache.</summary>
public sealed class RuleEndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-rules-").FullName;
    private readonly Dictionary<string, string> _env;

    public RuleEndToEndTests() => _env = new() { ["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache") };

    public void Dispose() => Directory.Delete(_dir, true);

    private const string Header = TestLogs.Header;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string Log() => Write("log.csv", Header + "\n" + string.Concat(Enumerable.Range(0, 300).SelectMany(s =>
        Enumerable.Range(0, s < 150 ? 14 : 2).Select(i =>
            $"\"10.0.0.{i % 3}\",\"-\",\"-\",{1549573860 + s},\"GET /api/x HTTP/1.0\",{(i % 4 == 0 ? 503 : 200)},100\n"))));

    private CliRunner.Result Run(params string[] args) => CliRunner.Run(args, env: _env);

    private static string Shipped(string name) => Path.Combine(CliRunner.RepoRoot, "rules", name);

    [Fact]
    public void The_unquoted_glob_as_bash_expands_it_equals_the_quoted_glob_and_replaces_the_built_in_rule()
    {
        var log = Log();
        var files = Directory.GetFiles(Path.Combine(CliRunner.RepoRoot, "rules"), "*.csx").Order(StringComparer.Ordinal).ToArray();
        var expanded = Run(new[] { "--format", "jsonl", "--rules" }.Concat(files).Append(log).ToArray());
        var quoted = Run("--format", "jsonl", "--rules", Path.Combine(CliRunner.RepoRoot, "rules", "*.csx"), log);
        Assert.Equal(0, expanded.ExitCode);
        Assert.Equal(expanded.Stdout, quoted.Stdout);
        var rules = expanded.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("type").GetString() == "alert")
            .Select(e => e.GetProperty("rule").GetString()).Distinct().Order().ToArray();
        Assert.Equal(new[] { "high_traffic", "hot_section", "server_errors" }, rules);
        Assert.Contains("\"labels\":{\"section\":\"/api\"}", expanded.Stdout);
    }

    // A rule that puts a label value into a selector: pasted in as it is, a user `x\y"z` made the
    // selector fail to load (the quote ends it); Selector.Quote escapes it as the selector reads it.
    [Fact]
    public void A_rule_quotes_a_label_value_into_a_selector_with_Selector_Quote()
    {
        var log = Write("users.csv", Header + "\n" + string.Concat(Enumerable.Range(0, 20).SelectMany(s => new[]
        {
            $"\"10.0.0.1\",\"-\",\"x\\y\"\"z\",{1549573860 + s},\"GET /a HTTP/1.0\",200,1\n",
            $"\"10.0.0.2\",\"-\",\"x\\y\",{1549573860 + s},\"GET /a HTTP/1.0\",200,1\n",
        })));
        var rule = Write("user.csx", """
            var user = "x\\y\"z";
            Alert("one_user")
                .When(q => q.Sum("requests", TimeSpan.FromSeconds(10), $"user={Selector.Quote(user)}"))
                .Above(9.5)
                .Message("{value}");
            """);
        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rule, log);
        Assert.Equal(0, r.ExitCode);
        var fired = Assert.Single(r.StdoutLines, l => l.StartsWith("{\"type\":\"alert\""));
        // 10 of that user's requests in (now-10s, now] first at the 10th second; the other user's are not counted.
        Assert.Contains($"\"state\":\"firing\",\"ts\":{1549573860 + 9},", fired);
        Assert.Contains("\"value\":10,", fired);
    }

    [Fact]
    public void The_high_traffic_script_prints_exactly_what_the_built_in_rule_prints()
    {
        var log = Log();
        Assert.Equal(Run(log).Stdout, Run("--rules", Shipped("high_traffic.csx"), log).Stdout);
    }

    [Fact]
    public void Only_and_disable_pick_script_rules()
    {
        var log = Log();
        var only = Run("--format", "jsonl", "--rules", Shipped("*.csx"), "--only", "server_errors", log);
        Assert.Contains("\"rule\":\"server_errors\"", only.Stdout);
        Assert.DoesNotContain("\"rule\":\"high_traffic\"", only.Stdout);
        Assert.DoesNotContain("\"summary\"", only.Stdout);
        var disabled = Run("--format", "jsonl", "--rules", Shipped("*.csx"), "--disable", "high_traffic", log);
        Assert.DoesNotContain("\"rule\":\"high_traffic\"", disabled.Stdout);
        Assert.Contains("\"summary\"", disabled.Stdout);
    }

    [Fact]
    public void Every_compile_error_is_reported_with_file_line_col_and_nothing_is_processed()
    {
        var broken = Write("broken.csx", "Alert(\"x\")\n    .When(q => q.Rate(\"requests\", 5))\n    .Above(\"ten\");\nundefinedThing();\n");
        var r = Run("--format", "jsonl", "--rules", broken, Log());
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        var errors = r.Stderr.Split('\n').Where(l => l.Contains(": error CS")).ToArray();
        Assert.True(errors.Length >= 3, r.Stderr);
        Assert.All(errors, e => Assert.Matches(@"broken\.csx:\d+:\d+: error CS\d{4}: .+", e));
        Assert.Contains(errors, e => e.Contains("broken.csx:4:1: error CS0103"));
        Assert.DoesNotContain("   at ", r.Stderr);

        var check = Run("check", broken);
        Assert.Equal(2, check.ExitCode);
        Assert.Contains("broken.csx:4:1: error CS0103", check.Stderr);
    }

    // The same log, named access.log: 20 compile errors and a count, where one line says what it is.
    [Fact]
    public void A_log_named_as_a_rule_file_is_said_to_be_a_log()
    {
        var log = Write("access.log", string.Concat(Enumerable.Range(0, 300).Select(i =>
            $"10.0.0.{i % 9} - - [07/Feb/2019:16:11:{i % 60:00} +0000] \"GET /api/user HTTP/1.1\" 200 1234\n")));

        var check = Run("check", log);
        var run = Run("--rules", log, Log());

        Assert.Equal((2, ""), (check.ExitCode, check.Stdout));
        Assert.Equal($"{log}: error: this is an access log (common), not a rule file (a C# script, .csx): "
                     + "name logs after the options, and rule files after --rules\n", check.Stderr);
        Assert.Equal((2, check.Stderr), (run.ExitCode, run.Stderr));
    }

    [Theory]
    [InlineData("notes.txt")]
    [InlineData("many.csx")]
    public void A_file_of_many_compile_errors_says_the_first_20_and_counts_the_rest(string name)
    {
        // A log named as a rule file made an error of nearly every token: 28,923 lines on stderr for a
        // 1,440-line nginx log. (A log not named .csx is said to be one: below.)
        var file = Write(name, string.Concat(Enumerable.Range(0, 300).Select(i =>
            $"10.0.0.{i % 9} - - [07/Feb/2019:16:11:{i % 60:00} +0000] \"GET /api/user HTTP/1.1\" 200 1234\n")).Replace(" [", " <"));

        var check = Run("check", file);

        Assert.Equal(2, check.ExitCode);
        var lines = check.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(21, lines.Length);
        Assert.All(lines[..20], l => Assert.StartsWith($"{file}:", l));
        Assert.All(lines[..20], l => Assert.Matches(@"^\S+:\d+:\d+: error CS\d{4}: ", l));
        var more = lines[20];
        Assert.StartsWith($"{file}: ", more);
        Assert.True(int.Parse(more[(file.Length + 2)..].Split(' ')[0]) > 300, more);
        Assert.Contains(" more errors not shown", more);
        if (name.EndsWith(".csx")) Assert.EndsWith("not shown", more);
        else Assert.EndsWith($"; a rule file is a C# script, and {file} is not named .csx", more);
    }

    [Fact]
    public void The_cap_on_compile_errors_is_per_file_and_names_a_loaded_file()
    {
        // One cap for the whole rule file: 20 errors of its own hid every error of a file it #loads,
        // and the count line named the rule file.
        var junk = Write("junk.txt", string.Concat(Enumerable.Range(0, 100).Select(i => $"10.0.0.{i} - - [07/Feb/2019:16:11:00 +0000]\n")));
        var main = Write("main.csx", "#load \"junk.txt\"\n" + string.Concat(Enumerable.Range(0, 30).Select(i => $"var x{i} = ;\n"))
                                     + "Alert(\"a\").When(q => 1).Above(0);\n");

        var check = Run("check", main);

        Assert.Equal(2, check.ExitCode);
        var lines = check.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(20, lines.Count(l => l.StartsWith($"{main}:") && l.Contains(": error CS")));
        Assert.Single(lines, l => l.StartsWith($"{main}: ") && l.EndsWith(" more errors not shown"));
        Assert.Equal(20, lines.Count(l => l.Contains("junk.txt:") && l.Contains(": error CS")));
        Assert.Single(lines, l => l.Contains("junk.txt: ") && l.EndsWith("junk.txt is not named .csx"));
    }

    [Fact]
    public void Hash_r_is_rejected_with_a_clear_message()
    {
        var r = Run("--rules", Write("ref.csx", "#r \"System.Net.Http\"\nAlert(\"x\").When(q => 1).Above(0);\n"), Log());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("ref.csx:1:1: error", r.Stderr);
        Assert.Contains("#r", r.Stderr);
    }

    [Fact]
    public void Check_lists_each_rule_with_its_condition_and_window()
    {
        var r = Run("check", Shipped("*.csx"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(r.StdoutLines, l => l.StartsWith("server_errors") && l.Contains("Rate(requests, 1m, status_class=\"5xx\") > 0.5, resolves < 0.2, for 30s"));
        Assert.Contains(r.StdoutLines, l => l.StartsWith("high_traffic") && l.Contains("Rate(requests, 2m) > 10"));
        Assert.Equal(4, r.StdoutLines.Length);
    }

    [Fact]
    public void A_rule_that_throws_is_reported_once_and_the_others_go_on()
    {
        var rules = Write("throws.csx", """
            Alert("boom").When(q => q.Sum("requests", TimeSpan.FromSeconds(10)) > 100 ? throw new InvalidOperationException("kaboom") : 0).Above(1);
            Alert("busy").When(q => q.Rate("requests", TimeSpan.FromSeconds(10))).Above(5);
            """);
        var r = Run("--format", "jsonl", "--rules", rules, Log());
        Assert.Equal(0, r.ExitCode);
        Assert.Single(r.Stderr.Split('\n'), l => l.Contains("rule \"boom\"") && l.Contains("kaboom"));
        Assert.Contains("\"rule\":\"busy\",\"state\":\"firing\"", r.Stdout);
        Assert.Contains("\"rule\":\"busy\",\"state\":\"resolved\"", r.Stdout);
    }

    // A rule that threw while its alert fired left the alert in the final report as any other,
    // with nothing to say its rule was switched off (a SPEC audit).
    [Fact]
    public void An_alert_whose_rule_failed_while_it_fired_is_marked_in_the_final_report()
    {
        var rules = Write("late_boom.csx", """
            Alert("late_boom").When(q => q.Rate("requests", TimeSpan.FromSeconds(10)) > 8 ? throw new InvalidOperationException("late") : q.Rate("requests", TimeSpan.FromSeconds(10))).Above(5);
            Alert("busy").When(q => q.Rate("requests", TimeSpan.FromSeconds(10))).Above(5);
            """);
        var json = Run("--format", "jsonl", "--rules", rules, Log());
        var text = Run("--rules", rules, Log());

        Assert.Equal(0, json.ExitCode);
        Assert.Contains("\"rule\":\"late_boom\",\"state\":\"firing\"", json.Stdout);
        Assert.DoesNotContain("\"rule\":\"late_boom\",\"state\":\"resolved\"", json.Stdout);
        var firing = JsonDocument.Parse(json.StdoutLines[^1]).RootElement.GetProperty("firing");
        var boom = Assert.Single(firing.EnumerateArray());
        Assert.Equal("late_boom", boom.GetProperty("rule").GetString());
        Assert.True(boom.GetProperty("rule_failed").GetBoolean());
        Assert.Contains(text.StdoutLines, l => l.StartsWith("-- still firing: late_boom since ") && l.EndsWith(" (its rule failed: not evaluated since)"));
    }

    [Theory]
    [InlineData("at load", "true")] // the q of the call made when the rules load
    [InlineData("on data", "q.Now.Year > 1970")] // the load-time call's Now is 1970-01-01: a q of a closed second
    public void A_rule_that_keeps_q_and_asks_it_in_a_later_call_is_switched_off_not_given_made_up_numbers(string kept, string keepIf)
    {
        // rules/README.md: keep no state between calls. A q kept past its call answered for another
        // second, or with the load-time call's made-up numbers (0, or 7.3125: "value = 8.31" fired on
        // a log of 1 request in 5 s), without a word.
        var rules = Write("keepq.csx", $$"""
            IQuery saved = null;
            Alert("keepq").When(q =>
            {
                var v = q.Sum("requests", TimeSpan.FromSeconds(5));
                if (saved != null) v += saved.Sum("requests", TimeSpan.FromSeconds(5));
                if ({{keepIf}}) saved = q;
                return v;
            }).Above(1000);
            Alert("busy").When(q => q.Rate("requests", TimeSpan.FromSeconds(10))).Above(5);
            """);
        var r = Run("--format", "jsonl", "--rules", rules, Log());

        Assert.Equal(0, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"q kept {kept}: {r.Stderr}");
        var line = lines[0];
        Assert.Matches("^logalert: rule \"keepq\" failed at [0-9T:Z-]+: this q was given to an earlier call: a query answers only during the call it is given to \\(keep no state between calls\\) \\(rule switched off; other rules go on\\)$", line);
        Assert.DoesNotContain("\"rule\":\"keepq\"", r.Stdout);
        Assert.Contains("\"rule\":\"busy\",\"state\":\"firing\"", r.Stdout); // the others go on
    }

    [Fact]
    public void A_rule_stuck_in_a_loop_is_named_and_the_process_exits()
    {
        var rules = Write("loop.csx", """
            Alert("spin").When(q => { var n = q.Sum("requests", TimeSpan.FromSeconds(10)); while (n > 100) { } return n; }).Above(1);
            """);
        var r = CliRunner.Run(["--rules", rules, "--rule-timeout", "1s", Log()], env: _env, timeoutMs: 30_000);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("\"spin\"", r.Stderr);
    }

    [Fact]
    public void A_second_run_with_unchanged_rules_uses_the_disk_cache()
    {
        var log = Log();
        var cache = Path.Combine(_dir, "cache", "logalert", "rules");
        var first = Run("--rules", Shipped("server_errors.csx"), log);
        var entries = Directory.GetFiles(cache);
        Assert.NotEmpty(entries);
        var stamps = entries.Select(File.GetLastWriteTimeUtc).ToArray();
        var second = Run("--rules", Shipped("server_errors.csx"), log);
        Assert.Equal(first.Stdout, second.Stdout);
        Assert.Equal(entries, Directory.GetFiles(cache));
        Assert.Equal(stamps, entries.Select(File.GetLastWriteTimeUtc).ToArray());
    }

    [Fact]
    public void A_regex_selector_over_a_path_chosen_to_make_backtracking_explode_finishes_promptly()
    {
        // Three requests a second for /aab, which the regex matches, and one for a path of 60 a's,
        // on which a backtracking engine tries about 1.6^60 ways to split the a's.
        var hostile = "/" + new string('a', 60);
        var log = Write("hostile.csv", Header + "\n" + string.Concat(Enumerable.Range(0, 60).SelectMany(s =>
            new[] { "/aab", "/aab", "/aab", hostile }.Select(path =>
                $"\"10.0.0.1\",\"-\",\"-\",{1549573860 + s},\"GET {path} HTTP/1.0\",200,100\n"))));
        var rules = Write("re.csx", """
            Alert("re").When(q => q.Rate("requests", TimeSpan.FromMinutes(1), "section=~\"/(a|aa)*b\"")).Above(1);
            """);

        var r = CliRunner.Run(["--format", "jsonl", "--summary-interval", "off", "--rules", rules, log], env: _env, timeoutMs: 30_000);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        // 3 a second over 60 s: above 1 once 21 seconds are in (63/60 = 1.05).
        var firing = JsonDocument.Parse(Assert.Single(r.StdoutLines, l => l.Contains("\"type\":\"alert\""))).RootElement;
        Assert.Equal("re", firing.GetProperty("rule").GetString());
        Assert.Equal("firing", firing.GetProperty("state").GetString());
        Assert.Equal(1549573860 + 20, firing.GetProperty("ts").GetInt64());
        Assert.Equal(1.05, firing.GetProperty("value").GetDouble());
    }

    [Fact]
    public void A_selector_regex_that_cannot_run_in_linear_time_is_a_load_error_for_check_and_run()
    {
        var rules = Write("backref.csx", """
            Alert("fine").When(q => q.Rate("requests", TimeSpan.FromMinutes(1))).Above(1);
            Alert("echo").When(q => q.Rate("requests", TimeSpan.FromMinutes(1), "section=~'/(a)\\\\1'")).Above(1);
            """);
        var expected = $"{rules}:2: error: rule \"echo\": regex \"/(a)\\1\": backreference (\\ number) cannot be matched in linear time; "
                       + "selector regexes follow Prometheus' RE2, which has no backreferences, lookarounds, atomic groups or conditionals";

        var run = Run("--format", "jsonl", "--rules", rules, Log());
        var check = Run("check", rules);

        foreach (var r in new[] { run, check })
        {
            Assert.Equal(2, r.ExitCode);
            Assert.Equal("", r.Stdout);
            Assert.Equal([expected], r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("// a rule will come here\n")]
    [InlineData("var threshold = 10;\n")]
    public void A_rule_file_that_defines_no_rule_is_an_error_for_check_and_run(string text)
    {
        var rules = Write("empty.csx", text);
        var expected = $"{rules}: error: defines no rule (register one with Alert(\"name\").When(q => ...).Above(threshold))";

        var run = Run("--rules", rules, Log());
        var check = Run("check", rules);

        foreach (var r in new[] { run, check })
        {
            Assert.Equal(2, r.ExitCode);
            Assert.Equal("", r.Stdout);
            Assert.Equal([expected], r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    [Fact]
    public void What_a_rule_prints_goes_to_stderr_under_its_name_and_never_into_the_events()
    {
        var rules = Write("chatty.csx", """
            Console.WriteLine("loading");
            Console.Write("unfinished ");
            Alert("chatty").When(q =>
            {
                var v = q.Rate("requests", TimeSpan.FromSeconds(10));
                Console.WriteLine("{\"type\":\"alert\",\"rule\":\"forged\",\"state\":\"firing\"}");
                Console.Write("x");
                Console.Error.Write("y");
                return v;
            }).Above(5);
            """);

        var r = Run("--format", "jsonl", "--rules", rules, Log());

        Assert.Equal(0, r.ExitCode);
        var events = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray(); // every line is JSON
        Assert.DoesNotContain("forged", r.Stdout);
        Assert.Contains(events, e => e.GetProperty("type").GetString() == "alert" && e.GetProperty("rule").GetString() == "chatty");
        Assert.Equal("stats", events[^1].GetProperty("type").GetString());
        var stderr = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"logalert: {rules}: loading", stderr[0]);
        Assert.Equal($"logalert: {rules}: unfinished ", stderr[1]);
        // Once at load time (the probe), then at each of the 300 seconds of the log.
        Assert.Equal(301, stderr.Count(l => l == "logalert: rule \"chatty\": {\"type\":\"alert\",\"rule\":\"forged\",\"state\":\"firing\"}"));
        Assert.Equal(301, stderr.Count(l => l == "logalert: rule \"chatty\": xy"));
        Assert.Equal(2 + 2 * 301, stderr.Length);

        var check = Run("check", rules);
        Assert.Equal(0, check.ExitCode);
        Assert.StartsWith("chatty  Rate(requests, 10s) > 5", Assert.Single(check.StdoutLines));
        Assert.Contains("logalert: rule \"chatty\": xy", check.Stderr);
    }

    [Fact]
    public void Values_that_round_to_zero_read_as_zero_in_jsonl_and_text()
    {
        // Rounded to 2 decimals, 0.004 was written "0.00" and an exact 0 "0"; -0.004 "-0.00" in text.
        var rules = Write("tiny.csx", """Alert("tiny").When(q => q.Sum("requests", TimeSpan.FromSeconds(1)) > 0 ? -0.004 : -5).Above(-1);""");
        var log = Log();

        var jsonl = Run("--format", "jsonl", "--summary-interval", "1h", "--rules", rules, log);
        var text = Run("--summary-interval", "off", "--rules", rules, log);

        Assert.Equal(0, jsonl.ExitCode);
        var fired = jsonl.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).First(e => e.GetProperty("type").GetString() == "alert");
        Assert.Equal("0", fired.GetProperty("value").GetRawText());
        var sparse = Write("sparse.csv", Header + "\n\"h\",\"-\",\"-\",1549573860,\"GET / HTTP/1.1\",200,1\n");
        var summary = JsonDocument.Parse(Run("--format", "jsonl", "--summary-interval", "1000s", sparse).StdoutLines[0]).RootElement;
        Assert.Equal("0", summary.GetProperty("rps").GetRawText()); // 1 request in 1000 s: was 0.00
        Assert.Contains("still firing: tiny since 2019-02-07T21:11:00Z, value 0.00", text.Stdout);
        Assert.DoesNotContain("-0.00", text.Stdout);
    }

    [Fact]
    public void A_value_that_is_not_finite_reads_as_Prometheus_writes_it_in_messages_and_text()
    {
        // Messages said "Infinity" and "-Infinity", and so did the still-firing line, where Alertmanager
        // is sent "+Inf" and Prometheus renders {{ $value }} so.
        var rules = Write("odd.csx", """
            Alert("inf").When(q => double.PositiveInfinity).Above(1)
                .Message("inf at {value}");
            Alert("neg").When(q => q.Now.ToUnixTimeSeconds() < 1549573960 ? 5 : double.NegativeInfinity).Above(1)
                .Message("neg at {value}").RecoveryMessage("neg over at {value}");
            Alert("huge").When(q => 1e300).Above(1).Message("huge at {value}");
            Alert("low").When(q => 2).Above(double.NegativeInfinity).Message("low {value} > {threshold}");
            """);
        var log = Log();

        var text = Run("--summary-interval", "off", "--rules", rules, log);
        var jsonl = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, log);

        Assert.Equal((0, 0), (text.ExitCode, jsonl.ExitCode));
        var messages = jsonl.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("type").GetString() == "alert").Select(e => e.GetProperty("message").GetString()).ToList();
        // Past a decimal's range, as the still-firing line writes it: it was 301 digits and ".00".
        // A threshold that is not finite read "-Infinity" in messages and in check's listing.
        Assert.Equal(["inf at +Inf", "neg at 5.00", "huge at 1E+300", "low 2.00 > -Inf", "neg over at -Inf"], messages);
        Assert.Contains(Run("check", rules).StdoutLines, l => l.StartsWith("low ") && l.EndsWith("constant > -Inf"));
        Assert.DoesNotContain("Infinity", text.Stdout);
        Assert.EndsWith(", value +Inf", text.StdoutLines.Single(l => l.StartsWith("-- still firing: inf since ")));
        Assert.EndsWith(", value 1E+300", text.StdoutLines.Single(l => l.StartsWith("-- still firing: huge since ")));
    }

    [Fact]
    public void A_Grouped_is_a_read_only_dictionary_a_rule_can_call_directly()
    {
        // rules/README.md calls it one: ContainsKey, TryGetValue, Keys and Values were reachable only
        // through a cast to IReadOnlyDictionary (CS1061 without it).
        var rules = Write("dict.csx", """
            Alert("dict").When(q =>
            {
                var g = q.SumBy("requests", TimeSpan.FromSeconds(10), "section");
                if (!g.ContainsKey("/api") || g.ContainsKey("/none") || !g.TryGetValue("/api", out var v)) return -1;
                return g.Keys.Single() == "/api" && g.Values.Single() == v ? v : -2;
            }).Above(100);
            """);

        var r = Run("--format", "jsonl", "--rules", rules, Log());

        Assert.True(r.ExitCode == 0, r.Stderr);
        var fired = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).First(e => e.GetProperty("type").GetString() == "alert");
        Assert.Equal(112, fired.GetProperty("value").GetDouble()); // first above 100: 8 s of 14 requests a second
    }

    [Fact]
    public void A_label_value_with_quotes_or_backslashes_is_escaped_in_text_as_Prometheus_does()
    {
        // Sections /a"b and /a\x1b (a backslash, then "x1b"): written as they stand, the first ended its
        // quotes early and the second read as the escape of an ESC byte.
        var log = Write("quotes.csv", Header + "\n" + string.Concat(Enumerable.Range(0, 30).Select(s =>
            $"\"10.0.0.1\",\"-\",\"-\",{1549573860 + s},\"GET /a\"\"b/x HTTP/1.0\",200,1\n" +
            $"\"10.0.0.1\",\"-\",\"-\",{1549573860 + s},\"GET /a\\x1b/y HTTP/1.0\",200,1\n")));
        var rules = Write("each.csx", """Alert("each").WhenEach(q => q.SumBy("requests", TimeSpan.FromSeconds(10), "section")).Above(5);""");

        var r = Run("--summary-interval", "off", "--rules", rules, log);

        Assert.Equal(0, r.ExitCode);
        var firing = r.StdoutLines.Where(l => l.Contains("FIRING")).ToArray();
        Assert.Equal(2, firing.Length);
        Assert.Contains(firing, l => l.Contains("each {section=\"/a\\\"b\"} "));
        Assert.Contains(firing, l => l.Contains("each {section=\"/a\\\\x1b\"} "));
    }

    [Fact]
    public void What_a_Where_function_prints_is_under_its_rule_name_though_the_engine_calls_it_later()
    {
        // The engine calls a WhenEach result's Where function after the rule returned the result,
        // for the groups it looks at: what it prints is still the rule's.
        var rules = Write("picky.csx", """
            Alert("picky").WhenEach(q => q.SumBy("requests", TimeSpan.FromSeconds(10), "section")
                .Where((section, v) => { Console.Write("kept "); Console.WriteLine(section); return true; })).Above(1e9);
            """);

        var r = Run("--format", "jsonl", "--rules", rules, Log());

        Assert.Equal(0, r.ExitCode);
        var stderr = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(stderr);
        Assert.All(stderr, l => Assert.Matches("^logalert: rule \"picky\": kept /", l));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public void A_cache_root_others_can_write_turns_the_cache_off_with_one_warning()
    {
        var log = Log();
        var root = Path.Combine(_dir, "cache");
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0x1FD); // 0775

        var first = Run("--format", "jsonl", "--rules", Shipped("server_errors.csx"), log);
        var second = Run("--format", "jsonl", "--rules", Shipped("server_errors.csx"), log);

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(first.Stdout, second.Stdout);
        Assert.Contains("\"rule\":\"server_errors\"", first.Stdout);
        Assert.Equal(
            [$"logalert: warning: rule cache off: {root} is writable by its group (mode 0775), so another user could plant code in it; rules are compiled afresh (chmod go-w {root} to use it)"],
            first.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(Directory.GetFileSystemEntries(root)); // nothing made below it
    }

    [Fact]
    public void Selectors_whose_values_hold_quotes_and_commas_do_not_share_a_tally()
    {
        // The second selector's section is the text /x",status="500: no record has it, so it reads 0
        // (it once read the first selector's tally, whose key it had).
        var rules = Write("quotes.csx", """"
            Alert("two").When(q => q.Sum("requests", TimeSpan.FromSeconds(10), """section="/x",status="500" """)).Above(0);
            Alert("one").When(q => q.Sum("requests", TimeSpan.FromSeconds(10), """section='/x",status="500'""")).Above(0);
            """");
        var log = Write("one.csv", Header + "\n\"h\",\"-\",\"-\",1549573860,\"GET /x HTTP/1.1\",500,5\n");

        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, log);

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("\"rule\":\"two\"", r.Stdout);
        Assert.DoesNotContain("\"rule\":\"one\"", r.Stdout);
    }

    // k below 1 answers no groups, as Prometheus' topk(0, ...) does: the rule's alerts resolve, and
    // fire again once k is 1 or more. (It failed the rule, which switched it off for good.)
    [Fact]
    public void A_TopK_whose_k_the_data_takes_below_1_answers_no_groups_and_its_alerts_resolve()
    {
        // Log(): 14 requests a second for 150 s, then 2. k = 0 while 100 or more requests are in the
        // window, 1 once they are fewer.
        var rules = Write("topk0.csx", """
            Alert("top").WhenEach(q => q.TopK(q.Sum("requests", TimeSpan.FromSeconds(10)) >= 100 ? 0 : 1, "requests", TimeSpan.FromSeconds(10), "host")).Above(1);
            """);

        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, Log());

        Assert.Equal((0, ""), (r.ExitCode, r.Stderr));
        var states = r.StdoutLines.Where(l => l.StartsWith("{\"type\":\"alert\"")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("state").GetString()).ToArray();
        // Fired in the first seconds (k = 1), resolved once k = 0, fired again once traffic falls.
        Assert.Equal(["firing", "resolved", "firing"], states.Take(3));
    }

    // QA's rule: k is a tenth of the hosts seen in the minute. The load-time call's queries answer 0,
    // so k was 0 there, and the rule was refused at load ("TopK(0, ...): k must be at least 1", exit 2).
    private const string TopDecile = """
        Alert("top_decile")
            .WhenEach(q =>
            {
                var w = TimeSpan.FromMinutes(1);
                var k = (int)Math.Ceiling(q.Distinct("host", w) * 0.1);
                return q.TopK(k, "requests", w, "host") / 60;
            })
            .Above(2).Message("{host} at {value} req/s");
        """;

    [Fact]
    public void A_TopK_whose_k_is_computed_from_the_data_loads_and_check_warns_of_its_k_below_1_at_load()
    {
        var rules = Write("top.csx", TopDecile);

        var check = Run("check", rules);

        Assert.Equal(0, check.ExitCode);
        Assert.Equal("top_decile  f(Distinct(host, 1m), TopK(0, requests, 1m, host)) > 2, per host\n", check.Stdout);
        Assert.Equal($"{rules}:1: warning: rule \"top_decile\": TopK(0, ...) on the load-time call's empty data: "
                     + "a k below 1 answers no groups (as Prometheus' topk does), so the rule fires for none while it is\n", check.Stderr);
    }

    [Fact]
    public void A_TopK_whose_k_is_computed_from_the_data_fires_on_generated_traffic()
    {
        var log = Path.Combine(_dir, "a.csv");
        Assert.Equal(0, Run("generate", "--rate", "8", "--burst", "3m:4m:40", "--duration", "15m", "--seed", "7", "-o", log).ExitCode);
        var rules = Write("top.csx", TopDecile);

        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, log);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        var first = JsonDocument.Parse(r.StdoutLines.First(l => l.Contains("\"type\":\"alert\""))).RootElement;
        Assert.Equal("firing", first.GetProperty("state").GetString());
        Assert.Equal("10.0.0.1", first.GetProperty("labels").GetProperty("host").GetString());
        Assert.Equal(DateTimeOffset.Parse("2019-02-07T21:13:37Z").ToUnixTimeSeconds(), first.GetProperty("ts").GetInt64());
        Assert.Equal(2.02, first.GetProperty("value").GetDouble());
    }

    [Fact]
    public void A_TopK_whose_k_falls_below_1_in_a_quiet_minute_fires_again_when_traffic_returns()
    {
        // 14 requests a second from 3 hosts for 100 s, nothing for 90 s, then 100 s more. The minute
        // is empty from second 159 (its last records, of second 99, leave it): k = 0 there.
        var log = Write("gap.csv", Header + "\n" + string.Concat(Enumerable.Range(0, 290).Where(s => s < 100 || s >= 190).SelectMany(s =>
            Enumerable.Range(0, 14).Select(i => $"\"10.0.0.{i % 3}\",\"-\",\"-\",{1549573860 + s},\"GET /api/x HTTP/1.0\",200,100\n"))));
        var rules = Write("top.csx", TopDecile + """

            Alert("busy").When(q => q.Sum("requests", TimeSpan.FromSeconds(10))).Above(100);
            """);

        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, log);

        Assert.Equal(0, r.ExitCode);
        var events = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("type").GetString() == "alert")
            .Select(e => (Rule: e.GetProperty("rule").GetString(), State: e.GetProperty("state").GetString(), Ts: e.GetProperty("ts").GetInt64() - 1549573860))
            .ToArray();
        // The top host (10.0.0.0, 5 a second, ahead of 10.0.0.1 by name) passes 120 in the minute at
        // second 24 and falls below it at 136; from 159 to 189 k = 0 (no groups), and the traffic
        // from 190 fires it again 24 s in, at 214, as "busy" fires again. (From 159 the rule was
        // switched off, for good.)
        Assert.Equal(new[] { ("top_decile", "firing", 24L), ("top_decile", "resolved", 136L), ("top_decile", "firing", 214L) },
            events.Where(e => e.Rule == "top_decile").Select(e => (e.Rule!, e.State!, e.Ts)).ToArray());
        Assert.Equal(new[] { ("busy", "firing", 7L), ("busy", "resolved", 102L), ("busy", "firing", 197L) },
            events.Where(e => e.Rule == "busy").Select(e => (e.Rule!, e.State!, e.Ts)).ToArray());
        Assert.Equal("", r.Stderr);
    }

    [Theory]
    [InlineData("true")]                // at load, when the host probes the rule
    [InlineData("q.Sum(\"requests\", TimeSpan.FromSeconds(10)) > 50")] // on a later second only
    public void Alert_called_from_a_rules_value_is_an_error_of_that_rule_not_a_crash(string when)
    {
        var rules = Write("nested.csx", $$"""
            Alert("outer").When(q => {
                if ({{when}}) Alert("inner").When(q2 => 1).Above(0);
                return q.Sum("requests", TimeSpan.FromSeconds(5));
            }).Above(0);
            """);

        var check = Run("check", rules);
        var run = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, Log());

        Assert.DoesNotContain("   at ", check.Stderr + run.Stderr);
        Assert.DoesNotContain("\"rule\":\"inner\"", run.Stdout);
        if (when == "true")
        {
            Assert.Equal(2, check.ExitCode);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("nested.csx:1", check.Stderr);
            Assert.Contains("Alert(...) called while a rule is evaluated", check.Stderr);
        }
        else
        {
            Assert.Equal(0, run.ExitCode);
            var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("logalert: rule \"outer\" failed at ", line);
            Assert.Contains("Alert(...) called while a rule is evaluated", line);
        }
    }

    [Fact]
    public void A_rules_exception_message_with_line_breaks_is_reported_on_one_line()
    {
        var atRun = Write("ml.csx", """
            Alert("ml").When(q => q.Sum("requests", TimeSpan.FromSeconds(1)) > 0 ? throw new FormatException("bad input\nat offset 3") : 0).Above(0);
            """);
        var atLoad = Write("ml_load.csx", """
            throw new Exception("line1\r\nline2");
            """);

        var run = Run("--summary-interval", "off", "--rules", atRun, Log());
        var load = Run("check", atLoad);

        Assert.Equal(0, run.ExitCode);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("bad input\\x0aat offset 3 (rule switched off", line);
        Assert.Equal(2, load.ExitCode);
        line = Assert.Single(load.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.EndsWith("line1\\x0d\\x0aline2", line);
    }

    [Fact]
    public void A_finite_value_too_large_for_a_decimal_is_written_as_a_number_not_null()
    {
        var rules = Write("big.csx", """
            Alert("big").When(q => q.Sum("bytes", TimeSpan.FromSeconds(1)) * 1e26).Above(0);
            """);

        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, Log());

        Assert.Equal(0, r.ExitCode);
        var fired = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).First(e => e.GetProperty("type").GetString() == "alert");
        Assert.Equal(JsonValueKind.Number, fired.GetProperty("value").ValueKind);
        Assert.Equal(1400 * 1e26, fired.GetProperty("value").GetDouble()); // 14 requests of 100 bytes in the first second
    }

    [Fact]
    public void Recursion_without_end_fails_its_rule_instead_of_overflowing_the_stack()
    {
        // A stack overflow cannot be caught: it ended the process with the runtime's dump of the
        // stack (exit 134) and no final report.
        Directory.CreateDirectory(Path.Combine(_dir, "lib"));
        Write(Path.Combine("lib", "down.csx"), "static int Down(int n) => n == 0 ? 0 : 1 + Down(n - 1);\n");
        var rules = Write("deep.csx", """
            #load "lib/down.csx"
            static int Depth(int n) { return n == 0 ? 0 : 1 + Depth(n - 1); }
            static int Fail(string m) => throw new InvalidOperationException(m); // once made the guarded file not compile
            Alert("method").When(q => Depth((int)q.Sum("requests", TimeSpan.FromSeconds(5)) * 1_000_000)).Above(0);
            Alert("loaded").When(q => Down((int)q.Sum("requests", TimeSpan.FromSeconds(5)) * 1_000_000)).Above(0);
            Alert("local").When(q => { int Go(int n) => n == 0 ? 0 : 1 + Go(n - 1); return Go((int)q.Sum("requests", TimeSpan.FromSeconds(5)) * 1_000_000); }).Above(0);
            Alert("fine").When(q => q.Sum("requests", TimeSpan.FromSeconds(5))).Above(0);
            """);
        var atLoad = Write("top.csx", "static int F(int n) => 1 + F(n + 1);\nF(0);\n"); // not a tail call: that loops

        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, Log());
        var load = Run("check", atLoad);

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("\"rule\":\"fine\",\"state\":\"firing\"", r.Stdout);
        Assert.Contains("\"type\":\"stats\"", r.StdoutLines[^1]);
        var failed = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, failed.Length);
        Assert.Contains(failed, l => l.StartsWith("logalert: rule \"method\" failed at ") && l.Contains("deep.csx:2: recursion too deep"));
        Assert.Contains(failed, l => l.StartsWith("logalert: rule \"loaded\" failed at ") && l.Contains("lib/down.csx:1: recursion too deep"));
        Assert.Contains(failed, l => l.StartsWith("logalert: rule \"local\" failed at ") && l.Contains("deep.csx:6: recursion too deep"));
        Assert.Equal(2, load.ExitCode);
        Assert.EndsWith("top.csx:1: error: the rule file threw InsufficientExecutionStackException: recursion too deep: the stack is nearly full",
            Assert.Single(load.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    // A rule that asked for request_time only past a guard (`if (n == 0) return 0;`) told nothing of
    // it at load time, so the reader left it out of every record: the mean latency read 0 and the
    // alert never fired, without a word.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_field_asked_for_only_in_a_branch_fails_the_rule_instead_of_reading_0(bool guarded)
    {
        var log = Write("rt.log", string.Concat(Enumerable.Range(0, 3).Select(i =>
            $"10.0.0.{i} - - [07/Feb/2019:16:11:0{i} +0000] \"GET /api/x HTTP/1.1\" 200 10 \"-\" \"curl\" 2.000\n")));
        var rules = Write("lat.csx", guarded
            ? """
              Alert("slow").When(q => { var w = TimeSpan.FromMinutes(1); var n = q.Sum("requests", w); if (n == 0) return 0; return q.Sum("request_time", w) / n; }).Above(0.5);
              """
            : """
              Alert("slow").When(q => { var w = TimeSpan.FromMinutes(1); var t = q.Sum("request_time", w); var n = q.Sum("requests", w); return n == 0 ? 0 : t / n; }).Above(0.5);
              """);

        var r = Run("--format", "jsonl", "--summary-interval", "off", "--rules", rules, "--log-format",
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time", log);

        Assert.Equal(0, r.ExitCode);
        if (guarded)
        {
            Assert.DoesNotContain("\"type\":\"alert\"", r.Stdout);
            Assert.StartsWith("logalert: rule \"slow\" failed at ", r.Stderr);
            Assert.Contains("request_time is not read from the log: no rule asked for it when the rules were loaded", r.Stderr);
        }
        else
        {
            Assert.Contains("\"rule\":\"slow\",\"state\":\"firing\"", r.Stdout);
            Assert.Contains("\"value\":2,", r.Stdout);
            Assert.Equal("", r.Stderr);
        }
    }
}
