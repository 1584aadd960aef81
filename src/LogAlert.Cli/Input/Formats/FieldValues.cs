using System.Buffers;
using System.Buffers.Text;
using System.Text;
using LogAlert.Core;

namespace LogAlert.Cli.Input.Formats;

/// <summary>How reading a time went: a malformed time and one outside log time get different reasons.</summary>
internal enum TimeRead : byte
{
    Ok,
    Malformed,
    OutOfRange,
}

/// <summary>
/// The values inside fields, read from UTF-8 without allocating: times, numbers, request lines, and
/// the escapes web servers write into logged text. Shared by every format, so that a value means the
/// same in a text line and in JSON.
/// </summary>
internal static class FieldValues
{
    /// <summary>Length of an nginx <c>$time_local</c> (Apache <c>%t</c> without its brackets): <c>07/Feb/2019:16:11:00 -0500</c>.</summary>
    public const int TimeLocalLength = 26;

    /// <summary>The text that stands for "nothing" in access logs.</summary>
    public static ReadOnlySpan<byte> Dash => "-"u8;

    /// <summary>A text is <c>-</c>.</summary>
    public static bool IsDash(ReadOnlySpan<byte> text) => text.Length == 1 && text[0] == (byte)'-';

    // ---------------------------------------------------------------- times

    /// <summary>Reads <c>dd/Mon/yyyy:HH:MM:SS ±hhmm</c> from the first <see cref="TimeLocalLength"/> bytes of <paramref name="s"/>.</summary>
    public static TimeRead TimeLocal(ReadOnlySpan<byte> s, out long time)
    {
        time = 0;
        if (s.Length < TimeLocalLength
            || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' '
            || !Digits(s, 0, 2, out var day) || !Month(s.Slice(3, 3), out var month) || !Digits(s, 7, 4, out var year)
            || !Digits(s, 12, 2, out var hour) || !Digits(s, 15, 2, out var minute) || !Digits(s, 18, 2, out var second)
            || !Offset(s.Slice(21, 5), out var offset))
            return TimeRead.Malformed;
        return Compose(year, month, day, hour, minute, second, offset, out time);
    }

    /// <summary>
    /// Whether <paramref name="s"/>, which did not read as a time of its field's shape (nginx's
    /// <c>$time_local</c> when <paramref name="local"/>, else ISO 8601 with an offset), has that shape
    /// and only its day or time of day does not exist (29 Feb 2019, hour 24): said so, where "is not an
    /// ISO 8601 time" sent a user to check the form. Only for a message, after a failed read: the
    /// digits of the day and the time of day are read again as day 01 and 00:00:00, every other byte
    /// as it is.
    /// </summary>
    public static bool IsNoSuchDay(ReadOnlySpan<byte> s, bool local)
    {
        if (local ? s.Length != TimeLocalLength : s.Length is < 20 or > 64) return false;
        // The day's and the time's two digits each, then their separators where the shape has them.
        ReadOnlySpan<int> pairs = local ? [0, 12, 15, 18] : [8, 11, 14, 17];
        ReadOnlySpan<int> separators = local ? [2, 6, 11, 14, 17] : [4, 7, 13, 16];
        foreach (var at in pairs)
            if (!char.IsAsciiDigit((char)s[at]) || !char.IsAsciiDigit((char)s[at + 1])) return false;
        var marks = local ? "//:::"u8 : "--::"u8;
        for (var i = 0; i < separators.Length; i++)
            if (s[separators[i]] != marks[i]) return false;
        if (!local && (s[10] | 0x20) != 't') return false;
        Span<byte> copy = stackalloc byte[s.Length];
        s.CopyTo(copy);
        for (var i = 0; i < pairs.Length; i++)
        {
            copy[pairs[i]] = (byte)'0';
            copy[pairs[i] + 1] = i == 0 ? (byte)'1' : (byte)'0';
        }
        return (local ? TimeLocal(copy, out _) : TimeIso(copy, out _)) != TimeRead.Malformed;
    }

