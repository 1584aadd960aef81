using System.Runtime.InteropServices;
using Cocona;
using Cocona.Application;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using LogAlert.Cli;
using LogAlert.Cli.Input;

// Exit codes: 0 done; 2 usage or rule errors, or an input not in the format (no header with the
// columns it needs at its start); 1 I/O failure (missing, unreadable, a read error); 3 with
// --fail-on-alert when an alert fired; 141 when stdout was closed under it (StandardOutput.ClosedExitCode).

// Messages on stderr quote log data (a bad line's field, a path): control characters are escaped
// on the way, so that no log line can send escape sequences to the operator's terminal.
Console.SetError(new LogAlert.Cli.Output.Terminal.EscapingWriter(Console.Error));
Console.SetOut(LogAlert.Cli.Output.StandardOutput.Writer());
Signals.Watch();
AppDomain.CurrentDomain.UnhandledException += (_, e) => ExitOnUnhandled(e.ExceptionObject);
var exitCode = await RunProgram(args);
// Returning from Main waits for every foreground thread: one a rule started (`new Thread(...)`)
// kept the process alive after the final report, for as long as that thread ran. The run is over.
DeliberateExit.Now(exitCode);
return exitCode;

static async Task<int> RunProgram(string[] args)
{
    try
    {
        // Cocona cannot give a primary command positional arguments next to sub-commands, and
        // `logalert log.csv` needs them: pick the command here, then let Cocona parse its options.
        var command = args.Length > 0 ? args[0] : "";
        var rest = command is "check" or "generate" or "run" or "test" ? args[1..] : args;
        if (command is "check" or "generate" or "test") LogAlert.Cli.CommandLineConsole.Subcommand = command;
        else if (RunArguments.TryBind(rest) is { } bound) return await RunWithoutHost(bound);
        // The host's defaults add appsettings.json with reload on change, which watches the current
        // directory and every directory under it (inotify, one watch each) before the sources below are
        // cleared: `logalert --version` took 1.4 s from `/` and 0.3 s from a busy /tmp.
        Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
        var builder = CoconaApp.CreateBuilder(rest, options =>
        {
            options.TreatPublicMethodsAsCommands = false;
            options.EnableShellCompletionSupport = false;
        });
        // logalert reads no appsettings.json and logs nothing through Microsoft.Extensions.Logging:
        // without these the host starts a file watcher and a logger thread on every run.
        ((IConfigurationBuilder)builder.Configuration).Sources.Clear();
        builder.Logging.ClearProviders();
        // Cocona's own parse errors worded as logalert's other usage errors ("logalert: --x: ...").
        builder.Services.AddSingleton<ICoconaConsoleProvider, CommandLineConsole>();
        var app = builder.Build();
        // The host gives a command this long to finish once a signal asked it to stop, then returns
        // and the process ends: the run lengthens it to its --delivery-timeout (RunCommand).
        Commands.HostOptions = app.Services.GetService<Microsoft.Extensions.Options.IOptions<Microsoft.Extensions.Hosting.HostOptions>>()?.Value;
        // Not the default 5 s: a signal that comes before the run lengthens it (while the rules compile)
        // starts the host's wait with what it is then, and the run's own stop takes the delivery deadline
        // (10 s by default) and its report.
        if (Commands.HostOptions is { } hostOptions) hostOptions.ShutdownTimeout = TimeSpan.FromSeconds(30);
        switch (command)
        {
            case "check": app.AddCommands<CheckCommand>(); break;
            case "generate": app.AddCommands<GenerateCommand>(); break;
            case "test": app.AddCommands<TestCommand>(); break;
            default: app.AddCommands<RunCommand>(); break;
        }
        // The host's console lifetime holds SIGINT, SIGTERM and SIGQUIT, not SIGHUP, which ended the
        // process with no report when it came while the rules compiled: held as the others for the
        // main command, which then stops on it (semantics §12), as RunWithoutHost does.
        using var hangup = command is "check" or "generate" or "test" ? null
            : PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
            {
                c.Cancel = true;
                app.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().StopApplication();
            });
        await app.RunAsync();
        // Cocona reports its own parse errors (unknown option, missing value) with exit code 129;
        // they are usage errors, so they become 2 unless a command body decided the code. Help exits
        // with 129 too, having written no error: that is 0, as for --version.
        if (Environment.ExitCode != 0 && !Commands.Started)
            Environment.ExitCode = CommandLineConsole.OutputClosed ? LogAlert.Cli.Output.StandardOutput.ClosedExitCode
                : CommandLineConsole.OutputFailed ? ExitCodes.IoFailure
                : CommandLineConsole.ErrorWritten ? ExitCodes.Usage : ExitCodes.Ok;
        return Environment.ExitCode;
    }
    catch (UsageException e)
    {
        Console.Error.WriteLine($"logalert: {e.Message}");
        return ExitCodes.Usage;
    }
    catch (IOException e) when (LogAlert.Cli.Output.StandardOutput.IsBrokenPipe(e))
    {
        return LogAlert.Cli.Output.StandardOutput.ClosedExitCode;
    }
    catch (IOException e)
    {
        Console.Error.WriteLine($"logalert: {e.Message}");
        return ExitCodes.IoFailure;
    }
}

