using Cocona;
using LogAlert.Cli.Output;
using LogAlert.Cli.Rules;
using LogAlert.Cli.Testing;

namespace LogAlert.Cli;

/// <summary><c>logalert test [CASES…]</c>: replay test cases of rules and compare their alert transitions.</summary>
public sealed partial class TestCommand
{
    [PrimaryCommand]
    [UsageLine("test")]
    [Command(Description = "Run test cases of rules (NAME.case.json files, or folders of them; default: tests/ and rules/tests/): replay each input and compare the alert transitions with NAME.expect.jsonl. Exit 0 when all pass, 1 when any fails, 2 when a case cannot be loaded or the report cannot be written. Rules run with your rights.")]
    public int Test(
        [Argument(Description = "Case files (*.case.json) or folders to search for them.")] string[]? cases = null,
        [Option("rules", Description = "One-off case: rule file (.csx); repeatable. Needs --input and --expect.")] string[]? rules = null,
        [Option("input", Description = "One-off case: the recorded log to replay.")] string? input = null,
        [Option("expect", Description = "One-off case: the expected transitions, as --format jsonl prints them (their threshold and message are not compared; other event types are skipped).")] string? expect = null,
        [Option("lateness", Description = "One-off case: --lateness (default 5s).")] string? lateness = null,
        [Option("input-format", Description = "One-off case: --input-format (default auto).")] string? inputFormat = null,
        [Option("log-format", Description = "One-off case: --log-format.")] string? logFormat = null,
        [Option("update", Description = "Rewrite each case's expected transitions from its replay, and print what changed.")] bool update = false,
        [Option("junit", Description = "Also write the results as JUnit XML to this file.")] string? junit = null)
    {
        Commands.Started = true;
        try
        {
            // Said before any case runs, not after all of them (with exit 1, as if a case had failed).
            if (junit is not null)
            {
                if (string.IsNullOrWhiteSpace(junit)) throw new UsageException("--junit: needs a file name, e.g. junit.xml");
                if (Directory.Exists(junit))
                    throw new UsageException($"--junit {junit}: is a folder; name the report's file, e.g. {Path.Combine(junit, "junit.xml")}");
                if (Path.GetDirectoryName(Path.GetFullPath(junit)) is { } folder && !Directory.Exists(folder))
                    throw new UsageException($"--junit {junit}: no such folder: {folder}");
            }
            foreach (var (name, value) in new[] { ("--input", input), ("--expect", expect) })
                if (value is not null && string.IsNullOrWhiteSpace(value)) throw new UsageException($"{name}: needs a file name");
            List<(string Name, Func<TestCase> Load)> found;
            var oneOffCase = false;
            Commands.NeedValues(("rules", rules));
            if (rules is { Length: > 0 } || input is not null || expect is not null)
            {
                // `--rules rules/*.csx`: the shell puts the files after the first among the arguments,
                // which the main command takes as rules too (positional *.csx).
                if (rules is { Length: > 0 } && cases is { Length: > 0 } && cases.All(c => c.EndsWith(".csx", StringComparison.OrdinalIgnoreCase)))
                {
                    rules = [.. rules, .. cases];
                    cases = null;
                }
                if (cases is { Length: > 0 }) throw new UsageException("give case files, or --rules with --input and --expect, not both");
                if (rules is not { Length: > 0 } || input is null || expect is null)
                {
                    string[] missing = [.. new[] { ("--rules", rules is { Length: > 0 }), ("--input", input is not null), ("--expect", expect is not null) }
                        .Where(o => !o.Item2).Select(o => o.Item1)];
                    throw new UsageException($"a one-off case needs --rules, --input and --expect: {string.Join(" and ", missing)} {(missing.Length == 1 ? "is" : "are")} missing");
                }
                var oneOff = new TestCase
                {
                    Name = input,
                    Rules = [.. RuleHost.ExpandRuleArguments(rules)],
                    Log = input,
                    InputFormat = inputFormat ?? "auto",
                    LogFormat = logFormat,
                    Lateness = Durations.Parse("--lateness", lateness ?? "5s"),
                    ExpectFile = expect,
                    ExpectWhere = "--expect",
                };
                found = [(oneOff.Name, () => oneOff)];
                oneOffCase = true;
            }
            else
            {
                // A case file carries its own settings: these, given with it, were ignored without a word.
                var oneOffOnly = new[] { ("--lateness", lateness), ("--input-format", inputFormat), ("--log-format", logFormat) }
                    .Where(o => o.Item2 is not null).Select(o => o.Item1).ToList();
                if (oneOffOnly.Count > 0)
                    throw new UsageException($"{string.Join(", ", oneOffOnly)}: only for a one-off case (--rules, --input, --expect); "
                                             + "a case file has its own (\"input_format\", \"log_format\", and \"lateness\" in \"options\")");
                found = [.. Discover(cases ?? []).Select(path => (path, (Func<TestCase>)(() => TestCase.Load(path))))];
            }

            using var host = new RuleHost();
            var run = new TestRun(new CaseRunner(host), Console.Out, update);
            // A rule that cannot be resumed ends the run; the case it was in is an ERROR, and the
            // report so far (summary, JUnit) is written before the process ends, with exit code 2.
            bool Stop(string reason, bool signalled = false)
            {
                Environment.ExitCode = ExitCodes.Usage;
                bool inCase;
                try
                {
                    inCase = run.Stop(reason, signalled);
                }
                catch (IOException e)
                {
                    // stdout closed or full, met on the watchdog's thread (or a signal's), where
                    // nothing would catch it: a stack trace and exit 134. Said as the command says it
                    // elsewhere, the reason the run stopped first; a reader gone away, quietly.
                    inCase = true;
                    if (StandardOutput.IsBrokenPipe(e)) Environment.ExitCode = StandardOutput.ClosedExitCode;
                    else
                    {
                        Console.Error.WriteLine($"logalert: {reason}");
                        Environment.ExitCode = Commands.Fail(ReportFailed, e.Message);
                    }
                }
                if (junit is not null) WriteJUnit(junit, run.Results);
                return inCase;
            }
            // A stuck rule is said in its case's ERROR block, where a test's report is read; the
            // watchdog's own line on stderr said it a second time. Only a report already written
            // (the run ended, or a signal stopped it) leaves stderr to say it.
            host.Watchdog.Error = TextWriter.Null;
            host.Watchdog.OnRunaway = () =>
            {
                var reason = host.Watchdog.RunawayMessage ?? "a rule did not finish";
                if (!Stop(reason)) Console.Error.WriteLine($"logalert: {reason}");
                Environment.Exit(Environment.ExitCode); // Stop's: 2, or stdout's failure
            };
            // Environment.Exit runs this on another thread while the rule that called it waits.
            EventHandler exited = (_, _) =>
            {
                if (host.Watchdog.RunawayMessage is not null || host.Watchdog.Running is not { } what) return;
                // A signal (a kill, a CI job's timeout) ends the process by this path too: not the rule's doing.
                if (Signals.Received is { } signal)
                {
                    Stop($"{signal} while {what} was running", signalled: true);
                    Environment.ExitCode = Signals.ExitCode;
                }
                else Stop($"{what} ended the process (Environment.Exit)");
            };
            AppDomain.CurrentDomain.ProcessExit += exited;
            // SIGINT or SIGTERM (a CI job's timeout) stops the run after the batch it is in, with its
            // summary and report and the signal's exit code: the host held it 30 s and exited 0,
            // which turned a failing suite into a pass. A rule stuck in a loop holds the run's
            // thread: after a second the report is written from here and the process ends, and the
            // watchdog is off meanwhile so that the signal is not charged to the rule.
            using var stop = new SignalStop(TimeSpan.FromSeconds(1), signal =>
            {
                try
                {
                    if (!run.Interrupt(signal, host.Watchdog.Running)) return;
                    Console.Out.Flush();
                }
                catch (IOException e)
                {
                    // On the signal's own thread, where nothing would catch it (a stack trace, exit
                    // 134): said as Stop says it; the signal's exit code stands, as documented.
                    if (!StandardOutput.IsBrokenPipe(e)) Console.Error.WriteLine($"logalert: {e.Message}");
                }
                if (junit is not null) WriteJUnit(junit, run.Results);
                Environment.Exit(Signals.ExitCodeOf(signal));
            });
            stop.Token.Register(() => host.Watchdog.Timeout = TimeSpan.Zero);
            int code;
            try { code = run.RunAll(found, stop); }
            finally { AppDomain.CurrentDomain.ProcessExit -= exited; }
            if (stop.Signal is null)
            {
                foreach (var rule in run.NeverFired()) Console.Error.WriteLine($"logalert: warning: rule {rule} fires in no case");
                // Only when every case of the folders ran: a case named alone leaves out the others' rules.
                var allCases = !oneOffCase && (cases ?? []).All(Directory.Exists);
                foreach (var file in allCases ? Uncovered(found.Select(f => f.Name), run.RuleFiles) : [])
                    Console.Error.WriteLine($"logalert: warning: rule file {file} is in no case, so its rules fire in no case");
            }
            if (junit is not null)
            {
                try { JUnitReport.Write(junit, run.Results); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // After a signal, its exit code stands (143, 130), as when a rule held the run.
                    var failed = Commands.Fail(ReportFailed, Commands.FileFailure("--junit", junit, e));
                    return stop.Signal is null ? failed : code;
                }
            }
            return code;
        }
        catch (UsageException e)
        {
            return Commands.Fail(ExitCodes.Usage, e.Message);
        }
        catch (IOException e) when (StandardOutput.IsBrokenPipe(e))
        {
            return StandardOutput.ClosedExitCode;
        }
        catch (IOException e)
        {
            return Commands.Fail(ReportFailed, e.Message);
        }
    }

