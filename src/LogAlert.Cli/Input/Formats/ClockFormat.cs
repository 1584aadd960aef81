using System.Text;
using LogAlert.Core;

namespace LogAlert.Cli.Input.Formats;

/// <summary>
/// The time of an Apache <c>%{format}t</c>, where the format is strftime's: enough of it to read the
/// times people configure (<c>%Y-%m-%dT%H:%M:%S%z</c>, <c>%d/%b/%Y:%T %z</c>, <c>%s</c>). Each
/// conversion it knows has a fixed width, so a time ends where its format does, spaces and all.
/// </summary>
internal sealed class ClockFormat
{
    /// <summary>In a format, three digits of a second's fraction, skipped (Apache's <c>%{msec_frac}t</c> within a time).</summary>
    public const string Millis = "%\u0001";

    /// <summary>Six digits of a second's fraction, skipped (<c>%{usec_frac}t</c>).</summary>
    public const string Micros = "%\u0002";

    // A conversion letter (Y y m d e b H M S z s), 'f' for digits of a fraction (as many as the
    // literal byte says), or '\0' for a literal byte.
    private readonly (char Conversion, byte Literal)[] _steps;

    private ClockFormat((char, byte)[] steps) => _steps = steps;

    /// <summary>
    /// Reads <paramref name="format"/>. Returns null, with <paramref name="why"/> saying so, when it
    /// cannot give log time: a conversion this does not read (<c>%a</c>, <c>%p</c>, <c>%Z</c>), or no
    /// offset (<c>%z</c>): a local time without one could be any of 27 hours, so it is not guessed.
    /// </summary>
    public static ClockFormat? TryCompile(string format, out string why)
    {
        why = "";
        var steps = new List<(char, byte)>();
        var seen = new HashSet<char>();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                foreach (var b in Encoding.UTF8.GetBytes(format[i].ToString())) steps.Add(('\0', b));
                continue;
            }
            if (++i == format.Length)
            {
                why = "it ends with a lone %";
                return null;
            }
            if (format[i] is '\u0001' or '\u0002')
            {
                steps.Add(('f', (byte)(format[i] == '\u0001' ? 3 : 6)));
                continue;
            }
            var expanded = format[i] switch
            {
                'T' => "H:M:S",
                'F' => "Y-m-d",
                'D' => "m/d/y",
                'R' => "H:M",
                'h' => "b",
                _ => format[i].ToString(),
            };
            foreach (var c in expanded)
            {
                if (c is ':' or '-' or '/') steps.Add(('\0', (byte)c));
                else if (c == '%') steps.Add(('\0', (byte)'%'));
                else if ("YymdebHMSzs".Contains(c))
                {
                    steps.Add((c, 0));
                    seen.Add(c);
                }
                else
                {
                    why = $"it has %{c}, which logalert does not read";
                    return null;
                }
            }
        }
        var dated = (seen.Contains('Y') || seen.Contains('y')) && (seen.Contains('m') || seen.Contains('b'))
                    && (seen.Contains('d') || seen.Contains('e')) && seen.Contains('H') && seen.Contains('M');
        if (seen.Contains('s') || (dated && seen.Contains('z'))) return new ClockFormat([.. steps]);
        why = dated ? "it has no offset (%z), so its local time could be any time zone's"
                    : "it does not give a full date and time";
        return null;
    }

    /// <summary>Reads a time from the start of <paramref name="s"/>; <paramref name="used"/> is its length in bytes.</summary>
    public TimeRead Read(ReadOnlySpan<byte> s, out long time, out int used)
    {
        time = 0;
        used = 0;
        int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, offset = 0;
        long? epoch = null;
        var at = 0;
        foreach (var (conversion, literal) in _steps)
        {
            int value;
            switch (conversion)
            {
                case '\0':
                    if (at >= s.Length || s[at] != literal) return TimeRead.Malformed;
                    at++;
                    continue;
                case 'Y':
                    if (!FieldValues.Digits(s, at, 4, out year)) return TimeRead.Malformed;
                    at += 4;
                    continue;
                case 'y':
                    if (!FieldValues.Digits(s, at, 2, out value)) return TimeRead.Malformed;
                    year = value < 69 ? 2000 + value : 1900 + value; // POSIX: 69..99 are 1969..1999
                    at += 2;
                    continue;
                case 'e':
                    // Day of month, space-padded: " 7".
                    if (at + 2 > s.Length) return TimeRead.Malformed;
                    if (s[at] == ' ' ? !FieldValues.Digits(s, at + 1, 1, out day) : !FieldValues.Digits(s, at, 2, out day))
                        return TimeRead.Malformed;
                    at += 2;
                    continue;
                case 'b':
                    if (at + 3 > s.Length || !FieldValues.Month(s.Slice(at, 3), out month)) return TimeRead.Malformed;
                    at += 3;
                    continue;
                case 'z':
                    if (at + 5 > s.Length || !FieldValues.Offset(s.Slice(at, 5), out offset)) return TimeRead.Malformed;
                    at += 5;
                    continue;
                case 'f':
                    if (!FieldValues.Digits(s, at, literal, out _)) return TimeRead.Malformed;
                    at += literal;
                    continue;
                case 's':
                    var digits = s[at..].IndexOfAnyExceptInRange((byte)'0', (byte)'9');
                    if (digits < 0) digits = s.Length - at;
                    if (!FieldValues.TryDigits(s.Slice(at, digits), out var seconds)) return TimeRead.Malformed;
                    epoch = seconds;
                    at += digits;
                    continue;
                default: // m d H M S: two digits
                    if (!FieldValues.Digits(s, at, 2, out value)) return TimeRead.Malformed;
                    at += 2;
                    switch (conversion)
                    {
                        case 'm': month = value; break;
                        case 'd': day = value; break;
                        case 'H': hour = value; break;
                        case 'M': minute = value; break;
                        default: second = value; break;
                    }
                    continue;
            }
        }
        used = at;
        if (epoch is { } unix)
        {
            time = unix;
            return Bounds.isValidTime(unix) ? TimeRead.Ok : TimeRead.OutOfRange;
        }
        return FieldValues.Compose(year, month, day, hour, minute, second, offset, out time);
    }
}
