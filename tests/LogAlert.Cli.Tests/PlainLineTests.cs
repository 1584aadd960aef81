using System.Text;
using LogAlert.Cli.Input;
using Xunit;
using Record = LogAlert.Core.Record;

namespace LogAlert.Cli.Tests;

/// <summary>
/// The reader reads lines of the plain shape itself and gives every other line to CsvHelper. Both ways
/// must agree on every line: the same records, bad lines with the same reasons, the same line counts.
/// </summary>
public sealed class PlainLineTests
{
    // Field texts as they may stand between two commas: plain ones, and every kind of odd one the
    // reader must leave to CsvHelper (or read exactly as CsvHelper does).
    private static readonly string[] Hosts =
        ["\"10.0.0.1\"", "10.0.0.2", " \"10.0.0.3\" ", "\t10.0.0.4 ", "\"\"", "", "\"a\"\"b\"", "\"x\"y", "a\"b",
         "\" spaced \"", "\"ünïcode\"", "\"10.0.0.5", "  "];
    private static readonly string[] Users = ["\"-\"", "\"apache\"", "apache", " \"-\"", "\"frank\" ", "\"\""];
    private static readonly string[] Dates =
        ["1549573860", "1549573861", "\"1549573862\"", " 1549573863 ", "+1549573860", "-1", "15495x3860", "",
         "1549573860.5", "99999999999999999999", "0001549573860",
         // Not a digit in each place of a timestamp, just outside '0'..'9', and long numbers.
         "/549573860", "1:49573860", "15/9573860", "154:573860", "1549/73860", "15495:3860", "154957/860",
         "1549573:60", "15495738:0", "154957386/", "1549573860123456", "15495738", "1549573¹60"];
    private static readonly string[] Requests =
        ["\"GET /api/user HTTP/1.0\"", "\"POST /report\"", "\"GET /\"", "GET /a/b?c=d", "\"GET  /two/spaces HTTP/1.1\"",
         "\"GET nopath\"", "\"GET\"", "\"GET /x y z\"", "\" GET /lead\"", "\"GET /trail \"", "\"GET /q\"\"uote\"",
         "\"DELETE /ü/ñ HTTP/2\"", "\"GET /a HTTP/1.1\" ", "\"\""];
    private static readonly string[] Statuses =
        ["200", "404", "\"503\"", " 301", "99", "600", "2OO", "", "-200", "+200", "0000000404",
         "4294967496"]; // 2^32 + 200: not an int, and must not become 200
    private static readonly string[] Sizes =
        ["1234", "0", "-", "\"-\"", " - ", "-5", "12a", "", "\"77\"", "123456789012345678901", "12345678", "987654321",
         "9999999999999999", "1234567:", "/2345678"];

    private static string Pick(Random random, string[] values) => values[random.Next(values.Length)];

    private static string Plain(Random random) =>
        $"\"10.0.0.{random.Next(9)}\",\"-\",\"apache\",{1549573860 + random.Next(50)},\"GET /s{random.Next(4)}/p HTTP/1.0\",200,{random.Next(5000)}";

    /// <summary>A line: mostly plain, else with one or more odd fields, a wrong field count, or no fields.</summary>
    private static string Line(Random random)
    {
        var kind = random.Next(20);
        if (kind < 8) return Plain(random);
        if (kind == 8) return random.Next(2) == 0 ? "" : " \t ";
        if (kind == 9) return Plain(random) + ",extra";
        if (kind == 10) return Plain(random)[..random.Next(1, 60)];
        if (kind == 11) return TestLogs.Header;
        var fields = new[]
        {
            Pick(random, Hosts), "\"-\"", Pick(random, Users), Pick(random, Dates),
            Pick(random, Requests), Pick(random, Statuses), Pick(random, Sizes),
        };
        // Keep most fields plain, so that a line has one or two odd ones, not all.
        var plain = Plain(random).Split(',');
        for (var i = 0; i < fields.Length; i++)
            if (random.Next(3) > 0) fields[i] = plain[i];
        return string.Join(',', fields);
    }

    // Headers with the columns of the plain lines, in the same order, written in different ways.
    private static readonly string[] Headers =
    [
        TestLogs.Header,
        "remotehost,rfc931,authuser,date,request,status,bytes",
        " \"remotehost\" ,\t\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\" ",
        "\"RemoteHost\",\"RFC931\",\"AuthUser\",\"Date\",\"Request\",\"Status\",\"Bytes\"",
        "\" remotehost\",\"rfc931\",\"authuser \",\"date\",\"request\",\"status\",\"bytes\"",
        "\"remotehost\",\"rfc\"\"931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\"", // CsvHelper's
    ];

