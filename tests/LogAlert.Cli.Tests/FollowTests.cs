using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary><c>--follow</c> end to end: appended lines, rotation, idle time, SIGTERM.</summary>
public sealed class FollowTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-follow-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const string Header = TestLogs.Header;

    private static string Lines(long from, long to, int perSecond) => string.Concat(
        Enumerable.Range(0, (int)(to - from)).SelectMany(i => Enumerable.Repeat(
            $"\"10.0.0.1\",\"-\",\"apache\",{from + i},\"GET /api/x HTTP/1.0\",200,100\n", perSecond)));

    [Fact]
    public async Task Follows_appends_and_rotation_resolves_when_traffic_stops_and_reports_on_sigterm()
    {
        var log = Path.Combine(_dir, "access.csv");
        File.WriteAllText(log, Header + "\n" + Lines(1000, 1004, 5));
        var psi = CliRunner.StartInfo(["--follow", log, "--format", "jsonl", "--threshold", "2", "--window", "3s",
            "--lateness", "0s", "--idle-timeout", "3s", "--summary-interval", "off"]);
        // The idle timeout leaves the reader time to find the rotated file (it polls every 200 ms) before
        // log time starts following the clock; on a loaded machine 1 s was not always enough.
        using var p = Process.Start(psi)!;
        var lines = new List<string>();
        var stderr = p.StandardError.ReadToEndAsync();
        var reading = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync() is { } l) lock (lines) lines.Add(l);
        });
        async Task<bool> WaitFor(string text, int ms = 15_000)
        {
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < ms)
            {
                lock (lines) if (lines.Any(l => l.Contains(text))) return true;
                await Task.Delay(50);
            }
            return false;
        }

        // Already in the file: 5 req/s > 2 fires once seconds close.
        Assert.True(await WaitFor("\"state\":\"firing\""), "no firing from the initial content");
        // Rotation: the old file moves away, a new one (with its header) takes the name.
        File.Move(log, log + ".1");
        File.WriteAllText(log, Header + "\n" + Lines(1004, 1006, 5));
        // No more lines: after the idle timeout log time follows the wall clock and the alert resolves.
        Assert.True(await WaitFor("\"state\":\"resolved\""), "did not resolve when traffic stopped");

        Process.Start("kill", ["-TERM", p.Id.ToString()])!.WaitForExit();
        Assert.True(p.WaitForExit(10_000), "did not exit on SIGTERM");
        await reading;
        Assert.Equal(0, p.ExitCode);
        var stats = JsonDocument.Parse(lines.Last()).RootElement;
        Assert.Equal("stats", stats.GetProperty("type").GetString());
        Assert.Equal(30, stats.GetProperty("records").GetInt64()); // 20 before rotation + 10 after, none twice
        Assert.DoesNotContain("   at ", await stderr);
    }
}