// An exception no code caught, on a thread of its own: one that rule code started (`new Thread`,
// an `async void` method) or logalert's own. The runtime printed its stack trace and aborted (exit
// 134); instead a rule's is one line and stops the run with its report, as a rule that ends the
// process does (exit 2), and logalert's own is one line and exit 1.
static void ExitOnUnhandled(object exception)
{
    var e = exception as Exception;
    var what = e is null ? exception.GetType().Name : $"{e.GetType().Name}: {e.Message}";
    if (e is null || LogAlert.Cli.Rules.RuleHost.RuleCodeAt(e) is not { } at)
    {
        Console.Error.WriteLine($"logalert: internal error: {what}");
        DeliberateExit.AfterSaying(ExitCodes.IoFailure);
        return;
    }
    var reason = $"rule code at {at} threw on a thread of its own: {what}";
    Runner.Current?.Abort(reason);
    Console.Error.WriteLine($"logalert: {reason}; the run stopped there");
    DeliberateExit.AfterSaying(ExitCodes.Usage);
}

// The main command bound by RunArguments, without the generic host: what the host's console
// lifetime did for it is done here. SIGINT, SIGTERM and SIGQUIT do not end the process (the run
// stops itself on them once it is reading, and on one that came while the rules compiled); after
// the first, the run has Commands.HostOptions' shutdown timeout to finish (a rule stuck in a loop
// may never), then the process ends as the host ended it. SIGHUP too, which the host left to end
// the process at once when it came while the rules compiled (under nohup it stays ignored).
static async Task<int> RunWithoutHost(object?[] bound)
{
    Commands.HostOptions = new Microsoft.Extensions.Hosting.HostOptions { ShutdownTimeout = TimeSpan.FromSeconds(30) };
    var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    void Hold(PosixSignalContext c)
    {
        c.Cancel = true;
        signalled.TrySetResult();
    }
    using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Hold);
    using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Hold);
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Hold);
    using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Hold);
    // On a pool thread, as the host ran it: the rules compile and are probed before the run's first
    // await, and a rule stuck there (or a rule file that is a pipe with no writer) held Main with
    // it, where no signal could end the process.
    var run = Task.Run(() => RunArguments.Invoke(bound));
    if (await Task.WhenAny(run, signalled.Task) != run)
        await Task.WhenAny(run, Task.Delay(Commands.HostOptions.ShutdownTimeout));
    if (!run.IsCompleted) return Environment.ExitCode;
    try
    {
        return await run;
    }
    catch (Exception e) when (e is not (UsageException or IOException))
    {
        // The command catches what a user's input or files can cause; anything else is logalert's
        // fault, said in one line as Cocona said it, not a runtime abort (exit 134).
        Console.Error.WriteLine($"logalert: internal error: {e.GetType().Name}: {e.Message}");
        return ExitCodes.IoFailure;
    }
}

namespace LogAlert.Cli
{
    public static class ExitCodes
    {
        public const int Ok = 0;
        public const int IoFailure = 1;
        /// <summary><c>logalert test</c> and <c>check --properties</c>: a case or property failed.</summary>
        public const int Failed = 1;
        public const int Usage = 2;
        public const int AlertFired = 3;
    }
}
