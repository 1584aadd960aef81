using System.IO.Compression;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// Rotated logs as logrotate leaves them (<c>access.log.2.gz</c>): read decompressed, in any format;
/// other compressions and a followed compressed file are refused with what to do instead.
/// </summary>
public sealed class CompressedInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-gz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Generated(string name, params string[] options)
    {
        var path = Path.Combine(_dir, name);
        Assert.Equal(0, CliRunner.Run(["generate", "--rate", "5", "--burst", "2m:3m:20", "--duration", "10m", .. options, "-o", path]).ExitCode);
        return path;
    }

    private string Gzip(string path, string? name = null)
    {
        var target = Path.Combine(_dir, name ?? Path.GetFileName(path) + ".gz");
        using (var input = File.OpenRead(path))
        using (var output = new GZipStream(File.Create(target), CompressionLevel.Optimal))
            input.CopyTo(output);
        return target;
    }

    /// <summary>The run's stdout with each input's path written as "LOG", so runs on other files compare.</summary>
    private static string Output(CliRunner.Result r, params string[] paths) =>
        paths.Aggregate(r.Stdout, (text, path) => text.Replace(JsonEncodedText.Encode(path).ToString(), "LOG"));

    // A gzip file was read as bytes: "no format logalert knows fits "\x1f\x8b…"", exit 2.
    [Theory]
    [InlineData("csv")]
    [InlineData("combined")]
    public void A_gzip_log_gives_what_the_log_itself_gives(string format)
    {
        var log = Generated("access.log", "--output-format", format);
        var gz = Gzip(log);

        var plain = CliRunner.Run("--format", "jsonl", log);
        var zipped = CliRunner.Run("--format", "jsonl", gz);

        Assert.Equal(0, zipped.ExitCode);
        Assert.Equal("", zipped.Stderr);
        Assert.Equal(Output(plain, log), Output(zipped, gz));
        Assert.Contains("\"type\":\"alert\"", zipped.Stdout);
    }

    [Fact]
    public void Rotated_logs_read_in_order_gzip_and_plain_together()
    {
        var older = Generated("older.log", "--output-format", "combined", "--start", "1549573860");
        var newer = Generated("newer.log", "--output-format", "combined", "--start", "1549574460");
        var gz = Gzip(older, "access.log.1.gz");

        var both = CliRunner.Run("--format", "jsonl", gz, newer);
        var unzipped = CliRunner.Run("--format", "jsonl", older, newer);

        Assert.Equal(0, both.ExitCode);
        Assert.Equal(Output(unzipped, older), Output(both, gz));
    }

    /// <summary>The first bytes of each compression logalert names but does not read, its name, and the command that reads it.</summary>
    public static TheoryData<byte[], string, string> OtherCompressions => new()
    {
        { [0x28, 0xB5, 0x2F, 0xFD, 0, 0], "zstd", "zstdcat" },
        { [(byte)'B', (byte)'Z', (byte)'h', (byte)'9', 0x31, 0x41], "bzip2", "bzcat" },
        { [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0], "xz", "xzcat" },
    };

    [Theory]
    [MemberData(nameof(OtherCompressions))]
    public void Another_compression_is_named_with_the_command_that_reads_it(byte[] head, string kind, string reader)
    {
        var path = Path.Combine(_dir, "access.log.1." + kind);
        File.WriteAllBytes(path, [.. head, .. new byte[100]]);

        var r = CliRunner.Run(path);

        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"logalert: {path}: is {kind}-compressed, which logalert does not read; decompress it first: {reader} {path} | logalert -", r.Stderr.Trim());
    }

    [Fact]
    public void A_log_whose_first_bytes_only_start_like_a_compression_is_read()
    {
        var path = Path.Combine(_dir, "vhost.log");
        File.WriteAllText(path, "BZh.example.com:80 10.0.0.1 - - [07/Feb/2019:21:11:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"c\"\n");

        var r = CliRunner.Run("--format", "jsonl", path);

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("\"records\":1,", r.Stdout);
    }

    [Fact]
    public void A_gzip_file_cannot_be_followed()
    {
        var gz = Gzip(Generated("access.log"));

        var r = CliRunner.Run("--follow", gz);

        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"logalert: {gz}: is gzip-compressed, so it cannot be followed; without --follow it is read whole", r.Stderr.Trim());
    }

    // `cat access.log.2.gz access.log.1.gz > both.gz` is a valid gzip file (zcat reads both), and was
    // warned of as perhaps cut short. Large enough that members straddle the reader's 64 KiB blocks.
    [Fact]
    public void Gzip_members_joined_into_one_file_read_as_zcat_reads_them()
    {
        var older = Generated("older.log", "--rate", "60", "--output-format", "combined", "--start", "1549573860");
        var newer = Generated("newer.log", "--rate", "60", "--output-format", "combined", "--start", "1549574460");
        var joined = Path.Combine(_dir, "both.gz");
        File.WriteAllBytes(joined, [.. File.ReadAllBytes(Gzip(older)), .. File.ReadAllBytes(Gzip(newer))]);
        Assert.True(new FileInfo(joined).Length > 3 * 64 * 1024);

        var both = CliRunner.Run("--format", "jsonl", joined);
        var plain = CliRunner.Run("--format", "jsonl", older, newer);

        Assert.Equal("", both.Stderr);
        Assert.Equal(0, both.ExitCode);
        // Events and summaries alike; the report's counts too (its inputs are one file against two).
        Assert.Equal(plain.StdoutLines[..^1], both.StdoutLines[..^1]);
        var (got, want) = (JsonDocument.Parse(both.StdoutLines[^1]).RootElement, JsonDocument.Parse(plain.StdoutLines[^1]).RootElement);
        foreach (var count in new[] { "lines", "records", "bad" })
            Assert.Equal(want.GetProperty(count).GetInt64(), got.GetProperty(count).GetInt64());
    }

    // gzip warns "decompression OK, trailing garbage ignored"; logalert said it might be cut short.
    // Zero bytes (padding to a block) zcat ignores without a word, and so does logalert.
    [Theory]
    [InlineData("junk after the log\n", "the 19 bytes after its gzip data are not gzip")]
    [InlineData("x", "the 1 byte after its gzip data is not gzip")]
    [InlineData("\0\0\0\0\0\0\0\0", null)]
    public void Bytes_after_the_gzip_data_are_ignored_with_a_warning(string junk, string? warning)
    {
        var log = Generated("access.log");
        var gz = Gzip(log);
        var clean = CliRunner.Run("--format", "jsonl", gz);
        File.AppendAllText(gz, junk);

        var r = CliRunner.Run("--format", "jsonl", gz);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(warning is null ? "" : $"logalert: {gz}: warning: {warning}; ignored, as zcat does", r.Stderr.Trim());
        Assert.Equal(clean.Stdout, r.Stdout);
    }

    // The whole lines before damaged data were dropped with the chunk being read (0 of 1786 lines
    // counted when a second member was damaged), and the reason was only "damaged".
    [Theory]
    [InlineData("second member", "invalid")]
    [InlineData("checksum", "incorrect data check")]
    [InlineData("gzip magic then junk", "unknown compression method")]
    public void Lines_before_damaged_gzip_data_are_counted_and_the_reason_said(string where, string reason)
    {
        var log = Generated("access.log");
        var gz = Gzip(log);
        var plain = CliRunner.Run("--format", "jsonl", log);
        var bytes = File.ReadAllBytes(gz);
        byte[] damaged = where switch
        {
            "second member" => [.. bytes, .. bytes[..30], (byte)(bytes[30] ^ 0xFF), .. bytes[31..]],
            "checksum" => [.. bytes[..^6], (byte)(bytes[^6] ^ 0x5A), .. bytes[^5..]],
            _ => [.. bytes, 0x1F, 0x8B, .. "hello"u8],
        };
        File.WriteAllBytes(gz, damaged);

        var r = CliRunner.Run("--format", "jsonl", gz);

        Assert.Equal(1, r.ExitCode);
        Assert.Matches($@"^logalert: {System.Text.RegularExpressions.Regex.Escape(gz)}: cannot read: the gzip data is damaged \({reason}[^)]*\)$", r.Stderr.Trim());
        var (got, want) = (JsonDocument.Parse(r.StdoutLines[^1]).RootElement, JsonDocument.Parse(plain.StdoutLines[^1]).RootElement);
        Assert.Equal(want.GetProperty("lines").GetInt64(), got.GetProperty("lines").GetInt64());
        Assert.Equal(want.GetProperty("records").GetInt64(), got.GetProperty("records").GetInt64());
    }

    // .NET's GZipStream ends quietly where data cut short ends: half a log read, exit 0, not a word.
    [Fact]
    public void A_gzip_file_cut_short_is_read_to_where_it_ends_with_a_warning()
    {
        var log = Generated("access.log");
        var gz = Gzip(log);
        var whole = CliRunner.Run("--format", "jsonl", gz);
        var bytes = File.ReadAllBytes(gz);
        File.WriteAllBytes(gz, bytes[..(bytes.Length / 2)]);

        var cut = CliRunner.Run("--format", "jsonl", gz);

        Assert.Equal("", whole.Stderr);
        Assert.Equal(0, cut.ExitCode);
        Assert.Contains($"logalert: {gz}: warning: its gzip data is cut short (the file ends inside it): read up to where it ends", cut.Stderr);
        var (all, read) = (JsonDocument.Parse(whole.StdoutLines[^1]).RootElement, JsonDocument.Parse(cut.StdoutLines[^1]).RootElement);
        Assert.InRange(read.GetProperty("lines").GetInt64(), 1, all.GetProperty("lines").GetInt64() - 1);
    }

    // Both ways of reading gzip, directly: member by member through the runtime's zlib, and, where it
    // cannot be called so, through GZipStream with the file's end checked against its trailer.
    [Theory]
    [InlineData(true, "its gzip data is cut short (the file ends inside it)")]
    [InlineData(false, "its gzip data does not end as a whole file's does: was it cut short?")]
    public void Both_ways_of_reading_gzip_read_a_file_cut_short_to_where_it_ends(bool byMember, string warning)
    {
        var log = Generated("access.log");
        var gz = Gzip(log);
        var bytes = File.ReadAllBytes(gz);
        var cut = Path.Combine(_dir, "cut.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 3 / 4)]);
        var text = File.ReadAllText(log);

        string Read(string path, List<string> notices)
        {
            using var stream = LogAlert.Cli.Input.Compression.Open(File.OpenRead(path), path, notices.Add, byMember);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        var (wholeNotices, cutNotices) = (new List<string>(), new List<string>());

        Assert.Equal(text, Read(gz, wholeNotices));
        Assert.Empty(wholeNotices);
        var partial = Read(cut, cutNotices);
        Assert.StartsWith(partial, text);
        Assert.InRange(partial.Length, text.Length / 4, text.Length - 1);
        Assert.Equal($"{cut}: warning: {warning}", Assert.Single(cutNotices)[..($"{cut}: warning: ".Length + warning.Length)]);
    }

    // Compressed bytes on stdin were dumped as "no format logalert knows fits "\x1f…"".
    [Fact]
    public void Gzip_on_stdin_is_said_to_be_gzip_with_what_to_do()
    {
        var gz = Gzip(Generated("access.log"));

        var r = RunWithStdin(gz);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("logalert: <stdin>: is gzip-compressed, which logalert reads from a named file only: name the file, or zcat it into logalert -", r.Stderr.Trim());
    }

    [Theory]
    [MemberData(nameof(OtherCompressions))]
    public void Another_compression_on_stdin_is_named_with_the_command_that_reads_it(byte[] head, string kind, string reader)
    {
        // Dumped as "no format logalert knows fits "(\uFFFD/\uFFFD…"", twice, where gzip was named.
        var path = Path.Combine(_dir, "access.log." + kind);
        File.WriteAllBytes(path, [.. head, .. new byte[100]]);

        var r = RunWithStdin(path);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"logalert: <stdin>: is {kind}-compressed, which logalert does not read: {reader} it into logalert -", r.Stderr.Trim());
    }

    /// <summary>logalert reading <paramref name="file"/>'s bytes on stdin, through a shell redirection.</summary>
    private static CliRunner.Result RunWithStdin(string file)
    {
        var command = CliRunner.ShellCommand(["-"]);
        var shell = new System.Diagnostics.ProcessStartInfo("sh", ["-c", $"exec {command} < '{file}'"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        shell.Environment["NO_COLOR"] = "1";
        using var p = System.Diagnostics.Process.Start(shell)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "did not finish");
        return new CliRunner.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    // Damage inside a member is found where zlib finds it: what it decompressed before comes out as
    // lines, and those past the damage as bad lines, as zcat's output would read.
    [Fact]
    public void Damaged_gzip_data_ends_the_run_with_its_report_and_a_one_line_reason()
    {
        var log = Generated("access.log");
        var gz = Gzip(log);
        var bytes = File.ReadAllBytes(gz);
        for (var i = bytes.Length / 2; i < bytes.Length / 2 + 64; i++) bytes[i] ^= 0x5A;
        File.WriteAllBytes(gz, bytes);

        var r = CliRunner.Run("--format", "jsonl", gz);

        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"logalert: {gz}: cannot read: the gzip data is damaged (", r.Stderr.Trim().Split('\n')[^1]);
        Assert.DoesNotContain("   at ", r.Stderr);
        var stats = JsonDocument.Parse(r.StdoutLines[^1]).RootElement;
        Assert.StartsWith($"error: {gz}: cannot read", stats.GetProperty("stopped").GetString());
        Assert.InRange(stats.GetProperty("lines").GetInt64(), 1, File.ReadAllLines(log).Length - 1);
    }

    // Damage found in a later block lost every line decompressed from the block read where it sits
    // (4,829 of 6,037 lines read here): the reader's second thread was parsing the chunk before the read
    // that failed, and its batches were dropped when the failure was thrown. Whether the last chunk
    // is the one on that thread depends on where the damage is, so it is put in several places.
    [Theory]
    [InlineData(0.45)]
    [InlineData(0.55)]
    [InlineData(0.65)]
    [InlineData(0.75)]
    [InlineData(0.85)]
    public void Every_whole_line_decompressed_before_damage_in_a_later_block_is_read(double at)
    {
        var log = Generated("access.log", "--duration", "30m", "--rate", "6", "--output-format", "combined");
        var gz = Gzip(log);
        var bytes = File.ReadAllBytes(gz);
        Assert.True(bytes.Length > 2 * 64 * 1024, "the damage is past the reader's first 64 KiB block");
        var offset = (int)(bytes.Length * at);
        bytes.AsSpan(offset, 4).Fill(0xFF);
        File.WriteAllBytes(gz, bytes);
        var (whole, intact) = Recoverable(gz, File.ReadAllLines(log));

        // Two processors as the runtime sees them, so that the reader's second thread runs on a
        // machine of one core too (without it, every line was read before the fix).
        var r = CliRunner.Run(["--format", "jsonl", gz], env: new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "2" });

        Assert.Equal(1, r.ExitCode);
        // Bad lines before it, decompressed from the damage before zlib could tell, are said first.
        Assert.StartsWith($"logalert: {gz}: cannot read: the gzip data is damaged (", r.Stderr.Trim().Split('\n')[^1]);
        Assert.DoesNotContain("   at ", r.Stderr);
        var stats = JsonDocument.Parse(r.StdoutLines[^1]).RootElement;
        Assert.StartsWith($"error: {gz}: cannot read: the gzip data is damaged", stats.GetProperty("stopped").GetString());
        Assert.InRange(intact, 1, File.ReadAllLines(log).Length - 1);
        Assert.True(stats.GetProperty("lines").GetInt64() >= whole, $"damage at {offset}: {stats.GetProperty("lines")} lines read, {whole} whole lines decompressed before it");
        Assert.True(stats.GetProperty("records").GetInt64() >= intact, $"damage at {offset}: {stats.GetProperty("records")} records, {intact} lines decompressed intact before it");
    }

    /// <summary>
    /// What zlib gives of <paramref name="gz"/> before it finds the damage, fed one byte at a time (the
    /// call that fails loses its output, at most 256 bytes, from one byte): its whole lines, and how
    /// many of them from the first are the log's own lines, <paramref name="log"/>, undamaged.
    /// </summary>
    private static (long Whole, long Intact) Recoverable(string gz, string[] log)
    {
        var output = new MemoryStream();
        using (var zlib = new GZipStream(new Trickle(File.ReadAllBytes(gz)), CompressionMode.Decompress))
        {
            var piece = new byte[256];
            try
            {
                for (int read; (read = zlib.Read(piece)) > 0;) output.Write(piece, 0, read);
                Assert.Fail("the damage was not found");
            }
            catch (InvalidDataException) { }
        }
        var text = System.Text.Encoding.UTF8.GetString(output.ToArray());
        var lines = text[..(text.LastIndexOf('\n') + 1)].Split('\n')[..^1];
        var intact = lines.Zip(log).TakeWhile(pair => pair.First == pair.Second).Count();
        return (lines.Length, intact);
    }

    /// <summary>Bytes handed out one per read.</summary>
    private sealed class Trickle(byte[] bytes) : LogAlert.Cli.Input.ReadOnlyStream
    {
        private int _at;

        public override int Read(Span<byte> buffer)
        {
            if (_at == bytes.Length || buffer.IsEmpty) return 0;
            buffer[0] = bytes[_at++];
            return 1;
        }
    }
}
