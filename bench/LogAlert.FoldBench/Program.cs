using System.Diagnostics;
using LogAlert.Cli.Input;
using LogAlert.Cli.Rules;
using LogAlert.Core.Interop;

namespace LogAlert.FoldBench;

/// <summary>
/// <c>LogAlert.FoldBench FILE [--rounds N] [--no-summaries] [--rules FILE...]</c>: the engine's fold alone. Reads FILE into batches
/// with logalert's reader, then folds all of them N times, each from a new state, on this one thread,
/// with no output: no reader or JIT thread competes for the two cores, so a change to the engine
/// shows within a few percent, where a whole run moves by 10% from one minute to the next. The
/// first round includes the fold's compilation (as a run does); the others are its steady state.
/// Not a row of <c>./build.sh bench</c>: a tool for measuring changes to the core (docs/performance.md).
/// Runs with logalert's runtime settings (its project file).
/// </summary>
public static class Program
{
    /// <summary>The command line it takes.</summary>
    public const string Usage = "usage: LogAlert.FoldBench FILE [--rounds N] [--no-summaries] [--rules FILE...]";

    /// <summary>Runs the command and returns the exit code (1: no such file, 2: a usage error).</summary>
    public static int Main(string[] args)
    {
        string? file = null;
        var rounds = 4;
        var rules = new List<string>();
        var summaries = true;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds" when i + 1 < args.Length && int.TryParse(args[i + 1], out var n) && n > 0:
                    rounds = n;
                    i++;
                    break;
                case "--no-summaries":
                    summaries = false;
                    break;
                case "--rules":
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) rules.Add(args[++i]);
                    break;
                case var a when file is null && !a.StartsWith("--", StringComparison.Ordinal):
                    file = a;
                    break;
                default:
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }
        if (file is null)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        if (!File.Exists(file))
        {
            Console.Error.WriteLine($"LogAlert.FoldBench: {file}: no such file");
            return 1;
        }
        // The rule host takes Console.Out for the rules' own output: this command's lines go around it.
        var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };

        using var host = new RuleHost();
        var settings = new EngineSettings();
        if (rules.Count == 0)
        {
            // As logalert builds its built-in rule (Commands.cs).
            var highTraffic = Rules.HighTraffic(10, TimeSpan.FromMinutes(2));
            settings.Rules = [highTraffic];
            settings.Windows.Add(new RuleWindows(highTraffic.RuleName, [new QueryWindow(TimeSpan.FromMinutes(2))], complete: true));
        }
        else
        {
            var loaded = host.Load(rules);
            foreach (var e in loaded.Errors) Console.Error.WriteLine(e);
            if (!loaded.Ok) return 2;
            settings.Rules = loaded.Rules.ToList();
            settings.Windows.AddRange(loaded.Told);
        }

        if (!summaries) settings.SummaryInterval = TimeSpan.Zero;

        var read = Stopwatch.StartNew();
        var batches = new List<InputBatch>();
        long records = 0;
        foreach (var batch in new AccessLogReader([file]) { Extras = LogAlert.Cli.Input.Formats.AccessExtrasNames.Read(settings.Reads) })
        {
            if (batch.Count == 0) continue;
            batches.Add(batch);
            records += batch.Count;
        }
        output.WriteLine($"read {records} records in {batches.Count} batches: {read.Elapsed.TotalSeconds:F3} s");

        var times = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var state = Fold.Start(settings);
            var notices = new NoticeBuffer();
            long events = 0;
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var collections = GC.CollectionCount(0);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            foreach (var batch in batches)
            {
                state = Fold.PushInto(state, batch.Records, notices);
                events += notices.Count;
                notices.Clear();
            }
            state = Fold.EndInto(state, notices);
            events += notices.Count;
            var seconds = wall.Elapsed.TotalSeconds;
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            var evaluated = state.EvaluatedSeconds;
            times.Add(seconds);
            output.WriteLine($"round {round + 1}: {seconds:F3} s ({cpuSeconds:F3} s CPU), {bytes / 1e6:F1} MB allocated " +
                              $"({(evaluated > 0 ? bytes / evaluated : 0)} bytes a second evaluated), {GC.CollectionCount(0) - collections} young collections, " +
                              $"{evaluated} seconds evaluated, {events} events");
        }
        if (times.Count > 1)
            output.WriteLine($"fold: first {times[0]:F3} s, steady (best of the others) {times.Skip(1).Min():F3} s");
        return 0;
    }
}
