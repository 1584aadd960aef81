namespace LogAlert.Cli.Input;

/// <summary>
/// One input format: reads the fields of its lines, a chunk at a time, and makes records and bad
/// lines of them through its own <see cref="BatchBuilder"/>. The reader has one per parsing thread.
/// </summary>
/// <remarks>
/// One call per chunk: a parser reads every field of every line inside <see cref="ParseChunk"/>, with
/// no virtual call per line or field. What a line needs from the lines before it in its input (CSV:
/// the header's columns) travels in <see cref="ChunkStart.State"/>, not in the parser, since the
/// chunks of one input are parsed by two parsers in turn.
/// </remarks>
internal interface IChunkParser
{
    /// <summary>
    /// Parses a chunk of whole lines (or an input's last line without its newline) that starts at
    /// <paramref name="at"/>, into batches of its own: the last one holds what is left, and may be short.
    /// </summary>
    /// <exception cref="InputFormatException">The input is not in the format.</exception>
    ChunkResult ParseChunk(Memory<byte> chunk, ChunkStart at);

    /// <summary>
    /// What the input at <paramref name="at"/> must give before any record (CSV: <c>the header</c>);
    /// null when any line may come. Until it has come, the reader parses the input's chunks one at a
    /// time, and a line too long to read makes the input not in the format.
    /// </summary>
    string? Awaits(ChunkStart at);

    /// <summary>
    /// Whether a line too long to read, at <paramref name="at"/>, makes the input not in the format:
    /// where a header must come (<see cref="Awaits"/>). Otherwise it is one bad line.
    /// </summary>
    bool LongLineIsFatal(ChunkStart at) => Awaits(at) is not null;

    /// <summary>
    /// Whether the parser would rather see more lines than <paramref name="head"/> (whole lines from
    /// <paramref name="at"/>) before it parses them: the reader then holds them and reads on, until
    /// this says no or the input ends (or turns to something other than lines).
    /// </summary>
    bool NeedsMore(ReadOnlySpan<byte> head, ChunkStart at) => false;

    /// <summary>Forgets the ids its caches hold: the fold has given ids back (<see cref="SweepPoint"/>).</summary>
    void ForgetIds();
}
