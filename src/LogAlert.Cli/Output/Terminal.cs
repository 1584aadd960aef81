using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace LogAlert.Cli.Output;

/// <summary>
/// Text that reaches an operator's terminal. A URL path, a user name or a rule's exception message
/// is data any client chooses: written as it is, an ESC starts a terminal control sequence (move the
/// cursor, rewrite the line above, set the window title, on some terminals paste into the input).
/// So every control character is written as an escape instead, as <c>--format jsonl</c> and nginx's
/// log escaping do: C0 controls and DEL as <c>\x1b</c>, C1 controls and the bidirectional overrides
/// (which reorder what is shown) and the Unicode line and paragraph separators (a line break to some
/// terminals and viewers) as <c>\u202e</c>.
/// </summary>
public static class Terminal
{
    /// <summary>Whether <paramref name="c"/> is written as an escape.</summary>
    public static bool NeedsEscape(char c) =>
        c < ' ' || c == '\x7f' || (c >= '\x80' && c <= '\x9f')
        || c is '\u061c' or '\u200e' or '\u200f' || (c >= '\u2028' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069');

    /// <summary><paramref name="text"/> with every control character escaped (newlines and tabs too: one event is one line).</summary>
    public static string Escape(string text) => Escape(text, keepLineFeedAndTab: false);

    private static string Escape(string text, bool keepLineFeedAndTab)
    {
        bool Escaped(char c) => NeedsEscape(c) && !(keepLineFeedAndTab && c is '\n' or '\t');
        var i = 0;
        while (i < text.Length && !Escaped(text[i])) i++;
        if (i == text.Length) return text;
        var sb = new StringBuilder(text.Length + 8);
        sb.Append(text, 0, i);
        for (; i < text.Length; i++)
            if (Escaped(text[i])) Append(sb, text[i]);
            else sb.Append(text[i]);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, char c)
    {
        if (!NeedsEscape(c)) sb.Append(c);
        else if (c < '\x80') sb.Append("\\x").Append(((int)c).ToString("x2"));
        else sb.Append("\\u").Append(((int)c).ToString("x4"));
    }

    /// <summary>
    /// A writer that escapes control characters on their way to <paramref name="inner"/>, except the
    /// line feed (each message is its own line) and the tab: for stderr, where messages quote data.
    /// A write that fails (<c>2&gt;/dev/full</c>, a closed descriptor) is dropped, as are those after
    /// it: there is nowhere else to say it, and an exception from the message of another failure
    /// used to leave logalert hung for good (the host waits for a Main that had thrown).
    /// </summary>
    public sealed class EscapingWriter(TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        /// <summary>Whether a write to <c>inner</c> failed; nothing is written to it after that.</summary>
        public bool Lost { get; private set; }

        private static bool Passes(char c) => c is '\n' or '\t' || !NeedsEscape(c);

        private void Put(string text)
        {
            if (Lost) return;
            try { inner.Write(text); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Lost = true; }
        }

        public override void Write(char value)
        {
            if (Passes(value)) Put(value.ToString());
            else
            {
                var sb = new StringBuilder(6);
                Append(sb, value);
                Put(sb.ToString());
            }
        }

        public override void Write(string? value)
        {
            if (value is null) return;
            if (value.AsSpan().IndexOfAnyExcept(Plain) < 0 || value.All(Passes)) Put(value);
            else Put(Escape(value, keepLineFeedAndTab: true));
        }

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void Write(ReadOnlySpan<char> buffer) => Write(new string(buffer));

        public override void WriteLine(string? value) => Write(value + "\n");

        public override void WriteLine() => Put("\n");

        public override void Flush()
        {
            if (Lost) return;
            try { inner.Flush(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Lost = true; }
        }

        // Printable ASCII and the line feed: the common case, checked with one vectorised search.
        private static readonly System.Buffers.SearchValues<char> Plain =
            System.Buffers.SearchValues.Create(Enumerable.Range(' ', 0x7f - ' ').Select(i => (char)i).Append('\n').ToArray());
    }
}

/// <summary>
/// logalert's stdout, opened so that a reader that went away is noticed. <see cref="Console"/>'s
/// stream ignores EPIPE on Unix (a write to a closed pipe succeeds and is lost), so
/// <c>logalert big.csv | head -1</c> read on to the end, and with <c>--follow</c> never stopped.
/// Here stdout is a plain stream on descriptor 1, whose writes fail with EPIPE, and
/// <see cref="IsClosed"/> asks the kernel whether the reading end is gone, for the moments when
/// nothing is being written.
/// </summary>
public static class StandardOutput
{
    /// <summary>The exit status when stdout is closed under logalert: 128 + SIGPIPE, what a shell reports for <c>cat</c> or <c>grep</c> there.</summary>
    public const int ClosedExitCode = 141;

    /// <summary>Opens descriptor 1 for writing (unbuffered; the caller buffers); its failures say <c>stdout:</c>.</summary>
    public static Stream Open()
    {
        if (OperatingSystem.IsWindows()) return new Guarded(Console.OpenStandardOutput());
        FileStream stream;
        try { stream = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { throw Failure(e); }
        if (!stream.CanSeek) return new Guarded(stream); // a pipe, socket or terminal: write(2), which fails with EPIPE
        // A regular file: FileStream would write at offsets of its own (pwrite) and leave the shared
        // descriptor's offset behind, so `(logalert …; echo done) > out` overwrote the first bytes.
        // A file has no reader to lose; Console's stream writes at the descriptor's offset.
        stream.Dispose();
        return new Guarded(Console.OpenStandardOutput());
    }

    /// <summary>
    /// <c>Console.Out</c> for what is not a run's output (help, version, <c>check</c>, <c>test</c>): a
    /// writer on <see cref="Open"/>, with its failures: <c>logalert --version &gt; /dev/full</c>
    /// printed a stack trace, and over <c>Console</c>'s own stream <c>logalert check … | head -1</c>
    /// lost the report and exited 0. Opened at the first write, so that a command that writes
    /// nothing there does not need a stdout.
    /// </summary>
    public static TextWriter Writer() =>
        TextWriter.Synchronized(new GuardedWriter(new LazyWriter(() =>
            new StreamWriter(Open(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096) { AutoFlush = true })));

    /// <summary>A writer made at its first use.</summary>
    private sealed class LazyWriter(Func<TextWriter> open) : TextWriter
    {
        private TextWriter? _inner;
        private TextWriter Inner => _inner ??= open();
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) => Inner.Write(value);
        public override void Write(string? value) => Inner.Write(value);
        public override void Write(char[] buffer, int index, int count) => Inner.Write(buffer, index, count);
        public override void WriteLine(string? value) => Inner.WriteLine(value);
        public override void WriteLine() => Inner.WriteLine();
        public override void Flush() => _inner?.Flush();
    }

    /// <summary>
    /// A failed write to stdout as logalert says it: <c>stdout: No space left on device</c>. .NET
    /// reports a closed descriptor (EBADF) as "Access to the path is denied"; that is said as it is.
    /// A write to a pipe nobody reads (EPIPE) passes unchanged: logalert then stops quietly.
    /// </summary>
    public static Exception Failure(Exception e) => e switch
    {
        IOException io when IsBrokenPipe(io) => io,
        IOException { Message: var m } when m.StartsWith("stdout: ", StringComparison.Ordinal) => e,
        UnauthorizedAccessException or ArgumentException => new IOException("stdout: not open for writing (closed, or opened for reading)", e),
        _ => new IOException($"stdout: {e.Message}", e),
    };

    private sealed class Guarded(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try { inner.Write(buffer); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Failure(e); }
        }

        public override void Flush()
        {
            try { inner.Flush(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Failure(e); }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class GuardedWriter(TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        private static void Guard(Action write)
        {
            try { write(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Failure(e); }
        }

        public override void Write(char value) => Guard(() => inner.Write(value));
        public override void Write(string? value) => Guard(() => inner.Write(value));
        public override void Write(char[] buffer, int index, int count) => Guard(() => inner.Write(buffer, index, count));
        public override void WriteLine(string? value) => Guard(() => inner.WriteLine(value));
        public override void WriteLine() => Guard(() => inner.WriteLine());
        public override void Flush() => Guard(inner.Flush);
    }

    /// <summary>Whether stdout is a pipe or socket whose reader has gone (POLLERR, POLLHUP), or no descriptor at all.</summary>
    public static bool IsClosed()
    {
        if (OperatingSystem.IsWindows()) return false;
        var fd = new PollFd { Fd = 1 };
        // Events 0: only the conditions poll always reports. Timeout 0: never waits.
        if (Poll(ref fd, 1, 0) <= 0) return false;
        return (fd.Revents & (PollErr | PollHup | PollNval)) != 0;
    }

    /// <summary>Whether <paramref name="e"/> is a write to a pipe nobody reads any more (EPIPE).</summary>
    public static bool IsBrokenPipe(IOException e) =>
        e.HResult == 32 || e.Message.Contains("Broken pipe", StringComparison.OrdinalIgnoreCase);

    private const short PollErr = 0x008, PollHup = 0x010, PollNval = 0x020;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [DllImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static extern int Poll(ref PollFd fds, nuint count, int timeout);
}
