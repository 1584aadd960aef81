using System.Text;
using LogAlert.Core;

namespace LogAlert.Cli.Rules;

/// <summary>
/// Keeps what rule code prints with <see cref="Console"/> out of logalert's event stream. A rule that
/// called <c>Console.WriteLine</c> used to write into stdout between (or inside) the jsonl lines that
/// logalert writes there, making them invalid or forging events. Once <see cref="Install"/>ed:
/// <list type="bullet">
/// <item><c>Console.Out</c> never reaches stdout. logalert's own events go through
/// <c>Console.OpenStandardOutput()</c>, and <c>logalert check</c> lists rules on the writer it
/// took before any rule was loaded, so neither goes through here.</item>
/// <item>What a rule's code writes to <c>Console.Out</c> or <c>Console.Error</c> while it runs goes to
/// stderr one line at a time, each prefixed with who wrote it (<c>logalert: rule "name": </c>, or
/// <c>logalert: rules/x.csx: </c> for a file's top-level code); a line left unfinished is
/// completed when the evaluation ends, so it cannot splice into logalert's own messages.</item>
/// <item>Anything else written to <c>Console.Error</c> (logalert's own messages) passes through
/// unchanged; <c>Console.Out</c> text written outside any rule's evaluation (a thread a rule started)
/// still goes to stderr, as <c>logalert: rule output: </c>.</item>
/// </list>
/// </summary>
/// <remarks>
/// Who is writing is a thread-static slot set around each rule call, as the engine calls rules one
/// after another on one thread: marking a call costs two thread-static accesses, and nothing else
/// happens unless the rule prints. A rule's unfinished line is kept per thread, so threads never
/// share a buffer; whole lines go to the real stderr in one <c>WriteLine</c> each, which the
/// console's writer serialises.
/// </remarks>
internal static class RuleConsole
{
    private const string StrayPrefix = "logalert: rule output: ";

    private sealed class Speaker
    {
        public string? Prefix;
        public readonly StringBuilder Pending = new();
    }

    [ThreadStatic] private static Speaker? t_speaker;

    private static TextWriter? s_stderr;
    private static readonly StringBuilder StrayPending = new();
    private static readonly object Gate = new();

    /// <summary>Redirects <c>Console.Out</c> and <c>Console.Error</c> for the rest of the process; once.</summary>
    public static void Install()
    {
        lock (Gate)
        {
            if (s_stderr is not null) return;
            s_stderr = Console.Error;
            Console.SetOut(new Redirect(passThrough: false));
            Console.SetError(new Redirect(passThrough: true));
        }
    }

    /// <summary>A prefix under which what a rule prints is dropped: a second load-time call of it.</summary>
    public static readonly string Mute = new('\0', 1);

    /// <summary><c>logalert: rule "name": </c>.</summary>
    public static string RulePrefix(string rule) => $"logalert: rule \"{rule}\": ";

    /// <summary><c>logalert: rules/x.csx: </c>.</summary>
    public static string FilePrefix(string displayPath) => $"logalert: {displayPath}: ";

    /// <summary>
    /// Wraps a rule's value so that what it prints is attributed to it: for a WhenEach result whose
    /// Select and Where functions the engine calls when it reads it, until it has read it.
    /// </summary>
    public static Func<T, TResult> Attribute<T, TResult>(string prefix, Func<T, TResult> body) =>
        arg =>
        {
            var previous = Enter(prefix);
            var held = false;
            try
            {
                var result = body(arg);
                if (result is Grouped { CallsRuleCode: true } && arg is IEvaluationScope scope)
                {
                    LeaveWhenEvaluated(scope, previous);
                    held = true;
                }
                return result;
            }
            finally
            {
                if (!held) Leave(previous);
            }
        };

    // Its own method: a lambda capturing `previous` in the body above made the compiler allocate
    // the captured variable's closure on every call of every rule, needed or not (a second of log
    // evaluates each rule once: 50 MB in 5M lines with rules/*.csx).
    private static void LeaveWhenEvaluated(IEvaluationScope scope, string? previous) => scope.OnEvaluated(() => Leave(previous));

    /// <summary>Runs <paramref name="body"/> (a file's top-level code) with its output attributed to <paramref name="prefix"/>.</summary>
    public static T Run<T>(string prefix, Func<T> body)
    {
        var previous = Enter(prefix);
        try
        {
            return body();
        }
        finally
        {
            Leave(previous);
        }
    }

    private static string? Enter(string prefix)
    {
        var speaker = t_speaker ??= new Speaker();
        var previous = speaker.Prefix;
        speaker.Prefix = prefix;
        return previous;
    }

    private static void Leave(string? previous)
    {
        var speaker = t_speaker!;
        if (speaker.Pending.Length > 0) EndLine(speaker.Prefix!, speaker.Pending);
        speaker.Prefix = previous;
    }

    /// <summary>Writes out an unfinished line that no rule evaluation owned (at the end of a run).</summary>
    public static void FlushStray()
    {
        lock (StrayPending)
            if (StrayPending.Length > 0) EndLine(StrayPrefix, StrayPending);
    }

    private static void EndLine(string prefix, StringBuilder pending)
    {
        var line = prefix + pending;
        pending.Clear();
        try
        {
            s_stderr?.WriteLine(line);
        }
        catch (IOException)
        {
            // stderr is gone: what a rule prints is not worth failing a run for.
        }
    }

    /// <summary>Appends text for the current speaker, writing out every line it completes.</summary>
    private static void Append(ReadOnlySpan<char> text, string prefix, StringBuilder pending)
    {
        while (!text.IsEmpty)
        {
            var newline = text.IndexOf('\n');
            if (newline < 0)
            {
                pending.Append(text);
                return;
            }
            var line = text[..newline];
            if (line.EndsWith('\r')) line = line[..^1];
            pending.Append(line);
            EndLine(prefix, pending);
            text = text[(newline + 1)..];
        }
    }

    /// <summary>
    /// What <c>Console.Out</c> (<paramref name="passThrough"/> false) or <c>Console.Error</c> (true)
    /// becomes. Every overload of <see cref="TextWriter"/> ends in one of the members overridden here.
    /// </summary>
    private sealed class Redirect(bool passThrough) : TextWriter
    {
        public override Encoding Encoding => s_stderr!.Encoding;

        public override void Write(char value) => Write(new ReadOnlySpan<char>(in value));

        public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

        public override void Write(string? value) => Write(value.AsSpan());

        public override void WriteLine() => Write(CoreNewLine);

        public override void WriteLine(string? value) => Write(string.Concat(value, NewLine).AsSpan());

        public override void WriteLine(ReadOnlySpan<char> buffer) => Write(string.Concat(buffer, NewLine).AsSpan());

        public override void Write(ReadOnlySpan<char> buffer)
        {
            if (t_speaker is { Prefix: { } prefix } speaker)
            {
                if (!ReferenceEquals(prefix, Mute)) Append(buffer, prefix, speaker.Pending);
                return;
            }
            if (passThrough)
            {
                s_stderr!.Write(buffer);
                return;
            }
            lock (StrayPending) Append(buffer, StrayPrefix, StrayPending);
        }

        public override void Flush()
        {
            // An unfinished line stays unfinished until its evaluation ends: a flush must not split it.
            if (passThrough) s_stderr!.Flush();
        }
    }
}
