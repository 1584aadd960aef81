using System.Collections.Concurrent;
using System.IO.Pipes;
using System.Text;
using System.Threading.Channels;
using LogAlert.Cli.Input;
using LogAlert.Core;
using Xunit;
using Record = LogAlert.Core.Record;

namespace LogAlert.Cli.Tests;

public sealed class AccessLogReaderTests : IDisposable
{
    private const string Header = TestLogs.Header;

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-reader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Line(string host = "10.0.0.1", long time = 1549573860, string request = "GET /api/user HTTP/1.0",
                               string status = "200", string bytes = "1234", string user = "apache") =>
        $"\"{host}\",\"-\",\"{user}\",{time},\"{request}\",{status},{bytes}";

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    private string WriteLines(string name, params string[] lines) => Write(name, string.Join("\n", lines) + "\n");

    private sealed record Result(List<Record> Records, List<BadLine> Bad, long Lines, int Batches);

    private static Result ReadAll(AccessLogReader reader)
    {
        var records = new List<Record>();
        var bad = new List<BadLine>();
        long lines = 0;
        var batches = 0;
        foreach (var batch in reader.ReadBatches())
        {
            Assert.Equal(batch.Count, batch.Records.Length);
            records.AddRange(batch.Records);
            bad.AddRange(batch.Bad);
            lines += batch.Lines;
            batches++;
        }
        return new Result(records, bad, lines, batches);
    }

    private static Result ReadAll(params string[] inputs) => ReadAll(new AccessLogReader(inputs));

    [SharedLogFact]
    public void The_seed_log_reads_as_4829_records_and_loses_exactly_the_two_lines_of_its_split_record()
    {
        var path = CliRunner.SharedLog()!;

        var result = ReadAll(path);

        Assert.Equal(4829, result.Records.Count);
        Assert.Equal(4832, result.Lines);
        Assert.Equal([3806L, 3807L], result.Bad.Select(b => b.Line));
        Assert.Equal("expected 7 fields, found 3", result.Bad[0].Reason);
        Assert.Equal("expected 7 fields, found 5", result.Bad[1].Reason);
        Assert.All(result.Bad, b => Assert.Equal(path, b.Path));
        var first = result.Records[0];
        Assert.Equal((1549573860L, "10.0.0.2", "apache", "GET", "/api", 200, 1234L, 0, 2L),
            (first.Time, first.Host, first.User, first.Method, first.Section, first.Status, first.Bytes, first.Source, first.Line));
        Assert.Equal(4832L, result.Records[^1].Line);
        Assert.True(result.Batches >= 2); // 4829 records do not fit one batch of 4096
    }

    [Fact]
    public void Columns_are_found_by_header_name_in_any_order_and_extra_columns_are_ignored()
    {
        var path = WriteLines("reordered.csv",
            "\"status\",\"request\",\"extra\",\"bytes\",\"date\",\"authuser\",\"rfc931\",\"remotehost\"",
            "404,\"POST /report/daily HTTP/1.1\",\"whatever, really\",77,1549573999,\"bob\",\"-\",\"10.9.9.9\"");

        var r = Assert.Single(ReadAll(path).Records);

        Assert.Equal((1549573999L, "10.9.9.9", "bob", "POST", "/report", 404, 77L),
            (r.Time, r.Host, r.User, r.Method, r.Section, r.Status, r.Bytes));
    }

    [Fact]
    public void Header_names_match_without_quotes_and_ignoring_case()
    {
        var path = WriteLines("plain.csv", "RemoteHost,rfc931,AuthUser,Date,Request,Status,Bytes", Line());

        Assert.Single(ReadAll(path).Records);
    }

