using System.Security.Cryptography;
using System.Text;
using LogAlert.Cli.Input;
using LogAlert.Core;
using Xunit;
using Record = LogAlert.Core.Record;

namespace LogAlert.Cli.Tests;

public sealed class SampleGeneratorTests : IDisposable
{
    private const long Start = 1549573860;

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-gen-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static GeneratorOptions Options(int seed = 7, int duration = 600, double rate = 10, Burst[]? bursts = null) =>
        new(seed, Start, duration, rate, bursts ?? []);

    private static (string Text, long Lines) Generate(GeneratorOptions options)
    {
        var writer = new StringWriter { NewLine = "\r\n" }; // the generator must not use NewLine
        var lines = SampleGenerator.Write(writer, options);
        return (writer.ToString(), lines);
    }

    private List<Record> Parse(string text, out List<BadLine> bad, out long lines)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, text);
        bad = [];
        lines = 0;
        var records = new List<Record>();
        foreach (var batch in new AccessLogReader([path]).ReadBatches())
        {
            records.AddRange(batch.Records);
            bad.AddRange(batch.Bad);
            lines += batch.Lines;
        }
        return records;
    }

    [Fact]
    public void The_same_options_write_the_same_bytes()
    {
        var options = Options(bursts: [new Burst(100, 60, 40)]);

        Assert.Equal(Generate(options), Generate(options with { }));
        Assert.NotEqual(Generate(options).Text, Generate(options with { Seed = 8 }).Text);
    }

    [Fact]
    public void The_output_is_pinned_so_that_a_change_of_generator_or_runtime_shows()
    {
        // Pinned bytes: the generator promises identical output on every machine and .NET version.
        // If this fails after a deliberate change of the generator, update the hash (and say so).
        var (text, lines) = Generate(Options(seed: 42, duration: 120, rate: 5, bursts: [new Burst(30, 30, 20)]) with { Hosts = 25, Paths = 40 });

        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

        Assert.Equal(text.Split('\n').Length - 1, lines);
        Assert.Equal("F7538A9CF9DC1FACE2C8951EF30AC5A3F0F68D38B236A5AF05B14F2588F8AFB6", hash);
    }

    [Fact]
    public void The_output_is_the_csv_format_with_a_header_and_reads_back_without_a_bad_line()
    {
        var (text, written) = Generate(Options());

        Assert.StartsWith(SampleGenerator.Header + "\n", text);
        Assert.EndsWith("\n", text);
        Assert.DoesNotContain("\r", text);
        var records = Parse(text, out var bad, out var lines);
        Assert.Empty(bad);
        Assert.Equal(written, lines);
        Assert.Equal(written - 1, records.Count);
        Assert.All(records, r => Assert.InRange(r.Time, Start, Start + 599));
        Assert.Subset(new HashSet<string> { "/", "/api", "/report", "/help", "/static", "/login", "/search", "/admin", "/user" },
            records.Select(r => r.Section).ToHashSet());
        Assert.Contains(records, r => r.Section == "/api");
        Assert.Contains(records, r => r.Status >= 500);
        Assert.Contains(records, r => r.Status is >= 400 and < 500);
        Assert.True(records.Count(r => r.Status == 200) > records.Count / 2);
        Assert.True(records.Count(r => r.Method == "GET") > records.Count / 2);
        Assert.Contains(records, r => r.Method == "POST");
        Assert.True(records.Count(r => r.User == "-") > records.Count / 3);
        Assert.Contains("?", text); // some query strings
        Assert.Contains(",-\n", text); // some responses without a body
    }

    [Fact]
    public void The_base_rate_and_the_bursts_hold_on_average()
    {
        var options = Options(duration: 1000, rate: 10, bursts: [new Burst(200, 100, 50), new Burst(600, 100, 0)]);

        var records = Parse(Generate(options).Text, out _, out _);
        int Count(int from, int to) => records.Count(r => r.Time >= Start + from && r.Time < Start + to);

        // Poisson: the standard deviation of a count is its square root; allow about four of them.
        Assert.InRange(Count(0, 200), 2000 - 180, 2000 + 180);
        Assert.InRange(Count(200, 300), 5000 - 290, 5000 + 290);
        Assert.InRange(Count(300, 600), 3000 - 220, 3000 + 220);
        Assert.Equal(0, Count(600, 698)); // the outage (late records of 700-701 may carry 698-699)
        Assert.InRange(Count(700, 1000), 3000 - 220, 3000 + 220);
        var perSecond = records.Where(r => r.Time < Start + 200).GroupBy(r => r.Time).Select(g => g.Count()).ToList();
        Assert.True(perSecond.Distinct().Count() > 5, "the count per second varies");
    }

    [Fact]
    public void Records_are_out_of_order_by_at_most_two_seconds()
    {
        var records = Parse(Generate(Options(duration: 300, rate: 20)).Text, out _, out _);

        var newest = records[0].Time;
        var late = 0;
        foreach (var r in records)
        {
            Assert.True(r.Time >= newest - 2, $"line {r.Line} is {newest - r.Time}s behind");
            if (r.Time < newest) late++;
            newest = Math.Max(newest, r.Time);
        }
        Assert.InRange(late, 1, records.Count / 10);
    }

    [Fact]
    public void Without_disorder_the_records_are_in_order()
    {
        var records = Parse(Generate(Options(duration: 100, rate: 20) with { DisorderFraction = 0 }).Text, out _, out _);

        Assert.Equal(records.Select(r => r.Time).Order(), records.Select(r => r.Time));
    }

    [Fact]
    public void Host_and_path_cardinality_follow_the_options_with_a_skewed_popularity()
    {
        var options = Options(duration: 10, rate: 20_000) with { Hosts = 100_000, Paths = 10_000 };

        var records = Parse(Generate(options).Text, out var bad, out _);

        Assert.Empty(bad);
        var hosts = records.GroupBy(r => r.Host).Select(g => g.Count()).OrderDescending().ToList();
        Assert.InRange(hosts.Count, 20_000, 100_000);
        Assert.True(hosts[0] > 50 * hosts[^1], "a few hosts are much more popular than the rest");
        var few = Parse(Generate(Options(duration: 100, rate: 20) with { Hosts = 5 }).Text, out _, out _);
        Assert.Equal(5, few.Select(r => r.Host).Distinct().Count());
    }

    [Fact]
    public void Options_out_of_range_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Generate(Options(rate: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generate(Options(duration: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generate(Options() with { Hosts = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generate(Options(bursts: [new Burst(0, 10, double.NaN)])));
    }

    [Fact]
    public void An_empty_duration_writes_only_the_header()
    {
        var (text, lines) = Generate(Options(duration: 0));

        Assert.Equal(SampleGenerator.Header + "\n", text);
        Assert.Equal(1, lines);
    }

    /// <summary>The request of each line of <paramref name="text"/> in <paramref name="format"/>, parsed with regular expressions written for this test.</summary>
    private static List<(long Time, string Host, string User, string Request, int Status, long Bytes)> Requests(string text, GeneratorFormat format)
    {
        var clf = new System.Text.RegularExpressions.Regex(
            "^(?<h>\\S+) - (?<u>\\S+) \\[(?<t>[^\\]]+)\\] \"(?<r>[^\"]*)\" (?<s>\\d{3}) (?<b>\\d+|-)(?<rest>.*)$");
        var json = new System.Text.RegularExpressions.Regex(
            "\"time_iso8601\":\"(?<t>[^\"]+)\",\"remote_addr\":\"(?<h>[^\"]+)\",\"remote_user\":\"(?<u>[^\"]+)\",\"request\":\"(?<r>[^\"]+)\",\"status\":(?<s>\\d+),\"body_bytes_sent\":(?<b>\\d+)");
        var csv = new System.Text.RegularExpressions.Regex(
            "^\"(?<h>[^\"]+)\",\"-\",\"(?<u>[^\"]+)\",(?<t>\\d+),\"(?<r>[^\"]+)\",(?<s>\\d+),(?<b>\\d+|-)$");
        var result = new List<(long, string, string, string, int, long)>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line == SampleGenerator.Header) continue;
            var m = (format switch { GeneratorFormat.Csv => csv, GeneratorFormat.Jsonl => json, _ => clf }).Match(line);
            Assert.True(m.Success, $"{format}: {line}");
            var t = m.Groups["t"].Value;
            var time = format switch
            {
                GeneratorFormat.Csv => long.Parse(t),
                GeneratorFormat.Jsonl => DateTimeOffset.Parse(t, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds(),
                _ => DateTimeOffset.ParseExact(t, "dd/MMM/yyyy:HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds(),
            };
            var b = m.Groups["b"].Value;
            result.Add((time, m.Groups["h"].Value, m.Groups["u"].Value, m.Groups["r"].Value, int.Parse(m.Groups["s"].Value), b == "-" ? 0 : long.Parse(b)));
            if (format == GeneratorFormat.Combined) Assert.Matches("^ \"[^\"]*\" \"[^\"]+\"$", m.Groups["rest"].Value);
            if (format == GeneratorFormat.Common) Assert.Equal("", m.Groups["rest"].Value);
        }
        return result;
    }

    [Theory]
    [InlineData(GeneratorFormat.Common)]
    [InlineData(GeneratorFormat.Combined)]
    [InlineData(GeneratorFormat.Jsonl)]
    public void Every_output_format_writes_the_same_requests_as_the_csv(GeneratorFormat format)
    {
        var options = Options(seed: 11, duration: 300, rate: 20, bursts: [new Burst(60, 30, 80)]);
        var (csvText, csvLines) = Generate(options);
        var (text, lines) = Generate(options with { Format = format });

        var expected = Requests(csvText, GeneratorFormat.Csv);
        Assert.True(expected.Count > 5000);
        Assert.Equal(expected, Requests(text, format));
        Assert.Equal(csvLines - 1, lines); // no header line
        Assert.Equal(text, Generate(options with { Format = format }).Text); // deterministic
    }
}
