using System.Diagnostics;
using System.Text.Json;
using LogAlert.Cli.Input;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>logalert --follow running in the background, its stdout and stderr collected line by line.</summary>
internal sealed class Following : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<string> _errors = [];
    private readonly Task _reading;
    private readonly Task _readingErrors;

    public Following(string log, string idleTimeout, params string[] more)
    {
        _process = Process.Start(CliRunner.StartInfo(["--follow", log, "--format", "jsonl", "--threshold", "2",
            "--window", "3s", "--lateness", "0s", "--idle-timeout", idleTimeout, "--summary-interval", "off", .. more]))!;
        _reading = Collect(_process.StandardOutput, _lines);
        _readingErrors = Collect(_process.StandardError, _errors);
    }

    private static Task Collect(StreamReader from, List<string> into) => Task.Run(async () =>
    {
        while (await from.ReadLineAsync() is { } l) lock (into) into.Add(l);
    });

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output { get { lock (_lines) return string.Join('\n', _lines); } }

    public string Errors { get { lock (_errors) return string.Join('\n', _errors); } }

    /// <summary>Waits (up to a minute) for a line on stderr that contains <paramref name="text"/>; fails if the program exits first.</summary>
    public async Task<string> WaitForStderr(string text)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromMinutes(1))
        {
            lock (_errors)
                if (_errors.FirstOrDefault(e => e.Contains(text)) is { } found) return found;
            if (_process.HasExited)
            {
                await Task.WhenAll(_reading, _readingErrors);
                lock (_errors)
                    if (_errors.FirstOrDefault(e => e.Contains(text)) is { } found) return found;
                break;
            }
            await Task.Delay(20);
        }
        Assert.Fail($"no \"{text}\" on stderr; it says:\n{Errors}\nexited: {(_process.HasExited ? _process.ExitCode : "no")}");
        return "";
    }

    /// <summary>The alert transitions so far, as "state@ts".</summary>
    public List<string> Transitions()
    {
        lock (_lines)
            return _lines.Select(l => JsonDocument.Parse(l).RootElement)
                .Where(e => e.GetProperty("type").GetString() == "alert")
                .Select(e => $"{e.GetProperty("state").GetString()}@{e.GetProperty("ts").GetInt64()}")
                .ToList();
    }

    /// <summary>
    /// Waits (up to a minute, for a loaded machine) until <paramref name="count"/> transitions are
    /// out; fails at once, with stderr, if the program exits instead.
    /// </summary>
    public async Task<List<string>> WaitForTransitions(int count)
    {
        var sw = Stopwatch.StartNew();
        while (Transitions().Count < count && sw.Elapsed < TimeSpan.FromMinutes(1))
        {
            if (_process.HasExited)
            {
                await Task.WhenAll(_reading, _readingErrors);
                Assert.Fail($"exited ({_process.ExitCode}) while following:\n{Errors}");
            }
            await Task.Delay(50);
        }
        return Transitions();
    }

    /// <summary>Sends SIGTERM (or <paramref name="signal"/>) and returns the exit code, the final stats event and stderr.</summary>
    public async Task<(int Exit, JsonElement Stats, string Stderr)> Terminate(string signal = "TERM")
    {
        Process.Start("kill", [$"-{signal}", _process.Id.ToString()])!.WaitForExit();
        Assert.True(_process.WaitForExit(30_000), $"did not exit on SIG{signal}");
        return await Result();
    }

    /// <summary>Waits (up to a minute) for the program to end by itself; returns as <see cref="Terminate"/> does.</summary>
    public async Task<(int Exit, JsonElement Stats, string Stderr)> Ended()
    {
        Assert.True(_process.WaitForExit(60_000), $"still running; stderr says:\n{Errors}");
        return await Result();
    }

    private async Task<(int Exit, JsonElement Stats, string Stderr)> Result()
    {
        await Task.WhenAll(_reading, _readingErrors);
        string last;
        lock (_lines) last = _lines.Last();
        return (_process.ExitCode, JsonDocument.Parse(last).RootElement, Errors);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(true);
        _process.Dispose();
    }
}

/// <summary>A stream that hands out <paramref name="bytes"/> a few hundred at a time, at random: every cut is tried.</summary>
internal sealed class TrickleStream(byte[] bytes, int seed) : ReadOnlyStream
{
    private readonly Random _random = new(seed);
    private int _at;

    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(Math.Min(buffer.Length, _random.Next(1, 700)), bytes.Length - _at);
        bytes.AsSpan(_at, n).CopyTo(buffer);
        _at += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancel = default) =>
        ValueTask.FromResult(Read(buffer.Span));
}
