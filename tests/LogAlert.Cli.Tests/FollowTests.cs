using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary><c>--follow</c> end to end: appended lines, rotation, idle time, SIGTERM.</summary>
/// <remarks>
/// Each test waits for events, never for a fixed time, and no step depends on how fast the test host
/// gets to it: rotation and appends run with an idle timeout that never expires, and the idle test
/// has all its data in the file before the program starts.
/// </remarks>
public sealed class FollowTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-follow-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const string Header = TestLogs.Header;

    private static string Lines(long from, long to, int perSecond) => string.Concat(
        Enumerable.Range(0, (int)(to - from)).SelectMany(i => Enumerable.Repeat(
            $"\"10.0.0.1\",\"-\",\"apache\",{from + i},\"GET /api/x HTTP/1.0\",200,100\n", perSecond)));

    /// <summary>Whether this process ignores SIGHUP (nohup): the programs it starts then ignore it too.</summary>
    private static bool SigHupIgnored()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 1UL) != 0; // SIGHUP is signal 1
    }

    /// <summary>
    /// Follows a new log whose lines already fire (threshold 2 req/s over 3 s, lateness 0: a second
    /// closes as soon as a later one is seen; (999,1001] holds 10 requests, 3.33/s), once they have.
    /// </summary>
    private async Task<(string Log, Following Run)> FollowFiring()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        var run = new Following(log, idleTimeout: "1h");
        try
        {
            Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));
        }
        catch
        {
            run.Dispose();
            throw;
        }
        return (log, run);
    }

    [Fact]
    public async Task Follows_appends_and_rotation_and_reports_on_sigterm()
    {
        var (log, run) = await FollowFiring();
        using var _ = run;

        // Rotation: the old file moves away, a new one (with its header) takes the name. Its 1 req/s
        // brings (1003,1006] to 1/s < 2 - a resolution that only the new file's lines can cause.
        File.Move(log, log + ".1");
        File.WriteAllText(log, Header + "\n" + Lines(1004, 1010, 1));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));

        // Appended to the new file: 5 req/s from 1010 on fires again once 1010 closes, (1007,1010] = 7/3.
        File.AppendAllText(log, Lines(1010, 1013, 5));
        var transitions = await run.WaitForTransitions(3);
        Assert.True(transitions.SequenceEqual(["firing@1001", "resolved@1006", "firing@1010"]), run.Output);

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        Assert.Equal("stats", stats.GetProperty("type").GetString());
        Assert.Equal(20 + 6 + 15, stats.GetProperty("records").GetInt64()); // every line once, none twice
        Assert.DoesNotContain("   at ", stderr);
    }

    // logrotate's create: the log is renamed and a new one made, and the server is told to reopen its
    // log only afterwards (postrotate, once every log is rotated): until then it writes to the old
    // file. logalert left the old file at its next poll, and what came in between was lost: 100 of
    // 600 requests for a half-second gap (QA).
    [Fact]
    public async Task Lines_the_server_writes_to_the_renamed_file_before_it_reopens_are_read()
    {
        var (log, run) = await FollowFiring();
        using var _ = run;

        File.Move(log, log + ".1");
        File.WriteAllText(log, Header + "\n");
        for (var s = 1004; s < 1008; s++)
        {
            await Task.Delay(300); // the server has not reopened yet: a poll or two go by
            File.AppendAllText(log + ".1", Lines(s, s + 1, 5));
        }
        File.AppendAllText(log, Lines(1008, 1012, 1)); // reopened: (1007,1010] holds 3, 1/s < 2

        Assert.Equal(["firing@1001", "resolved@1010"], await run.WaitForTransitions(2));
        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        Assert.Equal(20 + 20 + 4, stats.GetProperty("records").GetInt64()); // every line once
        Assert.Equal(0, stats.GetProperty("late").GetInt64());
        Assert.DoesNotContain("   at ", stderr);
    }

    // Ctrl+C, Ctrl+\, kill and a closed terminal or ssh session (SIGHUP, which killed the run with
    // no report and no deliveries drained) each stop a followed run with its report, named by the signal.
    [Theory]
    [InlineData("INT")]
    [InlineData("QUIT")]
    [InlineData("TERM")]
    [InlineData("HUP")]
    public async Task Each_stopping_signal_ends_a_followed_run_with_its_report(string signal)
    {
        var (_, run) = await FollowFiring();
        using var _ = run;
        if (signal == "HUP" && SigHupIgnored())
        {
            // Under nohup (or a runner that ignores SIGHUP) the run inherits the disposition and keeps
            // it, as documented: it goes on, and SIGTERM stops it.
            Process.Start("kill", ["-HUP", run.Pid.ToString()])!.WaitForExit();
            await Task.Delay(1000);
            Assert.False(run.HasExited, "ended on an ignored SIGHUP");
            signal = "TERM";
        }

        var (exit, stats, stderr) = await run.Terminate(signal);

        Assert.Equal(0, exit);
        Assert.Equal($"SIG{signal}", stats.GetProperty("stopped").GetString());
        Assert.Equal(20, stats.GetProperty("records").GetInt64());
        Assert.DoesNotContain("   at ", stderr);
    }

    // nginx's stock "main" format (combined and X-Forwarded-For) is none logalert knows. A quiet server's
    // first two lines waited for three more to tell the format: the followed run said nothing, and
    // a stop reported "0 lines" with no hint (QA). After the idle timeout stderr says why it waits,
    // and a stop reads the lines as the end of input would: the format error, exit 2.
    [Fact]
    public async Task First_lines_of_an_unknown_format_are_said_after_the_idle_timeout_and_at_a_stop()
    {
        var log = Path.Combine(_dir, "access.log");
        File.WriteAllText(log,
            "127.0.0.1 - - [07/Dec/2026:19:43:00 +0000] \"GET /a HTTP/1.1\" 200 3 \"-\" \"curl/8\" \"-\"\n"
            + "127.0.0.1 - - [07/Dec/2026:19:43:01 +0000] \"GET /b HTTP/1.1\" 200 3 \"-\" \"curl/8\" \"10.0.0.1\"\n");
        using var run = new Following(log, idleTimeout: "1s");

        var waiting = await run.WaitForStderr("no format logalert knows");
        Assert.EndsWith("access.log: the first 2 lines fit no format logalert knows; waiting for more lines to tell "
            + "(or name it with --input-format, or give the server's log format with --log-format)", waiting);
        var (exit, stats, stderr) = await run.Terminate();

        Assert.Equal(2, exit);
        Assert.StartsWith("error: " + log + ":1: no format logalert knows fits", stats.GetProperty("stopped").GetString());
        Assert.Contains(log + ":1: no format logalert knows fits", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    // .NET sets a terminal up for reading keys when Console.CancelKeyPress is subscribed to, and
    // wrote ESC [?1h ESC = (keypad mode) before a run's first line on one.
    [Fact]
    public async Task A_run_on_a_terminal_writes_no_terminal_set_up_of_its_own()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        // script(1) (util-linux, in every Debian) gives the run a pseudo-terminal for stdin and stdout.
        var command = CliRunner.ShellCommand(["--summary-interval", "off", log]);
        var script = new ProcessStartInfo("script", ["-q", "-e", "-c", command, "/dev/null"])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        script.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(script)!;
        var output = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("-- end of input: 21 lines, 20 records", output);
        Assert.DoesNotContain("\u001b[?1h", output);
        Assert.DoesNotContain("\u001b=", output);
    }

    // A signal while the rules compiled reached only the host: live, the run went on for 5 s and
    // ended without a report; not live, it read the whole input. SIGQUIT was ignored, and SIGHUP
    // (a closed terminal) ended the process with no report.
    // `--follow=true` is a line the main command leaves to Cocona's host (RunArguments).
    [Theory]
    [InlineData("--follow", "TERM")]
    [InlineData(null, "TERM")]
    [InlineData("--follow", "HUP")]
    [InlineData("--follow=true", "HUP")]
    [InlineData(null, "QUIT")]
    public async Task A_signal_while_the_rules_compile_stops_the_run_with_its_report(string? follow, string signal)
    {
        var live = follow is not null;
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1400, 50));
        var name = $"fresh{follow?.Length}{signal}";
        var rules = Path.Combine(_dir, $"{name}.csx");
        File.WriteAllText(rules, $"Alert(\"{name}\").When(q => q.Rate(\"requests\", TimeSpan.FromSeconds(10))).Above(1);");
        string[] args = ["--format", "jsonl", "--rules", rules, "--threshold", "5", .. live ? new[] { follow! } : [], log];
        using var process = Process.Start(CliRunner.StartInfo(args, new Dictionary<string, string> { ["XDG_CACHE_HOME"] = Path.Combine(_dir, $"cache{name}") }))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        // Said before the rules are compiled (the rule file is new: no cache), so the signal comes while they are.
        Assert.Contains("ignored", await process.StandardError.ReadLineAsync());
        Process.Start("kill", [$"-{signal}", process.Id.ToString()])!.WaitForExit();
        var stderr = process.StandardError.ReadToEndAsync();

        Assert.True(process.WaitForExit(30_000), $"did not exit on SIG{signal}");
        Assert.Equal(0, process.ExitCode);
        var (output, errors) = (await stdout, await stderr);
        var stats = JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.True(stats.GetProperty("type").GetString() == "stats", output + errors);
        Assert.Equal($"SIG{signal}", stats.GetProperty("stopped").GetString());
        Assert.True(stats.GetProperty("records").GetInt64() < 20_000, "read the whole input after the signal");
    }

    // The host gave a stopping command 5 s and then ended the process: with a destination down,
    // the deliveries' deadline (10 s by default) was never reached, and the final report was lost.
    [Fact]
    public async Task SIGTERM_with_a_delivery_pending_waits_for_its_deadline_and_writes_the_report()
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // nothing listens there: every attempt is refused and retried
        var log = Path.Combine(_dir, "access.csv");
        // Of now: an alert more than 5 minutes behind the clock is past, and not sent (DeliveryTests).
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        File.WriteAllText(log, Header + "\n" + Lines(now - 4, now, 5));
        using var run = new Following(log, "1h", "--webhook", $"http://127.0.0.1:{port}/hook", "--delivery-timeout", "7s");
        Assert.Equal([$"firing@{now - 3}"], await run.WaitForTransitions(1));

        var clock = Stopwatch.StartNew();
        var (exit, stats, stderr) = await run.Terminate();

        Assert.Equal(0, exit);
        Assert.Equal("SIGTERM", stats.GetProperty("stopped").GetString());
        var delivery = Assert.Single(stats.GetProperty("delivery").EnumerateArray());
        Assert.Equal(0, delivery.GetProperty("delivered").GetInt64());
        Assert.Equal(1, delivery.GetProperty("failed").GetInt64() + delivery.GetProperty("dropped").GetInt64());
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(6), $"stopped after {clock.Elapsed}, before the 7 s deadline");
        Assert.DoesNotContain("   at ", stderr);
    }

    /// <summary>Combined lines, n a second, for each second in [from, to).</summary>
    private static string CombinedLines(long from, long to, int perSecond) => string.Concat(
        Enumerable.Range(0, (int)(to - from)).SelectMany(i => Enumerable.Repeat(
            $"10.0.0.1 - - [{DateTimeOffset.FromUnixTimeSeconds(from + i).ToString("dd/MMM/yyyy:HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)} +0000] \"GET /api/x HTTP/1.1\" 200 100 \"-\" \"curl\"\n",
            perSecond)));

    /// <summary>JSON lines with nginx's names, n a second, for each second in [from, to).</summary>
    private static string JsonLines(long from, long to, int perSecond) => string.Concat(
        Enumerable.Range(0, (int)(to - from)).SelectMany(i => Enumerable.Repeat(
            $"{{\"msec\":\"{from + i}.250\",\"remote_addr\":\"10.0.0.2\",\"request\":\"GET /b/y HTTP/1.1\",\"status\":\"404\",\"body_bytes_sent\":\"5\"}}\n",
            perSecond)));

    [Fact]
    public async Task A_rotated_file_in_another_format_is_read_in_its_own()
    {
        // auto: the first lines tell combined; the new file after the rotation starts afresh and is JSON.
        var log = Path.Combine(_dir, "access.log");
        File.WriteAllText(log, CombinedLines(1000, 1004, 5));
        using var run = new Following(log, "1h", "-v");
        await run.WaitForStderr("format combined");

        File.Move(log, log + ".1");
        File.WriteAllText(log, JsonLines(1004, 1010, 1));
        await run.WaitForStderr("format jsonl");

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        Assert.Equal(20 + 6, stats.GetProperty("records").GetInt64());
        Assert.Equal(0, stats.GetProperty("bad").GetInt64());
        Assert.Equal("jsonl", Assert.Single(stats.GetProperty("inputs").EnumerateArray()).GetProperty("format").GetString());
        Assert.DoesNotContain("   at ", stderr);
    }

    /// <summary>
    /// logrotate's <c>copytruncate</c>: the file is copied away, then emptied in place (same inode),
    /// and the writer goes on appending to it, without a header.
    /// </summary>
    private static void CopyTruncate(string log)
    {
        File.Copy(log, log + ".1");
        using (new FileStream(log, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { }
    }

    private static void Append(string log, string text)
    {
        using var f = new FileStream(log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        f.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    [Theory]
    [InlineData("copytruncate")]
    [InlineData("rename, new file without a header")]
    public async Task A_rotated_or_truncated_file_without_a_header_goes_on_with_the_columns_it_had(string rotation)
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, idleTimeout: "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        // The new content has no header of its own: it is read with the columns in force, and its
        // 1 req/s resolves the alert at 1006, which only its lines can do.
        if (rotation == "copytruncate") CopyTruncate(log);
        else File.Move(log, log + ".1");
        Append(log, Lines(1004, 1010, 1));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));

        Append(log, Lines(1010, 1013, 5));
        var transitions = await run.WaitForTransitions(3);
        Assert.True(transitions.SequenceEqual(["firing@1001", "resolved@1006", "firing@1010"]), run.Output);

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        Assert.Equal(20 + 6 + 15, stats.GetProperty("records").GetInt64()); // every line once, none twice
        Assert.Equal(21 + 6 + 15, stats.GetProperty("lines").GetInt64());
        Assert.Equal(0, stats.GetProperty("bad").GetInt64());
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task A_file_that_does_not_exist_yet_is_waited_for_and_followed_also_when_deleted_and_recreated()
    {
        var log = Path.Combine(_dir, "access.csv");
        using var run = new Following(log, idleTimeout: "1h");
        Assert.Equal($"logalert: {log}: no such file yet; waiting for it to appear",
            await run.WaitForStderr("waiting for it to appear"));

        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));
        Assert.Equal($"logalert: {log}: has appeared; following it", await run.WaitForStderr("appeared"));

        // Deleted (said once, as tail -F does), then created again without a header: the new file is
        // followed with the columns it had, and its arrival said.
        File.Delete(log);
        Assert.Equal($"logalert: {log}: no longer there; waiting for it to appear again",
            await run.WaitForStderr("no longer there"));
        File.WriteAllText(log, Lines(1004, 1010, 1));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        Assert.Equal(20 + 6, stats.GetProperty("records").GetInt64());
        Assert.Equal(21 + 6, stats.GetProperty("lines").GetInt64());
        // The wait, the arrival, the deletion, the arrival again, nothing else.
        Assert.Equal(4, stderr.Split('\n').Length);
        Assert.Equal($"logalert: {log}: has appeared; following it", stderr.Split('\n')[^1]);
    }

    [Fact]
    public async Task A_followed_file_replaced_by_a_directory_is_said_to_be_one()
    {
        // It was said to be "no longer there", though the path is there, as a directory.
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, idleTimeout: "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        File.Delete(log);
        Directory.CreateDirectory(log);
        Assert.Equal($"logalert: {log}: is a directory now; waiting for a file to appear again",
            await run.WaitForStderr("is a directory now"));
        Directory.Delete(log);
        File.WriteAllText(log, Lines(1004, 1010, 1));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));

        var (exit, stats, _) = await run.Terminate();
        Assert.Equal((0, 26L), (exit, stats.GetProperty("records").GetInt64()));
    }

    [Fact]
    public async Task Sigterm_while_waiting_for_the_file_prints_the_final_report_and_exits_0()
    {
        var log = Path.Combine(_dir, "not-yet", "access.csv"); // its directory does not exist either
        using var run = new Following(log, idleTimeout: "1h");
        await run.WaitForStderr("waiting for it to appear");

        var (exit, stats, stderr) = await run.Terminate();

        Assert.Equal(0, exit);
        Assert.Equal("stats", stats.GetProperty("type").GetString());
        Assert.Equal(0, stats.GetProperty("lines").GetInt64());
        Assert.Equal($"logalert: {log}: no such file yet; waiting for it to appear", stderr);
    }

    [Fact]
    public void Following_a_directory_is_an_error_not_a_wait()
    {
        var r = CliRunner.Run("--follow", _dir);

        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"logalert: {_dir}: is a directory", r.Stderr.Trim());
    }

    /// <summary>The most memory the process has held so far (VmHWM), in bytes.</summary>
    private static long PeakMemory(int pid) =>
        1024 * long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    [Fact]
    public async Task A_followed_line_that_keeps_growing_is_dropped_as_it_comes_and_memory_stays_bounded()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, idleTimeout: "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));
        var before = PeakMemory(run.Pid);

        // A runaway writer: 150 MB of one line, a megabyte at a time, read while it grows; then the
        // line ends and the log goes on.
        const long length = 150L << 20;
        var piece = new byte[1 << 20];
        Array.Fill(piece, (byte)'x');
        using (var f = new FileStream(log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            for (var i = 0; i < length / piece.Length; i++)
            {
                f.Write(piece);
                f.Flush();
            }
        Append(log, "\n" + Lines(1004, 1010, 1));

        Assert.Equal($"logalert: {log}:22: line longer than 65536 bytes ({length} bytes skipped)",
            await run.WaitForStderr("line longer than"));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));
        var peak = PeakMemory(run.Pid);
        var (exit, stats, _) = await run.Terminate();

        Assert.Equal(0, exit);
        Assert.Equal((21 + 1 + 6, 20 + 6, 1), (stats.GetProperty("lines").GetInt64(), stats.GetProperty("records").GetInt64(),
            stats.GetProperty("bad").GetInt64()));
        Assert.True(peak - before < 32 << 20, $"peak memory {before >> 20} MB before the line, {peak >> 20} MB after");
    }

    [Fact]
    public async Task When_traffic_stops_log_time_follows_the_clock_and_the_alert_resolves()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, idleTimeout: "1s");

        // No line ever comes after these: after 1 s idle, log time runs on from 1003 with the wall clock,
        // and (1002,1005] holds only 1003's 5 requests, 1.67/s < 2.
        var transitions = await run.WaitForTransitions(2);
        Assert.True(transitions.SequenceEqual(["firing@1001", "resolved@1005"]), run.Output);

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        Assert.Equal(20, stats.GetProperty("records").GetInt64());
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task After_a_quiet_spell_the_next_request_is_no_skew_since_the_clock_drove_log_time_on()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, idleTimeout: "1s", "--max-skew", "3s", "--summary-interval", "1s");
        // resolved@1005 shows once the clock has driven log time to 1006 or later.
        Assert.Equal(["firing@1001", "resolved@1005"], await run.WaitForTransitions(2));

        // 5 s after the newest record, but within 3 s of where the clock is: an ordinary request,
        // not a suspect held for the next one to confirm (and skewed when none comes). Its
        // second's summary shows when the clock closes it; a held suspect has none.
        File.AppendAllText(log, Lines(1008, 1009, 1));
        var sw = Stopwatch.StartNew();
        while (!run.Output.Contains("\"start\":1008,") && sw.Elapsed < TimeSpan.FromMinutes(1)) await Task.Delay(50);
        var (exit, stats, stderr) = await run.Terminate();

        Assert.Equal(0, exit);
        Assert.Equal((21, 0), (stats.GetProperty("records").GetInt64(), stats.GetProperty("skewed").GetInt64()));
        Assert.DoesNotContain("skewed", stderr);
    }

    // A corrupt far-future first line was accepted, being first: nothing closed while lines came
    // (live, no event at all), and once quiet the clock drove log time on from it, a year ahead.
    [Fact]
    public async Task A_corrupt_far_future_first_line_is_skewed_and_the_lines_after_it_alert_as_they_come()
    {
        var log = Path.Combine(_dir, "access.csv");
        var far = 1000 + 365L * 86400;
        File.WriteAllText(log, Header + "\n" + $"\"10.0.0.9\",\"-\",\"apache\",{far},\"GET /x HTTP/1.0\",200,1\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, idleTimeout: "1s");

        Assert.Equal(["firing@1001", "resolved@1005"], await run.WaitForTransitions(2));
        var (exit, stats, stderr) = await run.Terminate();

        Assert.Equal(0, exit);
        Assert.Equal((20, 1), (stats.GetProperty("records").GetInt64(), stats.GetProperty("skewed").GetInt64()));
        Assert.Contains($"access.csv:2: timestamp {far} is 31536000s ahead of", stderr);
    }

    [Fact]
    public async Task Sigterm_in_a_quiet_spell_closes_every_second_up_to_where_the_clock_drove_log_time()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        // Lateness 5 s: the clock closes second s once log time passes s + 5, so firing@1001 shows
        // when the clock has driven log time to 1007 (4 s after the last line), and the clock alone
        // would resolve at 1005 only at 1011, 4 s later. SIGTERM right after firing@1001 must close
        // every second up to where the clock is (semantics §5), 1005 among them.
        using var run = new Following(log, idleTimeout: "1s", "--lateness", "5s");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        var (exit, stats, _) = await run.Terminate();

        Assert.Equal(0, exit);
        Assert.True(run.Transitions().SequenceEqual(["firing@1001", "resolved@1005"]), run.Output);
        Assert.Equal(0, stats.GetProperty("firing").GetArrayLength());
    }

    // A signal while a pipe was streaming: the lines read but not yet handed out (up to half a
    // megabyte a chunk), and the batches the reader made after the signal, were dropped unsaid:
    // 2,000 to 14,000 lines of a pipe written as fast as it could be. What stays unread is what
    // the kernel still holds in the pipe (64 KB).
    [Fact]
    public async Task A_signal_while_stdin_streams_loses_no_line_logalert_has_read()
    {
        using var process = Process.Start(CliRunner.StartInfo(["--follow", "-", "--format", "jsonl",
            "--summary-interval", "off", "--disable", "high_traffic"]))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var input = process.StandardInput;
        input.AutoFlush = true; // one write a line: a line is in the pipe whole, or not at all
        var lineLength = 0;
        long written = 0;
        var writing = Task.Run(() =>
        {
            try
            {
                input.Write(Header + "\n");
                for (var i = 0L; ; i++)
                {
                    var line = $"\"10.0.0.{i % 200}\",\"-\",\"-\",{1549573860 + i / 1000},\"GET /api/x HTTP/1.1\",200,{i % 10}\n";
                    lineLength = Math.Max(lineLength, line.Length);
                    input.Write(line);
                    Interlocked.Increment(ref written);
                }
            }
            catch (IOException) { } // logalert has exited: the pipe is closed
        });
        while (Interlocked.Read(ref written) < 200_000 && !writing.IsCompleted) await Task.Delay(20);
        Process.Start("kill", ["-INT", process.Id.ToString()])!.WaitForExit();

        Assert.True(process.WaitForExit(30_000), "did not exit on SIGINT");
        await writing.WaitAsync(TimeSpan.FromSeconds(30));
        var (output, errors) = (await stdout, await stderr);
        Assert.Equal(0, process.ExitCode);
        var stats = JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        var lines = stats.GetProperty("lines").GetInt64();
        var unread = written + 1 - lines;
        Assert.True(unread >= 0 && unread <= 65536 / (lineLength - 2) + 1,
            $"{written} lines written, {lines} read: {unread} lost (stderr: {errors})");
        Assert.Equal(lines - 1, stats.GetProperty("records").GetInt64());
    }

    // A named pipe (or `<(command)`) not followed was read in half-megabyte chunks: a FIFO that stayed
    // open gave nothing until its end, and a signal then dropped it all (0 of 20 lines).
    [Fact]
    public async Task A_named_pipe_is_read_as_its_lines_come_and_counted_on_a_signal()
    {
        var fifo = Path.Combine(_dir, "fifo");
        Process.Start("mkfifo", [fifo])!.WaitForExit();
        using var process = Process.Start(CliRunner.StartInfo(["--format", "jsonl", "--threshold", "2", "--window", "3s",
            "--lateness", "0s", "--idle-timeout", "1s", "--summary-interval", "off", fifo]))!;
        var stdout = new List<string>();
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } l) lock (stdout) stdout.Add(l);
        });
        var stderr = process.StandardError.ReadToEndAsync();
        // Opening a FIFO for writing waits for its reader; the writer keeps it open until the end.
        await using var writer = await Task.Run(() => new StreamWriter(new FileStream(fifo, FileMode.Open, FileAccess.Write)));
        await writer.WriteAsync(Header + "\n" + Lines(1000, 1001, 20));
        await writer.FlushAsync();

        // 20 requests in one second, threshold 2 req/s over 3 s: fires once the idle clock closes it.
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromMinutes(1) && !process.HasExited)
        {
            lock (stdout) if (stdout.Any(l => l.Contains("\"state\":\"firing\""))) break;
            await Task.Delay(50);
        }
        Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
        Assert.True(process.WaitForExit(30_000), "did not exit on SIGTERM");
        await reading;
        string[] lines;
        lock (stdout) lines = [.. stdout];
        Assert.Contains(lines, l => l.Contains("\"state\":\"firing\""));
        var stats = JsonDocument.Parse(lines[^1]).RootElement;
        Assert.Equal(20, stats.GetProperty("records").GetInt64());
        Assert.DoesNotContain("   at ", await stderr);
    }

    // A named pipe's lines were read as they came, but stdout (not a terminal) was flushed only in 64 KB
    // blocks, as for a file: an alert waited for the writer to close the pipe, as stdin's did not.
    [Fact]
    public async Task Events_from_a_named_pipe_go_out_while_it_stays_open()
    {
        var fifo = Path.Combine(_dir, "fifo");
        Process.Start("mkfifo", [fifo])!.WaitForExit();
        using var process = Process.Start(CliRunner.StartInfo(["--format", "jsonl", "--threshold", "2", "--window", "3s",
            "--lateness", "0s", "--summary-interval", "off", fifo]))!;
        var stdout = new List<string>();
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } l) lock (stdout) stdout.Add(l);
        });
        var stderr = process.StandardError.ReadToEndAsync();
        await using (var writer = await Task.Run(() => new StreamWriter(new FileStream(fifo, FileMode.Open, FileAccess.Write))))
        {
            // 20 requests a second over 3 s against 2 req/s: fires as the later seconds close it.
            await writer.WriteAsync(Header + "\n" + Lines(1000, 1004, 20));
            await writer.FlushAsync();
            var waited = Stopwatch.StartNew();
            var fired = false;
            while (!fired && waited.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited)
            {
                lock (stdout) fired = stdout.Any(l => l.Contains("\"state\":\"firing\""));
                if (!fired) await Task.Delay(50);
            }
            Assert.True(fired, "no alert on stdout while the pipe stayed open");
        }
        Assert.True(process.WaitForExit(30_000), "did not end with its pipe");
        await reading;
        Assert.Equal(0, process.ExitCode);
        Assert.DoesNotContain("   at ", await stderr);
    }
}
