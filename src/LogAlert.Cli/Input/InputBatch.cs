using System.Collections.Immutable;
using System.Runtime.InteropServices;
using LogAlert.Core;

namespace LogAlert.Cli.Input;

/// <summary>A line of input that did not yield a record (docs/semantics.md §2): where it is and why.</summary>
/// <param name="Source">Index of the input in the order given, 0-based.</param>
/// <param name="Path">The input as the user named it; <c>&lt;stdin&gt;</c> for <c>-</c>.</param>
/// <param name="Line">1-based physical line number in that input.</param>
/// <param name="Reason">Why, e.g. <c>expected 7 fields, found 3</c>.</param>
public sealed record BadLine(int Source, string Path, long Line, string Reason)
{
    /// <summary><c>path:line: reason</c>, the way compilers and grep name a line.</summary>
    public override string ToString() => $"{Path}:{Line}: {Reason}";
}

/// <summary>
/// Up to <see cref="AccessLogReader.DefaultBatchSize"/> records read in input order, the bad lines met
/// among them, and how many physical lines that took. Every batch is new: the consumer owns it.
/// </summary>
public sealed class InputBatch
{
    /// <summary>A batch with nothing in it: in follow mode, "still there, nothing new" at every poll.</summary>
    public static readonly InputBatch Heartbeat = new([], [], 0);

    /// <summary>
    /// Where the reader waits for the fold to give label ids back (see <see cref="SweepPoint"/>): every
    /// batch before it has been handed out. Told apart from <see cref="Heartbeat"/> by reference.
    /// </summary>
    public static readonly InputBatch SweepMarker = new([], [], 0);

    /// <summary>
    /// Makes a batch. <paramref name="records"/> is taken over, not copied: the reader fills an array
    /// for each batch and never touches it again, so it can stand as the immutable one the engine needs.
    /// </summary>
    public InputBatch(Record[] records, IReadOnlyList<BadLine> bad, long lines)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(bad);
        Records = ImmutableCollectionsMarshal.AsImmutableArray(records);
        Bad = bad;
        Lines = lines;
    }

    /// <summary>The records, in input order; exactly <see cref="Count"/> long (never pooled or reused).</summary>
    public ImmutableArray<Record> Records { get; }

    /// <summary>Number of records, <c>Records.Length</c>.</summary>
    public int Count => Records.Length;

    /// <summary>Lines of this stretch of input that did not yield a record, in input order.</summary>
    public IReadOnlyList<BadLine> Bad { get; }

    /// <summary>
    /// Physical lines consumed, headers and blank lines included: over a whole run the sum is
    /// <c>wc -l</c> of the inputs, plus one for each input whose last line has no newline.
    /// </summary>
    public long Lines { get; }

    /// <summary>Whether the batch carries nothing (see <see cref="Heartbeat"/>).</summary>
    public bool IsHeartbeat => Records.Length == 0 && Bad.Count == 0 && Lines == 0;
}

/// <summary>An input cannot be read: missing, unreadable, or not in the format (<see cref="InputFormatException"/>).</summary>
public class InputException : Exception
{
    /// <summary>
    /// Makes the exception; <paramref name="message"/> names the input and the reason, on one line:
    /// control characters in it (a line feed in a file's name) are escaped, as stderr's other texts are.
    /// </summary>
    public InputException(string message, Exception? inner = null) : base(Output.Terminal.Escape(message), inner) { }
}

/// <summary>
/// An input was read but is not in the format: it does not start with a header naming the columns
/// the format needs. The user's mistake, not an I/O failure (exit code 2, not 1).
/// </summary>
public sealed class InputFormatException : InputException
{
    /// <summary>Makes the exception; <paramref name="message"/> is <c>path:line: reason</c>.</summary>
    public InputFormatException(string message) : base(message) { }
}
