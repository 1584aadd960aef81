using Cocona;
using LogAlert.Cli.Properties;
using LogAlert.Cli.Rules;

namespace LogAlert.Cli;

/// <summary>
/// <c>logalert check RULES...</c>: compile rule files, list their rules; with <c>--properties</c>, check
/// each rule's properties on generated traffic (<see cref="PropertyChecker"/>).
/// </summary>
public sealed class CheckCommand
{
    [PrimaryCommand]
    [UsageLine("check")]
    [Command(Description = "Compile rule files and list their rules; exit 0 when all compile, 2 otherwise. With --properties, check each rule on generated traffic instead (exit 0 all hold, 1 one fails, 2 rule errors). Listing runs the files' code with your rights: check only rule files you trust.")]
    public int Check(
        [Argument(Description = "Rule files (.csx) or quoted globs.")] string[] rules,
        [Option("properties", Description = "Check properties of each rule on generated traffic (never throws, determinism, alternation, .Monotonic()); print each failure shrunk to a small CSV log.")] bool properties = false,
        [Option("cases", Description = "--properties: generated logs per property and rule."), WholeRange(1, int.MaxValue)] int? cases = null,
        [Option("seed", Description = "--properties: the seed of the generated logs (printed at the end of every run), to run the same cases again.")] ulong? seed = null,
        [Option("rule-timeout", Description = "A rule evaluation running longer than this is reported (exit 2); with --properties it fails the check. (Default: 5s)")] string? ruleTimeout = null)
    {
        Commands.Started = true;
        try
        {
            if (!properties)
            {
                if (cases is not null || seed is not null)
                    throw new UsageException("--cases and --seed go with --properties");
                // Each rule is called once at load time: one that loops is reported after this long.
                return RuleHost.Check(rules, Console.Out, Console.Error,
                    ruleTimeout is null ? null : Durations.Parse("--rule-timeout", ruleTimeout));
            }
            return CheckProperties(rules, cases ?? 100, seed ?? (ulong)Random.Shared.NextInt64(1, 1_000_000_000), ruleTimeout ?? "5s");
        }
        catch (UsageException e)
        {
            return Commands.Fail(ExitCodes.Usage, e.Message);
        }
        catch (IOException e) when (LogAlert.Cli.Output.StandardOutput.IsBrokenPipe(e))
        {
            return LogAlert.Cli.Output.StandardOutput.ClosedExitCode;
        }
        catch (IOException e)
        {
            // `logalert check rules/*.csx > /dev/full`: the listing could not be written ("stdout: ...").
            return Commands.Fail(ExitCodes.IoFailure, e.Message);
        }
    }

    private static int CheckProperties(string[] rules, int cases, ulong seed, string ruleTimeout)
    {
        if (cases < 1) throw new UsageException($"--cases: {cases} is not a positive number");
        var timeout = Durations.Parse("--rule-timeout", ruleTimeout);
        var problems = new List<string>();
        var files = RuleHost.ExpandRuleArguments(rules, problems);
        foreach (var problem in problems) Console.Error.WriteLine($"logalert: {problem}");
        if (files.Count == 0)
        {
            if (problems.Count == 0) throw new UsageException("check: no rule files given");
            return ExitCodes.Usage;
        }
        // Loading sends Console.Out to stderr (what rule code prints goes there): the report goes to the real stdout.
        var stdout = Console.Out;
        using var host = new RuleHost { RuleTimeout = timeout };
        var loaded = host.Load(files);
        foreach (var e in loaded.Errors) Console.Error.WriteLine(e);
        if (!loaded.Ok || problems.Count > 0) return ExitCodes.Usage;
        var checker = new PropertyChecker(loaded, stdout, cases, seed);
        // A rule stuck in a loop cannot be stopped: the case it is stuck on is printed, then logalert exits 1.
        host.Watchdog.OnRunaway = () =>
        {
            checker.ReportRunaway(host.Watchdog.RunawayMessage ?? "a rule did not finish");
            Environment.Exit(1);
        };
        // Environment.Exit runs this on another thread while the rule that called it waits: the
        // property fails with the case, and the exit code is 1, not the rule's.
        EventHandler exited = (_, _) =>
        {
            if (host.Watchdog.RunawayMessage is not null || DeliberateExit.Explained || host.Watchdog.Running is not { } what) return;
            // A signal (a kill, a CI job's timeout) ends the process by this path too: not the rule's doing.
            if (Signals.Received is { } signal)
            {
                checker.ReportInterrupted(signal, what);
                Environment.ExitCode = Signals.ExitCode;
                return;
            }
            checker.ReportEndedProcess($"{what} called Environment.Exit; nothing after it can be checked");
            Environment.ExitCode = ExitCodes.Failed;
        };
        AppDomain.CurrentDomain.ProcessExit += exited;
        // SIGINT or SIGTERM stops the run after the generated log being checked, with the counts so
        // far and the signal's exit code (the host held it 30 s, then exited 0). A rule stuck in a
        // loop holds the run's thread: after a second the summary is written from here and the
        // process ends; the watchdog is off meanwhile so that the signal is not charged to the rule.
        using var stop = new SignalStop(TimeSpan.FromSeconds(1), signal =>
        {
            var what = host.Watchdog.Running;
            if (!checker.ReportInterrupted(signal, what)) return;
            Environment.Exit(Signals.ExitCodeOf(signal));
        });
        stop.Token.Register(() => host.Watchdog.Timeout = TimeSpan.Zero);
        try { return checker.Run(stop); }
        finally { AppDomain.CurrentDomain.ProcessExit -= exited; }
    }
}