    /// <summary>
    /// Reads all of <paramref name="s"/> as ISO 8601 with an offset: <c>2019-02-07T16:11:00-05:00</c>
    /// (nginx's <c>$time_iso8601</c>), also with <c>Z</c>, <c>-0500</c>, or a fraction of a second
    /// (dropped: log time is whole seconds). A time without an offset is malformed, not taken as UTC.
    /// </summary>
    public static TimeRead TimeIso(ReadOnlySpan<byte> s, out long time)
    {
        time = 0;
        if (s.Length < 20
            || s[4] != '-' || s[7] != '-' || (s[10] | 0x20) != 't' || s[13] != ':' || s[16] != ':'
            || !Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
            return TimeRead.Malformed;
        var zone = s[19..];
        if (zone[0] == '.')
        {
            var digits = zone[1..].IndexOfAnyExceptInRange((byte)'0', (byte)'9');
            if (digits <= 0) return TimeRead.Malformed;
            zone = zone[(1 + digits)..];
        }
        int offset;
        if (zone.Length == 1 && (zone[0] | 0x20) == 'z') offset = 0;
        else if (zone.Length == 6 && zone[3] == ':')
        {
            Span<byte> compact = [zone[0], zone[1], zone[2], zone[4], zone[5]];
            if (!Offset(compact, out offset)) return TimeRead.Malformed;
        }
        else if (zone.Length != 5 || !Offset(zone, out offset)) return TimeRead.Malformed;
        return Compose(year, month, day, hour, minute, second, offset, out time);
    }

    /// <summary>
    /// Reads all of <paramref name="s"/> as a count of <paramref name="perSecond"/>ths of a second since
    /// 1970 (1 for seconds, 1000 for milliseconds), floored to whole seconds; with
    /// <paramref name="fraction"/>, digits after a dot are allowed and dropped (<c>$msec</c>: <c>1549573860.123</c>).
    /// </summary>
    public static TimeRead Epoch(ReadOnlySpan<byte> s, long perSecond, bool fraction, out long time)
    {
        time = 0;
        var dot = fraction ? s.IndexOf((byte)'.') : -1;
        if (dot >= 0)
        {
            var after = s[(dot + 1)..];
            if (after.IsEmpty || after.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0) return TimeRead.Malformed;
            s = s[..dot];
        }
        if (!TryDigits(s, out var count)) return TimeRead.Malformed;
        time = count / perSecond;
        return Bounds.isValidTime(time) ? TimeRead.Ok : TimeRead.OutOfRange;
    }

    /// <summary>
    /// Unix seconds of a civil time at a UTC offset in seconds. A date that does not exist (31 Feb, hour
    /// 24) is malformed; second 60 (a leap second) is allowed and lands on the next second.
    /// </summary>
    public static TimeRead Compose(int year, int month, int day, int hour, int minute, int second, int offset, out long time)
    {
        time = 0;
        if (month is < 1 or > 12 || day < 1 || day > DaysIn(year, month) || hour > 23 || minute > 59 || second > 60)
            return TimeRead.Malformed;
        time = DaysFromCivil(year, month, day) * 86400L + hour * 3600 + minute * 60 + second - offset;
        return Bounds.isValidTime(time) ? TimeRead.Ok : TimeRead.OutOfRange;
    }

    private static int DaysIn(int year, int month) => month switch
    {
        2 => year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28,
        4 or 6 or 9 or 11 => 30,
        _ => 31,
    };

    /// <summary>Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).</summary>
    private static long DaysFromCivil(int year, int month, int day)
    {
        var y = month <= 2 ? year - 1 : year;
        var era = (y >= 0 ? y : y - 399) / 400;
        var yearOfEra = y - era * 400;
        var dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
        var dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
        return era * 146097L + dayOfEra - 719468;
    }

    /// <summary><c>±hhmm</c> as seconds east of UTC; hours up to 23.</summary>
    public static bool Offset(ReadOnlySpan<byte> s, out int seconds)
    {
        seconds = 0;
        if (s.Length != 5 || s[0] is not ((byte)'+' or (byte)'-')
            || !Digits(s, 1, 2, out var hours) || !Digits(s, 3, 2, out var minutes) || hours > 23 || minutes > 59)
            return false;
        seconds = (hours * 3600 + minutes * 60) * (s[0] == '-' ? -1 : 1);
        return true;
    }

    /// <summary>An English three-letter month name, any case: <c>Feb</c> is 2.</summary>
    public static bool Month(ReadOnlySpan<byte> s, out int month)
    {
        month = 0;
        if (s.Length != 3) return false;
        // Lower-cased and packed into one number, so the twelve names are twelve integer compares.
        var key = ((s[0] | 0x20) << 16) | ((s[1] | 0x20) << 8) | (s[2] | 0x20);
        month = key switch
        {
            ('j' << 16) | ('a' << 8) | 'n' => 1,
            ('f' << 16) | ('e' << 8) | 'b' => 2,
            ('m' << 16) | ('a' << 8) | 'r' => 3,
            ('a' << 16) | ('p' << 8) | 'r' => 4,
            ('m' << 16) | ('a' << 8) | 'y' => 5,
            ('j' << 16) | ('u' << 8) | 'n' => 6,
            ('j' << 16) | ('u' << 8) | 'l' => 7,
            ('a' << 16) | ('u' << 8) | 'g' => 8,
            ('s' << 16) | ('e' << 8) | 'p' => 9,
            ('o' << 16) | ('c' << 8) | 't' => 10,
            ('n' << 16) | ('o' << 8) | 'v' => 11,
            ('d' << 16) | ('e' << 8) | 'c' => 12,
            _ => 0,
        };
        return month != 0;
    }

    /// <summary>Exactly <paramref name="count"/> ASCII digits at <paramref name="at"/>.</summary>
    public static bool Digits(ReadOnlySpan<byte> s, int at, int count, out int value)
    {
        value = 0;
        if (at + count > s.Length) return false;
        for (var i = at; i < at + count; i++)
        {
            var digit = (uint)(s[i] - '0');
            if (digit > 9) return false;
            value = value * 10 + (int)digit;
        }
        return true;
    }

    // ---------------------------------------------------------------- numbers

    /// <summary>1 to 18 ASCII digits, no sign: every such number fits a long, so none can wrap into range.</summary>
    // Inlined: the CSV fast path reads three numbers a line with it.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool TryDigits(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 18) return false;
        foreach (var b in s)
        {
            var digit = (uint)(b - '0');
            if (digit > 9) return false;
            value = value * 10 + digit;
        }
        return true;
    }

