using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LogAlert.Bench;

/// <summary>What to measure: <c>--runs N</c> and <c>--quick</c>.</summary>
/// <param name="Runs">How many times each command runs; the report shows medians.</param>
/// <param name="Quick">Only the 0.5M logs (the high-cardinality one at 0.5M too), for a fast check.</param>
public sealed record BenchOptions(int Runs, bool Quick)
{
    /// <summary>The usage line.</summary>
    public const string Usage =
        "usage: ./build.sh bench [--runs N] [--quick]   (or: LogAlert.Bench floor FILE)";

    /// <summary>Parses the command line; null (with <paramref name="error"/>) when it is not valid.</summary>
    public static BenchOptions? Parse(IReadOnlyList<string> args, out string? error)
    {
        var options = new BenchOptions(3, false);
        error = null;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    options = options with { Quick = true };
                    break;
                case "--runs" when i + 1 < args.Count
                                   && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                                   && n >= 1:
                    options = options with { Runs = n };
                    i++;
                    break;
                case "--runs":
                    error = "--runs needs a whole number of at least 1";
                    return null;
                default:
                    error = $"unknown argument \"{args[i]}\"";
                    return null;
            }
        }
        return options;
    }
}

/// <summary>One row of the results: a command on a log, run <see cref="BenchOptions.Runs"/> times.</summary>
/// <param name="Id">Key for ratios and targets, such as <c>rules-all:5M</c>.</param>
/// <param name="Name">The command as the table shows it.</param>
/// <param name="Log">The log it reads.</param>
/// <param name="CommandFor">The command of run <c>r</c> (1-based); built just before that run.</param>
/// <param name="FloorId">The row whose wall time this row's ratio divides by; null for the floor rows.</param>
/// <param name="CompareId">A row this one is also compared with in the notes (same command, other log or window).</param>
/// <param name="CompareLabel">How the notes name that row, such as <c>low-card 5M</c>.</param>
public sealed record Case(
    string Id,
    string Name,
    LogFile Log,
    Func<int, Command> CommandFor,
    string? FloorId,
    string? CompareId = null,
    string? CompareLabel = null);

/// <summary>The samples of one <see cref="Case"/> and their medians.</summary>
public sealed class CaseResult(Case @case)
{
    /// <summary>The case measured.</summary>
    public Case Case { get; } = @case;

    /// <summary>One sample per run, in run order.</summary>
    public List<Sample> Samples { get; } = [];

    /// <summary>Whether any run exited with a code other than 0 (or was killed).</summary>
    public bool Failed => Samples.Any(s => s.ExitCode != 0);

    /// <summary>The runs the medians are taken over: those that exited with 0, or all when none did.</summary>
    private IEnumerable<Sample> Counted => Samples.Any(s => s.ExitCode == 0) ? Samples.Where(s => s.ExitCode == 0) : Samples;

    /// <summary>Median wall time in seconds.</summary>
    public double WallSeconds => Measure.Median(Counted.Select(s => s.Wall.TotalSeconds));

    /// <summary>Median peak RSS in MB (MiB, 2^20 bytes).</summary>
    public double RssMb => Measure.Median(Counted.Select(s => s.PeakRssKb / 1024.0));

    /// <summary>
    /// This row's wall time over <paramref name="other"/>'s, as the median of the ratios of the runs
    /// made side by side (the same run number; the bench runs a compared row right after the row it
    /// is compared with): a slow spell of the machine then hits both sides of a ratio alike, where
    /// the ratio of medians mixed runs minutes apart.
    /// </summary>
    public double WallRatioTo(CaseResult other)
    {
        var ratios = Samples.Zip(other.Samples)
            .Where(p => p.First.ExitCode == 0 && p.Second.ExitCode == 0)
            .Select(p => p.First.Wall.TotalSeconds / p.Second.Wall.TotalSeconds)
            .ToList();
        return ratios.Count > 0 ? Measure.Median(ratios) : WallSeconds / other.WallSeconds;
    }
}

