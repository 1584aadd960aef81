using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LogAlert.Cli.Input;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// What a followed log meets beyond appends and clean rotations: a hole of NULs left by
/// <c>copytruncate</c>, a path that names something unreadable, a truncation in the middle of a line,
/// a compressed file where a log was awaited.
/// </summary>
/// <remarks>
/// As in <see cref="FollowTests"/>, each step waits for an event (a line on stderr, an alert), never for
/// a fixed time; a file read before the first alert is all there when the program starts, so one read
/// takes it whole.
/// </remarks>
public sealed class FollowRobustnessTests : IDisposable
{
    private const string Header = TestLogs.Header;

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-robust-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>CSV lines, n a second, for each second in [from, to).</summary>
    private static string Lines(long from, long to, int perSecond) => string.Concat(
        Enumerable.Range(0, (int)(to - from)).SelectMany(i => Enumerable.Repeat(
            $"\"10.0.0.1\",\"-\",\"apache\",{from + i},\"GET /api/x HTTP/1.0\",200,100\n", perSecond)));

    /// <summary>Combined lines, n a second, for each second in [from, to), each with a path of <paramref name="pathLength"/> bytes.</summary>
    private static string CombinedLines(long from, long to, int perSecond, int pathLength = 6) => string.Concat(
        Enumerable.Range(0, (int)(to - from)).SelectMany(i => Enumerable.Repeat(
            $"10.0.0.1 - - [{DateTimeOffset.FromUnixTimeSeconds(from + i).ToString("dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture)} +0000] " +
            $"\"GET /{new string('p', pathLength - 1)} HTTP/1.1\" 200 100 \"-\" \"curl\"\n",
            perSecond)));

    private static void Append(string log, string text) => Append(log, Encoding.UTF8.GetBytes(text));

    private static void Append(string log, byte[] bytes)
    {
        using var f = new FileStream(log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        f.Write(bytes);
    }

    /// <summary>logrotate's <c>copytruncate</c>: copied away, then emptied in place (same inode).</summary>
    private static void CopyTruncate(string log)
    {
        File.Copy(log, log + ".1");
        using (new FileStream(log, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { }
    }

    /// <summary>
    /// A path that names something no one can open for reading, whoever runs the tests (root reads
    /// any file whatever its mode): a Unix socket, which open(2) refuses with ENXIO. Disposed, it
    /// deletes what its path names then, so it lives as long as the test.
    /// </summary>
    private static Socket Unreadable(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>Puts <paramref name="text"/> at <paramref name="path"/> in one step (a rename), over whatever is there.</summary>
    private void Replace(string path, string text) => Replace(path, Encoding.UTF8.GetBytes(text));

    /// <summary>Puts <paramref name="bytes"/> at <paramref name="path"/> in one step (a rename), over whatever is there.</summary>
    private void Replace(string path, byte[] bytes)
    {
        var staged = Path.Combine(_dir, "staged");
        File.WriteAllBytes(staged, bytes);
        File.Move(staged, path, overwrite: true);
    }

    /// <summary>
    /// A file of <paramref name="kind"/>: <paramref name="text"/> gzipped, or another compression's
    /// first bytes (logalert reads no further in those).
    /// </summary>
    private static byte[] Compressed(string kind, string text)
    {
        if (kind != "gzip")
            return [.. kind switch
            {
                "zstd" => new byte[] { 0x28, 0xB5, 0x2F, 0xFD, 0, 0 },
                "bzip2" => "BZh91A"u8.ToArray(),
                _ => [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0],
            }, .. new byte[100]];
        using var bytes = new MemoryStream();
        using (var gzip = new GZipStream(bytes, CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes(text));
        return bytes.ToArray();
    }

    /// <summary>
    /// What logalert says of a file of <paramref name="kind"/> that turns up at a followed path once
    /// the run is under way: what it says of one compressed at the start (CompressedInputTests), with
    /// "the file now there is" for "is", so that the line does not read as though the log had been
    /// compressed all along.
    /// </summary>
    private static string Refusal(string kind, string path) => kind == "gzip"
        ? $"logalert: {path}: the file now there is gzip-compressed, so it cannot be followed; without --follow it is read whole"
        : $"logalert: {path}: the file now there is {kind}-compressed, which logalert does not read; decompress it first: "
          + $"{kind switch { "zstd" => "zstdcat", "bzip2" => "bzcat", _ => "xzcat" }} {path} | logalert -";

    private static (long Lines, long Records, long Bad) Counts(JsonElement stats) =>
        (stats.GetProperty("lines").GetInt64(), stats.GetProperty("records").GetInt64(), stats.GetProperty("bad").GetInt64());

    // ---- NULs before a line do not count against --max-line-length (docs/semantics.md §2) ---------

    [Fact]
    public void A_run_of_NULs_longer_than_the_cap_before_a_line_does_not_lose_the_line()
    {
        // 70,000 NULs: over the default cap of 65,536, which counted them and dropped the line after.
        var log = Path.Combine(_dir, "nul.log");
        using (var f = File.Create(log))
        {
            f.Write(Encoding.UTF8.GetBytes(CombinedLines(1000, 1002, 1)));
            f.Write(new byte[70_000]);
            f.Write(Encoding.UTF8.GetBytes(CombinedLines(1002, 1004, 1)));
        }

        var r = CliRunner.Run(log, "--format", "jsonl", "--summary-interval", "off");

        Assert.Equal("", r.Stderr);
        Assert.Equal((4L, 4L, 0L), Counts(JsonDocument.Parse(r.StdoutLines[^1]).RootElement));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void NULs_before_a_line_never_count_against_the_cap_wherever_the_reads_cut_the_input(int seed)
    {
        // Around a cap of 200 bytes: lines after runs of NULs shorter than, at, just over and far over
        // the cap, lines whose own text is at or over it, lines of NULs alone, blank lines, a quarter
        // ended by CRLF. A line's text counts against the cap, the NULs before it do not; a line of
        // NULs alone is bad: over the cap as any line is, within it as a line of NULs.
        const int cap = 200;
        var random = new Random(seed);
        var lines = new List<(string Text, int Nuls)>();
        var expectedRecords = new List<(long, string)>();
        var expectedBad = new List<(long, string)>();
        for (var i = 0; i < 400; i++)
        {
            var host = $"10.0.{i / 256}.{i % 256}";
            var shortLine = $"{host} - - [07/Feb/2019:21:11:00 +0000] \"GET /a HTTP/1.1\" 200 100 \"-\" \"curl\"";
            int Nuls() => random.Next(5) switch
            {
                0 => random.Next(1, cap - 1),
                1 => cap - 1 + random.Next(3),                  // just under, at, just over
                2 => cap * random.Next(2, 40),                   // far over
                3 => cap - shortLine.Length + random.Next(-2, 3), // with the text, just about the cap
                _ => 0,
            };
            var (text, nuls) = random.Next(6) switch
            {
                0 => ("", Math.Max(1, Nuls())),                   // NULs alone
                1 => ("", 0),                                     // blank
                2 => (shortLine.Replace("/a ", "/a" + new string('p', cap - shortLine.Length + random.Next(-1, 3)) + " "), Nuls()),
                _ => (shortLine, Math.Max(0, Nuls())),
            };
            var crlf = random.Next(4) == 0;
            lines.Add((crlf ? text + "\r" : text, nuls));
            var number = i + 1;
            if (text.Length > cap) expectedBad.Add((number, $"line longer than {cap} bytes ({text.Length} bytes skipped)"));
            else if (text.Length > 0) expectedRecords.Add((number, host));
            else if (nuls > cap) expectedBad.Add((number, $"line longer than {cap} bytes ({nuls} bytes skipped)"));
            else if (nuls > 0) expectedBad.Add((number, $"{nuls} NUL bytes and nothing else (a log's lost writes after a crash)"));
        }
        var bytes = new MemoryStream();
        foreach (var (text, nuls) in lines)
        {
            bytes.Write(new byte[nuls]);
            bytes.Write(Encoding.UTF8.GetBytes(text + "\n"));
        }
        // The mix holds what matters: text after NULs that with them is over the cap, and NULs alone over it.
        Assert.Contains(lines, l => l.Text.Length is > 0 and <= cap && l.Nuls > 0 && l.Text.TrimEnd('\r').Length + l.Nuls > cap);
        Assert.Contains(lines, l => l.Text.TrimEnd('\r').Length == 0 && l.Nuls > cap);
        var path = Path.Combine(_dir, "nuls.log");
        File.WriteAllBytes(path, bytes.ToArray());
        var combined = InputFormat.TryCreate("combined", null, out _)!;

        foreach (var reader in new[]
                 {
                     new AccessLogReader(["-"], stdin: () => new TrickleStream(bytes.ToArray(), seed), maxLineLength: cap, batchSize: 7) { Format = combined },
                     new AccessLogReader([path], maxLineLength: cap) { Format = combined },
                 })
        {
            var records = new List<(long, string)>();
            var bad = new List<(long, string)>();
            long read = 0;
            foreach (var batch in reader.ReadBatches())
            {
                records.AddRange(batch.Records.Select(r => (r.Line, r.Host)));
                bad.AddRange(batch.Bad.Select(b => (b.Line, b.Reason)));
                read += batch.Lines;
            }

            Assert.Equal(expectedRecords, records);
            Assert.Equal(expectedBad, bad);
            Assert.Equal(lines.Count, read);
        }
    }

    [Fact]
    public async Task The_first_line_after_a_copytruncate_with_a_hole_of_NULs_before_it_is_read()
    {
        // A writer without O_APPEND writes on at its offset after copytruncate: the file gets a hole
        // of NULs as long as the old content (here 70 KB, over the cap) before its next line.
        var log = Path.Combine(_dir, "access.log");
        File.WriteAllText(log, CombinedLines(1000, 1004, 5, pathLength: 3500));
        var oldLength = new FileInfo(log).Length;
        Assert.True(oldLength > 65536);
        using var run = new Following(log, "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        CopyTruncate(log);
        using (var writer = new FileStream(log, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            writer.Seek(oldLength, SeekOrigin.Begin);
            writer.Write(Encoding.UTF8.GetBytes(CombinedLines(1004, 1008, 1)));
        }
        // 1 req/s from 1004 on: resolved at 1006, once 1007 is read.
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        Assert.Equal((20L + 4, 20L + 4, 0L), Counts(stats));
        Assert.Equal("", stderr);
    }

    // ---- a followed path that names something unreadable is waited out (docs/semantics.md §12) ---

    [Theory]
    [InlineData("a directory")]
    [InlineData("an unreadable file")]
    public async Task What_cannot_be_read_where_a_followed_file_is_awaited_is_waited_out_as_a_missing_file_is(string what)
    {
        // It ended the run, exit 1: "cannot open: permission denied or not a file".
        var log = Path.Combine(_dir, "access.csv");
        using var run = new Following(log, "1h");
        await run.WaitForStderr("no such file yet");

        var directory = what == "a directory";
        using var socket = directory ? null : Unreadable(log);
        if (directory) Directory.CreateDirectory(log);
        var said = await run.WaitForStderr(directory ? "is a directory" : "cannot open");
        if (directory) Assert.Equal($"logalert: {log}: is a directory; waiting for a file to appear", said);
        else
        {
            Assert.StartsWith($"logalert: {log}: cannot open: ", said);
            Assert.EndsWith("; waiting until it can be read", said);
        }

        if (directory) Directory.Delete(log);
        Replace(log, Header + "\n" + Lines(1000, 1004, 5));
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));
        var arrived = directory ? "has appeared" : "has become accessible";
        Assert.Equal($"logalert: {log}: {arrived}; following it", await run.WaitForStderr(arrived));

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal((0, 20L), (exit, stats.GetProperty("records").GetInt64()));
        Assert.Single(stderr.Split('\n'), l => l.Contains(directory ? "is a directory" : "cannot open")); // said once, not at every poll
    }

    [Fact]
    public async Task A_rotation_to_a_file_that_cannot_be_opened_is_said_once_and_the_file_followed_once_it_can_be()
    {
        // It was followed in silence: nothing said, nothing of the new file read until it could be.
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        File.Move(log, log + ".1");
        using var socket = Unreadable(log);
        var said = await run.WaitForStderr("cannot open");
        Assert.StartsWith($"logalert: {log}: cannot open: ", said);
        Assert.EndsWith("; waiting until it can be read", said);

        // The old file is read on meanwhile, over many polls that say nothing more.
        Append(log + ".1", Lines(1004, 1008, 1));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));
        Replace(log, Lines(1008, 1012, 5));
        Assert.Equal(["firing@1001", "resolved@1006", "firing@1008"], await run.WaitForTransitions(3));

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal((0, 20L + 4 + 20), (exit, stats.GetProperty("records").GetInt64()));
        var lines = stderr.Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains("cannot open", lines[0]);
        Assert.Equal($"logalert: {log}: has become accessible; following it", lines[1]);
    }

    // ---- a truncation in the middle of a line drops the half line (docs/semantics.md §12) ----------

    [Fact]
    public async Task A_copytruncate_in_the_middle_of_a_line_drops_the_half_line_and_says_so()
    {
        // The request was 1234 bytes; "12" was read before the copy, "34\n" is written after the
        // truncation. The half line counted as a record of 12 bytes.
        var log = Path.Combine(_dir, "access.csv");
        const string half = "\"10.0.0.9\",\"-\",\"-\",1004,\"GET /x HTTP/1.1\",200,12";
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5) + half);
        using var run = new Following(log, "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        CopyTruncate(log);
        Append(log, "34\n" + Lines(1004, 1008, 1));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal(0, exit);
        // The header and 20 lines, then "34" (bad: its start is gone) and 4 lines; the half line is
        // no line, as one left at a stop is not.
        Assert.Equal((1L + 20 + 1 + 4, 20L + 4, 1L), Counts(stats));
        Assert.Equal(
            [
                $"logalert: {log}: truncated in the middle of a line; its {half.Length} bytes after the last newline were dropped",
                $"logalert: {log}:1: expected 7 fields, found 1",
            ],
            stderr.Split('\n'));
    }

    [Fact]
    public async Task A_renamed_file_is_complete_so_its_last_line_without_a_newline_is_read()
    {
        // Unlike a truncation: the writer has moved on to the new file, and this line is whole.
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5) + "\"10.0.0.9\",\"-\",\"-\",1004,\"GET /x HTTP/1.1\",200,1234");
        using var run = new Following(log, "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        File.Move(log, log + ".1");
        File.WriteAllText(log, Lines(1005, 1008, 1));
        Assert.Equal(["firing@1001", "resolved@1006"], await run.WaitForTransitions(2));

        var (exit, stats, stderr) = await run.Terminate();
        Assert.Equal((0, (1L + 21 + 3, 21L + 3, 0L), ""), (exit, Counts(stats), stderr));
    }

    // ---- a compressed file where a followed log was awaited (docs/semantics.md §1) ----------------

    [Theory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    [InlineData("bzip2")]
    [InlineData("xz")]
    public async Task A_followed_file_that_appears_compressed_ends_the_run_saying_it_turned_up_so(string kind)
    {
        // Refused when it was there at the start; arriving later, its bytes were read as a log, lines
        // of binary garbage, and the run went on.
        var (log, stats) = await RefusedOnArrival(log => Replace(log, Compressed(kind, Header + "\n" + Lines(1000, 1004, 5))),
                                                  log => Refusal(kind, log));

        Assert.Equal($"error: {Refusal(kind, log)["logalert: ".Length..]}", stats.GetProperty("stopped").GetString());
    }

    [Fact]
    public async Task A_followed_path_that_turns_up_as_a_named_pipe_ends_the_run_in_one_line()
    {
        // Opened as a file, it waited for a writer, then "Stream does not support seeking." and a stack trace.
        await RefusedOnArrival(log => Process.Start("mkfifo", [log])!.WaitForExit(),
            log => $"logalert: {log}: turned up as a named pipe, which --follow reads only when it is there as logalert starts; start logalert after it, or pipe it in: cat {log} | logalert --follow -");
    }

    /// <summary>
    /// Follows a path that names nothing yet, has <paramref name="arrive"/> put something there, and
    /// checks that the run ends refusing it: exit 1, the wait and <paramref name="refusal"/> on
    /// stderr, nothing read. Returns the path and the final report.
    /// </summary>
    private async Task<(string Log, JsonElement Stats)> RefusedOnArrival(Action<string> arrive, Func<string, string> refusal)
    {
        var log = Path.Combine(_dir, "access.csv");
        using var run = new Following(log, "1h");
        await run.WaitForStderr("no such file yet");

        arrive(log);
        var (exit, stats, stderr) = await run.Ended();

        Assert.Equal(1, exit);
        Assert.Equal([$"logalert: {log}: no such file yet; waiting for it to appear", refusal(log)], stderr.Split('\n'));
        Assert.Equal((0L, 0L, 0L), Counts(stats));
        return (log, stats);
    }

    [Fact]
    public async Task A_followed_file_that_appears_empty_and_is_then_written_compressed_ends_the_run()
    {
        // `gzip -c old.log > access.log`: the file opens empty, its compressed bytes come after.
        var log = Path.Combine(_dir, "access.csv");
        using var run = new Following(log, "1h");
        await run.WaitForStderr("no such file yet");
        File.WriteAllBytes(log, []);
        await run.WaitForStderr("has appeared");

        Append(log, Compressed("gzip", Header + "\n" + Lines(1000, 1004, 5)));
        var (exit, stats, stderr) = await run.Ended();

        Assert.Equal(1, exit);
        Assert.Equal(Refusal("gzip", log), stderr.Split('\n')[^1]);
        Assert.Equal((0L, 0L, 0L), Counts(stats));
    }

    [Fact]
    public async Task A_rotation_to_a_compressed_file_ends_the_run_once_the_old_file_is_read_to_its_end()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        File.Move(log, log + ".1");
        Append(log + ".1", Lines(1004, 1008, 1)); // written before the switch: read, as in any rotation
        Replace(log, Compressed("gzip", Lines(1008, 1012, 5)));
        var (exit, stats, stderr) = await run.Ended();

        Assert.Equal(1, exit);
        Assert.Equal(Refusal("gzip", log), stderr);
        // Every line of the old file is in the report, and its events are out.
        Assert.Equal((1L + 20 + 4, 20L + 4, 0L), Counts(stats));
        Assert.Equal(["firing@1001", "resolved@1006"], run.Transitions());
        Assert.StartsWith("error: ", stats.GetProperty("stopped").GetString());
    }

    // A named pipe with no writer yet: its open waited for one, and SIGTERM could not end the wait;
    // the host gave up on the run 30 s later, exit 0 and no report (QA).
    [Fact]
    public async Task A_named_pipe_without_a_writer_stops_at_SIGTERM_with_its_report()
    {
        var fifo = Path.Combine(_dir, "access.fifo");
        Process.Start("mkfifo", [fifo])!.WaitForExit();
        using var run = new Following(fifo, "1h");
        await Task.Delay(1000); // at the open, which waits for a writer

        var stopping = Stopwatch.StartNew();
        var (exit, stats, stderr) = await run.Terminate();

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"took {stopping.Elapsed}");
        Assert.Equal((0, ""), (exit, stderr));
        Assert.Equal("SIGTERM", stats.GetProperty("stopped").GetString());
        Assert.Equal((0L, 0L, 0L), Counts(stats));
    }

    // A named pipe in the followed file's place after a rotation (or a delete and a mkfifo): with a
    // writer, "Stream does not support seeking." and a stack trace (QA); without one, a silent wait.
    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public async Task A_rotation_to_a_named_pipe_ends_the_run_in_one_line_once_the_old_file_is_read(bool renamed, bool writer)
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        using var run = new Following(log, "1h");
        Assert.Equal(["firing@1001"], await run.WaitForTransitions(1));

        if (renamed) File.Move(log, log + ".1");
        else File.Delete(log);
        Process.Start("mkfifo", [log])!.WaitForExit();
        // A writer that opens the pipe and writes a line (it waits for a reader; killed at the end).
        using var writing = writer ? Process.Start("sh", ["-c", $"echo '\"10.0.0.1\",\"-\",\"-\",1010,\"GET / HTTP/1.1\",200,1' > '{log}'"]) : null;
        var (exit, stats, stderr) = await run.Ended();
        writing?.Kill();

        Assert.Equal(1, exit);
        Assert.Equal($"logalert: {log}: turned up as a named pipe, which --follow reads only when it is there as logalert starts; start logalert after it, or pipe it in: cat {log} | logalert --follow -",
            stderr.Split('\n')[^1]);
        Assert.DoesNotContain("   at ", stderr);
        Assert.Equal((1L + 20, 20L, 0L), Counts(stats));
        Assert.StartsWith("error: ", stats.GetProperty("stopped").GetString());
    }
}
