using System.Globalization;
using System.Text.RegularExpressions;

namespace LogAlert.Cli;

/// <summary>Prometheus-style durations: <c>90s</c>, <c>2m</c>, <c>1h30m</c>, <c>1d</c>, <c>1w</c>, <c>1y</c> (365d); a bare number is seconds.</summary>
public static partial class Durations
{
    [GeneratedRegex(@"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")]
    private static partial Regex Pattern();

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        text = text.Trim();
        if (text.Length == 0) return false;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bare))
        {
            value = TimeSpan.FromSeconds(bare);
            return true;
        }
        var m = Pattern().Match(text);
        if (!m.Success) return false;
        long Part(int i) => m.Groups[i].Success ? long.Parse(m.Groups[i].Value, CultureInfo.InvariantCulture) : 0;
        value = TimeSpan.FromDays(365 * Part(1) + 7 * Part(2) + Part(3)) + TimeSpan.FromHours(Part(4)) + TimeSpan.FromMinutes(Part(5)) + TimeSpan.FromSeconds(Part(6));
        return true;
    }

    /// <summary>Parses or throws a <see cref="UsageException"/> naming the option.</summary>
    public static TimeSpan Parse(string option, string text)
    {
        if (!TryParse(text, out var value))
            throw new UsageException($"{option}: \"{text}\" is not a duration (examples: 30s, 2m, 1h30m)");
        return value;
    }

    /// <summary>Short form for output: <c>2m</c>, <c>90s</c>, <c>1h</c>.</summary>
    public static string Format(TimeSpan span)
    {
        var s = (long)span.TotalSeconds;
        if (s > 0 && s % 3600 == 0) return $"{s / 3600}h";
        if (s > 0 && s % 60 == 0) return $"{s / 60}m";
        return $"{s}s";
    }
}

/// <summary>A mistake in how logalert was called: reported in one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
