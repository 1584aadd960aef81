using Cocona;

namespace LogAlert.Cli;

/// <summary><c>logalert check RULES...</c>: compile rule files, list their rules.</summary>
public sealed class CheckCommand
{
    [PrimaryCommand]
    [Command(Description = "Compile rule files and list their rules; exit 0 when all compile, 2 otherwise. Listing runs the files' code with your rights: check only rule files you trust.")]
    public int Check([Argument(Description = "Rule files (.csx) or quoted globs.")] string[] rules)
    {
        Commands.Started = true;
        try
        {
            return LogAlert.Cli.Rules.RuleHost.Check(rules, Console.Out, Console.Error);
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
            // `logalert check rules/*.csx > /dev/full`: the listing could not be written.
            return Commands.Fail(ExitCodes.IoFailure, $"cannot write the listing: {e.Message}");
        }
    }
}