    private static string Chunk(int seed, int lines)
    {
        var random = new Random(seed);
        var text = new StringBuilder(random.Next(3) == 0 ? "\n \n" : "").Append(Headers[seed % Headers.Length]).Append('\n');
        for (var i = 0; i < lines; i++)
        {
            text.Append(Line(random));
            text.Append(random.Next(10) switch { 0 => "\r\n", 1 => "\r \n", _ => "\n" });
        }
        if (random.Next(2) == 0) text.Append(Plain(random)); // a last line without its newline
        return text.ToString();
    }

    private sealed record Read(List<Record> Records, List<BadLine> Bad, long Lines, long Plain);

    /// <summary>
    /// Reads <paramref name="text"/> in chunks of 10 to 100 lines, as the reader hands them out (after
    /// 64 odd lines in one chunk the rest of it goes to CsvHelper, so small chunks keep both ways busy).
    /// </summary>
    private static Read ReadWith(bool plainLines, string text, int batchSize, int seed, bool deferHosts = false)
    {
        var parser = new CsvParser(new BatchBuilder(batchSize, deferHostsFrom: deferHosts ? -1 : int.MaxValue), plainLines);
        var bytes = Encoding.UTF8.GetBytes(text); // a copy each: the parser blanks lone CRs in place
        var random = new Random(seed);
        var at = new ChunkStart(0, "t.csv", LineBase: 0, AtStart: true, State: null);
        var batches = new List<InputBatch>();
        for (var start = 0; start < bytes.Length;)
        {
            var end = start;
            for (var lines = random.Next(10, 100); lines > 0 && end < bytes.Length; lines--)
            {
                var newline = Array.IndexOf(bytes, (byte)'\n', end);
                end = newline < 0 ? bytes.Length : newline + 1;
            }
            var result = parser.ParseChunk(bytes.AsMemory(start, end - start), at);
            batches.AddRange(result.Batches);
            at = result.After;
            start = end;
        }
        return new Read(
            [.. batches.SelectMany(b => b.Records)],
            [.. batches.SelectMany(b => b.Bad)],
            batches.Sum(b => b.Lines),
            parser.PlainLines);
    }

    [Theory]
    [InlineData("\"remotehost\",\"authuser\",\"date\",\"request\",\"status\"")]
    [InlineData("remotehost, \"rfc931\" ,authuser,\"da\"\"te\",request,status,bytes")]
    [InlineData("\"\"")]
    [InlineData("x")]
    public void A_header_without_a_column_fails_the_same_way_read_either_way(string header)
    {
        var text = header + "\n" + Plain(new Random(1)) + "\n";

        var plain = Assert.Throws<InputFormatException>(() => ReadWith(plainLines: true, text, 4096, 1));
        var csv = Assert.Throws<InputFormatException>(() => ReadWith(plainLines: false, text, 4096, 1));

        Assert.Equal(csv.Message, plain.Message);
        Assert.Contains("the header lacks column", plain.Message);
    }

    [Theory]
    [InlineData(1, 4096)]
    [InlineData(2, 4096)]
    [InlineData(3, 7)]
    [InlineData(4, 1)]
    [InlineData(5, 4096)]
    [InlineData(6, 4096)]
    [InlineData(7, 4096)]
    [InlineData(8, 4096)]
    [InlineData(9, 4096)]
    [InlineData(10, 4096)]
    public void Lines_read_without_csvhelper_read_exactly_as_csvhelper_reads_them(int seed, int batchSize)
    {
        var text = Chunk(seed, 3000);

        var csv = ReadWith(plainLines: false, text, batchSize, seed);
        var plain = ReadWith(plainLines: true, text, batchSize, seed);
        // Hosts looked up a run of lines at a time, as with many distinct hosts.
        var deferred = ReadWith(plainLines: true, text, batchSize, seed, deferHosts: true);

        foreach (var (way, read) in new[] { ("plain", plain), ("plain, hosts in runs", deferred) })
        {
            Assert.Equal(csv.Lines, read.Lines);
            Assert.Equal(csv.Bad, read.Bad);
            Assert.Equal(csv.Records.Count, read.Records.Count);
            for (var i = 0; i < csv.Records.Count; i++)
                Assert.True(csv.Records[i].Equals(read.Records[i]),
                    $"record {i}: CsvHelper read {csv.Records[i]} (user {csv.Records[i].User}), the {way} path {read.Records[i]} (user {read.Records[i].User})");
        }
        // Both ways were taken, and the odd lines were many and of many kinds.
        Assert.Equal(0, csv.Plain);
        Assert.InRange(plain.Plain, 1000, csv.Records.Count);
        Assert.True(csv.Records.Count - plain.Plain > 50, $"only {csv.Records.Count - plain.Plain} good records came from CsvHelper");
        Assert.True(csv.Bad.Select(b => b.Reason.Split(' ')[0]).Distinct().Count() >= 5,
            "the bad lines must have several kinds of reason: " + string.Join("; ", csv.Bad.Select(b => b.Reason).Distinct().Take(10)));
    }
}
