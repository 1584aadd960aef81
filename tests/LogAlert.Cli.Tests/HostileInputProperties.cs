using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using LogAlert.Cli.Input;
using LogAlert.Cli.Output;
using LogAlert.Core;
using LogAlert.Core.Interop;
using Xunit;
using CoreRules = LogAlert.Core.Interop.Rules;

namespace LogAlert.Cli.Tests;

/// <summary>
/// Whatever the bytes of a log, logalert reads it to its end and reports: timestamps anywhere in the
/// int64 range, and hostile bytes (quotes, commas, CR, NUL, ESC, invalid UTF-8, long runs) in every
/// field, through the real reader, engine and writer, in process.
/// </summary>
public sealed class HostileInputProperties
{
    private static int Tests => int.TryParse(Environment.GetEnvironmentVariable("LOGALERT_PROPTEST_N"), out var n) ? n : 100;

    /// <summary>Timestamps over the whole int64 range, with the edges of log time and a busy stretch of 2019 in the mix.</summary>
    private static readonly Gen<long> Timestamps = Gen.Frequency(
        (4, Gen.Choose(0, 600).Select(s => 1_549_573_860L + s)),
        (2, Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue))
            .Select(t => ((long)t.Item1 << 32) | (uint)t.Item2)),
        (1, Gen.Elements(0L, -1L, Bounds.MaxTime, Bounds.MaxTime + 1, long.MaxValue, long.MinValue, long.MaxValue - 1800)),
        (1, Gen.Choose(0, int.MaxValue).Select(s => Bounds.MaxTime - s % 100_000)));

    /// <summary>
    /// Bytes any client, proxy or broken disk could leave in a field: a char is one byte (Latin-1), so
    /// 0x80-0xFF come as bytes that are not UTF-8; E2 80 AE is U+202E (right-to-left override).
    /// </summary>
    private static readonly Gen<string> Hostile = Gen.Frequency(
        (3, Gen.Choose(0, 255).Select(b => (char)b).ArrayOf().Select(cs => new string(cs))),
        (1, Gen.Elements("\"", "\",\"", "\r", "\0", "\u001b[2J", "\u001b]0;pwned\u0007", "\\\"", "\u00e2\u0080\u00ae", "\u00ff\u00fe", "-", "")),
        (1, Gen.Choose(1, 70_000).Select(n => new string('a', n))));

    private static Gen<string> Field(Gen<string> valid) => Gen.Frequency((3, valid), (1, Hostile));

    /// <summary>A line: each field valid or hostile, quoted or not, sometimes a field too many or too few.</summary>
    private static readonly Gen<string> Lines =
        from host in Field(Gen.Choose(0, 300).Select(i => $"10.0.{i / 256}.{i % 256}"))
        from user in Field(Gen.Elements("-", "alice", "bob"))
        from time in Field(Timestamps.Select(t => t.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        from request in Field(Gen.Elements("GET /api/x HTTP/1.1", "POST /login HTTP/1.0", "GET / HTTP/1.1", "GET /report?id=3"))
        from status in Field(Gen.Elements("200", "404", "500", "99", "600"))
        from bytes in Field(Gen.Elements("0", "-", "1234", "1125899906842624", "1125899906842625", "9223372036854775807"))
        from quoted in Gen.Choose(0, 3)
        from shape in Gen.Frequency((8, Gen.Constant(0)), (1, Gen.Constant(1)), (1, Gen.Constant(2)))
        let fields = new[] { host, "-", user, time, request, status, bytes }
        let shaped = shape switch { 1 => fields[..5], 2 => [.. fields, "extra"], _ => fields }
        select string.Join(",", shaped.Select(f => quoted == 0 ? f : $"\"{f}\""));

    /// <summary>Runs the whole pipeline over <paramref name="text"/>; stdout and stderr as written.</summary>
    private static (string Stdout, string Stderr) Run(string text)
    {
        var settings = new EngineSettings
        {
            Rules =
            [
                CoreRules.HighTraffic(2, TimeSpan.FromSeconds(10)),
                CoreRules.PerGroup("hosts", q => q.TopK(2, "bytes", TimeSpan.FromSeconds(30), "host", "section=~\"/a.*|/r.*\""),
                    1e6, null, TimeSpan.Zero, null, null),
            ],
        };
        settings.Windows.Add(new RuleWindows("high_traffic", [new QueryWindow(TimeSpan.FromSeconds(10))], complete: true));
        settings.Windows.Add(new RuleWindows("hosts", [new QueryWindow(TimeSpan.FromSeconds(30), "host", "section=~\"/a.*|/r.*\"")], complete: true));
        var stdout = new MemoryStream();
        var stderr = new StringWriter();
        var writer = new TextEventWriter(new StreamWriter(stdout, new UTF8Encoding(false)), color: false);
        var runner = new Runner(settings, writer, new Terminal.EscapingWriter(stderr), ["-"]);
        var input = new MemoryStream(Encoding.Latin1.GetBytes(text));
        var reader = new AccessLogReader(["-"], stdin: () => input);
        var outcome = runner.RunAsync(reader.ReadBatches(), CancellationToken.None).GetAwaiter().GetResult();
        Assert.Equal(RunOutcome.Reported, outcome);
        return (Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
    }

    [Fact]
    [Trait("Category", "property")]
    public void Any_bytes_in_any_field_end_in_a_report_within_a_time_bound_and_no_exception()
    {
        var logs = Lines.ListOf().Select(lines => TestLogs.Header + "\n" + string.Join("\n", lines) + "\n");
        var property = Prop.ForAll(logs.ToArbitrary(), text =>
        {
            var run = Task.Run(() => Run(text));
            // A case is at most a few hundred lines: seconds would already be a hang.
            Assert.True(run.Wait(TimeSpan.FromSeconds(30)), "the run did not end");
            var (stdout, stderr) = run.Result;
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var physical = text.Count(c => c == '\n');
            return Prop.Classify(
                lines.Length > 0 && lines.Any(l => l.StartsWith($"-- end of input: {physical} {(physical == 1 ? "line" : "lines")},", StringComparison.Ordinal))
                && !stdout.Contains('\u001b') && !stderr.Contains('\u001b') && !stderr.Contains("   at "),
                stderr.Contains("outside the valid range of log time"), "a timestamp outside log time");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Tests), property);
    }

    [Fact]
    public void Lines_count_every_physical_line_even_when_the_fields_are_garbage()
    {
        // Not a property: one fixed case of each kind, so that a failure names the kind.
        var cases = new[] { "\"a\",\"-\",\"-\",9223372036854775807,\"GET / HTTP/1.0\",200,1", "\u001b[2J", "\"unclosed,1,2", "\0\0\0", "" };
        var (stdout, _) = Run(TestLogs.Header + "\n" + string.Join("\n", cases) + "\n");
        Assert.Contains($"-- end of input: {cases.Length + 1} lines, 0 records", stdout);
    }
}