    /// <summary>
    /// Whether <paramref name="s"/> is a whole number, with an optional minus: one that
    /// <see cref="TryDigits"/> refused is negative or too long, out of range rather than "not an integer".
    /// </summary>
    public static bool IsWholeNumber(ReadOnlySpan<byte> s)
    {
        if (!s.IsEmpty && s[0] == (byte)'-') s = s[1..];
        return !s.IsEmpty && s.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;
    }

    /// <summary>A non-negative decimal number of seconds such as <c>0.123</c>; <c>-</c> is NaN (not known).</summary>
    public static bool TrySeconds(ReadOnlySpan<byte> s, out double seconds)
    {
        seconds = double.NaN;
        // Utf8Parser alone would take a sign, an exponent or "NaN"; a duration has only digits and a dot.
        if (!IsSeconds(s)) return false;
        if (IsDash(s)) return true;
        return Utf8Parser.TryParse(s, out seconds, out var used) && used == s.Length;
    }

    /// <summary>
    /// Whether <see cref="TrySeconds"/> takes <paramref name="s"/>, without converting it: <c>-</c>, or
    /// digits with at most one dot after the first (<c>1.</c> is one second, as Utf8Parser reads it).
    /// </summary>
    public static bool IsSeconds(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return false;
        if ((uint)(s[0] - '0') > 9) return s.Length == 1 && s[0] == (byte)'-';
        var dot = false;
        for (var i = 1; i < s.Length; i++)
        {
            var b = s[i];
            if ((uint)(b - '0') <= 9) continue;
            if (b != (byte)'.' || dot) return false;
            dot = true;
        }
        return true;
    }

    private static readonly SearchValues<byte> NumberBytes = SearchValues.Create("0123456789."u8);

