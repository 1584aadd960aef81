using System.Text;
using LogAlert.Cli.Input;
using Xunit;
using Record = LogAlert.Core.Record;

namespace LogAlert.Cli.Tests;

/// <summary>Lines longer than the cap (<c>--max-line-length</c>): one bad line each, bounded memory.</summary>
public sealed class LongLineTests : IDisposable
{
    private const string Header = TestLogs.Header;

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-long-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Line(string host, string path = "/api/x") =>
        $"\"{host}\",\"-\",\"apache\",1549573860,\"GET {path} HTTP/1.0\",200,100";

    private sealed record Result(List<Record> Records, List<BadLine> Bad, long Lines);

    private static Result ReadAll(AccessLogReader reader)
    {
        var records = new List<Record>();
        var bad = new List<BadLine>();
        long lines = 0;
        foreach (var batch in reader.ReadBatches())
        {
            records.AddRange(batch.Records);
            bad.AddRange(batch.Bad);
            lines += batch.Lines;
        }
        return new Result(records, bad, lines);
    }

    /// <summary>
    /// A stream of <paramref name="before"/>, then <paramref name="length"/> bytes of one line made on
    /// the fly (no newline in them), then <paramref name="after"/>: a huge line without holding it.
    /// </summary>
    private sealed class LongLineStream(string before, long length, string after) : ReadOnlyStream
    {
        private readonly byte[] _before = Encoding.UTF8.GetBytes(before);
        private readonly byte[] _after = Encoding.UTF8.GetBytes(after);
        private long _at;

