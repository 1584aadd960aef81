using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>The real CLI on real files: what a user types, what they see, the exit code.</summary>
public sealed class EndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const string Header = TestLogs.Header;

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    private static string Line(long t, string path = "/api/user", int status = 200, string host = "10.0.0.1") =>
        $"\"{host}\",\"-\",\"apache\",{t},\"GET {path} HTTP/1.0\",{status},1234";

    /// <summary>n records per second for each second in [from, to).</summary>
    private static IEnumerable<string> Traffic(long from, long to, int perSecond, string path = "/api/user") =>
        Enumerable.Range(0, (int)(to - from)).SelectMany(i => Enumerable.Repeat(Line(from + i, path), perSecond));

    private static JsonElement[] Json(CliRunner.Result r) =>
        r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    [SharedLogFact]
    public void The_seed_log_fires_and_resolves_the_built_in_alert_twice()
    {
        var log = CliRunner.SharedLog()!;
        var r = CliRunner.Run("--format", "jsonl", log);
        Assert.Equal(0, r.ExitCode);
        var alerts = Json(r).Where(e => e.GetProperty("type").GetString() == "alert")
            .Select(e => $"{e.GetProperty("state").GetString()} {e.GetProperty("time").GetString()} {e.GetProperty("value").GetDouble():0.00}")
            .ToArray();
        Assert.Equal(new[]
        {
            "firing 2019-02-07T21:12:36Z 10.05",
            "resolved 2019-02-07T21:14:03Z 9.98",
            "firing 2019-02-07T21:16:03Z 10.15",
            "resolved 2019-02-07T21:18:22Z 9.96",
        }, alerts);
        var stats = Json(r).Last();
        Assert.Equal("stats", stats.GetProperty("type").GetString());
        Assert.Equal(4832, stats.GetProperty("lines").GetInt64());
        Assert.Equal(4829, stats.GetProperty("records").GetInt64());
        Assert.Equal(2, stats.GetProperty("bad").GetInt64());
        Assert.Contains("log.csv:3806:", r.Stderr);
        Assert.Contains("log.csv:3807:", r.Stderr);
    }

    [Fact]
    public void Output_is_byte_identical_across_runs_stdin_time_zones_and_locales()
    {
        var lines = new[] { Header }.Concat(Traffic(1549573860, 1549574100, 12)).Concat(Traffic(1549574100, 1549574300, 2)).ToArray();
        var file = Write("a.csv", lines);
        var first = CliRunner.Run("--format", "jsonl", file);
        var again = CliRunner.Run("--format", "jsonl", file);
        var stdin = CliRunner.Run(new[] { "--format", "jsonl", "-" }, string.Join("\n", lines) + "\n");
        var tokyo = CliRunner.Run(new[] { "--format", "jsonl", file }, env: new Dictionary<string, string> { ["TZ"] = "Asia/Tokyo", ["LANG"] = "de_DE.UTF-8", ["LC_ALL"] = "de_DE.UTF-8" });
        var text1 = CliRunner.Run(file);
        var text2 = CliRunner.Run(new[] { file }, env: new Dictionary<string, string> { ["TZ"] = "America/St_Johns", ["LC_ALL"] = "fr_FR.UTF-8" });
        Assert.Contains("\"state\":\"firing\"", first.Stdout);
        Assert.Equal(first.Stdout, again.Stdout);
        // The same but for the input's name in the report's "inputs".
        Assert.Equal(first.Stdout.Replace(JsonEncodedText.Encode(file).ToString(), "<stdin>"), stdin.Stdout);
        Assert.Equal(first.Stdout, tokyo.Stdout);
        Assert.Equal(text1.Stdout, text2.Stdout);
    }

    // An input with nothing but blank lines is no error: with a named format the report lists it
    // with that format (an empty one was left out, one of blank lines listed); auto finds none.
    [Theory]
    [InlineData("csv")]
    [InlineData("auto")]
    public void Inputs_with_nothing_to_read_are_listed_when_their_format_is_named(string format)
    {
        var empty = Write("empty.csv", []);
        var blank = Write("blank.csv", ["", "  "]);
        var log = Write("a.csv", new[] { Header }.Concat(Traffic(1000, 1002, 1)).ToArray());

        var r = CliRunner.Run("--format", "jsonl", "--input-format", format, empty, blank, log);

        Assert.Equal(0, r.ExitCode);
        var stats = JsonDocument.Parse(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        var inputs = stats.GetProperty("inputs").EnumerateArray().Select(i => (i.GetProperty("path").GetString(), i.GetProperty("format").GetString()));
        Assert.Equal(format == "csv" ? [(empty, "csv"), (blank, "csv"), (log, "csv")] : [(log, "csv")], inputs);
    }

    [Fact]
    public void Bad_lines_are_reported_with_line_and_reason_and_change_no_count()
    {
        var good = Write("good.csv", new[] { Header }.Concat(Traffic(1000, 1020, 3)).ToArray());
        var badLines = new List<string> { Header };
        badLines.AddRange(Traffic(1000, 1010, 3));
        badLines.Add("\"10.0.0.5\",\"-\",");                        // split record, first half
        badLines.Add("\"apache\",1549574191,\"GET /report HTTP/1.0\",200,1234"); // second half
        badLines.Add("\"10.0.0.1\",\"-\",\"apache\",1005,\"GET /x HTTP/1.0,200,12"); // unclosed quote
        badLines.Add("");                                             // blank: skipped silently
        badLines.Add("\"10.0.0.1\",\"-\",\"apache\",abc,\"GET /x HTTP/1.0\",200,12");
        badLines.Add("\"10.0.0.1\",\"-\",\"apache\",1005,\"GET /x HTTP/1.0\",700,12");
        badLines.Add("\"10.0.0.1\",\"-\",\"apache\",1005,\"GET\",200,12");
        badLines.AddRange(Traffic(1010, 1020, 3));
        var bad = Write("bad.csv", badLines.ToArray());

        var clean = CliRunner.Run("--format", "jsonl", good);
        var dirty = CliRunner.Run("--format", "jsonl", bad);
        Assert.Equal(0, dirty.ExitCode);
        var stats = Json(dirty).Last();
        Assert.Equal(6, stats.GetProperty("bad").GetInt64());
        Assert.Equal(60, stats.GetProperty("records").GetInt64());
        // Same records, same events (bar the stats line).
        Assert.Equal(clean.StdoutLines[..^1], dirty.StdoutLines[..^1]);
        foreach (var n in new[] { 32, 33, 34, 36, 37, 38 }) // header, then 30 good lines
            Assert.Contains($"bad.csv:{n}: ", dirty.Stderr);
        Assert.DoesNotContain("bad.csv:35:", dirty.Stderr); // the blank line
        Assert.DoesNotContain("   at ", dirty.Stderr);
    }

    [Fact]
    public void Bad_line_reports_are_rate_limited_after_twenty()
    {
        var lines = new List<string> { Header };
        for (var i = 0; i < 50; i++) lines.Add("garbage");
        lines.AddRange(Traffic(1000, 1003, 1));
        var r = CliRunner.Run("--format", "jsonl", Write("junk.csv", lines.ToArray()));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(20, r.Stderr.Split('\n').Count(l => l.Contains("junk.csv:")));
        Assert.Contains("30 more", r.Stderr);
        Assert.Equal(50, Json(r).Last().GetProperty("bad").GetInt64());
    }

    [Fact]
    public void A_skewed_timestamp_is_reported_and_does_not_move_the_clock()
    {
        var lines = new List<string> { Header };
        lines.AddRange(Traffic(1000, 1010, 2));
        lines.Add(Line(999_999_999));
        lines.AddRange(Traffic(1010, 1020, 2));
        var r = CliRunner.Run("--format", "jsonl", Write("skew.csv", lines.ToArray()));
        var stats = Json(r).Last();
        Assert.Equal(1, stats.GetProperty("skewed").GetInt64());
        Assert.Equal(40, stats.GetProperty("records").GetInt64());
        Assert.Contains("skew.csv:22:", r.Stderr);
        var summaries = Json(r).Where(e => e.GetProperty("type").GetString() == "summary").ToArray();
        Assert.Equal(1010, summaries.Last().GetProperty("start").GetInt64()); // the clock stayed in 1000s
    }

    [Fact]
    public void Several_files_read_in_order_equal_their_concatenation()
    {
        var a = Write("a.csv", new[] { Header }.Concat(Traffic(1000, 1030, 4)).ToArray());
        var b = Write("b.csv", new[] { Header }.Concat(Traffic(1030, 1060, 4)).ToArray());
        var both = Write("ab.csv", new[] { Header }.Concat(Traffic(1000, 1060, 4)).ToArray());
        var split = CliRunner.Run("--format", "jsonl", a, b);
        var whole = CliRunner.Run("--format", "jsonl", both);
        Assert.Equal(whole.StdoutLines[..^1], split.StdoutLines[..^1]);
    }

    // Two good common lines of five, the rest junk: "tie.log:1: no format logalert knows fits" quoted
    // the first good line, and did not say that the vote (more than half, §1) was why.
    [Fact]
    public void A_log_no_format_fits_most_lines_of_is_blamed_on_a_line_none_reads()
    {
        var good = "1.1.1.1 - - [01/Mar/2020:00:00:00 +0000] \"GET /a HTTP/1.1\" 200 10";
        var tie = Write("tie.log", good, good, "junk", "junk2", "junk3");

        var r = CliRunner.Run("--format", "jsonl", tie);

        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"logalert: {tie}:3: no format logalert knows fits \"junk\" (tried csv (line 1 is not the header", r.Stderr);
        Assert.Contains(", common (2 of 5 lines; line 3: ", r.Stderr);
    }

    [Fact]
    public void A_csv_file_without_a_header_after_one_with_it_goes_on_with_its_columns()
    {
        // A log split in parts (`split -l`): only the first part has the header, as `cat` would join them.
        var a = Write("p1.csv", new[] { Header }.Concat(Traffic(1000, 1030, 4)).ToArray());
        var b = Write("p2.csv", Traffic(1030, 1060, 4).ToArray());
        var both = Write("p12.csv", new[] { Header }.Concat(Traffic(1000, 1060, 4)).ToArray());
        var whole = CliRunner.Run("--format", "jsonl", both);
        foreach (var named in new[] { "auto", "csv" })
        {
            var split = CliRunner.Run("--format", "jsonl", "--input-format", named, a, b);
            Assert.Equal(0, split.ExitCode); // was 2: "p2.csv:1: no format logalert knows fits …"
            Assert.Equal(whole.StdoutLines[..^1], split.StdoutLines[..^1]);
            Assert.Contains($"{{\"path\":\"{b}\",\"format\":\"csv\"}}", split.StdoutLines[^1]);
        }
        // A file named by mistake, whose lines do not have the columns' number of fields, is still an error.
        var errors = Write("error.log", "[Thu Feb 07 16:11:00 2019] [error] [client 10.0.0.1] File does not exist: /var/www/a");
        var wrong = CliRunner.Run("--format", "jsonl", a, errors);
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains("error.log:1: no format logalert knows fits", wrong.Stderr);
        Assert.Contains("the 7 columns of the CSV input before it", wrong.Stderr);
        // Named as csv, it is no CSV either: it has no header, and its lines not the columns' fields.
        var namedWrong = CliRunner.Run("--format", "jsonl", "--input-format", "csv", a, errors);
        Assert.Equal(2, namedWrong.ExitCode);
        Assert.Contains("error.log:1: the header lacks columns", namedWrong.Stderr);
        // An input after a CSV one is still found as any input is: a combined log whose first line is
        // over the length cap has that line bad and the rest read as combined, not as CSV.
        var combinedLines = Enumerable.Range(0, 6).Select(i => $"10.0.0.1 - - [01/Jan/1970:00:{17 + i / 60:00}:{i % 60:00} +0000] \"GET /c HTTP/1.1\" 200 5 \"-\" \"x\"");
        var longFirst = Write("long.log", [$"10.0.0.1 - - [01/Jan/1970:00:17:00 +0000] \"GET /{new string('a', 2000)} HTTP/1.1\" 200 5 \"-\" \"x\"", .. combinedLines]);
        var afterCsv = CliRunner.Run("--format", "jsonl", "--max-line-length", "1k", a, longFirst);
        Assert.Equal(0, afterCsv.ExitCode);
        Assert.Contains($"{{\"path\":\"{longFirst}\",\"format\":\"combined\"}}", afterCsv.StdoutLines[^1]);
        Assert.Equal(1, JsonDocument.Parse(afterCsv.StdoutLines[^1]).RootElement.GetProperty("bad").GetInt32());
        // An input of blank lines has no format, after a CSV one too (§1), and the one after it goes on.
        var blank = Write("blank.csv", "", "");
        var withBlank = CliRunner.Run("--format", "jsonl", a, blank, b);
        Assert.Equal(whole.StdoutLines[..^1], withBlank.StdoutLines[..^1]);
        // Named as csv too: the blank input dropped the columns, and the next one was an error.
        var namedBlank = CliRunner.Run("--format", "jsonl", "--input-format", "csv", a, blank, b);
        Assert.Equal(0, namedBlank.ExitCode);
        Assert.Equal(whole.StdoutLines[..^1], namedBlank.StdoutLines[..^1]);
        Assert.DoesNotContain(blank, withBlank.StdoutLines[^1]);
        // After an input in another format, a headerless one is still an error: there are no columns to go on with.
        var combined = Write("c.log", "10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200 12 \"-\" \"curl\"");
        Assert.Equal(2, CliRunner.Run("--format", "jsonl", combined, b).ExitCode);
    }

    [Fact]
    public void Missing_file_is_an_io_error_with_exit_code_1_and_no_stack_trace()
    {
        var r = CliRunner.Run(Path.Combine(_dir, "nope.csv"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("nope.csv", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Theory]
    [InlineData("file")]
    [InlineData("stdin")]
    public void Input_without_the_header_is_not_in_the_format_exit_2_with_one_line(string how)
    {
        // Not an I/O failure: the bytes were read, they are not the format (docs/semantics.md §13: 2 is for the
        // user's mistakes; 1 is kept for files that cannot be read). After a CSV input, a headerless one goes
        // on with its columns (A_csv_file_without_a_header_after_one_with_it_goes_on_with_its_columns).
        var headerless = Write("headerless.csv", Line(1000), Line(1001));
        var r = how switch
        {
            "file" => CliRunner.Run("--format", "jsonl", headerless),
            _ => CliRunner.Run(["--format", "jsonl", "-"], stdin: Line(1000) + "\n"),
        };

        Assert.Equal(2, r.ExitCode);
        var name = how == "stdin" ? "<stdin>" : headerless;
        // Found from the first lines (auto): no format fits, and the message says what CSV lacks.
        var message = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"logalert: {name}:1: no format logalert knows fits \"{Line(1000).Replace("\"", "\"")}\"", message);
        Assert.Contains("csv (line 1 is not the header \"remotehost\"", message);

        // Named: the CSV reader says which columns the header lacks.
        var named = how switch
        {
            "file" => CliRunner.Run("--format", "jsonl", "--input-format", "csv", headerless),
            _ => CliRunner.Run(["--format", "jsonl", "--input-format", "csv", "-"], stdin: Line(1000) + "\n"),
        };
        Assert.Equal(2, named.ExitCode);
        Assert.Equal($"logalert: {name}:1: the header lacks columns \"remotehost\", \"authuser\", \"date\", \"request\", \"status\", \"bytes\"",
            Assert.Single(named.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Split(" (found ")[0]);
    }

    [Fact]
    public void A_line_over_max_line_length_is_one_bad_line_with_its_number_and_the_run_goes_on()
    {
        var file = Write("long.csv", Header, Line(1000), new string('x', 2000), Line(1001));

        var capped = CliRunner.Run("--format", "jsonl", "--max-line-length", "1k", file);
        var wide = CliRunner.Run("--format", "jsonl", file); // 64k: the line is bad for what it holds

        Assert.Equal(0, capped.ExitCode);
        Assert.Equal($"logalert: {file}:3: line longer than 1024 bytes (2000 bytes skipped)", capped.Stderr.Trim());
        Assert.Equal($"logalert: {file}:3: expected 7 fields, found 1", wide.Stderr.Trim());
        foreach (var r in new[] { capped, wide })
        {
            var stats = Json(r).Last();
            Assert.Equal((4L, 2L, 1L), (stats.GetProperty("lines").GetInt64(), stats.GetProperty("records").GetInt64(),
                stats.GetProperty("bad").GetInt64()));
        }
    }

    [Theory]
    [InlineData("65536", 65536)]
    [InlineData("64k", 65536)]
    [InlineData("64K", 65536)]
    [InlineData("1m", 1 << 20)]
    [InlineData(" 1g ", 1 << 30)]
    [InlineData("1", 1)]
    [InlineData("00000000000000000064k", 65536)]
    public void Sizes_are_bytes_or_binary_k_m_g(string text, int bytes) =>
        Assert.Equal(bytes, Sizes.Parse("--max-line-length", text, 1, 1 << 30));

    [Theory]
    [InlineData("0", "\"0\" is out of range (1 to 1g)")]
    [InlineData("=-1", "\"-1\" is not a size in bytes")]
    [InlineData("abc", "\"abc\" is not a size in bytes")]
    [InlineData("1.5k", "\"1.5k\" is not a size in bytes")]
    [InlineData("64kb", "\"64kb\" is not a size in bytes")]
    [InlineData("2g", "\"2g\" is out of range (1 to 1g)")]
    // Too many digits for the pattern was "is not a size in bytes": it is one, too large.
    [InlineData("99999999999999999999", "\"99999999999999999999\" is out of range (1 to 1g)")]
    [InlineData("9999999999g", "\"9999999999g\" is out of range (1 to 1g)")] // shifted past a long: wrapped negative
    [InlineData("8589934592g", "\"8589934592g\" is out of range (1 to 1g)")] // 2^33 g is 2^63: wrapped to long.MinValue
    [InlineData("٦٤k", "\"٦٤k\" is not a size in bytes")] // Arabic-Indic digits: an unhandled FormatException
    [InlineData("", "\"\" is not a size in bytes")]
    public void A_max_line_length_that_is_no_size_or_out_of_range_is_a_usage_error(string value, string message)
    {
        string[] option = value.StartsWith('=') ? ["--max-line-length" + value] : ["--max-line-length", value];

        var r = CliRunner.Run([.. option, "-"], stdin: "");

        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("logalert: --max-line-length: " + message, Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Theory]
    [InlineData("--format", "xml")]
    [InlineData("--lateness", "soon")]
    [InlineData("--no-such-option")]
    [InlineData("--only", "no_such_rule")]
    public void Usage_errors_exit_2_with_a_message_and_no_stack_trace(params string[] args)
    {
        var r = CliRunner.Run(args.Append("-"), stdin: "");
        Assert.Equal(2, r.ExitCode);
        Assert.False(string.IsNullOrWhiteSpace(r.Stderr));
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    // A slip of a command's name read as a log file: "chek: no such file", exit 1, after the rules compiled.
    [Theory]
    [InlineData("chek", "check")]
    [InlineData("tset", "test")]
    [InlineData("generat", "generate")]
    public void A_mistyped_command_is_a_usage_error_that_names_the_command(string typed, string meant)
    {
        var r = CliRunner.Run(typed, "rules/high_traffic.csx");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"logalert: \"{typed}\" is neither a command nor a file: did you mean 'logalert {meant}'?", r.Stderr.Trim());
        // A file of that name is a log, and a word far from every command a missing file.
        Assert.Equal("logalert: cheese: no such file", CliRunner.Run("cheese").Stderr.Trim());
    }

    [Theory]
    [InlineData("logalert: --threshold: \"abc\" is not a number", "--threshold", "abc", "-")]
    // Read by logalert, not the parser, which took an empty value for none and ran the default 10.
    [InlineData("logalert: --threshold: \"\" is not a number", "--threshold", "", "-")]
    [InlineData("logalert: --threshold: \"\" is not a number", "--threshold=", "-")]
    [InlineData("logalert: --threshold: \"1e400\" is not a finite number", "--threshold", "1e400", "-")]
    [InlineData("logalert: --window: \"0\" is shorter than 1s", "--window", "0", "-")]
    [InlineData("logalert: unknown option --no-such-option (see 'logalert --help')", "--no-such-option", "-")]
    [InlineData("logalert: unknown option -x (see 'logalert --help')", "-x", "-")]
    [InlineData("logalert: --threshold: needs a value (see 'logalert --help')", "-", "--threshold")]
    // Repeatable options given last without a value: a NullReferenceException's stack trace, exit 1.
    [InlineData("logalert: --rules: needs a value (see 'logalert --help')", "-", "--rules")]
    [InlineData("logalert: --webhook-header: needs a value (see 'logalert --help')", "-", "--webhook-header")]
    [InlineData("logalert: --webhook: needs a value (see 'logalert --help')", "-", "--webhook")]
    [InlineData("logalert: --alertmanager: needs a value (see 'logalert --help')", "-", "--alertmanager")]
    [InlineData("logalert: --disable: needs a value (see 'logalert --help')", "-", "--disable")]
    [InlineData("logalert: --only: needs a value (see 'logalert --help')", "-", "--only")]
    [InlineData("logalert: --burst: needs a value (see 'logalert generate --help')", "generate", "--burst")]
    [InlineData("logalert: --rules: needs a value (see 'logalert test --help')", "test", "--rules")]
    // Not a number at all: Int32's range named numbers the option itself refuses (--hosts -5); an
    // option's own range is said.
    [InlineData("logalert: --seed: \"1.5\" is not a whole number", "generate", "--seed", "1.5")]
    [InlineData("logalert: --hosts: \"x\" is not a whole number from 1 to 16646144", "generate", "--hosts", "x")]
    [InlineData("logalert: --seed: \"99999999999\" is not a whole number from -2147483648 to 2147483647", "generate", "--seed", "99999999999")]
    // Nullable options: Cocona names their type Nullable`1, which read "is not a number".
    // Too large for Int32, an option that takes fewer numbers says its own range, not Int32's.
    [InlineData("logalert: --cases: \"99999999999\" is not a whole number from 1 to 2147483647", "check", "--cases", "99999999999", "rules/high_traffic.csx")]
    [InlineData("logalert: --cases: \"-99999999999\" is not a whole number from 1 to 2147483647", "check", "--cases", "-99999999999", "rules/high_traffic.csx")]
    [InlineData("logalert: --hosts: \"99999999999\" is not a whole number from 1 to 16646144", "generate", "--hosts", "99999999999")]
    [InlineData("logalert: --paths: \"99999999999\" is not a whole number from 1 to 16777216", "generate", "--paths", "99999999999")]
    [InlineData("logalert: --start: \"99999999999999999999\" is not a whole number from 0 to 253402300799", "generate", "--start", "99999999999999999999")]
    [InlineData("logalert: --seed: \"-1\" is not a whole number from 0 to 18446744073709551615", "check", "--seed", "-1", "rules/high_traffic.csx")]
    [InlineData("logalert: --disable: no rule named \"nosuch\" (rules: high_traffic, summary)", "--disable", "nosuch", "-")]
    [InlineData("logalert: --only: no rule named \"nosuch\" (rules: high_traffic, summary)", "--only", "nosuch", "-")]
    [InlineData("logalert: a rule file argument is empty ('')", "--rules", "", "-")]
    [InlineData("logalert: a rule file argument is empty ('')", "check", "")]
    // Cocona's own words ("Argument 'rules' is required. See '--help' for usage."), unlike every other usage error.
    [InlineData("logalert: check: needs rule files (.csx) (see 'logalert check --help')", "check")]
    [InlineData("logalert: unknown option --nope (see 'logalert check --help')", "check", "--nope", "rules/high_traffic.csx")]
    [InlineData("logalert: --seed: needs a value (see 'logalert generate --help')", "generate", "--seed")]
    // generate takes no file: one given was ignored, and the log went to stdout.
    [InlineData("logalert: generate takes no argument, but was given \"out.csv\": to write the log to a file, -o out.csv", "generate", "out.csv")]
    public void Option_errors_the_parser_finds_read_as_every_other_usage_error(string expected, params string[] args) =>
        AssertUsageError(expected, args);

    /// <summary>A usage error: exit 2, exactly <paramref name="expected"/> on stderr, nothing on stdout.</summary>
    private static void AssertUsageError(string expected, string[] args)
    {
        var r = CliRunner.Run(args, stdin: "");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(expected, Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal("", r.Stdout);
    }

    [Theory]
    [InlineData("logalert: --hosts: 0 is not from 1 to 16646144", "--hosts", "0")]
    [InlineData("logalert: --paths: 0 is not from 1 to 16777216", "--paths", "0")]
    [InlineData("logalert: --rate: -5 is not a number from 0 to 1e8", "--rate", "-5")]
    [InlineData("logalert: --burst: the rate 1000000000 is not a number from 0 to 1e8", "--burst", "1m:1m:1e9")]
    [InlineData("logalert: --start: the log's seconds -100 to 499 are not all from 0 to 253402300799 (years 1970 to 9999)", "--start", "-100")]
    [InlineData("logalert: --start: the log's seconds 253402300200 to 253402300800 are not all from 0 to 253402300799 (years 1970 to 9999)", "--start", "253402300200", "--duration", "601s")]
    // A format the run refuses: the log generate wrote in it could not be read back.
    [InlineData("logalert: --log-format: the format has no directives (%h, %>s, ...)", "--log-format", "nothing")]
    public void Generate_values_out_of_range_are_usage_errors_before_a_line_is_written(string expected, params string[] args) =>
        AssertUsageError(expected, ["generate", .. args]);

    [Fact]
    public void Generate_names_an_output_it_cannot_create_with_the_option()
    {
        var dir = Directory.CreateTempSubdirectory("logalert-gen-").FullName;
        try
        {
            var missing = Path.Combine(dir, "no", "x.csv");
            var inMissing = CliRunner.Run("generate", "--duration", "1s", "--output", missing);
            var folder = CliRunner.Run("generate", "--duration", "1s", "--output", dir);

            Assert.Equal((1, $"logalert: --output {missing}: no such folder: {Path.Combine(dir, "no")}"), (inMissing.ExitCode, inMissing.Stderr.Trim()));
            Assert.Equal((1, $"logalert: --output {dir}: is a folder"), (folder.ExitCode, folder.Stderr.Trim()));
            // "-" is stdout, as everywhere else (it made a file named "-"); a full disk is said as the others.
            var dash = CliRunner.Run("generate", "--duration", "2s", "-o", "-");
            Assert.Equal((0, CliRunner.Run("generate", "--duration", "2s").Stdout), (dash.ExitCode, dash.Stdout));
            Assert.False(File.Exists(Path.Combine(CliRunner.RepoRoot, "-")));
            if (File.Exists("/dev/full"))
            {
                var full = CliRunner.Run("generate", "--duration", "1s", "-o", "/dev/full");
                Assert.Equal((1, "logalert: --output /dev/full: No space left on device"), (full.ExitCode, full.Stderr.Trim()));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData("--threshold is", "--threshold", "5")]
    [InlineData("--window is", "--window", "1m")]
    [InlineData("--threshold and --window are", "--threshold", "5", "--window", "1m")]
    public void Built_in_rule_options_with_rule_files_are_said_to_be_ignored(string what, params string[] args)
    {
        var rule = Path.Combine(CliRunner.RepoRoot, "rules", "high_traffic.csx");
        var log = Path.Combine(CliRunner.RepoRoot, "samples", "access.csv");
        var plain = CliRunner.Run(["--format", "jsonl", "--rules", rule, log]);

        var r = CliRunner.Run([.. args, "--format", "jsonl", "--rules", rule, log]);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal($"logalert: {what} for the built-in rule, which does not run with rule files; ignored", r.Stderr.Trim());
        Assert.Equal(plain.Stdout, r.Stdout);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("check", "--help")]
    [InlineData("test", "--help")]
    [InlineData("generate", "--help")]
    public void Help_is_printed_on_stdout_and_exits_0(params string[] args)
    {
        var r = CliRunner.Run(args, stdin: "");

        Assert.Equal(0, r.ExitCode);
        // The usage line as typed: a subcommand's was "Usage: logalert [...]" (or "dotnet"), and a
        // line copied from it ran the main command.
        Assert.StartsWith(args[0].StartsWith('-') ? "Usage: logalert [--rules " : $"Usage: logalert {args[0]} [--", r.Stdout);
        Assert.DoesNotContain("rest0", r.Stdout); // generate's hidden argument, in the usage line
        Assert.DoesNotContain(": rest", r.Stdout); // and under Arguments
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void Summary_interval_off_only_and_disable_switch_output()
    {
        var file = Write("t.csv", new[] { Header }.Concat(Traffic(1000, 1200, 12)).ToArray());
        var off = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", file);
        Assert.DoesNotContain("\"summary\"", off.Stdout);
        Assert.Equal(off.Stdout, CliRunner.Run("--format", "jsonl", "--summary-interval", "OFF", file).Stdout); // was "not a duration"
        Assert.Equal(off.Stdout, CliRunner.Run("--format", "jsonl", "--summary-interval", " off ", file).Stdout); // trimmed, as durations are
        Assert.Contains("\"alert\"", off.Stdout);
        var onlySummary = CliRunner.Run("--format", "jsonl", "--only", "summary", file);
        Assert.DoesNotContain("\"alert\"", onlySummary.Stdout);
        Assert.Contains("\"summary\"", onlySummary.Stdout);
        var disabled = CliRunner.Run("--format", "jsonl", "--disable", "high_traffic", file);
        Assert.DoesNotContain("\"alert\"", disabled.Stdout);
        var thirty = CliRunner.Run("--format", "jsonl", "--summary-interval", "30s", file);
        var starts = Json(thirty).Where(e => e.GetProperty("type").GetString() == "summary")
            .Select(e => e.GetProperty("start").GetInt64()).ToArray();
        Assert.All(starts, s => Assert.Equal(0, s % 30));
    }

    // "none" was told it is not a duration, as if summaries could not be turned off; a duration too
    // long is told only that.
    [Theory]
    [InlineData("none", "--summary-interval: \"none\" is not a duration (examples: 30s, 2m, 1h30m), nor off")]
    [InlineData("99999y", "--summary-interval: \"99999y\" is longer than the longest duration, 10000y")]
    public void A_summary_interval_that_is_no_duration_names_off(string value, string message)
    {
        var r = CliRunner.Run(["--summary-interval", value, "-"], stdin: "");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"logalert: {message}\n", r.Stderr);
    }

    // The text report counts in words that agree with their number: "1 lines" read wrong.
    [Fact]
    public void The_text_report_says_1_line_and_1_record()
    {
        var one = CliRunner.Run(["-"], stdin: Header + "\n");
        Assert.Contains("-- end of input: 1 line, 0 records, 0 bad", one.Stdout);
        var two = CliRunner.Run(["-"], stdin: string.Join("\n", new[] { Header }.Concat(Traffic(1000, 1001, 1))) + "\n");
        Assert.Contains("-- end of input: 2 lines, 1 record, 0 bad", two.Stdout);
    }

    [Fact]
    public void A_text_summary_of_a_day_or_more_has_dates_and_sizes_round_into_the_next_unit()
    {
        // 2019-02-07T00:00:00Z and the day after, 1,048,575 bytes in all.
        var file = Write("d.csv", Header, "\"h\",\"-\",\"-\",1549497600,\"GET /a HTTP/1.1\",200,1048574",
            "\"h\",\"-\",\"-\",1549584000,\"GET /a HTTP/1.1\",200,1");
        var r = CliRunner.Run("--summary-interval", "1d", "--max-skew", "1d", file);

        var summaries = r.StdoutLines.Where(l => l.Contains(" summary ")).ToArray();
        // Before, "00:00:00–00:00:00": an interval's start and end a day apart are the same time of day.
        Assert.Contains("  2019-02-07T00:00:00Z–2019-02-08T00:00:00Z  1 req ", summaries[0]);
        Assert.Contains(" | 1.0 MB | ", summaries[0]); // 1,048,574 bytes, 1023.998 KB: was "1024.0 KB"
        // The final, partial day (one second of it here) has its dates too: it read "00:00:00–00:00:01".
        Assert.Contains("  2019-02-08T00:00:00Z–2019-02-08T00:00:01Z  1 req ", summaries[1]);
        Assert.Contains("(partial)", summaries[1]);
        // Shorter intervals keep the times of day.
        Assert.Contains("  00:00:00–00:00:10  1 req ", CliRunner.Run("--max-skew", "1d", file).StdoutLines[0]);

        // Unless one crosses midnight: 23h intervals from the epoch, the first record at 2020-03-01
        // 00:01:00 (the interval 2020-02-29T10:00:00Z–2020-03-01T09:00:00Z), read "10:00:00–00:01:41".
        var crossing = Write("x.csv", Header, "\"h\",\"-\",\"-\",1583020860,\"GET /a HTTP/1.1\",200,1",
            "\"h\",\"-\",\"-\",1583020900,\"GET /a HTTP/1.1\",200,1");
        var x = CliRunner.Run("--summary-interval", "23h", crossing).StdoutLines.Where(l => l.Contains(" summary ")).ToArray();
        Assert.Contains("  2020-02-29T10:00:00Z–2020-03-01T00:01:41Z  2 req ", Assert.Single(x));
        // An interval that ends at midnight does not cross it: 23:59:50–00:00:00.
        var midnight = Write("m.csv", Header, "\"h\",\"-\",\"-\",1583020795,\"GET /a HTTP/1.1\",200,1",
            "\"h\",\"-\",\"-\",1583020805,\"GET /a HTTP/1.1\",200,1");
        Assert.Contains("  23:59:50–00:00:00  1 req ", CliRunner.Run(midnight).StdoutLines[0]);
    }

    [Fact]
    public void Threshold_and_window_options_drive_the_built_in_rule_and_fail_on_alert_exits_3()
    {
        var file = Write("t.csv", new[] { Header }.Concat(Traffic(1000, 1100, 3)).ToArray());
        var quiet = CliRunner.Run("--format", "jsonl", "--fail-on-alert", file);
        Assert.Equal(0, quiet.ExitCode);
        var low = CliRunner.Run("--format", "jsonl", "--threshold", "2", "--window", "30s", "--fail-on-alert", file);
        Assert.Equal(3, low.ExitCode);
        var fired = Json(low).First(e => e.GetProperty("type").GetString() == "alert");
        // 3 req/s over 30 s first exceeds 2 req/s when 3·k/30 > 2: k = 21 seconds in.
        Assert.Equal(1020, fired.GetProperty("ts").GetInt64());
        Assert.Equal(2, fired.GetProperty("threshold").GetDouble());
        // Still firing at the end of input: listed in the final report.
        Assert.Equal("high_traffic", Json(low).Last().GetProperty("firing")[0].GetProperty("rule").GetString());
    }

    [Fact]
    public void Text_output_has_no_colour_when_not_a_terminal()
    {
        var file = Write("t.csv", new[] { Header }.Concat(Traffic(1000, 1200, 12)).ToArray());
        var r = CliRunner.Run(file);
        Assert.Contains("High traffic generated an alert - hits = ", r.Stdout);
        Assert.DoesNotContain("\u001b[", r.Stdout);
    }

    [Fact]
    public void Generate_is_deterministic_and_the_shipped_sample_is_its_output()
    {
        var sample = Path.Combine(CliRunner.RepoRoot, "samples", "access.csv");
        var args = File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "samples", "generate.args")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var r1 = CliRunner.Run(new[] { "generate" }.Concat(args));
        var r2 = CliRunner.Run(new[] { "generate" }.Concat(args));
        Assert.Equal(0, r1.ExitCode);
        Assert.Equal(r1.Stdout, r2.Stdout);
        Assert.Equal(File.ReadAllText(sample), r1.Stdout);

        var run = CliRunner.Run("--format", "jsonl", sample);
        var states = Json(run).Where(e => e.GetProperty("type").GetString() == "alert").Select(e => e.GetProperty("state").GetString()).ToArray();
        Assert.Equal(new[] { "firing", "resolved" }, states);
    }
}