    /// <summary>
    /// nginx's <c>$upstream_response_time</c>: one entry per upstream tried, <c>, </c> between servers
    /// of one upstream and <c> : </c> between upstreams (after an internal redirect), each a number of
    /// seconds or <c>-</c>. The total time, or NaN when no entry is a number.
    /// </summary>
    public static bool TryUpstreamSeconds(ReadOnlySpan<byte> s, out double total) => TryUpstreamSeconds(s, convert: true, out total);

    /// <summary>
    /// <see cref="TryUpstreamSeconds(ReadOnlySpan{byte}, out double)"/>; without <paramref name="convert"/>
    /// it only checks the list (the total is NaN), for a reader that does not want the time.
    /// </summary>
    public static bool TryUpstreamSeconds(ReadOnlySpan<byte> s, bool convert, out double total)
    {
        total = double.NaN;
        // The usual list: one number (or `-`), checked without looking for separators.
        if (!convert && IsSeconds(s)) return true;
        while (true)
        {
            var stop = s.IndexOfAny((byte)',', (byte)':');
            var entry = (stop < 0 ? s : s[..stop]).Trim((byte)' ');
            var seconds = double.NaN;
            if (convert ? !TrySeconds(entry, out seconds) : !IsSeconds(entry)) return false;
            if (!double.IsNaN(seconds)) total = double.IsNaN(total) ? seconds : total + seconds;
            if (stop < 0) return true;
            s = s[(stop + 1)..];
        }
    }

    /// <summary>
    /// Where an <c>$upstream_response_time</c> list that starts at <paramref name="at"/> ends, when a
    /// literal follows it: entries are words, joined by <c>, </c> or <c> : </c>. The list has spaces in
    /// it, so the next literal (often a space) cannot tell where it ends.
    /// </summary>
    public static int UpstreamEnd(ReadOnlySpan<byte> line, int at)
    {
        // The usual list ends the line as one number: no search for separators.
        var j = at;
        while (j < line.Length && ((uint)(line[j] - '0') <= 9 || line[j] == (byte)'.' || line[j] == (byte)'-')) j++;
        if (j == line.Length) return j;
        var i = at;
        while (true)
        {
            var word = line[i..].IndexOfAny((byte)' ', (byte)',');
            if (word < 0) return line.Length;
            i += word;
            var rest = line[i..];
            int separator = rest.StartsWith(", "u8) ? 2 : rest.StartsWith(" : "u8) ? 3 : 0;
            if (separator == 0 || i + separator >= line.Length || line[i + separator] == ' ') return i;
            i += separator;
        }
    }

    // ---------------------------------------------------------------- requests

    /// <summary>Bytes of an HTTP token (RFC 9110 §5.6.2): what a method is made of.</summary>
    private static readonly SearchValues<byte> TokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>A method: one or more token bytes.</summary>
    public static bool IsMethod(ReadOnlySpan<byte> s) => !s.IsEmpty && s.IndexOfAnyExcept(TokenBytes) < 0;

    /// <summary>
    /// Splits a request line <c>METHOD TARGET [HTTP/x]</c> (spaces between may be several). Anything
    /// else — <c>-</c>, an empty request, the bytes of a TLS handshake, a third word that is not a
    /// protocol — gives method and path <c>-</c>. The target may have spaces when a protocol ends
    /// the line (nginx logs the line as the client sent it). A target that is no path
    /// (<c>OPTIONS *</c>, <c>CONNECT host:443</c>) keeps the method, with path <c>-</c>.
    /// </summary>
    public static void SplitRequest(ReadOnlySpan<byte> request, out ReadOnlySpan<byte> method, out ReadOnlySpan<byte> path)
    {
        if (TrySplitPlain(request, out method, out path)) return;
        method = Dash;
        path = Dash;
        var space = request.IndexOf((byte)' ');
        if (space <= 0 || !IsMethod(request[..space])) return;
        var target = request[(space + 1)..].Trim((byte)' ');
        var last = target.LastIndexOf((byte)' ');
        if (last >= 0)
        {
            if (!IsProtocol(target[(last + 1)..])) return;
            target = target[..last].TrimEnd((byte)' ');
        }
        if (target.IsEmpty) return;
        method = request[..space];
        if (TryPath(target, out var p)) path = p;
    }