        private long Length_ => _before.Length + length + _after.Length;

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, Length_ - _at);
            for (var i = 0; i < n;)
            {
                var at = _at + i;
                int run;
                if (at < _before.Length)
                {
                    run = (int)Math.Min(n - i, _before.Length - at);
                    _before.AsSpan((int)at, run).CopyTo(buffer[i..]);
                }
                else if (at < _before.Length + length)
                {
                    run = (int)Math.Min(n - i, _before.Length + length - at);
                    buffer.Slice(i, run).Fill((byte)'x'); // commas and quotes would do the same: no newline
                }
                else
                {
                    var o = (int)(at - _before.Length - length);
                    run = Math.Min(n - i, _after.Length - o);
                    _after.AsSpan(o, run).CopyTo(buffer[i..]);
                }
                i += run;
            }
            _at += n;
            return n;
        }

    }

    [Theory]
    [InlineData("stdin", 200_000_000)]
    [InlineData("file", 100_000_000)]
    public void A_line_far_over_the_cap_is_one_bad_line_and_its_bytes_are_never_held(string how, long length)
    {
        var before = Header + "\n" + Line("before") + "\n";
        var after = "\n" + Line("after") + "\n";
        AccessLogReader Reader(long lineLength)
        {
            if (how == "stdin")
                return new AccessLogReader(["-"], stdin: () => new LongLineStream(before, lineLength, after));
            var path = Path.Combine(_dir, $"long-{lineLength}.csv");
            using (var file = File.Create(path))
                new LongLineStream(before, lineLength, after).CopyTo(file, 1 << 20);
            return new AccessLogReader([path]);
        }
        // What the reader costs anyway (its line buffer, the parsers' caches), with a short line, and
        // what it costs with the long one: the reading and the line buffer run on this thread.
        static (Result, long) Measure(AccessLogReader reader)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var result = ReadAll(reader);
            return (result, GC.GetAllocatedBytesForCurrentThread() - allocated);
        }
        var (_, baseline) = Measure(Reader(10));

        var (result, allocated) = Measure(Reader(length));

        Assert.Equal(["before", "after"], result.Records.Select(r => r.Host));
        Assert.Equal([2L, 4L], result.Records.Select(r => r.Line));
        var bad = Assert.Single(result.Bad);
        Assert.Equal((3L, $"line longer than 65536 bytes ({length} bytes skipped)"), (bad.Line, bad.Reason));
        Assert.Equal(4, result.Lines);
        Assert.True(allocated - baseline < 4 << 20,
            $"{allocated >> 20} MB allocated reading a {length >> 20} MB line, {baseline >> 20} MB with a short one");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_line_over_the_cap_and_only_those_is_bad_wherever_the_reads_cut_the_input(int seed)
    {
        // Lines of every length around a cap of 200 bytes, some over it several in a row, a quarter
        // of them ended by CRLF (the CR is not counted: such a line of 200 bytes and a CR is within
        // the cap, as the same line ended by LF is, and an over-long one is said with the length the
        // cap counts), blank ones, and a last line without its newline.
        const int cap = 200;
        var random = new Random(seed);
        var lines = new List<string> { Header };
        for (var i = 0; i < 400; i++)
        {
            var shortLength = Line($"h{i}", "/a").Length;
            var length = random.Next(6) switch
            {
                0 => cap - random.Next(3),                      // just under or at the cap
                1 => cap + 1 + random.Next(2),                   // just over
                2 => cap * random.Next(2, 40),                   // far over
                3 => 0,                                          // blank
                _ => shortLength + random.Next(0, 50),
            };
            var line = length == 0 ? "" : Line($"h{i}", "/a" + new string('p', Math.Max(0, length - shortLength)));
            lines.Add(length > 0 && random.Next(4) == 0 ? line + "\r" : line);
        }
        lines.Add(Line("last", "/a" + new string('p', 3 * cap))); // over the cap, and no newline after it
        var text = string.Join("\n", lines);
        var bytes = Encoding.UTF8.GetBytes(text);

        var expectedRecords = new List<(long, string)>();
        var expectedBad = new List<(long, string)>();
        for (var i = 1; i < lines.Count; i++)
        {
            var length = Encoding.UTF8.GetByteCount(lines[i]);
            var counted = lines[i].EndsWith('\r') ? length - 1 : length;
            if (counted > cap) expectedBad.Add((i + 1, $"line longer than {cap} bytes ({counted} bytes skipped)"));
            else if (length > 0) expectedRecords.Add((i + 1, lines[i].Split('"')[1]));
        }
        Assert.True(expectedBad.Count > 100 && expectedRecords.Count > 100);
        // CRLF lines at the cap and one over it, both ways.
        Assert.Contains(lines, l => l.EndsWith('\r') && Encoding.UTF8.GetByteCount(l) == cap + 1);
        Assert.Contains(lines, l => l.EndsWith('\r') && Encoding.UTF8.GetByteCount(l) == cap + 2);
        var path = Path.Combine(_dir, "mixed.csv");
        File.WriteAllBytes(path, bytes);

        foreach (var reader in new[]
                 {
                     new AccessLogReader(["-"], stdin: () => new TrickleStream(bytes, seed), maxLineLength: cap, batchSize: 7),
                     new AccessLogReader([path], maxLineLength: cap),
                 })
        {
            var result = ReadAll(reader);

            Assert.Equal(expectedRecords, result.Records.Select(r => (r.Line, r.Host)));
            Assert.Equal(expectedBad, result.Bad.Select(b => (b.Line, b.Reason)));
            Assert.Equal(lines.Count, result.Lines);
        }
    }

    [Fact]
    public void A_first_line_over_the_cap_is_no_header_so_a_csv_input_is_not_in_the_format()
    {
        var path = Path.Combine(_dir, "no-header.csv");
        File.WriteAllText(path, new string('x', 300) + "\n" + Header + "\n" + Line("h") + "\n");

        var csv = Assert.Throws<InputFormatException>(() => ReadAll(new AccessLogReader([path], maxLineLength: 100) { Format = InputFormat.Csv }));

        Assert.Equal($"{path}:1: expected the header, found a line longer than 100 bytes (300 bytes)", csv.Message);
    }

    // With auto, the format is not known yet: a scanner's long URL at the top of a fresh log is one
    // bad line, and the lines after it decide the format (here the CSV header on line 2).
    [Fact]
    public void A_first_line_over_the_cap_is_one_bad_line_when_the_format_is_found_from_the_lines()
    {
        var path = Path.Combine(_dir, "long-first.csv");
        File.WriteAllText(path, new string('x', 300) + "\n" + Header + "\n" + Line("h") + "\n");

        var result = ReadAll(new AccessLogReader([path], maxLineLength: 100));

        Assert.Equal([(3L, "h")], result.Records.Select(r => (r.Line, r.Host)));
        Assert.Equal([(1L, "line longer than 100 bytes (300 bytes skipped)")], result.Bad.Select(b => (b.Line, b.Reason)));
        Assert.Equal(3, result.Lines);
    }

    // The reasons of a format that fits no line counted from the line after the long one: "ol.log:2:
    // ... (line 1: expected ...)" about line 2's text.
    [Fact]
    public void After_a_long_first_line_the_reasons_no_format_fits_name_the_input_lines()
    {
        var path = Path.Combine(_dir, "ol.log");
        File.WriteAllText(path, new string('0', 300) + "\nfoo bar\n");

        var e = Assert.Throws<InputFormatException>(() => ReadAll(new AccessLogReader([path], maxLineLength: 100)));

        Assert.StartsWith($"{path}:2: no format logalert knows fits \"foo bar\" (tried csv (line 2 is not the header", e.Message);
        Assert.Contains("combined (line 2: ", e.Message);
        Assert.DoesNotContain("line 1", e.Message);
    }
}
