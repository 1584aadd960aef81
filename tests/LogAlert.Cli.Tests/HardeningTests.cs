using System.Diagnostics;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// Faults and hostile input through the real CLI: timestamps at and past the ends of log time, byte
/// counts that overflow 64 bits, a closed stdout, a rule that never returns or ends the process,
/// control bytes in log fields, options out of range, live mode on a pipe.
/// </summary>
public sealed class HardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-hardening-").FullName;
    private readonly Dictionary<string, string> _env;

    public HardeningTests() => _env = new() { ["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache") };

    public void Dispose() => Directory.Delete(_dir, true);

    private const string Header = TestLogs.Header;

    private static string Line(long time, string path = "/", long bytes = 1, string host = "a") =>
        $"\"{host}\",\"-\",\"-\",{time},\"GET {path} HTTP/1.0\",200,{bytes}\n";

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static JsonElement[] Json(CliRunner.Result r) =>
        r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    private static JsonElement Stats(CliRunner.Result r) => Json(r).Last(e => e.GetProperty("type").GetString() == "stats");

    [Fact]
    public async Task A_named_pipe_given_as_a_file_is_read_once_whole()
    {
        // The inputs' check opened the pipe and closed it, which killed its writer (SIGPIPE), and the
        // read then waited for a second writer that never came.
        var fifo = Path.Combine(_dir, "access.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        var text = Header + "\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => Line(1549573860 + i / 10)));
        var writer = Task.Run(() => File.WriteAllText(fifo, text)); // opens when the reader does

        var r = CliRunner.Run(["--format", "jsonl", "--summary-interval", "off", fifo], env: _env, timeoutMs: 30_000);

        await writer.WaitAsync(TimeSpan.FromSeconds(10)); // throws if it failed (a broken pipe) or hangs
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(3001, Stats(r).GetProperty("lines").GetInt64());
        Assert.Equal(3000, Stats(r).GetProperty("records").GetInt64());
    }

    // A named pipe that no writer opens, not followed, alone or after a file: its open waited for one,
    // and SIGTERM could not end the wait (the host gave up 30 s later, exit 0, no report).
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_named_pipe_without_a_writer_stops_at_SIGTERM_with_its_report(bool afterAFile)
    {
        var fifo = Path.Combine(_dir, "waiting.fifo");
        System.Diagnostics.Process.Start("mkfifo", [fifo])!.WaitForExit();
        var file = Write("first.csv", Header + "\n" + Line(1549573860));
        string[] inputs = afterAFile ? [file, fifo] : [fifo];
        var info = CliRunner.StartInfo(["--format", "jsonl", "--summary-interval", "off", .. inputs], _env);
        using var run = System.Diagnostics.Process.Start(info)!;
        var stdout = run.StandardOutput.ReadToEndAsync();
        await Task.Delay(1500); // at the pipe's open, which waits for a writer

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        System.Diagnostics.Process.Start("kill", ["-TERM", run.Id.ToString()])!.WaitForExit();
        var exited = run.WaitForExit(20_000);
        if (!exited) run.Kill(true);

        Assert.True(exited && stopping.Elapsed < TimeSpan.FromSeconds(10), $"took {stopping.Elapsed}");
        Assert.Equal(0, run.ExitCode);
        var stats = JsonDocument.Parse((await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal("SIGTERM", stats.GetProperty("stopped").GetString());
        Assert.Equal(afterAFile ? 1 : 0, stats.GetProperty("records").GetInt64());
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - 1800)] // within the skew of the int64 limit: once "0s ahead", by overflow
    [InlineData(253402300800L)] // 10000-01-01T00:00:00Z
    [InlineData(-1L)]
    public void A_timestamp_outside_log_time_is_a_bad_line_and_the_run_ends_with_its_report(long time)
    {
        // Alone (the case that spun at 100% CPU), and after a valid record (the one that crashed in output).
        foreach (var lines in new[] { Line(time), Line(1549573860) + Line(time) + Line(1549573861) })
        {
            var r = CliRunner.Run(["--format", "jsonl", "-"], stdin: Header + "\n" + lines, env: _env, timeoutMs: 30_000);

            Assert.Equal(0, r.ExitCode);
            Assert.Contains($"timestamp {time} is outside the valid range of log time", r.Stderr);
            Assert.DoesNotContain("   at ", r.Stderr);
            var stats = Stats(r);
            Assert.Equal(1, stats.GetProperty("bad").GetInt64());
            Assert.Equal(0, stats.GetProperty("skewed").GetInt64());
            Assert.Equal("end of input", stats.GetProperty("stopped").GetString());
        }
    }

    [Fact]
    public void The_last_second_of_log_time_is_valid_and_its_summary_ends_in_the_year_10000()
    {
        var r = CliRunner.Run(["-"], stdin: Header + "\n" + Line(253402300795) + Line(253402300799), env: _env);

        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("10000-01-01T00:00:00Z  summary   23:59:50–00:00:00  2 req", r.StdoutLines[0]);
        Assert.Contains("2 records, 0 bad", r.Stdout);
    }

    [Fact]
    public void Byte_sums_past_64_bits_stay_exact_and_a_bytes_rule_does_not_resolve_by_wrapping()
    {
        // 9000 records of 1 PiB (the most one record may hold) in one second: 9000 * 2^50 > 2^63.
        const long PiB = 1L << 50;
        var log = Write("big.csv", Header + "\n" + string.Concat(
            Enumerable.Range(0, 9000).Select(_ => Line(1000, bytes: PiB))) + Line(1001) + Line(1002));
        var rule = Write("bytes.csx", "Alert(\"bytes\").When(q => q.Sum(\"bytes\", TimeSpan.FromSeconds(5))).Above(1e18);\n");

        var r = CliRunner.Run(["--format", "jsonl", "--rules", rule, log], env: _env);

        Assert.Equal(0, r.ExitCode);
        var summary = Json(r).Single(e => e.GetProperty("type").GetString() == "summary");
        Assert.Equal(new BigInteger(PiB) * 9000 + 2, BigInteger.Parse(summary.GetProperty("bytes").GetRawText()));
        var alerts = Json(r).Where(e => e.GetProperty("type").GetString() == "alert").ToArray();
        Assert.Equal(["firing"], alerts.Select(a => a.GetProperty("state").GetString()));
        Assert.True(alerts[0].GetProperty("value").GetDouble() > 1e19);
        Assert.Single(Stats(r).GetProperty("firing").EnumerateArray());

        var over = CliRunner.Run(["-"], stdin: Header + "\n" + Line(1000, bytes: PiB + 1), env: _env);
        Assert.Contains($"bytes {PiB + 1} is above the limit of {PiB} (1 PiB)", over.Stderr);
    }

    // Durations go up to 10000y; a delivery deadline of 50 days or more aborted the process at the
    // end of the run (exit 134: a timer of more than 49.7 days), and 10000y overflowed the clock.
    [Theory]
    [InlineData("50d")]
    [InlineData("10000y")]
    public void The_longest_delivery_deadline_ends_the_run_as_any_other(string deadline)
    {
        var r = CliRunner.Run(["--format", "jsonl", "--delivery-timeout", deadline, "-"], stdin: Header + "\n" + Line(1000), env: _env);

        Assert.Equal((0, ""), (r.ExitCode, r.Stderr));
        Assert.EndsWith("\"stopped\":\"end of input\"}\n", r.Stdout);
    }

    [Theory]
    [InlineData("--lateness", "99999999999999")]
    [InlineData("--lateness", "99999999999999999999s")]
    [InlineData("--lateness", "10000000000y")]
    [InlineData("--max-skew", "10001y")]
    [InlineData("--window", "99999999999999999999")]
    [InlineData("--threshold", "NaN")]
    [InlineData("--threshold", "Infinity")]
    public void An_option_out_of_range_is_a_one_line_usage_error(string option, string value)
    {
        var r = CliRunner.Run([option, value, "-"], stdin: Header + "\n" + Line(1000), env: _env);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"logalert: {option}: \"{value}\" ", line);
    }

    /// <summary>
    /// logalert run by /bin/sh with <paramref name="redirect"/> after its arguments, so that a test can
    /// give it a full disk or a closed descriptor; killed if it has not ended in 60 s.
    /// </summary>
    private (int ExitCode, string Stdout, string Stderr, bool Ended) Shell(string redirect, params string[] args)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = CliRunner.RepoRoot,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec dotnet \"$0\" \"$@\" {redirect}");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "logalert.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var ended = p.WaitForExit(60_000);
        if (!ended) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result, ended);
    }

    [Fact]
    public void Stdin_that_cannot_be_read_is_said_in_one_line_with_exit_1_every_time()
    {
        // A directory as stdin: the read fails with EISDIR. Whether it had failed before the reader
        // waited for it decided between that line and an AggregateException's stack trace (5 runs in 6).
        for (var run = 0; run < 4; run++)
        {
            var r = Shell($"< '{_dir}'", "--format", "jsonl", "-");
            Assert.True(r.Ended);
            Assert.Equal((1, "logalert: <stdin>: cannot read: Is a directory\n"), (r.ExitCode, r.Stderr));
            Assert.EndsWith("\"stopped\":\"error: <stdin>: cannot read: Is a directory\"}\n", r.Stdout);
        }
    }

    [Fact]
    public void Stdin_closed_when_logalert_starts_is_said_not_waited_on()
    {
        // The runtime took descriptor 0 for a pipe of its own, and the run read it for ever.
        var r = Shell("<&-", "--format", "jsonl", "-");

        Assert.True(r.Ended);
        Assert.Equal((1, "logalert: <stdin>: cannot read: not open (closed when logalert started)\n"), (r.ExitCode, r.Stderr));
    }

    [Theory]
    [InlineData("> /dev/full", "check", "No space left on device")]
    [InlineData("> /dev/full", "--version", "No space left on device")]
    [InlineData("> /dev/full", "run", "No space left on device")]
    [InlineData(">&-", "run", "not open for writing (closed, or opened for reading)")]
    [InlineData(">&-", "--version", "not open for writing (closed, or opened for reading)")]
    [InlineData("> /dev/full", "generate", "No space left on device")]
    public void Stdout_that_cannot_be_written_is_said_in_one_line_with_exit_1(string redirect, string command, string reason)
    {
        if (!File.Exists("/dev/full")) return; // Linux only; the suite runs there
        var log = Write("access.csv", Header + "\n" + Line(1000));
        string[] args = command switch
        {
            "check" => ["check", "rules/high_traffic.csx"],
            "--version" => ["--version"],
            "generate" => ["generate", "--duration", "1h"],
            _ => [log],
        };

        var r = Shell(redirect, args);

        Assert.True(r.Ended, "logalert did not end");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"logalert: stdout: {reason}", r.Stderr.Trim());
    }

    [Theory]
    [InlineData("2> /dev/full")]
    [InlineData("2>&-")]
    public void Stderr_that_cannot_be_written_loses_its_messages_but_not_the_run(string redirect)
    {
        if (!File.Exists("/dev/full")) return; // Linux only; the suite runs there
        // Before, the first message to such a stderr (a missing file, a bad line) hung logalert for good.
        var log = Write("access.csv", Header + "\n" + Line(1000) + "not,a,line\n" + Line(1001));

        var missing = Shell(redirect, Path.Combine(_dir, "missing.csv"));
        var bad = Shell(redirect, "--format", "jsonl", log);

        Assert.True(missing.Ended, "logalert did not end on a missing file");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("", missing.Stdout);
        Assert.True(bad.Ended, "logalert did not end on a bad line");
        Assert.Equal(0, bad.ExitCode);
        var stats = JsonDocument.Parse(bad.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal(2, stats.GetProperty("records").GetInt64());
        Assert.Equal(1, stats.GetProperty("bad").GetInt64());
    }

    [Fact]
    public void Control_bytes_from_the_log_are_escaped_in_text_output_and_on_stderr()
    {
        var log = Header + "\n" + Line(1000, "/\u001b[31mred\u001b]0;title\u0007") + "\"b\",\"-\",\"-\",1001,\"GET \u001b[2J HTTP/1.0\",200,1\n";

        var r = CliRunner.Run(["-"], stdin: log, env: _env);

        Assert.DoesNotContain('\u001b', r.Stdout);
        Assert.DoesNotContain('\u001b', r.Stderr);
        Assert.DoesNotContain('\u0007', r.Stdout);
        Assert.Contains("top /\\x1b[31mred\\x1b]0;title\\x07 1", r.Stdout);
        Assert.Contains("request \"GET \\x1b[2J HTTP/1.0\" is not", r.Stderr);
    }

    [Fact]
    public void A_file_name_with_a_line_feed_keeps_a_bad_line_message_on_one_line()
    {
        // The file name is quoted as -v quotes it: a line feed in it split the message in two.
        var dir = Directory.CreateTempSubdirectory("logalert-name-").FullName;
        try
        {
            var path = Path.Combine(dir, "we\nird\u001b[31m.log");
            File.WriteAllText(path, Header + "\n" + Line(1000) + "\"b\",\"-\",\"-\",1001,\"GET /a HTTP/1.0\",2000,1\n");

            var r = CliRunner.Run(["-v", path], env: _env);

            Assert.Equal(0, r.ExitCode);
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, lines.Length); // the format found, and the bad line
            Assert.EndsWith("we\\x0aird\\x1b[31m.log: format csv", lines[0]);
            Assert.Contains("we\\x0aird\\x1b[31m.log:3: status", lines[1]);
            Assert.DoesNotContain('\u001b', r.Stderr);
            // So is a missing file's.
            var missing = CliRunner.Run([path + "\n2"], env: _env);
            Assert.Equal(1, missing.ExitCode);
            Assert.EndsWith("we\\x0aird\\x1b[31m.log\\x0a2: no such file", Assert.Single(missing.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void C1_controls_bidi_overrides_and_unicode_line_breaks_from_the_log_are_escaped()
    {
        var log = Header + "\n" + Line(1000, "/\u009b2J\u202eevil\u2028x\u2029y")
            + "\"b\",\"-\",\"-\",1001,\"GET /a HTTP/1.0\",\"2\u20280\",1\n";

        var r = CliRunner.Run(["-"], stdin: log, env: _env);

        Assert.Contains("top /\\u009b2J\\u202eevil\\u2028x\\u2029y 1", r.Stdout);
        Assert.Contains("status \"2\\u20280\" is not", r.Stderr);
        foreach (var c in new[] { '\u009b', '\u202e', '\u2028', '\u2029' })
        {
            Assert.DoesNotContain(c, r.Stdout);
            Assert.DoesNotContain(c, r.Stderr);
        }
    }

    [Fact]
    public void A_tab_in_a_bad_field_is_escaped_on_stderr_so_it_cannot_read_as_a_space()
    {
        var csv = Header + "\n" + Line(1000) + "\"b\",\"-\",\"-\",1001,\"GET /a HTTP/1.0\",\"2\t0\",1\n";
        var combined = "10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 200 1 \"-\" \"-\"\n"
            + "10.0.0.1 - - [07/Feb/2019:16:11:01 -0500] \"GET /a HTTP/1.1\" 2\t0 1 \"-\" \"-\"\n";
        // A tab on line 1 of an input whose format is found from its lines is quoted in the refusal.
        var first = "10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 2\t0 1 \"-\" \"-\"\n";

        var fromCsv = CliRunner.Run(["-"], stdin: csv, env: _env);
        var fromCombined = CliRunner.Run(["--input-format", "combined", "-"], stdin: combined, env: _env);
        var refused = CliRunner.Run(["-"], stdin: first, env: _env);

        Assert.Contains("status \"2\\x090\" is not", fromCsv.Stderr);
        Assert.Contains("status \"2\\x090\" is not", fromCombined.Stderr);
        Assert.Contains("fits \"10.0.0.1 - - [07/Feb/2019:16:11:00 -0500] \"GET /a HTTP/1.1\" 2\\x090 1", refused.Stderr);
        Assert.Equal(2, refused.ExitCode);
        foreach (var r in new[] { fromCsv, fromCombined, refused })
            Assert.DoesNotContain('\t', r.Stderr);
    }

    /// <summary>logalert with a pipe for stdin that stays open, and stdout read by the test.</summary>
    private Process Start(params string[] args)
    {
        var p = Process.Start(CliRunner.StartInfo(args, _env))!;
        p.StandardInput.AutoFlush = true;
        return p;
    }

    [Fact]
    public async Task A_closed_stdout_ends_the_run_at_once_with_status_141_even_while_stdin_stays_open()
    {
        using var p = Start("--format", "jsonl", "--summary-interval", "1s", "-");
        var stderr = p.StandardError.ReadToEndAsync();
        // One second of records, then the next second closes it: a summary comes out.
        p.StandardInput.Write(Header + "\n" + Line(1000) + Line(1001) + Line(1010));
        Assert.StartsWith("{\"type\":\"summary\"", p.StandardOutput.ReadLine());

        p.StandardOutput.Close(); // as `| head -1` does; stdin stays open and quiet
        var exited = p.WaitForExit(20_000);
        if (!exited) p.Kill(true);

        Assert.True(exited, "logalert went on with nobody reading its output");
        Assert.Equal(141, p.ExitCode);
        Assert.Equal("", await stderr);
    }

    // Help, version, check and test wrote through Console's stream, which drops a write to a pipe
    // nobody reads: `logalert check rules/*.csx | head -0` lost the report and exited 0. They stop
    // as a run does: quietly, with 128 + SIGPIPE.
    [Theory]
    [InlineData("check", "rules/high_traffic.csx")]
    [InlineData("check", "--properties", "--cases", "3", "rules/high_traffic.csx")]
    [InlineData("test", "rules/tests")]
    [InlineData("--help")]
    [InlineData("--version")]
    public async Task A_stdout_pipe_nobody_reads_ends_every_command_with_status_141(params string[] args)
    {
        using var p = Start(args);
        // Closed before logalert's first write (its start alone takes a tenth of a second).
        p.StandardOutput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Close();
        var exited = p.WaitForExit(60_000);
        if (!exited) p.Kill(true);

        Assert.True(exited, "logalert did not end");
        Assert.Equal(141, p.ExitCode);
        Assert.Equal("", await stderr);
    }

    [Fact]
    public void Live_mode_on_a_pipe_follows_the_clock_when_the_pipe_goes_quiet()
    {
        using var p = Start("--follow", "-", "--format", "jsonl", "--threshold", "2", "--window", "3s",
            "--lateness", "0s", "--idle-timeout", "1s", "--summary-interval", "off");
        p.StandardInput.Write(Header + "\n" + string.Concat(
            Enumerable.Range(1000, 4).SelectMany(t => Enumerable.Repeat(Line(t), 5))));

        // The pipe stays open and nothing more comes: after 1 s, log time runs on with the wall
        // clock, and the alert resolves while stdin is still open.
        var lines = new List<string>();
        while (lines.Count < 2 && p.StandardOutput.ReadLine() is { } l) lines.Add(l);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(30_000));

        Assert.Equal(["firing@1001", "resolved@1005"], lines.Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => $"{e.GetProperty("state").GetString()}@{e.GetProperty("ts").GetInt64()}"));
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public async Task A_junk_first_line_on_a_pipe_is_outvoted_by_the_lines_after_it_however_they_arrive()
    {
        // In a file, the format is what more than half of the first 5 lines fit (semantics §1), so one
        // junk line is a bad line. On a pipe the junk line came alone, the format was decided from it,
        // and the run ended with "no format fits" (exit 2) before the good lines were written.
        using var p = Start("--format", "jsonl", "-");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write("garbage line\n");
        // Time for the reader to take the lone line (it exited at once here before).
        var exitedEarly = p.WaitForExit(2_000);
        if (!exitedEarly)
        {
            p.StandardInput.Write(string.Concat(Enumerable.Range(0, 5).Select(i =>
                $"10.0.0.{i} - - [07/Feb/2019:21:11:0{i} +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"x\"\n")));
            p.StandardInput.Close();
        }
        Assert.True(p.WaitForExit(30_000));

        Assert.False(exitedEarly, await stderr);
        Assert.Equal(0, p.ExitCode);
        var stats = JsonDocument.Parse((await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal((6, 5, 1), (stats.GetProperty("lines").GetInt64(), stats.GetProperty("records").GetInt64(), stats.GetProperty("bad").GetInt64()));
        Assert.Equal("combined", stats.GetProperty("inputs")[0].GetProperty("format").GetString());
        Assert.StartsWith("logalert: <stdin>:1: ", await stderr);
    }

    [Fact]
    public async Task The_same_bytes_find_the_same_format_from_a_file_or_a_slow_pipe()
    {
        // A common-format line, then combined ones: in a file combined wins (4 of the first 5), and
        // one bad line. On a pipe the first line came alone and decided "common" at once: 4 bad
        // lines, and other output for the same bytes (semantics §13).
        var lines = new[] { "10.0.0.9 - - [07/Feb/2019:21:11:00 +0000] \"GET /a HTTP/1.1\" 200 5\n" }
            .Concat(Enumerable.Range(0, 5).Select(i => $"10.0.0.{i} - - [07/Feb/2019:21:11:0{i} +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"x\"\n"))
            .ToArray();
        var fromFile = CliRunner.Run(["--format", "jsonl", Write("mixed.log", string.Concat(lines))], env: _env);

        using var p = Start("--format", "jsonl", "-");
        var stdout = p.StandardOutput.ReadToEndAsync();
        foreach (var line in lines)
        {
            p.StandardInput.Write(line);
            p.StandardInput.Flush();
            await Task.Delay(300); // each line alone on the pipe
        }
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(30_000));

        var piped = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var stats = JsonDocument.Parse(piped[^1]).RootElement;
        Assert.Equal("combined", stats.GetProperty("inputs")[0].GetProperty("format").GetString());
        Assert.Equal((5, 1), (stats.GetProperty("records").GetInt64(), stats.GetProperty("bad").GetInt64()));
        Assert.Equal(fromFile.StdoutLines[..^1], piped[..^1]);
    }

    [Fact]
    public void NUL_bytes_a_crash_left_before_a_line_are_not_part_of_it()
    {
        // After an unclean shutdown a log can hold a run of NULs where writes were lost, and the next
        // line right after them. The host was read as "\0\0\0\0127.0.0.1", a second host.
        static string Request(int second) => $"127.0.0.1 - - [07/Feb/2019:21:11:0{second} +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"x\"\n";
        var log = Write("crashed.log", Request(0) + new string('\0', 4096) + Request(1) + new string('\0', 512) + "\n" + Request(2));

        var r = CliRunner.Run(["--format", "jsonl", "--summary-interval", "1m", log], env: _env);

        Assert.Equal(0, r.ExitCode);
        var summary = Json(r).Single(e => e.GetProperty("type").GetString() == "summary");
        Assert.Equal((3, 1), (summary.GetProperty("requests").GetInt32(), summary.GetProperty("hosts").GetInt32()));
        Assert.Equal((3, 1), (Stats(r).GetProperty("records").GetInt32(), Stats(r).GetProperty("bad").GetInt32()));
        Assert.Contains("crashed.log:3: 512 NUL bytes and nothing else (a log's lost writes after a crash)", r.Stderr);
    }

    [Fact]
    public void Lines_of_NULs_at_the_start_do_not_hide_the_format_and_are_bad_lines()
    {
        // They were taken as sample lines: "no format logalert knows fits \x00\x00\x00\x00", exit 2.
        static string Request(int second) => $"127.0.0.1 - - [07/Feb/2019:21:11:0{second} +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"x\"\n";
        var log = Write("zeros.log", "\0\0\0\0\n\0\0\n\0\0\0\r\n" + Request(0) + Request(1) + Request(2));

        var r = CliRunner.Run(["--format", "jsonl", log], env: _env);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal((3, 3), (Stats(r).GetProperty("records").GetInt32(), Stats(r).GetProperty("bad").GetInt32()));
        Assert.Equal("combined", Stats(r).GetProperty("inputs")[0].GetProperty("format").GetString());
        Assert.Contains("zeros.log:3: 3 NUL bytes and nothing else", r.Stderr); // the CRLF one too
    }

    [Fact]
    public void NUL_bytes_a_crash_left_before_a_CSV_line_are_not_part_of_it()
    {
        var log = Write("crashed.csv", Header + "\n" + Line(1000) + new string('\0', 4096) + Line(1001) + new string('\0', 512) + "\n" + Line(1002));

        var r = CliRunner.Run(["--format", "jsonl", "--summary-interval", "1m", log], env: _env);

        Assert.Equal(0, r.ExitCode);
        var summary = Json(r).Single(e => e.GetProperty("type").GetString() == "summary");
        Assert.Equal((3, 1), (summary.GetProperty("requests").GetInt32(), summary.GetProperty("hosts").GetInt32()));
        Assert.Equal((3, 1), (Stats(r).GetProperty("records").GetInt32(), Stats(r).GetProperty("bad").GetInt32()));
        Assert.Contains("crashed.csv:4: ", r.Stderr);
    }

    [Fact]
    public async Task SIGTERM_while_a_rule_is_stuck_at_load_ends_the_run_after_the_shutdown_wait()
    {
        // The main command bound without the host ran on Main's thread: the rules compile and are
        // called once before its first await, and a rule stuck there kept any signal from ending the
        // process (the host's path gave it 30 s, then ended it with this line).
        var rule = Write("loop.csx", """
            Alert("loop").When(q => { Console.Error.WriteLine("looping"); while (true) { } return 0.0; }).Above(1);
            """);
        var log = Write("access.csv", Header + "\n" + Line(1000));
        using var p = Process.Start(CliRunner.StartInfo(["--rule-timeout", "0", "--rules", rule, log], _env))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = new StringBuilder();
        string? line;
        while ((line = await p.StandardError.ReadLineAsync()) is not null && !line.EndsWith("looping", StringComparison.Ordinal))
            stderr.AppendLine(line);
        Assert.NotNull(line); // the rule is looping now, at load

        var clock = Stopwatch.StartNew();
        Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        stderr.Append(await p.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(50)));
        Assert.True(p.WaitForExit(10_000));

        Assert.Equal(143, p.ExitCode);
        Assert.Contains("logalert: SIGTERM while rule \"loop\" was loaded; nothing was read", stderr.ToString());
        Assert.Equal("", await stdout);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(45));
    }

    [Theory]
    [InlineData("run")]
    [InlineData("test")]
    [InlineData("check")]
    public async Task SIGTERM_while_a_rule_runs_is_said_as_the_signal_not_charged_to_the_rule(string command)
    {
        // The runtime ends the process on SIGTERM through ProcessExit, the path Environment.Exit
        // takes: a kill (a CI job's timeout) while a rule ran was reported as the rule ending the
        // process, exit 2 (run, test) or a FAIL with a case log (check).
        var rule = Write("slow.csx", """
            Alert("slow").When(q =>
            {
                var n = q.Sum("requests", TimeSpan.FromMinutes(1));
                if (n > 20) { Console.Error.WriteLine("sleeping"); System.Threading.Thread.Sleep(60_000); }
                return n;
            }).Above(100);
            """);
        var log = Write("access.csv", Header + "\n" + string.Concat(Enumerable.Range(0, 40).Select(i => Line(1000 + i))));
        Write("slow.case.json", $$"""{ "rules": ["slow.csx"], "input": "access.csv", "options": { "rule_timeout": "120s" } }""");
        string[] args = command switch
        {
            "run" => ["--rule-timeout", "120s", "--format", "jsonl", "--rules", rule, log],
            "test" => ["test", Path.Combine(_dir, "slow.case.json")],
            _ => ["check", "--properties", "--rule-timeout", "120s", "--seed", "1", rule],
        };
        using var p = Process.Start(CliRunner.StartInfo(args, _env))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = new StringBuilder();
        string? line;
        while ((line = await p.StandardError.ReadLineAsync()) is not null && !line.EndsWith("sleeping", StringComparison.Ordinal))
            stderr.AppendLine(line);
        Assert.NotNull(line); // the rule is asleep now

        Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        stderr.Append(await p.StandardError.ReadToEndAsync());
        Assert.True(p.WaitForExit(30_000));

        var said = await stdout + stderr;
        Assert.DoesNotContain("Environment.Exit", said);
        Assert.Contains("SIGTERM while rule \"slow\" was running", said);
        Assert.Equal(command == "run" ? 0 : 143, p.ExitCode);
        if (command == "run") Assert.Equal("SIGTERM", Stats(new CliRunner.Result(p.ExitCode, await stdout, stderr.ToString())).GetProperty("stopped").GetString());
        if (command == "check")
        {
            Assert.DoesNotContain("FAIL", await stdout);
            // The same lines as a stop between cases (CI's loaded machine took this path for a busy case).
            Assert.Contains("stopped: SIGTERM while rule \"slow\" was running, checking \"never throws\" of slow", await stdout);
            Assert.Contains("0 passed, 0 failed (the run was stopped by SIGTERM)", await stdout);
        }
    }

    [Fact]
    public async Task A_live_pipe_finds_its_format_from_its_first_line()
    {
        // --idle-timeout makes a pipe live as --follow does; the format waited for 5 lines there
        // (c360e31), so a quiet live pipe showed nothing and its clock did not run.
        using var p = Start("-v", "--idle-timeout", "1s", "--format", "jsonl", "-");
        var stdout = p.StandardOutput.ReadToEndAsync();
        p.StandardInput.Write("10.0.0.1 - - [07/Feb/2019:21:11:00 +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"x\"\n");
        var said = await p.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)); // before the pipe closes
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(30_000));

        Assert.Equal("logalert: <stdin>: format combined", said);
        Assert.Equal(0, p.ExitCode);
        Assert.Contains("\"records\":1,", await stdout);
    }

    /// <summary>Rates that fire, resolve and fire again before second 1050, and go on after it.</summary>
    private string Waves() => Write("waves.csv", Header + "\n" + string.Concat(Enumerable.Range(1000, 100).SelectMany(t =>
        Enumerable.Repeat(Line(t, t % 10 == 0 ? "/a" : "/b"), t is >= 1020 and < 1040 ? 1 : 5))));

    private string Rule(string name, string atSecond1050) => Write($"{name}.csx",
        $"Alert(\"{name}\").When(q => {{ if (q.Now.ToUnixTimeSeconds() == 1050) {{ {atSecond1050} }} " +
        "return q.Rate(\"requests\", TimeSpan.FromSeconds(10)); }).Above(4).RecoverBelow(2);\n");

    /// <summary>The events the same rule computes before second 1050 when nothing stops it.</summary>
    private string[] EventsBefore1050(string name)
    {
        var full = CliRunner.Run(["--format", "jsonl", "--rules", Rule(name, ""), Waves()], env: _env);
        Assert.Equal(0, full.ExitCode);
        return full.StdoutLines.Where(l =>
        {
            var e = JsonDocument.Parse(l).RootElement;
            return e.GetProperty("type").GetString() switch
            {
                "alert" => e.GetProperty("ts").GetInt64() < 1050,
                "summary" => e.GetProperty("end").GetInt64() <= 1050,
                _ => false,
            };
        }).ToArray();
    }

    [Fact]
    public void A_rule_that_never_returns_is_reported_after_every_event_computed_before_it()
    {
        var expected = EventsBefore1050("stuck");
        Assert.True(expected.Length >= 8, string.Join('\n', expected)); // summaries and three transitions

        var r = CliRunner.Run(["--format", "jsonl", "--rule-timeout", "1s", "--rules", Rule("stuck", "while (true) { }"), Waves()],
            env: _env);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(expected, r.StdoutLines[..^1]);
        var stopped = Stats(r).GetProperty("stopped").GetString()!;
        Assert.StartsWith("rule \"stuck\" did not finish within 1s at 1970-01-01T00:17:30Z", stopped);
        Assert.Contains("rule \"stuck\" did not finish within 1s", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        AssertCountsOfAStepThatDidNotReturn(Stats(r));
        AssertFiringAsTheEventsLeftIt(r, "stuck");
    }

    [Theory]
    [InlineData("> /dev/full", "while (true) { }", "logalert: rule \"stuck\" did not finish within 1s at 1970-01-01T00:17:30Z", "logalert: stdout: No space left on device")]
    [InlineData(">&-", "while (true) { }", "logalert: rule \"stuck\" did not finish within 1s at 1970-01-01T00:17:30Z", "logalert: stdout: not open for writing (closed, or opened for reading)")]
    [InlineData("> /dev/full", "Environment.Exit(7);", "logalert: rule \"stuck\" ended the process (Environment.Exit); the run stopped there", "logalert: stdout: No space left on device")]
    public void A_rule_that_never_returns_with_stdout_unwritable_says_both(string redirect, string act, string said, string failure)
    {
        if (!File.Exists("/dev/full")) return; // Linux only; the suite runs there
        // The report the stuck rule's abort writes is the first write to stdout (the log is one
        // batch, under 64 KB of events): its failure was swallowed as though stdout had been closed
        // by its reader, and the run ended with exit 2 naming the rule alone.
        var r = Shell(redirect, "--format", "jsonl", "--rule-timeout", "1s", "--rules", Rule("stuck", act), Waves());

        Assert.True(r.Ended, "logalert did not end");
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}: {r.Stderr}"); // the rule's fault decides the code, as when stdout is fine
        Assert.Equal("", r.Stdout);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith(said, lines[0]); // the reason first, then what became of the report
        Assert.Equal(failure, lines[1]);
    }

    [Fact]
    public async Task A_rule_that_never_returns_with_stdout_closed_by_its_reader_names_the_rule_alone()
    {
        // `logalert ... | head -c 0`: a reader gone away is not an error to say (exit 141 when that
        // alone ends a run); the stuck rule still is, with its exit 2.
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = CliRunner.RepoRoot,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "logalert.dll"), "--format", "jsonl", "--rule-timeout", "1s",
                                  "--rules", Rule("stuck", "while (true) { }"), Waves() })
            psi.ArgumentList.Add(a);
        psi.Environment["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache");
        using var p = Process.Start(psi)!;
        p.StandardOutput.Close(); // the reader gone before the first write
        var stderr = p.StandardError.ReadToEndAsync();
        var ended = p.WaitForExit(60_000);
        if (!ended) p.Kill(entireProcessTree: true);
        p.WaitForExit();

        Assert.True(ended, "logalert did not end");
        Assert.Equal(2, p.ExitCode);
        var line = Assert.Single((await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("logalert: rule \"stuck\" did not finish within 1s", line);
    }

    // The log is one batch, and the rule stopped the run inside its step: its lines were read (its
    // bad ones would have been reported) and count; its records were not all folded, and the
    // engine's count is of the steps that returned (none).
    private void AssertCountsOfAStepThatDidNotReturn(JsonElement stats)
    {
        Assert.Equal(File.ReadAllLines(Waves()).Length, stats.GetProperty("lines").GetInt64());
        Assert.Equal(0, stats.GetProperty("bad").GetInt64());
        Assert.Equal(0, stats.GetProperty("records").GetInt64());
    }

    // What fired before the rule stopped the run and did not resolve is firing in the report (it
    // said none: the report was of the last step that returned, before any record).
    private static void AssertFiringAsTheEventsLeftIt(CliRunner.Result r, string rule)
    {
        var alerts = Json(r).Where(e => e.GetProperty("type").GetString() == "alert").ToArray();
        Assert.Equal("firing", alerts[^1].GetProperty("state").GetString());
        var firing = Assert.Single(Stats(r).GetProperty("firing").EnumerateArray());
        Assert.Equal(rule, firing.GetProperty("rule").GetString());
        Assert.Equal(alerts[^1].GetProperty("ts").GetInt64(), firing.GetProperty("since").GetInt64());
    }

    [Fact]
    public void A_rule_that_calls_Environment_Exit_is_reported_after_every_event_computed_before_it()
    {
        var expected = EventsBefore1050("quitter");

        var r = CliRunner.Run(["--format", "jsonl", "--rules", Rule("quitter", "Environment.Exit(0);"), Waves()], env: _env);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(expected, r.StdoutLines[..^1]);
        Assert.Equal("rule \"quitter\" ended the process (Environment.Exit)", Stats(r).GetProperty("stopped").GetString());
        Assert.Contains("logalert: rule \"quitter\" ended the process (Environment.Exit)", r.Stderr);
        AssertCountsOfAStepThatDidNotReturn(Stats(r));
        AssertFiringAsTheEventsLeftIt(r, "quitter");
    }

    [Theory]
    [InlineData("thread", "new System.Threading.Thread(() => throw new InvalidOperationException(\"boom\")).Start();", 10)]
    [InlineData("async void", "Notify();", 4)]
    public async Task An_exception_on_a_thread_rule_code_started_stops_the_run_in_one_line(string how, string call, int thrownAt)
    {
        // Nothing caught it: the runtime printed a stack trace and aborted the process (exit 134),
        // with no report. The run is still reading (stdin stays open), so the exception cannot come
        // after its end; the second line closes the first one's second, where the thread starts.
        var rule = Write("t.csx", $$"""
            async void Notify()
            {
                await System.Threading.Tasks.Task.Yield();
                throw new InvalidOperationException("boom");
            }
            var started = false;
            Alert("t").When(q =>
            {
                var n = q.Sum("requests", TimeSpan.FromSeconds(5));
                if (!started && n == 1) { started = true; {{call}} } // on data: the load-time call reads 0
                return n;
            }).Above(100);
            """);
        using var p = Process.Start(CliRunner.StartInfo(["--summary-interval", "off", "--rules", rule, "-"], _env))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(Header + "\n" + Line(1549573860) + Line(1549573870));
        await p.StandardInput.FlushAsync(); // and left open

        var exited = p.WaitForExit(30_000);
        if (!exited) p.Kill(true);
        Assert.True(exited, how);
        Assert.Equal(2, p.ExitCode);
        var line = Assert.Single((await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"logalert: rule code at {rule}:{thrownAt} threw on a thread of its own: InvalidOperationException: boom; the run stopped there", line);
        Assert.StartsWith($"-- stopped (rule code at {rule}:", (await stdout).Split('\n')[^3]);
    }

    [Fact]
    public void A_thread_rule_code_started_and_left_running_does_not_keep_logalert_alive()
    {
        // A foreground thread kept the process alive after the final report (run) and after the
        // listing (check), for as long as the thread ran: here, for ever.
        var rule = Write("fg.csx", """
            var started = false;
            Alert("fg").When(q =>
            {
                if (!started) { started = true; new System.Threading.Thread(() => { while (true) System.Threading.Thread.Sleep(1000); }).Start(); }
                return q.Sum("requests", TimeSpan.FromSeconds(5));
            }).Above(0);
            """);
        var log = Write("access.csv", Header + "\n" + Line(1549573860) + Line(1549573880));

        var run = CliRunner.Run(["--summary-interval", "off", "--rules", rule, log], env: _env, timeoutMs: 30_000);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("-- end of input: 3 lines, 2 records, 0 bad, 0 skewed, 0 late", run.StdoutLines[^2]);

        var check = CliRunner.Run(["check", rule], env: _env, timeoutMs: 30_000);
        Assert.Equal(0, check.ExitCode);
        Assert.StartsWith("fg  Sum(requests, 5s) > 0", check.Stdout);
    }
}

/// <summary>Label ids given back while the reader waits: the output is the same as when none are.</summary>
public sealed class ReclaimEndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-reclaim-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Giving_ids_back_during_a_run_changes_no_byte_of_the_output()
    {
        // 400 s of 1000 req/s (3000 for a minute) from 300k hosts, each seen about twice: 518k lines,
        // more than the reader may run ahead of the fold (32 batches of 4096), so it meets the
        // sweep points. With ids given back once a table holds 20000 texts (and twice what the
        // windows hold), the run sweeps 3 times.
        var log = Path.Combine(_dir, "churn.csv");
        var gen = CliRunner.Run(["generate", "--duration", "400s", "--rate", "1000", "--hosts", "300000",
            "--host-popularity", "uniform", "--burst", "100s:60s:3000", "-o", log]);
        Assert.Equal(0, gen.ExitCode);
        var rules = Path.Combine(CliRunner.RepoRoot, "rules", "*.csx");
        var env = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache") };

        var kept = CliRunner.Run(["--format", "jsonl", "--rules", rules, log], env: env);
        var swept = CliRunner.Run(["--format", "jsonl", "--rules", rules, log],
            env: new Dictionary<string, string>(env) { ["LOGALERT_RECLAIM_FROM"] = "20000" });

        Assert.Equal(0, kept.ExitCode);
        Assert.Equal(0, swept.ExitCode);
        Assert.True(kept.StdoutLines.Length > 40, kept.Stdout);
        Assert.Contains("\"type\":\"alert\"", kept.Stdout);
        Assert.Equal(kept.Stdout, swept.Stdout);
        Assert.Equal(kept.Stderr, swept.Stderr);
    }
}