    /// <summary>
    /// <see cref="SplitRequest"/> for the line nearly every request is, <c>METHOD /path HTTP/x</c> with
    /// single spaces, in one pass over the method and one back over the protocol; false (and nothing
    /// decided) for any other shape, which the general reading handles.
    /// </summary>
    internal static bool TrySplitPlain(ReadOnlySpan<byte> request, out ReadOnlySpan<byte> method, out ReadOnlySpan<byte> path)
    {
        method = default;
        path = default;
        var space = 0;
        while (space < request.Length && IsTokenByte(request[space])) space++;
        // The method, one space, a path that starts with '/', and no space at the end.
        if (space == 0 || space + 1 >= request.Length || request[space] != (byte)' ' || request[space + 1] != (byte)'/'
            || request[^1] == (byte)' ')
            return false;
        var last = request.Length - 1;
        while (request[last] != (byte)' ') last--;
        if (last > space)
        {
            // One space before the protocol (several would be trimmed: the general reading does that).
            if (request[last - 1] == (byte)' ' || !IsProtocol(request[(last + 1)..])) return false;
            path = request[(space + 1)..last];
        }
        else path = request[(space + 1)..];
        method = request[..space];
        return true;
    }

    private static bool IsTokenByte(byte b) => TokenBytes.Contains(b);

    /// <summary><c>HTTP/</c> and a version of digits and dots: <c>HTTP/1.1</c>, <c>HTTP/2.0</c>.</summary>
    private static bool IsProtocol(ReadOnlySpan<byte> s) =>
        s.Length > 5 && s.StartsWith("HTTP/"u8) && s[5..].IndexOfAnyExcept(NumberBytes) < 0;

    /// <summary>
    /// A request target as a path: an origin-form target (<c>/a/b?q</c>) as it is; an absolute URL
    /// (<c>http://example.com/a/b</c>, what a proxy is sent) as the path after its authority, or
    /// <c>/</c> when it has none. Any other target (<c>*</c>, <c>host:443</c> of CONNECT) is not a path.
    /// </summary>
    public static bool TryPath(ReadOnlySpan<byte> target, out ReadOnlySpan<byte> path)
    {
        path = target;
        if (target.IsEmpty) return false;
        if (target[0] == '/') return true;
        var scheme = target.IndexOf("://"u8);
        if (scheme <= 0 || !IsScheme(target[..scheme])) return false;
        var afterScheme = target[(scheme + 3)..];
        var authorityEnd = afterScheme.IndexOfAny((byte)'/', (byte)'?', (byte)'#');
        path = authorityEnd >= 0 && afterScheme[authorityEnd] == '/' ? afterScheme[authorityEnd..] : "/"u8;
        return true;
    }

    private static bool IsScheme(ReadOnlySpan<byte> s)
    {
        if (!char.IsAsciiLetter((char)s[0])) return false;
        foreach (var b in s)
            if (!char.IsAsciiLetterOrDigit((char)b) && b is not ((byte)'+' or (byte)'-' or (byte)'.')) return false;
        return true;
    }

    // ---------------------------------------------------------------- text

