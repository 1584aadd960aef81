using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LogAlert.Cli.Input;

/// <summary>
/// One bit per byte of a chunk of access-log lines: where its line feeds are, and where its quotes
/// and backslashes are (the bytes that end a quoted field, or make it one to unescape). Built with
/// 64-byte vector compares, once a chunk; finding the end of a line or of a quoted field is then a
/// bit scan, where a search per line and per field cost a call and a set-up each (a combined line
/// has four of them).
/// </summary>
internal sealed class QuoteMap
{
    private ulong[] _breaks = [];
    private ulong[] _quotes = [];
    private int _words;
    private int _length;

    /// <summary>Indexes <paramref name="span"/>; positions are from its start.</summary>
    public void Index(ReadOnlySpan<byte> span)
    {
        _length = span.Length;
        _words = (span.Length + 63) >> 6;
        if (_breaks.Length < _words)
        {
            _breaks = new ulong[_words];
            _quotes = new ulong[_words];
        }
        ref var start = ref MemoryMarshal.GetReference(span);
        var feed = Vector256.Create((byte)'\n');
        var quote = Vector256.Create((byte)'"');
        var backslash = Vector256.Create((byte)'\\');
        var full = span.Length >> 6;
        for (var w = 0; w < full; w++)
        {
            var low = Vector256.LoadUnsafe(ref start, (nuint)(w << 6));
            var high = Vector256.LoadUnsafe(ref start, (nuint)(w << 6) + 32);
            _breaks[w] = BitScan.Equal(low, high, feed);
            _quotes[w] = BitScan.Equal(low, high, quote) | BitScan.Equal(low, high, backslash);
        }
        if (full < _words)
        {
            ulong breaks = 0, quotes = 0;
            for (var i = full << 6; i < span.Length; i++)
            {
                var bit = 1UL << (i & 63);
                if (span[i] == (byte)'\n') breaks |= bit;
                else if (span[i] is (byte)'"' or (byte)'\\') quotes |= bit;
            }
            _breaks[full] = breaks;
            _quotes[full] = quotes;
        }
    }

    /// <summary>The first line feed at or after <paramref name="from"/>; the chunk's length when none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextBreak(int from) => BitScan.Next(_breaks, _words, from, _length);

    /// <summary>The first quote or backslash at or after <paramref name="from"/> and before <paramref name="limit"/>; -1 when none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextQuote(int from, int limit)
    {
        var at = BitScan.Next(_quotes, _words, from, int.MaxValue);
        return at < limit ? at : -1;
    }
}