    [Fact]
    public void A_header_without_a_required_column_is_a_format_failure_naming_the_file_and_the_column()
    {
        var path = WriteLines("nodate.csv", "\"remotehost\",\"rfc931\",\"authuser\",\"request\",\"status\",\"bytes\"",
            "\"10.0.0.1\",\"-\",\"apache\",\"GET / HTTP/1.0\",200,1");

        var e = Assert.Throws<InputFormatException>(() => ReadAll(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("\"date\"", e.Message);
    }

    [Fact]
    public void A_missing_file_fails_when_reading_is_asked_for_before_anything_is_read()
    {
        var reader = new AccessLogReader([Path.Combine(_dir, "absent.csv")]);

        var e = Assert.Throws<InputException>(() => reader.ReadBatches());

        Assert.Contains("absent.csv", e.Message);
        Assert.Contains("no such file", e.Message);
    }

    [Fact]
    public void Blank_lines_are_skipped_silently_but_counted_as_lines()
    {
        var path = Write("blank.csv", "\n" + Header + "\n\n" + Line() + "\n   \n\t\n" + Line(time: 1549573861) + "\n\n");

        var result = ReadAll(path);

        Assert.Equal(2, result.Records.Count);
        Assert.Empty(result.Bad);
        Assert.Equal(8, result.Lines);
        Assert.Equal([4L, 7L], result.Records.Select(r => r.Line));
    }

    [Fact]
    public void An_unclosed_quote_is_a_bad_line_and_the_next_line_is_read_afresh()
    {
        var path = WriteLines("quote.csv", Header,
            "\"10.0.0.1\",\"-\",\"apache\",1549573860,\"GET /api HTTP/1.0,200,1234",
            Line(host: "10.0.0.2"),
            "\"10.0.0.3\",\"-\",\"apache\",1549573860,\"GET /x\"y HTTP/1.0\",200,1",
            Line(host: "10.0.0.4"));

        var result = ReadAll(path);

        Assert.Equal(["10.0.0.2", "10.0.0.4"], result.Records.Select(r => r.Host));
        Assert.Equal([(2L, "unclosed quote"), (4L, "text after a closing quote")], result.Bad.Select(b => (b.Line, b.Reason)));
        Assert.Equal(5, result.Lines);
    }

    [Fact]
    public void A_record_split_over_two_lines_costs_exactly_those_two_lines()
    {
        var path = WriteLines("split.csv", Header, Line(), "\"10.0.0.5\",\"-\",", "\"apache\",1549574191,\"GET /report HTTP/1.0\",200,1234", Line());

        var result = ReadAll(path);

        Assert.Equal([2L, 5L], result.Records.Select(r => r.Line));
        Assert.Equal([(3L, "expected 7 fields, found 3"), (4L, "expected 7 fields, found 5")], result.Bad.Select(b => (b.Line, b.Reason)));
    }

    [Fact]
    public void Crlf_line_ends_read_like_lf()
    {
        var lines = new[] { Header, Line(), "", Line(request: "GET /help HTTP/1.1", bytes: "-") };
        var lf = ReadAll(Write("lf.csv", string.Join("\n", lines) + "\n"));
        var crlf = ReadAll(Write("crlf.csv", string.Join("\r\n", lines) + "\r\n"));

        Assert.Equal(lf.Records.Select(Describe), crlf.Records.Select(Describe));
        Assert.Equal(4, crlf.Lines);
        Assert.Empty(crlf.Bad);
        Assert.Equal("/help", crlf.Records[1].Section);
    }

    [Fact]
    public void A_carriage_return_without_a_line_feed_does_not_end_the_line()
    {
        var path = Write("cr.csv", Header + "\n" + Line(user: "ap\rache") + "\n" + Line(host: "10.0.0.9") + "\n");

        var result = ReadAll(path);

        Assert.Equal([(2L, "ap ache"), (3L, "apache")], result.Records.Select(r => (r.Line, r.User)));
        Assert.Empty(result.Bad);
        Assert.Equal(3, result.Lines);
    }

    private static string Describe(Record r) =>
        $"{r.Time} {r.Host} {r.User} {r.Method} {r.Section} {r.Status} {r.Bytes} {r.Source} {r.Line}";

    [Fact]
    public void A_utf8_byte_order_mark_before_the_header_is_ignored()
    {
        var path = Path.Combine(_dir, "bom.csv");
        File.WriteAllText(path, Header + "\n" + Line() + "\n", new UTF8Encoding(true));

        var result = ReadAll(path);

        Assert.Single(result.Records);
        Assert.Empty(result.Bad);
    }

    [Fact]
    public void A_last_line_without_a_newline_is_read_and_counted()
    {
        var path = Write("noeol.csv", Header + "\n" + Line() + "\n" + Line(host: "10.0.0.7"));

        var result = ReadAll(path);

        Assert.Equal(["10.0.0.1", "10.0.0.7"], result.Records.Select(r => r.Host));
        Assert.Equal(3, result.Lines); // wc -l says 2: the last line has no newline
    }

    [Fact]
    public void Several_files_are_read_in_order_as_one_stream_each_with_its_own_header()
    {
        var a = WriteLines("a.csv", Header, Line(host: "a1"), Line(host: "a2"));
        var b = WriteLines("b.csv", "\"date\",\"remotehost\",\"authuser\",\"rfc931\",\"request\",\"status\",\"bytes\"",
            "1549573900,\"b1\",\"-\",\"-\",\"GET / HTTP/1.0\",200,1", "oops");
        var c = WriteLines("c.csv", Header, Line(host: "c1"));

        var result = ReadAll(a, b, c);

        Assert.Equal(["a1", "a2", "b1", "c1"], result.Records.Select(r => r.Host));
        Assert.Equal([(0, 2L), (0, 3L), (1, 2L), (2, 2L)], result.Records.Select(r => (r.Source, r.Line)));
        var bad = Assert.Single(result.Bad);
        Assert.Equal((1, b, 3L, "expected 7 fields, found 1"), (bad.Source, bad.Path, bad.Line, bad.Reason));
        Assert.Equal(3 + 3 + 2, result.Lines);
    }

    [Fact]
    public void Bytes_written_as_a_dash_are_zero()
    {
        var path = WriteLines("dash.csv", Header, Line(bytes: "-"), Line(bytes: "\"-\""));

        var result = ReadAll(path);

        Assert.Equal([0L, 0L], result.Records.Select(r => r.Bytes));
    }

    [Theory]
    [InlineData("date", "abc", "date \"abc\" is not Unix time (whole seconds, 0 to 253402300799)")]
    [InlineData("date", "1549573860.5", "date \"1549573860.5\" is not Unix time (whole seconds, 0 to 253402300799)")]
    [InlineData("status", "700", "status 700 is not in 100..599")]
    [InlineData("status", "99", "status 99 is not in 100..599")]
    [InlineData("status", "099", "status 099 is not in 100..599")] // as logged, as the server formats say it
    [InlineData("status", "OK", "status \"OK\" is not an integer")]
    [InlineData("date", "99999999999999999999", "date \"99999999999999999999\" is not Unix time (whole seconds, 0 to 253402300799)")]
    [InlineData("date", "9223372036854775807", "timestamp 9223372036854775807 is outside the valid range of log time, 0 (1970-01-01T00:00:00Z) to 253402300799 (9999-12-31T23:59:59Z)")]
    [InlineData("date", "253402300800", "timestamp 253402300800 is outside the valid range of log time, 0 (1970-01-01T00:00:00Z) to 253402300799 (9999-12-31T23:59:59Z)")]
    [InlineData("date", "-1", "timestamp -1 is outside the valid range of log time, 0 (1970-01-01T00:00:00Z) to 253402300799 (9999-12-31T23:59:59Z)")]
    [InlineData("bytes", "-5", "bytes -5 is negative")]
    [InlineData("bytes", "1125899906842625", "bytes 1125899906842625 is above the limit of 1125899906842624 (1 PiB)")]
    [InlineData("bytes", "lots", "bytes \"lots\" is not an integer or '-'")]
    // Too long for the number type: out of range, not "not an integer" (as they were said before).
    [InlineData("status", "99999999999", "status 99999999999 is not in 100..599")]
    [InlineData("bytes", "99999999999999999999", "bytes 99999999999999999999 is above the limit of 1125899906842624 (1 PiB)")]
    [InlineData("bytes", "-99999999999999999999", "bytes -99999999999999999999 is negative")]
    [InlineData("request", "GET", "request \"GET\" is not 'METHOD /path [PROTOCOL]'")]
    [InlineData("request", "GET api HTTP/1.0", "request \"GET api HTTP/1.0\" is not 'METHOD /path [PROTOCOL]'")]
    [InlineData("request", "GET /a b c", "request \"GET /a b c\" is not 'METHOD /path [PROTOCOL]'")]
    public void A_field_that_does_not_parse_makes_a_bad_line_with_the_reason(string field, string value, string reason)
    {
        var bad = field switch
        {
            "date" => $"\"10.0.0.1\",\"-\",\"apache\",{value},\"GET / HTTP/1.0\",200,1",
            "status" => Line(status: value),
            "bytes" => Line(bytes: value),
            _ => Line(request: value),
        };
        var path = WriteLines("bad.csv", Header, Line(), bad, Line());

        var result = ReadAll(path);

        Assert.Equal([2L, 4L], result.Records.Select(r => r.Line));
        Assert.Equal((3L, reason), Assert.Single(result.Bad).Apply(b => (b.Line, b.Reason)));
    }

    [Theory]
    [InlineData("GET /api/user?id=3 HTTP/1.0", "GET", "/api")]
    [InlineData("GET /report HTTP/1.0", "GET", "/report")]
    [InlineData("GET / HTTP/1.0", "GET", "/")]
    [InlineData("GET /?q=1 HTTP/1.0", "GET", "/")]
    [InlineData("DELETE /api/user/7", "DELETE", "/api")]
    public void The_section_is_what_stands_before_the_second_slash(string request, string method, string section)
    {
        var r = Assert.Single(ReadAll(WriteLines("s.csv", Header, Line(request: request))).Records);

        Assert.Equal((method, section), (r.Method, r.Section));
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_are_one_value_per_decoded_text()
    {
        // Hosts and sections a\xFFb, a\xFEb and a\uFFFDb (as UTF-8) all read as "a\uFFFDb": one
        // label value, as when every field was decoded into a string. The last line has an escaped
        // quote in the user field, so CsvHelper reads it instead of the plain-line path.
        var text = string.Join("\n", Header,
            Line(host: "a#1b", request: "GET /s#1/x HTTP/1.0"),
            Line(host: "a#2b", request: "GET /s#2/x HTTP/1.0"),
            Line(host: "a#3b", request: "GET /s#3/x HTTP/1.0"),
            Line(host: "a#1b", request: "GET /s#1/x HTTP/1.0", user: "a\"\"b")) + "\n";
        var bytes = Encoding.UTF8.GetBytes(text).ToList();
        byte[][] replacements = [[0xFF], [0xFE], [0xEF, 0xBF, 0xBD]];
        for (var i = bytes.Count - 2; i >= 0; i--)
            if (bytes[i] == (byte)'#' && bytes[i + 1] is >= (byte)'1' and <= (byte)'3')
            {
                var with = replacements[bytes[i + 1] - '1'];
                bytes.RemoveRange(i, 2);
                bytes.InsertRange(i, with);
            }
        var path = Path.Combine(_dir, "not-utf8.csv");
        File.WriteAllBytes(path, bytes.ToArray());

        var rs = ReadAll(path).Records;

        Assert.Equal(4, rs.Count);
        Assert.All(rs, r => Assert.Equal("a\uFFFDb", r.Host));
        Assert.All(rs, r => Assert.Equal("/s\uFFFD", r.Section));
        Assert.Single(rs.Select(r => r.HostId).Distinct());
        Assert.Single(rs.Select(r => r.SectionId).Distinct());
    }

    [Fact]
    public void Equal_hosts_users_methods_and_sections_share_one_string()
    {
        var path = WriteLines("intern.csv", Header, Line(), Line(request: "GET /api/other HTTP/1.0"), Line());

        var rs = ReadAll(path).Records;

        Assert.Same(rs[0].Host, rs[2].Host);
        Assert.Same(rs[0].User, rs[1].User);
        Assert.Same(rs[0].Method, rs[1].Method);
        Assert.Same(rs[0].Section, rs[1].Section);
    }

    [Fact]
    public void More_distinct_values_than_the_string_cache_holds_and_non_ascii_text_read_back_exactly()
    {
        // 200k hosts overflow the 64k-slot cache many times over, so slots are replaced all the time;
        // every record must still carry its own text. Non-ASCII bytes go through the UTF-8 grammar.
        var expected = Enumerable.Range(0, 200_000)
            .Select(i => (Host: i % 7 == 0 ? $"h\u00f6st-{i}.example" : $"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}",
                          User: $"u{i % 1000}", Request: i % 3 == 0 ? $"GET /caf\u00e9{i % 50}/x HTTP/1.1" : $"POST /s{i % 10000}?q={i}"))
            .ToList();
        var path = WriteLines("many.csv", [Header, .. expected.Select(e => Line(host: e.Host, user: e.User, request: e.Request))]);

        var records = ReadAll(path).Records;

        Assert.Equal(expected.Count, records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            var e = expected[i];
            var (method, section) = i % 3 == 0 ? ("GET", $"/caf\u00e9{i % 50}") : ("POST", $"/s{i % 10000}");
            Assert.Equal((e.Host, e.User, method, section), (records[i].Host, records[i].User, records[i].Method, records[i].Section));
        }
    }

    [Fact]
    public void A_header_repeated_inside_an_input_starts_a_new_column_order_instead_of_a_bad_line()
    {
        // `cat a.csv b.csv | logalert -`
        var path = WriteLines("cat.csv", Header, Line(host: "a"),
            "\"request\",\"remotehost\",\"rfc931\",\"authuser\",\"date\",\"status\",\"bytes\"",
            "\"GET / HTTP/1.0\",\"b\",\"-\",\"-\",1549573860,200,1");

        var result = ReadAll(path);

        Assert.Equal(["a", "b"], result.Records.Select(r => r.Host));
        Assert.Empty(result.Bad);
    }

    [Theory]
    [InlineData(5_000)]
    [InlineData(20_000)]
    [InlineData(37_000)]
    [InlineData(52_000)]
    public void A_large_input_parsed_two_chunks_at_a_time_reads_exactly_as_line_by_line(int headerAt)
    {
        // Megabyte chunks are parsed two at a time; a header repeated inside one changes the columns
        // of the chunk after it, which was already parsed with the old ones and must be parsed again.
        // Four places for the header put it in chunks parsed on either thread.
        const string reordered = "\"request\",\"remotehost\",\"rfc931\",\"authuser\",\"date\",\"status\",\"bytes\"";
        var lines = new List<string> { Header };
        var expected = new List<(long Line, string Host, long Time)>();
        var expectedBad = new List<long>();
        var order = "header";
        for (var i = 0; i < 70_000; i++)
        {
            if (i == headerAt)
            {
                lines.Add(reordered);
                order = "reordered";
            }
            var host = $"h{i}";
            var time = 1549573860L + i / 100;
            if (i % 4999 == 17)
            {
                lines.Add($"\"{host}\",broken"); // a bad line: its number must be right whichever thread read it
                expectedBad.Add(lines.Count);
                continue;
            }
            lines.Add(order == "header"
                ? Line(host: host, time: time)
                : $"\"GET /api/user HTTP/1.0\",\"{host}\",\"-\",\"apache\",{time},200,1234");
            expected.Add((lines.Count, host, time));
        }
        var path = WriteLines("large.csv", [.. lines]);
        Assert.True(new FileInfo(path).Length > 4_000_000, "the input must span several megabyte chunks");

        var result = ReadAll(path);

        Assert.Equal(expected, result.Records.Select(r => (r.Line, r.Host, r.Time)));
        Assert.Equal(expectedBad, result.Bad.Select(b => b.Line));
        Assert.Equal(lines.Count, result.Lines);
        Assert.All(result.Records, r => Assert.Equal(("GET", "/api", 200, 1234L), (r.Method, r.Section, r.Status, r.Bytes)));
    }

    [Fact]
    public void Batches_hold_at_most_the_batch_size_and_their_lines_add_up()
    {
        var lines = new List<string> { Header };
        for (var i = 0; i < 10; i++) lines.Add(i == 4 ? "" : Line(time: 1549573860 + i));
        var path = WriteLines("batches.csv", [.. lines]);

        var batches = new AccessLogReader([path], batchSize: 3).ReadBatches().ToList();

        Assert.All(batches, b => Assert.InRange(b.Count, 0, 3));
        Assert.Equal(9, batches.Sum(b => b.Count));
        Assert.Equal(11, batches.Sum(b => b.Lines));
        Assert.Equal(Enumerable.Range(0, 10).Where(i => i != 4).Select(i => 1549573860L + i),
            batches.SelectMany(b => b.Records).Select(r => r.Time));
    }

    [Fact]
    public void Stdin_is_read_when_named_dash_and_its_bad_lines_say_stdin()
    {
        var bytes = Encoding.UTF8.GetBytes(Header + "\n" + Line() + "\nnonsense\n");
        var reader = new AccessLogReader(["-"], stdin: () => new MemoryStream(bytes));

        var result = ReadAll(reader);

        Assert.Single(result.Records);
        Assert.Equal((AccessLogReader.StdinName, 3L), Assert.Single(result.Bad).Apply(b => (b.Path, b.Line)));
    }

    // A signal while a read of stdin was in flight, its thread not yet run (a loaded machine): the
    // bytes it then took out of the pipe were dropped, 2,191 lines in one run of FollowTests.
    [Fact]
    public async Task Stopped_while_a_pipe_read_is_in_flight_the_lines_it_reads_go_out()
    {
        var first = Encoding.UTF8.GetBytes(Header + "\n" + Line() + "\n");
        var second = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(Line() + "\n", 50)));
        var stdin = new LateSecondRead(first, second, TimeSpan.FromMilliseconds(120));
        using var cancel = new CancellationTokenSource();
        var reader = new AccessLogReader(["-"], cancel: cancel.Token, stdin: () => stdin);
        var records = 0;
        var reading = Task.Run(() =>
        {
            foreach (var b in reader.ReadBatches()) records += b.Records.Length;
        });

        Assert.True(stdin.SecondAsked.Wait(TimeSpan.FromSeconds(30)), "the second read was not asked for");
        await Task.Delay(20);
        await cancel.CancelAsync();

        await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(51, records);
    }

    /// <summary>A pipe whose second read finishes late, and whose third never does (a quiet writer).</summary>
    private sealed class LateSecondRead(byte[] first, byte[] second, TimeSpan late) : LogAlert.Cli.Input.ReadOnlyStream
    {
        private int _reads;

        public ManualResetEventSlim SecondAsked { get; } = new();

        public override int Read(Span<byte> buffer) => throw new NotSupportedException("read asynchronously, as a pipe is");

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            switch (++_reads)
            {
                case 1:
                    first.CopyTo(buffer);
                    return ValueTask.FromResult(first.Length);
                case 2:
                    SecondAsked.Set();
                    return new ValueTask<int>(Task.Delay(late).ContinueWith(_ =>
                    {
                        second.CopyTo(buffer);
                        return second.Length;
                    }));
                default:
                    return new ValueTask<int>(new TaskCompletionSource<int>().Task);
            }
        }
    }

