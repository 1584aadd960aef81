namespace LogAlert.Cli.Input;

/// <summary>Where a chunk starts: its input, the lines before it, and the format's state in force.</summary>
/// <param name="Source">Index of the input.</param>
/// <param name="Path">The input's name for messages.</param>
/// <param name="LineBase">Lines of the input before the chunk.</param>
/// <param name="AtStart">Nothing of the input read yet (a byte order mark may come).</param>
/// <param name="State">
/// What the input's parser needs from the lines before the chunk, its own type (CSV: the
/// <see cref="Columns"/> of the header in force; null until the header is read). Kept across a restart
/// of a followed file. Told apart by reference: a new state is a new object.
/// </param>
internal sealed record ChunkStart(int Source, string Path, long LineBase, bool AtStart, object? State)
{
    /// <summary>
    /// The state the input before this one ended with, when this one is read as its continuation if
    /// its own lines do not say otherwise (a CSV input without a header after one with it); else null.
    /// </summary>
    public object? Previous { get; init; }
}

/// <summary>What a chunk parsed into, and where the next chunk starts.</summary>
internal readonly record struct ChunkResult(InputBatch[] Batches, ChunkStart After);
