using System.Diagnostics;
using System.Globalization;

namespace LogAlert.Bench;

/// <summary>A program to run: executable, arguments, working folder and extra environment.</summary>
/// <param name="Executable">Path of the program (or a name on PATH).</param>
/// <param name="Arguments">Its arguments, passed as they are (no shell).</param>
/// <param name="WorkingDirectory">The folder it runs in.</param>
/// <param name="Environment">Variables set for it on top of the bench's own environment.</param>
public sealed record Command(
    string Executable,
    IReadOnlyList<string> Arguments,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string>? Environment = null);

/// <summary>What one run of a command cost.</summary>
/// <param name="Wall">Wall time from just before the start to the exit.</param>
/// <param name="PeakRssKb">The last <c>VmHWM</c> read from <c>/proc/PID/status</c> (kB), 0 when none was read.</param>
/// <param name="ExitCode">The exit code, or -1 when the run was killed for taking too long.</param>
/// <param name="StandardError">The end of what it wrote to standard error.</param>
public readonly record struct Sample(TimeSpan Wall, long PeakRssKb, int ExitCode, string StandardError);

/// <summary>Runs commands as child processes and measures their wall time and peak memory.</summary>
public static class Measure
{
    /// <summary>How often the child's memory high-water mark is read.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    private const int StandardErrorTail = 2000;

    /// <summary>
    /// Runs <paramref name="command"/> with its standard output drained and thrown away, timing it with
    /// a <see cref="Stopwatch"/> and reading <c>VmHWM</c> every <see cref="PollInterval"/> until it
    /// exits. A run longer than <paramref name="timeout"/> is killed (with its children).
    /// </summary>
    public static Sample Run(Command command, TimeSpan timeout)
    {
        using var process = new Process { StartInfo = StartInfo(command) };
        var clock = Stopwatch.StartNew();
        process.Start();
        var drain = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        var errors = process.StandardError.ReadToEndAsync();
        var statusFile = $"/proc/{process.Id}/status";
        long peak = 0;
        var killed = false;
        while (!process.WaitForExit(PollInterval))
        {
            if (ReadHighWaterMark(statusFile) is { } kb) peak = kb;
            if (clock.Elapsed > timeout)
            {
                process.Kill(entireProcessTree: true);
                killed = true;
            }
        }
        var wall = clock.Elapsed;
        process.WaitForExit(); // lets the output readers reach the end
        drain.Wait();
        var stderr = errors.Result;
        return new Sample(
            wall,
            peak,
            killed ? -1 : process.ExitCode,
            stderr.Length > StandardErrorTail ? "…" + stderr[^StandardErrorTail..] : stderr);
    }

    /// <summary>Runs <paramref name="command"/> untimed and returns its exit code, standard output and standard error.</summary>
    public static (int ExitCode, string Output, string Error) Capture(Command command)
    {
        using var process = new Process { StartInfo = StartInfo(command) };
        process.Start();
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result, errors.Result);
    }

    private static ProcessStartInfo StartInfo(Command command)
    {
        var info = new ProcessStartInfo(command.Executable)
        {
            WorkingDirectory = command.WorkingDirectory,
            RedirectStandardInput = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Arguments) info.ArgumentList.Add(argument);
        if (command.Environment is not null)
            foreach (var (name, value) in command.Environment) info.Environment[name] = value;
        return info;
    }

    /// <summary>The <c>VmHWM:</c> line of a <c>/proc/PID/status</c> file in kB; null once the process is gone.</summary>
    private static long? ReadHighWaterMark(string statusFile)
    {
        try
        {
            foreach (var line in File.ReadLines(statusFile))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                var digits = line.AsSpan(6).Trim().TrimEnd("kB").Trim();
                return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb : null;
            }
        }
        catch (IOException)
        {
            // The process exited between two reads.
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    /// <summary>The median of <paramref name="values"/> (the mean of the two middle ones for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
