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

    /// <summary><c>SIGINT</c>, <c>SIGTERM</c>, <c>SIGQUIT</c> or <c>SIGHUP</c> once one came; null before.</summary>
    public static string? Received => s_received;

    /// <summary>What a shell reports for a process a signal stopped: 128 + its number.</summary>
    public static int ExitCode => ExitCodeOf(s_received);

    /// <summary>128 + the number of <paramref name="signal"/> (143 for SIGTERM).</summary>
    public static int ExitCodeOf(string? signal) => signal switch { "SIGHUP" => 129, "SIGINT" => 130, "SIGQUIT" => 131, _ => 143 };

    /// <summary>Starts noting signals; they keep their usual effect (the handlers do not cancel it).</summary>
    public static void Watch()
    {
        if (OperatingSystem.IsWindows() || s_registrations.Length > 0) return;
        s_registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => s_received ??= "SIGINT"),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => s_received ??= "SIGTERM"),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, _ => s_received ??= "SIGQUIT"),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, _ => s_received ??= "SIGHUP"),
        ];
    }
}

/// <summary>
/// logalert ending the process itself: at the end of a command (a thread that rule code started and
/// left running no longer keeps the process alive), or once it has said why (an exception a thread of
/// rule code did not catch). The handlers that report a rule ending the process ask
/// <see cref="Explained"/> too: <c>Environment.Exit</c> runs them, and they would blame the rule
/// running then.
/// </summary>
public static class DeliberateExit
{
    private static volatile bool s_explained;

    /// <summary>Whether logalert is ending the process after saying why itself.</summary>
    public static bool Explained => s_explained;

    /// <summary>
    /// Ends the process with <paramref name="code"/>, what is buffered for stdout and stderr written
    /// first. The <c>ProcessExit</c> handlers run as when <c>Main</c> returns (a signal's report).
    /// </summary>
    public static void Now(int code)
    {
        try { Console.Out.Flush(); }
        catch (IOException) { } // stdout closed or full: the run said so already, or has no one to tell
        try { Console.Error.Flush(); }
        catch (IOException) { }
        Environment.Exit(code);
    }

    /// <summary><see cref="Now"/>, once logalert has said why: the handlers stay quiet.</summary>
    public static void AfterSaying(int code)
    {
        s_explained = true;
        Now(code);
    }
}

/// <summary>
/// SIGINT and SIGTERM from now on, handled here: the runtime's own handling (the host's wait, then
/// exit 0) is cancelled and <see cref="Token"/> is cancelled, for a step that stops itself when one
/// comes (the deliveries' flush, <see cref="SignalStop"/>).
/// </summary>
public sealed class SignalToken : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations = [];
    private volatile string? _signal;

    public SignalToken()
    {
        if (!OperatingSystem.IsWindows())
            _registrations =
            [
                PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Raise("SIGINT"); }),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Raise("SIGTERM"); }),
                // Ctrl-\ stops a run as Ctrl-C does (RunCommand): the flush after it, a second one cuts short.
                PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => { c.Cancel = true; Raise("SIGQUIT"); }),
                // A closed terminal or ssh session: stopped as by SIGTERM, not ended on the spot.
                PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; Raise("SIGHUP"); }),
            ];
    }

    /// <summary>Cancelled once a signal came.</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary><c>SIGINT</c>, <c>SIGTERM</c>, <c>SIGQUIT</c> or <c>SIGHUP</c> once one came; null before.</summary>
    public string? Signal => _signal;

    /// <summary>Acts as if <paramref name="signal"/> came now (one noted before this was made); the first one counts.</summary>
    public void Raise(string signal)
    {
        lock (_cancel)
        {
            if (_signal is not null) return;
            _signal = signal;
        }
        _cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cancel.Dispose();
    }
}

/// <summary>
/// SIGINT and SIGTERM for a command that stops itself between steps (<c>logalert test</c> between
/// batches of a case, <c>check --properties</c> between generated logs): <see cref="Token"/> is
/// cancelled (<see cref="SignalToken"/>), and if the command has not stopped within <c>grace</c> (a
/// rule stuck in a loop holds its thread) the forced stop runs on a thread of its own; it writes the
/// report and ends the process.
/// </summary>
public sealed class SignalStop : IDisposable
{
    private readonly SignalToken _signals = new();
    private readonly ManualResetEventSlim _finished = new();
    private readonly TimeSpan _grace;
    private readonly Action<string> _force;

    /// <summary>Starts handling SIGINT and SIGTERM; a signal noted before now (while the rules compiled) stops at once.</summary>
    public SignalStop(TimeSpan grace, Action<string> force)
    {
        _grace = grace;
        _force = force;
        _signals.Token.Register(() => new Thread(() =>
        {
            if (!_finished.Wait(_grace)) _force(_signals.Signal!);
        }) { IsBackground = true, Name = "logalert signal stop" }.Start());
        if (Signals.Received is "SIGINT" or "SIGTERM") _signals.Raise(Signals.Received);
    }

    /// <summary>Cancelled once a signal came.</summary>
    public CancellationToken Token => _signals.Token;

    /// <summary><c>SIGINT</c> or <c>SIGTERM</c> once one came; null before.</summary>
    public string? Signal => _signals.Signal;

    /// <summary>128 + the signal's number, as a shell reports a process the signal stopped.</summary>
    public int ExitCode => Signals.ExitCodeOf(_signals.Signal);

    /// <summary>The command stopped by itself: no forced stop after this.</summary>
    public void Dispose()
    {
        _finished.Set();
        _signals.Dispose();
    }
}
