using System.Runtime.InteropServices;

namespace LogAlert.Cli;

/// <summary>
/// The signal that asked logalert to stop, if one did. The runtime ends the process on SIGTERM or
/// SIGINT (after the host's own handling) by the path <c>Environment.Exit</c> takes, through
/// <c>ProcessExit</c>, possibly while a rule runs: the handlers that report a rule ending the process
/// ask here first, so that a <c>kill</c> or a CI job's timeout is not charged to the rule.
/// </summary>
public static class Signals
{
    private static volatile string? s_received;
    private static PosixSignalRegistration[] s_registrations = [];

    /// <summary><c>SIGINT</c>, <c>SIGTERM</c> or <c>SIGQUIT</c> once one came; null before.</summary>
    public static string? Received => s_received;

    /// <summary>What a shell reports for a process a signal stopped: 128 + its number.</summary>
    public static int ExitCode => s_received switch { "SIGINT" => 130, "SIGQUIT" => 131, _ => 143 };

    /// <summary>Starts noting signals; they keep their usual effect (the handlers do not cancel it).</summary>
    public static void Watch()
    {
        if (OperatingSystem.IsWindows() || s_registrations.Length > 0) return;
        s_registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => s_received ??= "SIGINT"),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => s_received ??= "SIGTERM"),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, _ => s_received ??= "SIGQUIT"),
        ];
    }
}
