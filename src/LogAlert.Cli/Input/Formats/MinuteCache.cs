using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LogAlert.Core;

namespace LogAlert.Cli.Input.Formats;

/// <summary>
/// Reads <c>dd/Mon/yyyy:HH:MM:SS ±hhmm</c> (<see cref="FieldValues.TimeLocal"/>) through the last
/// minute and offset it read: a log is nearly in order, so most lines share the previous line's
/// <c>dd/Mon/yyyy:HH:MM</c> and offset, and their time is that minute's plus two digits, found with
/// three word compares instead of a date computation. One per thread (the line parsers are shared):
/// a chunk parser holds its own, others use <see cref="Current"/>.
/// </summary>
internal sealed class MinuteCache
{
    [ThreadStatic] private static MinuteCache? t_current;

    // The 26 bytes of the last time read but its seconds (bytes 18 and 19), as three words; and
    // the Unix time of that minute's second 0, which may itself be outside log time (a minute of
    // 1970-01-01 at a positive offset) while some of its seconds are not.
    private ulong _head, _middle, _tail;
    private long _minute;
    private bool _filled;

    /// <summary>This thread's cache, for a reader that has none of its own.</summary>
    public static MinuteCache Current => t_current ??= new MinuteCache();

    /// <summary>The same as <see cref="FieldValues.TimeLocal"/>: on the minute and offset of the last call, without a date computation.</summary>
    public TimeRead Read(ReadOnlySpan<byte> s, out long time)
    {
        if (s.Length < FieldValues.TimeLocalLength) return FieldValues.TimeLocal(s, out time);
        ref var b = ref MemoryMarshal.GetReference(s);
        var head = Unsafe.ReadUnaligned<ulong>(ref b);
        var middle = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, 8));
        // Bytes 16..17 (the minute's last digit and the colon) in place of the seconds, then 20..25.
        var tail = (Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, 18)) & ~0xFFFFUL)
                   | Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref b, 16));
        if ((!_filled || head != _head || middle != _middle || tail != _tail) && !Fill(s, head, middle, tail))
            return FieldValues.TimeLocal(s, out time);
        var tens = (uint)(Unsafe.Add(ref b, 18) - '0');
        var ones = (uint)(Unsafe.Add(ref b, 19) - '0');
        var second = tens * 10 + ones;
        if (tens > 9 || ones > 9 || second > 60)
        {
            time = 0;
            return TimeRead.Malformed;
        }
        time = _minute + second;
        return time is >= Bounds.MinTime and <= Bounds.MaxTime ? TimeRead.Ok : TimeRead.OutOfRange;
    }

    // A new minute or offset, once a minute: apart from `Read`, whose every call would otherwise
    // pay for this buffer on its stack (and its overrun check).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool Fill(ReadOnlySpan<byte> s, ulong head, ulong middle, ulong tail)
    {
        // The minute and offset are read (and checked) as FieldValues does; the seconds in `Read`.
        Span<byte> zero = stackalloc byte[FieldValues.TimeLocalLength];
        s[..FieldValues.TimeLocalLength].CopyTo(zero);
        zero[18] = (byte)'0';
        zero[19] = (byte)'0';
        if (FieldValues.TimeLocal(zero, out var minute) == TimeRead.Malformed) return false;
        (_head, _middle, _tail, _minute, _filled) = (head, middle, tail, minute, true);
        return true;
    }
}
