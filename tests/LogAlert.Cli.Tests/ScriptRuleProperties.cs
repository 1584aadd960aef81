using FsCheck;
using FsCheck.Fluent;
using LogAlert.Cli.Rules;
using LogAlert.Core;
using LogAlert.Core.Interop;
using Xunit;
using CoreRules = LogAlert.Core.Interop.Rules;
using Record = LogAlert.Core.Record;

namespace LogAlert.Cli.Tests;

/// <summary>rules/high_traffic.csx is the built-in rule: same events on any generated stream.</summary>
public sealed class ScriptRuleProperties
{
    private const long Start = 1_549_573_860;

    /// <summary>A traffic profile: segments of (seconds, requests per second), some of them exactly 10
    /// req/s so that the 2-minute rate sits exactly on the threshold.</summary>
    private static readonly Gen<(int Seconds, int Rate)[]> Profiles =
        Gen.Zip(
                Gen.Choose(1, 150),
                Gen.Frequency((3, Gen.Choose(0, 25)), (2, Gen.Constant(10)), (1, Gen.Choose(9, 11))))
            .ListOf()
            .Select(l => l.Select(t => (t.Item1, t.Item2)).ToArray());

    private static Record[] Stream((int Seconds, int Rate)[] profile, int jitterSeed)
    {
        var records = new List<Record>();
        long t = Start;
        var line = 1L;
        var rng = new Random(jitterSeed);
        foreach (var (seconds, rate) in profile)
            for (var s = 0; s < seconds; s++, t++)
                for (var i = 0; i < rate; i++)
                {
                    // Disorder within the default lateness: up to 5 s behind.
                    var time = Math.Max(Start, t - (rng.Next(10) == 0 ? rng.Next(6) : 0));
                    var r = RecordModule.create(time, $"10.0.0.{i % 5}", "-", "GET /api/x HTTP/1.0", 200, 10, 0, line++);
                    records.Add(r.ResultValue);
                }
        return records.ToArray();
    }

    private static List<Notice> Run(Rule rule, Record[] records, int chunk) =>
        TestLogs.Fold(new EngineSettings { Rules = [rule] }, records, chunk);

    [Fact]
    [Trait("Category", "property")]
    public void The_shipped_high_traffic_script_gives_the_built_in_rules_events_on_generated_streams()
    {
        using var host = new RuleHost(cacheDirectory: null);
        var root = CliRunner.RepoRoot;
        var script = Assert.Single(host.Load([Path.Combine(root, "rules", "high_traffic.csx")]).Rules);
        var builtIn = CoreRules.HighTraffic(10, TimeSpan.FromMinutes(2));
        var n = int.TryParse(Environment.GetEnvironmentVariable("LOGALERT_PROPTEST_N"), out var v) ? v : 100;

        var inputs = Gen.Zip(Profiles, Gen.Zip(Gen.Choose(0, 1000), Gen.Choose(1, 500)));
        var property = Prop.ForAll(Arb.From(inputs), input =>
        {
            var (profile, (seed, chunk)) = input;
            var records = Stream(profile, seed);
            var expected = Run(builtIn, records, chunk);
            var actual = Run(script, records, chunk);
            var fired = expected.Any(e => e is AlertNotice);
            return Prop.Classify(expected.SequenceEqual(actual), fired, "an alert fired");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(n), property);
    }
}