    /// <summary>
    /// The exit code of a run whose report could not be written (stdout full or not open, the
    /// <c>--junit</c> file) or whose files could not be read (an I/O error): 2, an error, as for a
    /// case that cannot be loaded. Exit 1 says a case failed, and a CI job read the one for the other.
    /// </summary>
    private const int ReportFailed = ExitCodes.Usage;

    /// <summary>The report of a run that is stopping: a failure to write it is said, and does not change the exit code.</summary>
    private static void WriteJUnit(string path, IReadOnlyList<CaseResult> results)
    {
        try { JUnitReport.Write(path, results); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"logalert: {Commands.FileFailure("--junit", path, e)}");
        }
    }

    /// <summary>
    /// The rule files beside the <c>tests/</c> folders that hold the cases (<c>rules/*.csx</c> for
    /// <c>rules/tests/…</c>) that no case loaded: only the rules some case ran were covered, so a rule
    /// file with no case at all went without a word.
    /// </summary>
    private static IEnumerable<string> Uncovered(IEnumerable<string> cases, IReadOnlySet<string> used)
    {
        var folders = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in cases)
            for (var dir = Path.GetDirectoryName(Path.GetFullPath(path)); dir is not null; dir = Path.GetDirectoryName(dir))
                if (Path.GetFileName(dir) == "tests")
                {
                    if (Path.GetDirectoryName(dir) is { } rules) folders.Add(rules);
                    break;
                }
        foreach (var folder in folders)
        {
            var files = Directory.EnumerateFiles(folder, "*.csx").Order(StringComparer.Ordinal).ToList();
            // A file another one #loads (shared helpers) is no rule file of its own.
            var loaded = new HashSet<string>(StringComparer.Ordinal);
            foreach (var file in files)
                foreach (var line in File.ReadLines(file))
                    if (LoadDirective().Match(line) is { Success: true } m)
                        loaded.Add(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, m.Groups[1].Value)));
            foreach (var file in files)
                if (!used.Contains(Path.GetFullPath(file)) && !loaded.Contains(Path.GetFullPath(file)))
                    yield return Path.GetRelativePath(Environment.CurrentDirectory, file);
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*#load\s+""([^""]+)""")]
    private static partial System.Text.RegularExpressions.Regex LoadDirective();

    /// <summary>
    /// What tells two cases apart: the folder <paramref name="path"/> is in, its links resolved, and
    /// its file name. A case named directly and through a linked folder is one case; a linked case
    /// file is a case of its own (its input and expectations are found beside the link). The file is
    /// not opened: a named pipe among the cases would hold the search.
    /// </summary>
    private static string CaseKey(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!OperatingSystem.IsWindows() && RealPath(folder, 0) is var resolved and not 0)
        {
            try { folder = System.Runtime.InteropServices.Marshal.PtrToStringUTF8(resolved) ?? folder; }
            finally { System.Runtime.InteropServices.Marshal.FreeHGlobal(resolved); } // malloc'd: glibc's free
        }
        return Path.Combine(folder, Path.GetFileName(path));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "realpath", CharSet = System.Runtime.InteropServices.CharSet.Ansi)]
    private static extern nint RealPath(string path, nint resolved);

    /// <summary>
    /// The <c>*.case.json</c> files under <paramref name="root"/>, in ordinal order. A linked folder
    /// is not entered, as <c>grep -r</c> and <c>find</c> do not: one that links back up the tree
    /// found every case again at each depth, 40 times over. A linked folder named as the root is.
    /// </summary>
    private static List<string> CaseFilesUnder(string root)
    {
        var found = new List<string>();
        void Walk(string folder)
        {
            found.AddRange(Directory.EnumerateFiles(folder, "*.case.json"));
            foreach (var sub in Directory.EnumerateDirectories(folder))
                if (new DirectoryInfo(sub).LinkTarget is null) Walk(sub);
        }
        Walk(root);
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>The case files named, and those under the folders named; with nothing named, under <c>tests/</c> and <c>rules/tests/</c>.</summary>
    private static List<string> Discover(IReadOnlyList<string> args)
    {
        var roots = args.Count > 0 ? args : new[] { "tests", Path.Combine("rules", "tests") }.Where(Directory.Exists).ToArray();
        if (roots.Count == 0) throw new UsageException("no test cases: name case files or folders, or put NAME.case.json files in tests/ or rules/tests/");
        var files = new List<string>();
        // A case named twice (a file and its folder, or the same file) runs once.
        var named = new HashSet<string>(StringComparer.Ordinal);
        void Add(string file)
        {
            if (named.Add(CaseKey(file))) files.Add(file);
        }
        foreach (var root in roots)
        {
            if (File.Exists(root) && root.EndsWith(".csx", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"{root} is a rule file, not a case (NAME.case.json): name its cases, or give a one-off case with --rules {root} --input LOG --expect FILE");
            // An expectation or a log named where a case belongs got JSON's parse error ("'{' is
            // invalid after a single JSON value"): a case is one JSON document, NAME.case.json.
            if (File.Exists(root) && !root.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            {
                var stem = root.EndsWith(".expect.jsonl", StringComparison.OrdinalIgnoreCase) ? root[..^".expect.jsonl".Length] : null;
                throw new UsageException(stem is not null && File.Exists(stem + ".case.json")
                    ? $"{root} holds a case's expected transitions, not a case: name the case, {stem}.case.json"
                    : $"{root} is not a case (NAME.case.json): name case files, or give a one-off case with --rules RULES --input LOG --expect FILE");
            }
            if (File.Exists(root)) Add(root);
            else if (Directory.Exists(root))
            {
                var inside = CaseFilesUnder(root);
                if (inside.Count == 0 && args.Count > 0) throw new UsageException($"{root}: no *.case.json files in it");
                inside.ForEach(Add);
            }
            else if (RuleGlob.IsPattern(root))
                // A quoted glob, as --rules takes one: it said "no such file or folder".
                RuleGlob.ExpandTo(root, ".case.json", "*.case.json", StringComparison.Ordinal).ForEach(Add);
            else throw new UsageException($"{root}: no such file or folder");
        }
        // Found, not named: an empty rules/tests/ passed as "0 passed, 0 failed", which a CI job
        // cannot tell from a suite that ran.
        if (files.Count == 0)
            throw new UsageException($"{string.Join(" and ", roots)}: no *.case.json files in {(roots.Count == 1 ? "it" : "them")}");
        return files;
    }
}
