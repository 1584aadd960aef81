using FsCheck;
using FsCheck.Fluent;
using LogAlert.Cli.Input;
using LogAlert.Core.Interop;
using Xunit;
using CoreRules = LogAlert.Core.Interop.Rules;

namespace LogAlert.Cli.Tests;

/// <summary>
/// The same traffic in every format logalert reads gives the same records and the same events: the
/// format is only how a line is spelt (docs/semantics.md §1).
/// </summary>
public sealed class FormatProperties : IDisposable
{
    private static int Tests => int.TryParse(Environment.GetEnvironmentVariable("LOGALERT_PROPTEST_N"), out var n) ? n : 25;

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-formats-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Generated traffic: a seed, a length, a base rate and maybe a burst, many hosts or few.</summary>
    private static readonly Gen<GeneratorOptions> Traffic =
        from seed in Gen.Choose(0, 100_000)
        from duration in Gen.Choose(1, 400)
        from rate in Gen.Choose(0, 40)
        from burst in Gen.Frequency((1, Gen.Constant<Burst[]>([])),
            (2, from at in Gen.Choose(0, 300) from length in Gen.Choose(1, 200) from r in Gen.Choose(10, 120)
                select new[] { new Burst(at, length, r) }))
        from hosts in Gen.Elements(1, 40, 5000)
        from disorder in Gen.Elements(0.0, 0.02, 0.3)
        select new GeneratorOptions(seed, 1_549_573_860, duration, rate, burst) { Hosts = hosts, DisorderFraction = disorder };

    /// <summary>nginx's combined with the request and upstream times after it, as many sites log.</summary>
    private const string Timed =
        "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time $upstream_response_time";

    private (List<LogAlert.Core.Record> Records, long Lines, int Bad, List<string> Formats) Read(GeneratorOptions options)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.log");
        using (var writer = new StreamWriter(path)) SampleGenerator.Write(writer, options);
        var reader = new AccessLogReader([path])
        {
            Format = options.LogFormat is null ? InputFormat.Auto : InputFormat.TryCreate("auto", options.LogFormat, out _)!,
        };
        var records = new List<LogAlert.Core.Record>();
        long lines = 0;
        var bad = 0;
        foreach (var batch in reader.ReadBatches())
        {
            records.AddRange(batch.Records);
            lines += batch.Lines;
            bad += batch.Bad.Count;
        }
        File.Delete(path);
        return (records, lines, bad, [.. reader.Formats.Select(f => f.Format)]);
    }

    [Fact]
    [Trait("Category", "property")]
    public void The_same_traffic_in_every_format_gives_the_same_records_and_events()
    {
        var property = Prop.ForAll(Traffic.ToArbitrary(), options =>
        {
            static List<(long, string, string, string, string, int, long)> Fields(List<LogAlert.Core.Record> records) =>
                [.. records.Select(r => (r.Time, r.Host, r.User, r.Method, r.Section, r.Status, r.Bytes))];
            var settings = new EngineSettings { Rules = [CoreRules.HighTraffic(5, TimeSpan.FromSeconds(30))] };
            var csv = Read(options);
            Assert.Equal(0, csv.Bad);
            Assert.Equal(["csv"], csv.Formats);
            var events = TestLogs.Fold(settings, [.. csv.Records]);
            foreach (var format in new[] { GeneratorFormat.Common, GeneratorFormat.Combined, GeneratorFormat.Jsonl, GeneratorFormat.LogFormat })
            {
                var other = Read(options with { Format = format, LogFormat = format == GeneratorFormat.LogFormat ? Timed : null });
                Assert.Equal(0, other.Bad);
                Assert.Equal(Math.Max(0, csv.Lines - 1), other.Lines); // no header
                // An empty log has no line to tell its format by.
                if (other.Lines > 0) Assert.Equal([format == GeneratorFormat.LogFormat ? "log-format" : format.ToString().ToLowerInvariant()], other.Formats);
                Assert.Equal(Fields(csv.Records), Fields(other.Records));
                Assert.Equal(events, TestLogs.Fold(settings, [.. other.Records]));
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Tests), property);
    }
}