    /// <summary>
    /// Undoes the escapes nginx and Apache write into logged text: <c>\xHH</c> (nginx writes every
    /// <c>"</c>, <c>\</c> and non-printable byte so; Apache the non-printable ones), and Apache's
    /// <c>\"</c>, <c>\\</c>, <c>\n</c>, <c>\r</c>, <c>\t</c>, <c>\b</c>, <c>\v</c>, and those of nginx's
    /// <c>escape=json</c> (<c>\u001b</c>, <c>\/</c>, <c>\f</c>; neither server writes a backslash
    /// before <c>u</c> or <c>/</c> otherwise: its own backslash is <c>\x5C</c> or <c>\\</c>). Any
    /// other backslash stays. Returns <paramref name="text"/> itself when it has no backslash, or when
    /// what the escapes stand for is not UTF-8 (raw bytes a client sent); else a new array.
    /// </summary>
    public static ReadOnlySpan<byte> Unescape(ReadOnlySpan<byte> text)
    {
        var at = text.IndexOf((byte)'\\');
        if (at < 0) return text;
        var result = new byte[text.Length];
        text[..at].CopyTo(result);
        var w = at;
        var i = at;
        while (i < text.Length)
        {
            var b = text[i];
            if (b != '\\' || i + 1 == text.Length)
            {
                result[w++] = b;
                i++;
                continue;
            }
            var c = text[i + 1];
            byte? plain = c switch
            {
                (byte)'"' or (byte)'\\' => c,
                (byte)'n' => (byte)'\n',
                (byte)'r' => (byte)'\r',
                (byte)'t' => (byte)'\t',
                (byte)'b' => (byte)'\b',
                (byte)'v' => (byte)'\v',
                _ => null,
            };
            if (plain is { } p)
            {
                result[w++] = p;
                i += 2;
            }
            else if ((c | 0x20) == 'x' && i + 3 < text.Length && Hex(text[i + 2]) >= 0 && Hex(text[i + 3]) >= 0)
            {
                result[w++] = (byte)(Hex(text[i + 2]) * 16 + Hex(text[i + 3]));
                i += 4;
            }
            else if (c == 'u' && JsonEscape(text[i..], out var rune, out var used))
            {
                w += rune.EncodeToUtf8(result.AsSpan(w));
                i += used;
            }
            else if (c is (byte)'/' or (byte)'f')
            {
                result[w++] = c == '/' ? (byte)'/' : (byte)'\f';
                i += 2;
            }
            else
            {
                result[w++] = b;
                i++;
            }
        }
        // Bytes that are no UTF-8 (nginx's \xFF from a client's raw byte) became U+FFFD as text, and
        // different paths one section ("/\xFF/a" and "/\xFE/a" both "/\uFFFD", QA): such a text
        // stays as logged, escapes and all, which tells them apart and reads back as the log has it.
        if (!System.Text.Unicode.Utf8.IsValid(result.AsSpan(0, w)) && System.Text.Unicode.Utf8.IsValid(text)) return text;
        return result.AsSpan(0, w);
    }

    /// <summary>
    /// nginx's <c>escape=json</c>: <c>\uXXXX</c> at the start of <paramref name="text"/> (a pair for a
    /// character beyond the first plane), as the character, and the bytes it took. Never shorter in
    /// UTF-8 than escaped. Half of a pair alone is no character: left as it stands.
    /// </summary>
    private static bool JsonEscape(ReadOnlySpan<byte> text, out System.Text.Rune rune, out int used)
    {
        rune = default;
        used = 6;
        var code = Hex4(text);
        if (code < 0 || code is >= 0xDC00 and <= 0xDFFF) return false;
        if (code is >= 0xD800 and <= 0xDBFF)
        {
            var low = text.Length >= 12 && text[6] == '\\' ? Hex4(text[6..]) : -1;
            if (low is < 0xDC00 or > 0xDFFF) return false;
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            used = 12;
        }
        rune = new System.Text.Rune(code);
        return true;
    }

    /// <summary>The four hex digits of <c>\uXXXX</c> at the start of <paramref name="text"/>, or -1.</summary>
    private static int Hex4(ReadOnlySpan<byte> text)
    {
        if (text.Length < 6 || text[1] != 'u') return -1;
        var value = 0;
        for (var k = 2; k < 6; k++)
        {
            var h = Hex(text[k]);
            if (h < 0) return -1;
            value = value * 16 + h;
        }
        return value;
    }

    private static int Hex(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>Longest excerpt of a field that a reason quotes: a 10 KB URI must not make a 10 KB message.</summary>
    private const int ShowMax = 60;

    /// <summary>A text for a reason, in double quotes, cut after <see cref="ShowMax"/> bytes with <c>…</c>.</summary>
    public static string Show(ReadOnlySpan<byte> text) =>
        text.Length <= ShowMax
            ? $"\"{Encoding.UTF8.GetString(text)}\""
            : $"\"{Encoding.UTF8.GetString(text[..ShowMax])}…\"";
}
