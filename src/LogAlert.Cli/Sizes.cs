using System.Globalization;
using System.Text.RegularExpressions;

namespace LogAlert.Cli;

/// <summary>Sizes in bytes: <c>65536</c>, or with a binary suffix, <c>64k</c> (64 × 1024), <c>1m</c>, <c>1g</c>.</summary>
public static partial class Sizes
{
    // Any number of ASCII digits (\d takes other scripts' too, which long.Parse refused with an
    // exception), so that 99999999999999999999 is said to be too large rather than no size.
    [GeneratedRegex(@"^([0-9]+)([kmg]?)$", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();

    /// <summary>The size <paramref name="text"/> names, in bytes, if it is one.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var m = Pattern().Match(text.Trim());
        if (!m.Success) return false;
        var shift = char.ToLowerInvariant(m.Groups[2].Value.FirstOrDefault()) switch
        {
            'k' => 10,
            'm' => 20,
            'g' => 30,
            _ => 0,
        };
        // A size past what a long holds saturates: too large, not a wrong number.
        var digits = m.Groups[1].Value.TrimStart('0');
        if (digits.Length > 18) bytes = long.MaxValue;
        else
        {
            var value = digits.Length == 0 ? 0 : long.Parse(digits, CultureInfo.InvariantCulture);
            bytes = value > long.MaxValue >> shift ? long.MaxValue : value << shift;
        }
        return true;
    }

    /// <summary>Parses a size from <paramref name="min"/> to <paramref name="max"/> bytes, or throws a <see cref="UsageException"/> naming the option.</summary>
    public static int Parse(string option, string text, int min, int max)
    {
        if (!TryParse(text, out var bytes))
            throw new UsageException($"{option}: \"{text}\" is not a size in bytes (examples: 65536, 64k, 1m)");
        if (bytes < min || bytes > max)
            throw new UsageException($"{option}: \"{text}\" is out of range ({Format(min)} to {Format(max)})");
        return (int)bytes;
    }

    /// <summary>Short form for messages: <c>64k</c>, <c>1g</c>, <c>100</c>.</summary>
    public static string Format(long bytes) => bytes switch
    {
        > 0 when bytes % (1 << 30) == 0 => $"{bytes >> 30}g",
        > 0 when bytes % (1 << 20) == 0 => $"{bytes >> 20}m",
        > 0 when bytes % (1 << 10) == 0 => $"{bytes >> 10}k",
        _ => bytes.ToString(CultureInfo.InvariantCulture),
    };
}
