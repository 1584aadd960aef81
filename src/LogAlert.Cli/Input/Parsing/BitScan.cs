using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LogAlert.Cli.Input;

/// <summary>
/// Bitmaps of a chunk, one bit per byte, as the CSV parser and <see cref="QuoteMap"/> keep them: built
/// 64 bytes at a time with vector compares, and scanned for the next set bit.
/// </summary>
internal static class BitScan
{
    /// <summary>The bits of the 64 bytes <paramref name="low"/> and <paramref name="high"/> that equal <paramref name="value"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Equal(Vector256<byte> low, Vector256<byte> high, Vector256<byte> value) =>
        Vector256.Equals(low, value).ExtractMostSignificantBits() | (ulong)Vector256.Equals(high, value).ExtractMostSignificantBits() << 32;

    /// <summary>The first position at or after <paramref name="from"/> whose bit is set in the first <paramref name="words"/> words, or <paramref name="none"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Next(ulong[] bits, int words, int from, int none)
    {
        var w = from >> 6;
        if (w >= words) return none;
        var word = bits[w] & (ulong.MaxValue << (from & 63));
        while (word == 0)
        {
            if (++w >= words) return none;
            word = bits[w];
        }
        return (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(word);
    }
}
