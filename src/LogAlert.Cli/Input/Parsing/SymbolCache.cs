using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LogAlert.Core;

namespace LogAlert.Cli.Input;

/// <summary>
/// A per-thread front for <see cref="Symbols"/>: label text by its UTF-8 bytes to its id, so a hit
/// takes no lock, decodes nothing and makes no string.
/// </summary>
/// <remarks>
/// A direct-mapped cache: a span hashes to one slot, which either holds the same bytes (their id
/// is returned) or is replaced by a new entry. Lookup is one hash and one compare whatever the
/// cardinality, and the cache never grows or has to be cleared, where a dictionary pool filled,
/// emptied and refilled with many distinct hosts. Keys are the field's bytes as they stand in the line. A miss asks
/// <see cref="Symbols"/>, which holds every text once.
/// </remarks>
internal sealed class SymbolCache
{
    private readonly Entry[] _slots;
    private readonly int _mask;

    /// <summary>
    /// A cached string and its bytes: up to 16 bytes as two words and the length (a hit is two
    /// compares, no call and no second object), longer ones as an array.
    /// </summary>
    private struct Entry
    {
        public ulong Head;
        public ulong Tail;
        public int Length;
        public byte[]? Long;
        public int IdPlusOne; // 0: an empty slot
    }

    private readonly Symbols _symbols;

    /// <summary>Empties the cache (its ids may have been given back).</summary>
    public void Clear() => Array.Clear(_slots);

    /// <param name="symbols">The table it fronts.</param>
    /// <param name="capacity">Slots, rounded up to a power of two.</param>
    public SymbolCache(Symbols symbols, int capacity)
    {
        _symbols = symbols;
        var size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 16));
        _slots = new Entry[size];
        _mask = size - 1;
    }

    public int Intern(ReadOnlySpan<byte> utf8)
    {
        const ulong K1 = 0x9E3779B97F4A7C15, K2 = 0xC2B2AE3D27D4EB4F;
        ref var b = ref MemoryMarshal.GetReference(utf8);
        var n = utf8.Length;
        // Two words that hold every byte of a span of up to 16 (overlapping reads, both ends), and
        // the first and last 8 bytes of a longer one; the hash mixes them (and, beyond 16, the rest).
        ulong head, tail;
        if (n >= 8)
        {
            head = Unsafe.ReadUnaligned<ulong>(ref b);
            tail = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, n - 8));
        }
        else if (n >= 4)
        {
            head = Unsafe.ReadUnaligned<uint>(ref b);
            tail = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref b, n - 4));
        }
        else
        {
            head = n > 0 ? b | (ulong)Unsafe.Add(ref b, n >> 1) << 8 | (ulong)Unsafe.Add(ref b, n - 1) << 16 : 0;
            tail = 0;
        }
        var h = head * K1 ^ tail * K2;
        for (var i = 8; i < n - 8; i += 8)
            h = (h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, i))) * K1;
        var hash = (uint)((h ^ (ulong)n) * K2 >> 32);

        ref var slot = ref _slots[(int)(hash & (uint)_mask)];
        if (slot.Length == n && slot.Head == head && slot.Tail == tail && slot.IdPlusOne != 0
            && (n <= 16 || utf8.SequenceEqual(slot.Long)))
            return slot.IdPlusOne - 1;
        var id = _symbols.Intern(utf8);
        slot.Head = head;
        slot.Tail = tail;
        slot.Length = n;
        slot.Long = n <= 16 ? null : utf8.ToArray();
        slot.IdPlusOne = id + 1;
        return id;
    }
}