/// <summary>Entry point: <c>floor FILE</c> runs the floor; anything else runs the benchmark.</summary>
public static partial class Program
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(15);

    /// <summary>Runs the floor or the benchmark and returns the exit code.</summary>
    public static int Main(string[] args)
    {
        if (args is ["floor", var file]) return Floor.Run(file);
        if (args is ["-h" or "--help"])
        {
            Console.WriteLine(BenchOptions.Usage);
            return 0;
        }
        var options = BenchOptions.Parse(args, out var error);
        if (options is null)
        {
            Console.Error.WriteLine($"bench: {error}\n{BenchOptions.Usage}");
            return 2;
        }
        try
        {
            return Bench(options);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"bench: {e.Message}");
            return 1;
        }
    }

    private static int Bench(BenchOptions options)
    {
        var total = Stopwatch.StartNew();
        var root = FindRepositoryRoot();
        // What users run: the launcher's build (./build.sh publish), brought up to date by the launcher.
        var launcher = Path.Combine(root, "logalert");
        var version = Measure.Capture(new Command(launcher, ["--version"], root));
        if (version.ExitCode != 0)
            throw new InvalidOperationException($"./logalert --version exited with {version.ExitCode}: {version.Error.Trim()}");
        var logalert = Path.Combine(root, "src", "LogAlert.Cli", "bin", "publish", "logalert");
        if (!File.Exists(logalert))
            throw new InvalidOperationException($"{logalert} is missing after ./logalert --version");
        var self = Path.Combine(AppContext.BaseDirectory, "LogAlert.Bench");
        var problems = new List<string>();

        // The logs, generated once and cached.
        var generation = Stopwatch.StartNew();
        var dataDir = Path.Combine(root, "bench", "data");
        var small = DataSets.Ensure(DataSets.Small, dataDir, logalert);
        var large = options.Quick ? null : DataSets.Ensure(DataSets.Large, dataDir, logalert);
        var main = large ?? small;
        var highCard = DataSets.Ensure(DataSets.HighCardinality(options.Quick ? DataSets.Small : DataSets.Large), dataDir, logalert);
        var tiny = DataSets.Head(small, 5);
        var churn = options.Quick ? null : DataSets.Ensure(DataSets.Churn, dataDir, logalert);
        // The main log's requests as nginx writes them: its default combined, and a log_format with times.
        var combined = DataSets.Ensure(DataSets.Combined(options.Quick ? DataSets.Small : DataSets.Large), dataDir, logalert);
        var timed = DataSets.Ensure(DataSets.Timed(options.Quick ? DataSets.Small : DataSets.Large), dataDir, logalert);
        var sparse = DataSets.Ensure(options.Quick ? DataSets.SparseQuick : DataSets.Sparse, dataDir, logalert);
        var gap = DataSets.Joined("gap 10y", "two halves of 30000 s at 10 req/s, ten years apart", dataDir, logalert,
            DataSets.Gap.First, DataSets.Gap.Second);
        var manyGroups = DataSets.Ensure(DataSets.Groups(10_000_000), dataDir, logalert);
        var fewGroups = DataSets.Ensure(DataSets.Groups(60), dataDir, logalert);
        var ties = options.Quick ? null : DataSets.Ensure(DataSets.Ties, dataDir, logalert);
        generation.Stop();

        // rules/*.csx as the shell expands it: the file names in ordinal order.
        var allRules = Directory.GetFiles(Path.Combine(root, "rules"), "*.csx")
            .Select(p => "rules/" + Path.GetFileName(p))
            .Order(StringComparer.Ordinal)
            .ToArray();
        string[] highTraffic = ["rules/high_traffic.csx"];
        string[] rate2m = ["bench/rules/rate_2m.csx"];
        string[] rate1h = ["bench/rules/rate_1h.csx"];
        string[] perHost = ["bench/rules/per_host_5m.csx"];
        string[] topClients = ["bench/rules/top_clients_1h.csx"];
        string[] sumByClient = ["bench/rules/sum_by_client_1h.csx"];

        var scratch = Directory.CreateTempSubdirectory("logalert-bench-");
        try
        {
            // The direct runs use a copy of the build, taken once the launcher has made sure it is up to
            // date: others may rebuild src/ while the bench runs, and all rows must measure one build.
            var build = BuildStamp(logalert);
            var copy = Path.Combine(scratch.FullName, "logalert-build");
            CopyDirectory(Path.GetDirectoryName(logalert)!, copy);
            var measured = Path.Combine(copy, "logalert");

            // Every logalert run but the start-up ones shares one rule cache, filled before timing.
            var cache = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = Path.Combine(scratch.FullName, "cache") };
            Command Floor(LogFile log) => new(self, ["floor", log.Path], root);
            Command LogAlert(string[] rules, LogFile log, params string[] more) =>
                new(measured, ["--format", "jsonl", .. more, .. rules.Length > 0 ? ["--rules", .. rules] : Array.Empty<string>(), log.Path], root, cache);
            string ColdCache(int run) => Path.Combine(scratch.FullName, $"start-{run}");
            Command Launcher(int run) =>
                new(launcher, ["--rules", .. allRules, tiny.Path], root, new Dictionary<string, string> { ["XDG_CACHE_HOME"] = ColdCache(run) });

            var cases = new List<Case>();
            var logs = new[] { tiny, small, large, highCard, churn, sparse, gap, fewGroups, manyGroups, ties }.OfType<LogFile>().ToArray();
            foreach (var log in logs)
                cases.Add(new Case($"floor:{log.Label}", "floor (CsvHelper span API)", log, _ => Floor(log), null));
            void Add(string kind, string name, string[] rules, LogFile log, string? compareId = null, string? compareLabel = null) =>
                cases.Add(new Case($"{kind}:{log.Label}", name, log, _ => LogAlert(rules, log), $"floor:{log.Label}", compareId, compareLabel));
            foreach (var log in new[] { small, large }.OfType<LogFile>())
            {
                Add("builtin", "`logalert --format jsonl` (built-in rule)", [], log);
                Add("high_traffic", "`logalert --format jsonl --rules rules/high_traffic.csx`", highTraffic, log);
                Add("rules", "`logalert --format jsonl --rules rules/*.csx`", allRules, log);
            }
            Add("rules", "`logalert --format jsonl --rules rules/*.csx`", allRules, highCard, $"rules:{main.Label}", $"low-card {main.Label}");
            // An ordinary site's rate: the cost of a second of log time (issue 17).
            Add("builtin", "`logalert --format jsonl` (built-in rule)", [], sparse);
            Add("high_traffic", "`logalert --format jsonl --rules rules/high_traffic.csx`", highTraffic, sparse);
            Add("rules", "`logalert --format jsonl --rules rules/*.csx`", allRules, sparse);
            if (churn is not null) Add("rules", "`logalert --format jsonl --rules rules/*.csx`", allRules, churn);
            // A year-wide window draining across a 10-year gap, against a 2-minute one (issue 17).
            cases.Add(new Case($"window2m:{gap.Label}", "`logalert --format jsonl --window 2m`", gap,
                _ => LogAlert([], gap, "--window", "2m"), $"floor:{gap.Label}"));
            cases.Add(new Case($"window1y:{gap.Label}", "`logalert --format jsonl --window 1y`", gap,
                _ => LogAlert([], gap, "--window", "1y"), $"floor:{gap.Label}", $"window2m:{gap.Label}", "2m window"));
            // A WhenEach rule over 300k live groups, 1000 new a second, against 60 groups (issue 17).
            cases.Add(new Case($"per_host:{fewGroups.Label}", "`logalert --format jsonl --rules bench/rules/per_host_5m.csx`", fewGroups,
                _ => LogAlert(perHost, fewGroups), $"floor:{fewGroups.Label}"));
            cases.Add(new Case($"per_host:{manyGroups.Label}", "`logalert --format jsonl --rules bench/rules/per_host_5m.csx`", manyGroups,
                _ => LogAlert(perHost, manyGroups), $"floor:{manyGroups.Label}", $"per_host:{fewGroups.Label}", "60 groups"));
            // TopK with a long tail tied at its k-th place, against the same window summed per host.
            if (ties is not null)
            {
                cases.Add(new Case($"sum_by_client:{ties.Label}", "`logalert --format jsonl --rules bench/rules/sum_by_client_1h.csx`", ties,
                    _ => LogAlert(sumByClient, ties), $"floor:{ties.Label}"));
                cases.Add(new Case($"top_clients:{ties.Label}", "`logalert --format jsonl --rules bench/rules/top_clients_1h.csx`", ties,
                    _ => LogAlert(topClients, ties), $"floor:{ties.Label}", $"sum_by_client:{ties.Label}", "SumBy"));
            }
            // Server formats: the same requests as the main CSV log, so the floor is that log's, and the
            // CSV run of the same command is what each is held to.
            cases.Add(new Case($"high_traffic:{combined.Label}", "`logalert --format jsonl --rules rules/high_traffic.csx` (auto: combined)",
                combined, _ => LogAlert(highTraffic, combined), $"floor:{main.Label}", $"high_traffic:{main.Label}", "CSV"));
            cases.Add(new Case($"high_traffic:{timed.Label}", "`logalert --format jsonl --log-format '…$request_time…' --rules rules/high_traffic.csx`",
                timed, _ => LogAlert(highTraffic, timed, "--log-format", DataSets.TimedFormat), $"floor:{main.Label}", $"high_traffic:{main.Label}", "CSV"));
            // The peer users would pick for nginx logs: GoAccess (Debian's package), on the combined file.
            var goaccess = new[] { "/usr/bin/goaccess", "/usr/local/bin/goaccess" }.FirstOrDefault(File.Exists);
            if (goaccess is not null)
                cases.Add(new Case($"goaccess:{combined.Label}", "GoAccess `--log-format=COMBINED -o report.json` (the peer)", combined,
                    _ => new Command(goaccess, [combined.Path, "--log-format=COMBINED", "--no-global-config", "-o",
                        Path.Combine(scratch.FullName, "goaccess.json")], root), $"floor:{main.Label}",
                    $"high_traffic:{combined.Label}", "logalert on it"));
            else problems.Add("GoAccess is not installed (Debian package goaccess): its row is missing");
            Add("rate2m", "`logalert --format jsonl --rules bench/rules/rate_2m.csx`", rate2m, main);
            Add("rate1h", "`logalert --format jsonl --rules bench/rules/rate_1h.csx`", rate1h, main, $"rate2m:{main.Label}", "2m window");
            cases.Add(new Case("start:cold", "`./logalert --rules rules/*.csx`, empty rule cache (cold start)", tiny,
                run =>
                {
                    var dir = ColdCache(run);
                    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                    Directory.CreateDirectory(dir);
                    return Launcher(run);
                },
                $"floor:{tiny.Label}"));
            cases.Add(new Case("start:warm", "`./logalert --rules rules/*.csx`, rule cache filled (warm start)", tiny,
                Launcher, $"floor:{tiny.Label}", "start:cold", "cold start"));

            Prepare(problems, root, logs, Floor, [highTraffic, allRules, rate2m, rate1h, perHost, topClients, sumByClient], rules => LogAlert(rules, tiny));

            // Round robin: every case once per run, so that a slow spell of the machine hits all alike;
            // a row compared with another runs right after it (`SideBySide`).
            var results = cases.ToDictionary(c => c.Id, c => new CaseResult(c));
            var order = SideBySide(cases);
            for (var run = 1; run <= options.Runs; run++)
            {
                foreach (var c in order)
                {
                    var command = c.CommandFor(run);
                    var sample = Measure.Run(command, Timeout);
                    results[c.Id].Samples.Add(sample);
                    Console.Error.WriteLine(
                        $"bench: run {run}/{options.Runs}  {c.Id,-22} {sample.Wall.TotalSeconds,8:F3} s {sample.PeakRssKb / 1024.0,7:F0} MB" +
                        (sample.ExitCode == 0 ? "" : $"  EXIT {sample.ExitCode}"));
                    if (sample.ExitCode != 0)
                        problems.Add($"{c.Id} (run {run}): `{Display(command, root)}` exited with {sample.ExitCode}" +
                                     (sample.StandardError.Length > 0 ? $": {sample.StandardError.Trim()}" : ""));
                    else if (c.Id.StartsWith("start:", StringComparison.Ordinal) && sample.StandardError.Contains("building", StringComparison.Ordinal))
                        problems.Add($"{c.Id} (run {run}): the launcher rebuilt logalert (a source changed during the bench)");
                    if (BuildStamp(logalert) is var now && now != build)
                    {
                        problems.Add($"run {run}: logalert was rebuilt in src/ during the bench (noticed after {c.Id}): " +
                                     "the launcher rows from then on measure another build than the other rows");
                        build = now;
                    }
                }
                if (Directory.Exists(ColdCache(run)) && !Directory.EnumerateFiles(ColdCache(run), "*", SearchOption.AllDirectories).Any())
                    problems.Add($"start:cold (run {run}): the rule cache {ColdCache(run)} is still empty after the cold start");
            }

            total.Stop();
            Report.Print(Console.Out, new ReportInput(
                options, [.. logs, combined, timed], main, large is not null, [.. cases.Select(c => results[c.Id])], problems,
                total.Elapsed, generation.Elapsed, Revision(root)));
            return 0;
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>
    /// <paramref name="cases"/> in their order, but each case compared with another
    /// (<see cref="Case.CompareId"/>) moved to run right after it, so that their ratio is taken
    /// over runs made side by side (<see cref="CaseResult.WallRatioTo"/>).
    /// </summary>
    private static List<Case> SideBySide(List<Case> cases)
    {
        var ids = cases.Select(c => c.Id).ToHashSet();
        var followers = cases.Where(c => c.CompareId is { } id && ids.Contains(id)).ToLookup(c => c.CompareId!);
        var ordered = new List<Case>(cases.Count);
        // All the rows compared with one row first, then theirs: combined and log_format both follow
        // the CSV row, and GoAccess (compared with combined) comes after both, not between them.
        void PlaceFollowers(Case c)
        {
            var direct = followers[c.Id].ToList();
            ordered.AddRange(direct);
            foreach (var f in direct) PlaceFollowers(f);
        }
        foreach (var c in cases)
            if (c.CompareId is not { } id || !ids.Contains(id))
            {
                ordered.Add(c);
                PlaceFollowers(c);
            }
        return ordered;
    }

    /// <summary>
    /// Untimed preparation: checks the floor's record counts against the files (which also brings them
    /// into the page cache) and fills the shared rule cache.
    /// </summary>
    private static void Prepare(
        List<string> problems, string root, IEnumerable<LogFile> logs,
        Func<LogFile, Command> floor, IEnumerable<string[]> ruleSets, Func<string[], Command> onTinyLog)
    {
        Console.Error.WriteLine("bench: preparing (floor check, rule cache)");

        foreach (var log in logs)
        {
            var (exit, output, error) = Measure.Capture(floor(log));
            var match = RecordsPattern().Match(output);
            if (exit != 0 || !match.Success)
                throw new InvalidOperationException($"the floor failed on {log.Path} ({exit}): {error.Trim()}");
            var records = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            if (records != log.Records)
                problems.Add($"floor on {log.Label}: read {records} records, the file has {log.Records} data lines");
        }

        foreach (var rules in ruleSets)
        {
            var command = onTinyLog(rules);
            var (exit, _, error) = Measure.Capture(command);
            if (exit != 0) problems.Add($"warm-up `{Display(command, root)}` exited with {exit}: {error.Trim()}");
        }
    }

    /// <summary>Copies a folder and its files (modes included), such as a build output.</summary>
    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    /// <summary>When logalert was last built: the newest write time of its two assemblies.</summary>
    private static DateTime BuildStamp(string logalert)
    {
        var dir = Path.GetDirectoryName(logalert)!;
        return new[] { "logalert.dll", "LogAlert.Core.dll" }
            .Select(name => File.GetLastWriteTimeUtc(Path.Combine(dir, name)))
            .Max();
    }

    /// <summary>The commit measured, as <c>git describe --always --dirty</c> gives it; "unknown" without git.</summary>
    private static string Revision(string root)
    {
        try
        {
            var (exit, output, _) = Measure.Capture(new Command("git", ["describe", "--always", "--dirty"], root));
            return exit == 0 ? output.Trim() : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    [GeneratedRegex(@"records=(\d+)")]
    private static partial Regex RecordsPattern();

    /// <summary>A command as a user would type it, with paths relative to the repository.</summary>
    private static string Display(Command command, string root)
    {
        string Relative(string a) => a.StartsWith(root + "/", StringComparison.Ordinal) ? a[(root.Length + 1)..] : a;
        var executable = Relative(command.Executable);
        if (!executable.Contains('/')) executable = "./" + executable;
        return string.Join(' ', command.Arguments.Select(Relative).Prepend(executable));
    }

    /// <summary>The folder with <c>LogAlertFunctional.sln</c>, searched upwards from here and from the program.</summary>
    private static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "LogAlertFunctional.sln")))
                    return dir.FullName;
        }
        throw new InvalidOperationException("cannot find the repository (LogAlertFunctional.sln) above the current folder");
    }
}