/// <summary>A rule file whose own code ends the process while it loads.</summary>
public sealed class RuleExitAtLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-exit-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Environment_Exit_in_a_rule_files_top_level_code_is_a_rule_error_for_check_and_run()
    {
        var rule = Path.Combine(_dir, "quit.csx");
        File.WriteAllText(rule, "Environment.Exit(0);\nAlert(\"never\").When(q => 1).Above(0);\n");
        var env = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache") };

        foreach (var args in new[] { new[] { "check", rule }, ["--rules", rule, "-"] })
        {
            var r = CliRunner.Run(args, stdin: TestLogs.Header + "\n", env: env);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal("", r.Stdout);
            Assert.Contains($"logalert: rule file {rule} ended the process (Environment.Exit) while the rules were loaded", r.Stderr);
        }
    }

    [Fact]
    public void A_rule_stuck_at_load_time_is_reported_as_stuck_and_nothing_else()
    {
        // The probe calls each rule once at load time: this one never returns. The watchdog ends
        // the process; that is not the rule calling Environment.Exit.
        var rule = Path.Combine(_dir, "stuck.csx");
        File.WriteAllText(rule, "Alert(\"stuck\").When(q => { while (q.Now.Year > 0) { } return 1; }).Above(0);\n");
        var env = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = Path.Combine(_dir, "cache") };

        // Named with the file and line of its Alert call (it had neither); `check` took --rule-timeout
        // only with --properties, and waited 5s.
        foreach (var args in new[] { new[] { "check", "--rule-timeout", "1s", rule }, ["--rule-timeout", "1s", "--rules", rule, "-"] })
        {
            var r = CliRunner.Run(args, stdin: TestLogs.Header + "\n", env: env);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal("", r.Stdout);
            Assert.Equal($"logalert: {rule}:1: rule \"stuck\" did not finish within 1s at load time; is it stuck in a loop?\n", r.Stderr);
        }
        // The default is 5s.
        var byDefault = CliRunner.Run(["check", rule], env: env);
        Assert.Equal(2, byDefault.ExitCode);
        Assert.EndsWith("did not finish within 5s at load time; is it stuck in a loop?\n", byDefault.Stderr);
    }
}