    [Fact]
    public async Task A_slow_pipe_gets_its_records_out_without_waiting_for_a_full_batch()
    {
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        var reader = new AccessLogReader(["-"], stdin: () => client);
        var batches = new BlockingCollection<InputBatch>();
        var task = Task.Run(() =>
        {
            foreach (var b in reader.ReadBatches()) batches.Add(b);
            batches.CompleteAdding();
        });

        server.Write(Encoding.UTF8.GetBytes(Header + "\n" + Line() + "\n"));
        server.Flush();
        var seen = 0;
        while (seen == 0)
        {
            Assert.True(batches.TryTake(out var batch, TimeSpan.FromSeconds(30)), "no record while the pipe stays open");
            seen += batch!.Count;
        }
        Assert.Equal(1, seen);

        server.Write(Encoding.UTF8.GetBytes(Line(host: "10.0.0.2") + "\n"));
        server.Dispose(); // end of input
        await task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["10.0.0.2"], batches.SelectMany(b => b.Records).Select(r => r.Host));
    }

    [Fact]
    public async Task Start_reads_into_a_channel_and_a_read_failure_completes_it_with_the_input_exception()
    {
        var good = WriteLines("good.csv", Header, Line());
        var bad = WriteLines("bad.csv", "\"remotehost\"", "x");

        var reader = new AccessLogReader([good, bad]).Start();

        var first = await reader.ReadAsync();
        Assert.Equal(1, first.Count);
        var e = await Assert.ThrowsAsync<InputFormatException>(() => reader.Completion);
        Assert.Contains("bad.csv", e.Message);
        var closed = await Assert.ThrowsAsync<ChannelClosedException>(async () => await reader.ReadAsync());
        Assert.IsType<InputFormatException>(closed.InnerException);
    }

    // ---- follow mode -------------------------------------------------------------------------------

    /// <summary>Follows a file on a background task and collects what it yields.</summary>
    private sealed class Follower : IDisposable
    {
        private readonly CancellationTokenSource _cancel = new();
        private readonly BlockingCollection<InputBatch> _batches = new();
        private readonly Task _task;

        public List<Record> Records { get; } = [];
        public List<BadLine> Bad { get; } = [];
        public long Lines { get; private set; }
        public int Heartbeats { get; private set; }
        public ConcurrentQueue<string> Notices { get; } = new();

        public Follower(string path, int pollMs = 20, int maxLineLength = AccessLogReader.DefaultMaxLineLength)
        {
            var reader = new AccessLogReader([path], follow: true, cancel: _cancel.Token,
                pollInterval: TimeSpan.FromMilliseconds(pollMs), notice: Notices.Enqueue, maxLineLength: maxLineLength);
            var batches = reader.ReadBatches();
            _task = Task.Run(() =>
            {
                foreach (var b in batches) _batches.Add(b);
                _batches.CompleteAdding();
            });
        }

        /// <summary>Takes batches until <paramref name="done"/> holds, for at most five seconds.</summary>
        public void WaitUntil(Func<Follower, bool> done)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!done(this))
            {
                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero, $"timed out with {Records.Count} records, {Bad.Count} bad, {Lines} lines");
                if (_batches.TryTake(out var b, left)) Absorb(b);
            }
        }

        /// <summary>Takes what arrives during <paramref name="time"/> (to see that nothing more comes).</summary>
        public void Drain(TimeSpan time)
        {
            var deadline = DateTime.UtcNow + time;
            while (DateTime.UtcNow < deadline)
                if (_batches.TryTake(out var b, TimeSpan.FromMilliseconds(10))) Absorb(b);
        }

        private void Absorb(InputBatch b)
        {
            Records.AddRange(b.Records);
            Bad.AddRange(b.Bad);
            Lines += b.Lines;
            if (b.IsHeartbeat) Heartbeats++;
        }

        public bool Stop()
        {
            _cancel.Cancel();
            var ended = _task.Wait(TimeSpan.FromSeconds(30));
            while (_batches.TryTake(out var b)) Absorb(b);
            return ended;
        }

        public void Dispose()
        {
            _cancel.Cancel();
            _task.Wait(TimeSpan.FromSeconds(30));
            _cancel.Dispose();
        }
    }

    private static void Append(string path, string text)
    {
        using var f = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        f.Write(Encoding.UTF8.GetBytes(text));
    }

    [Fact]
    public void Follow_reads_the_file_then_what_is_appended_and_holds_a_partial_line_until_its_newline()
    {
        var path = WriteLines("live.csv", Header, Line(host: "h1"));
        using var follower = new Follower(path);
        follower.WaitUntil(f => f.Records.Count == 1);

        Append(path, Line(host: "h2") + "\n" + Line(host: "h3", bytes: "12"));
        follower.WaitUntil(f => f.Records.Count == 2);
        follower.Drain(TimeSpan.FromMilliseconds(150)); // several polls: the partial line must stay unread
        Assert.Equal(2, follower.Records.Count);
        Assert.True(follower.Heartbeats > 0, "an idle follow yields heartbeats");

        Append(path, "3\n");
        follower.WaitUntil(f => f.Records.Count == 3);
        Assert.Equal((4L, 123L), (follower.Records[2].Line, follower.Records[2].Bytes));
        Assert.Equal(4, follower.Lines);
        Assert.Empty(follower.Bad);

        Append(path, Line(host: "h4") + "\nbroken\n");
        follower.WaitUntil(f => f.Records.Count == 4 && f.Bad.Count == 1);
        Assert.True(follower.Stop(), "cancelling ends the follow");
        Assert.Equal(["h1", "h2", "h3", "h4"], follower.Records.Select(r => r.Host));
        Assert.Equal(6, follower.Lines);
        Assert.Empty(follower.Notices); // stopped between lines: nothing left unread
    }

    [Fact]
    public void Follow_stopped_in_the_middle_of_a_line_leaves_it_unread_and_says_so()
    {
        var path = WriteLines("cut.csv", Header, Line(host: "h1"));
        using var follower = new Follower(path);
        follower.WaitUntil(f => f.Records.Count == 1);
        var unfinished = Line(host: "h2", bytes: "12"); // "12" may yet become "1234"
        Append(path, unfinished);
        follower.Drain(TimeSpan.FromMilliseconds(150)); // several polls: it is held, not read

        Assert.True(follower.Stop(), "cancelling ends the follow");

        Assert.Equal(["h1"], follower.Records.Select(r => r.Host));
        Assert.Empty(follower.Bad);
        Assert.Equal(
            [$"{path}: stopped in the middle of a line; its {Encoding.UTF8.GetByteCount(unfinished)} bytes after the last newline were not read"],
            follower.Notices);
    }

    [Fact]
    public void Follow_stopped_before_the_end_of_its_backlog_says_how_much_of_the_file_was_left()
    {
        // A signal while a followed file's backlog was read said "stopped in the middle of a line; its
        // 112 bytes after the last newline were not read" of where the read buffer cut the file, with
        // megabytes of it unread. Batches are taken one at a time here: the reader is a chunk or two
        // ahead when the follow is cancelled, far from the file's end.
        var line = Line(host: "h1");
        var path = WriteLines("backlog.csv", [Header, .. Enumerable.Repeat(line, 100_000)]);
        var size = new FileInfo(path).Length;
        using var cancel = new CancellationTokenSource();
        var notices = new ConcurrentQueue<string>();
        var reader = new AccessLogReader([path], follow: true, cancel: cancel.Token,
            pollInterval: TimeSpan.FromMilliseconds(20), notice: notices.Enqueue);
        long records = 0;
        using (var batches = reader.ReadBatches().GetEnumerator())
        {
            Assert.True(batches.MoveNext());
            records += batches.Current.Count;
            cancel.Cancel();
            while (batches.MoveNext()) records += batches.Current.Count;
        }

        Assert.InRange(records, 1, 99_999);
        var read = Encoding.UTF8.GetByteCount(Header + "\n") + records * Encoding.UTF8.GetByteCount(line + "\n");
        Assert.Equal([$"{path}: stopped before its end; its last {size - read} bytes were not read"], notices);
    }

    [Theory]
    [InlineData(1500)]
    [InlineData(100_000)]
    public void Follow_stopped_in_an_over_long_line_says_so_too(int length)
    {
        // Over the cap, the line's bytes are dropped as they come: none was held, and nothing was said.
        var path = WriteLines("long.csv", Header, Line(host: "h1"));
        using var follower = new Follower(path, maxLineLength: 1024);
        follower.WaitUntil(f => f.Records.Count == 1);
        Append(path, new string('q', length));
        follower.Drain(TimeSpan.FromMilliseconds(150));

        Assert.True(follower.Stop(), "cancelling ends the follow");

        Assert.Equal([$"{path}: stopped in the middle of a line; its {length} bytes after the last newline were not read"], follower.Notices);
    }

    [Fact]
    public void Follow_reads_a_truncated_file_again_from_its_start_header_included()
    {
        var path = WriteLines("trunc.csv", Header, Line(host: "old1"), Line(host: "old2"), Line(host: "old3"));
        using var follower = new Follower(path);
        follower.WaitUntil(f => f.Records.Count == 3);

        // copytruncate: same file, emptied, then written again (shorter than before)
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            f.SetLength(0);
        follower.Drain(TimeSpan.FromMilliseconds(60));
        Append(path, "\"date\",\"remotehost\",\"authuser\",\"rfc931\",\"request\",\"status\",\"bytes\"\n" +
                     "1549573999,\"new1\",\"-\",\"-\",\"GET / HTTP/1.0\",200,1\n");

        follower.WaitUntil(f => f.Records.Count == 4);
        follower.Drain(TimeSpan.FromMilliseconds(100));
        Assert.Equal(["old1", "old2", "old3", "new1"], follower.Records.Select(r => r.Host));
        Assert.Equal(2L, follower.Records[3].Line);
        Assert.Empty(follower.Bad);
        Assert.Equal(4 + 2, follower.Lines);
    }

    [Fact]
    public void After_a_restart_the_columns_stay_unless_the_new_content_starts_with_a_header()
    {
        // Reordered columns from the first header on: a line read with the default ones would be bad.
        const string reordered = "\"date\",\"remotehost\",\"authuser\",\"rfc931\",\"request\",\"status\",\"bytes\"";
        static string Reordered(string host) => $"1549573999,\"{host}\",\"-\",\"-\",\"GET / HTTP/1.0\",200,1";
        var path = WriteLines("columns.csv", reordered, Reordered("old1"));
        using var follower = new Follower(path);
        follower.WaitUntil(f => f.Records.Count == 1);

        // Rotation to a file without a header: the columns in force read it.
        File.Move(path, path + ".1");
        WriteLines("columns.csv", Reordered("new1"), Reordered("new2"), Reordered("new3"), Reordered("new4"));
        follower.WaitUntil(f => f.Records.Count == 5);

        // Truncation, then a header of another width: it takes over from line 1 of the new content
        // (shorter than the old, so the truncation shows whenever the reader looks).
        using (var f = new FileStream(path, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { }
        Append(path, "\"extra\"," + Header + "\n\"x\"," + Line(host: "wide1") + "\n");
        follower.WaitUntil(f => f.Records.Count == 6);
        follower.Drain(TimeSpan.FromMilliseconds(100));

        Assert.Equal(["old1", "new1", "new2", "new3", "new4", "wide1"], follower.Records.Select(r => r.Host));
        Assert.Equal([2L, 1L, 2L, 3L, 4L, 2L], follower.Records.Select(r => r.Line));
        Assert.Empty(follower.Bad);
        Assert.Equal(2 + 4 + 2, follower.Lines);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_file_emptied_and_written_again_beyond_its_old_size_between_two_polls_is_read_from_its_start(bool newHeader)
    {
        // The length never looks smaller than what was read: only the first bytes tell the new
        // content from the old. A long poll, and the heartbeat said the reader has just found nothing
        // and waits out that poll: the truncation and the regrowth both happen within it.
        var path = WriteLines("regrow.csv", Header, Line(host: "old1"), Line(host: "old2"), Line(host: "old3"));
        var oldSize = new FileInfo(path).Length;
        using var follower = new Follower(path, pollMs: 2000);
        follower.WaitUntil(f => f.Records.Count == 3 && f.Heartbeats > 0);

        var lines = Enumerable.Range(1, 5).Select(i => newHeader
            ? $"1549573999,\"new{i}\",\"-\",\"-\",\"GET / HTTP/1.0\",200,1"
            : Line(host: $"new{i}")).ToList();
        if (newHeader) lines.Insert(0, "\"date\",\"remotehost\",\"authuser\",\"rfc931\",\"request\",\"status\",\"bytes\"");
        using (var f = new FileStream(path, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            f.Write(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
        Assert.True(new FileInfo(path).Length > oldSize);

        // The next heartbeat comes once the reader has woken up, read what it found, and found no more.
        var heartbeats = follower.Heartbeats;
        follower.WaitUntil(f => f.Heartbeats > heartbeats);
        Assert.Equal(["old1", "old2", "old3", "new1", "new2", "new3", "new4", "new5"], follower.Records.Select(r => r.Host));
        Assert.Empty(follower.Bad);
        Assert.Equal(4 + lines.Count, follower.Lines);
    }

    [Fact]
    public void Follow_finishes_a_rotated_file_then_reads_the_new_one_from_its_start()
    {
        var path = WriteLines("rotate.csv", Header, Line(host: "old1"));
        using var follower = new Follower(path);
        follower.WaitUntil(f => f.Records.Count == 1);

        // logrotate's default: rename, the writer still appends to the old file, then a new file appears.
        File.Move(path, path + ".1");
        Append(path + ".1", Line(host: "old2") + "\n");
        follower.Drain(TimeSpan.FromMilliseconds(60));
        WriteLines("rotate.csv", Header, Line(host: "new1"), Line(host: "new2"));

        follower.WaitUntil(f => f.Records.Count == 4);
        follower.Drain(TimeSpan.FromMilliseconds(100));
        Assert.Equal(["old1", "old2", "new1", "new2"], follower.Records.Select(r => r.Host));
        Assert.Equal([2L, 3L, 2L, 3L], follower.Records.Select(r => r.Line));
        Assert.Empty(follower.Bad);
        Assert.Equal(3 + 3, follower.Lines);

        Append(path, Line(host: "new3") + "\n");
        follower.WaitUntil(f => f.Records.Count == 5);
        Assert.Equal("new3", follower.Records[4].Host);
    }

    [Fact]
    public void A_rename_between_the_two_looks_does_not_make_one_file_two()
    {
        // The reader names both descriptors, one after the other. Here the file is renamed between
        // the first look and the second: the first name must be looked at again, not believed.
        var path = WriteLines("same.csv", Header);
        using var a = AccessLogReader.OpenFile(path);
        using var b = AccessLogReader.OpenFile(path);
        var looks = 0;
        string Name(FileStream f) => looks++ == 0 ? path : path + ".1"; // renamed right after the first look, at a

        Assert.True(FileIdentity.Same(a, b, Name));

        using var other = AccessLogReader.OpenFile(WriteLines("other.csv", Header));
        Assert.False(FileIdentity.Same(a, other, f => ReferenceEquals(f, a) ? path : path + ".other"));
    }

    [Fact]
    public void Follow_reads_every_line_once_over_many_rotations()
    {
        // Each rotation races the reader's poll: a rename between its two looks at the file once made
        // the old file its own successor, read again from the start (seen under load in CI).
        var path = WriteLines("many.csv", Header, Line(host: "r0-a"));
        using var follower = new Follower(path);
        follower.WaitUntil(f => f.Records.Count == 1);
        var expected = new List<string> { "r0-a" };
        for (var r = 1; r <= 20; r++)
        {
            File.Move(path, $"{path}.{r}");
            Append($"{path}.{r}", Line(host: $"r{r - 1}-b") + "\n");
            WriteLines("many.csv", Header, Line(host: $"r{r}-a"));
            expected.AddRange([$"r{r - 1}-b", $"r{r}-a"]);
            follower.WaitUntil(f => f.Records.Count >= expected.Count);
        }
        follower.Drain(TimeSpan.FromMilliseconds(100));

        Assert.Equal(expected, follower.Records.Select(r => r.Host));
    }

    [Fact]
    public void Follow_survives_a_delete_and_recreate()
    {
        var path = WriteLines("recreate.csv", Header, Line(host: "a"));
        using var follower = new Follower(path);
        follower.WaitUntil(f => f.Records.Count == 1);

        File.Delete(path);
        follower.Drain(TimeSpan.FromMilliseconds(60));
        WriteLines("recreate.csv", Header, Line(host: "b"));

        follower.WaitUntil(f => f.Records.Count == 2);
        Assert.Equal(["a", "b"], follower.Records.Select(r => r.Host));
    }

    [Fact]
    public void Follow_applies_to_the_last_input_after_the_others_are_read()
    {
        var first = WriteLines("first.csv", Header, Line(host: "f"));
        var last = WriteLines("last.csv", Header, Line(host: "l1"));
        using var cancel = new CancellationTokenSource();
        var reader = new AccessLogReader([first, last], follow: true, cancel: cancel.Token,
            pollInterval: TimeSpan.FromMilliseconds(20));
        var hosts = new List<string>();
        var appended = false;

        foreach (var batch in reader.ReadBatches())
        {
            hosts.AddRange(batch.Records.Select(r => r.Host));
            if (hosts.Count == 2 && !appended)
            {
                Append(last, Line(host: "l2") + "\n");
                appended = true;
            }
            if (hosts.Count == 3) cancel.Cancel();
        }

        Assert.Equal(["f", "l1", "l2"], hosts);
    }
}

internal static class TestExtensions
{
    public static TResult Apply<T, TResult>(this T value, Func<T, TResult> f) => f(value);
}
