using System.Globalization;
using System.Text.RegularExpressions;
using LogAlert.Core.Interop;

namespace LogAlert.Cli;

/// <summary>
/// Prometheus-style durations: <c>90s</c>, <c>2m</c>, <c>1h30m</c>, <c>1d</c>, <c>1w</c>, <c>1y</c> (365d);
/// a bare number is seconds. At most <see cref="LogTime.MaxDuration"/> (10000y): every duration
/// the engine adds to a time then stays far inside 64 bits.
/// </summary>
public static partial class Durations
{
    [GeneratedRegex(@"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")]
    private static partial Regex Pattern();

    private static readonly long[] UnitSeconds = [365 * 86400L, 7 * 86400L, 86400L, 3600L, 60L, 1L];

    /// <summary>Why <see cref="TryParse(string, out TimeSpan, out string)"/> refused a text that is no duration at all.</summary>
    public const string NotADuration = "is not a duration (examples: 30s, 2m, 1h30m)";

    /// <summary>The longest duration accepted.</summary>
    public static readonly TimeSpan Max = LogTime.MaxDuration;

    private static readonly long MaxSeconds = Max.Ticks / TimeSpan.TicksPerSecond;

    /// <summary>Parses a duration; false with a reason when it is not one or is longer than <see cref="Max"/>.</summary>
    public static bool TryParse(string text, out TimeSpan value, out string reason)
    {
        value = TimeSpan.Zero;
        reason = NotADuration;
        text = text.Trim();
        if (text.Length == 0) return false;
        var m = Pattern().Match(text);
        if (!m.Success && !text.All(char.IsAsciiDigit)) return false;
        // Each part and their sum with overflow checks: digits enough to pass the pattern are not
        // yet a number that fits (99999999999999999999s).
        long seconds = 0;
        try
        {
            if (!m.Success) seconds = long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
            else
                for (var i = 0; i < UnitSeconds.Length; i++)
                    if (m.Groups[i + 1].Success)
                        seconds = checked(seconds + checked(long.Parse(m.Groups[i + 1].Value, NumberStyles.None,
                            CultureInfo.InvariantCulture) * UnitSeconds[i]));
        }
        catch (OverflowException)
        {
            seconds = long.MaxValue;
        }
        if (seconds > MaxSeconds)
        {
            reason = "is longer than the longest duration, 10000y";
            return false;
        }
        value = TimeSpan.FromSeconds(seconds);
        return true;
    }

    /// <summary>Parses a duration; false when it is not one or is too long.</summary>
    public static bool TryParse(string text, out TimeSpan value) => TryParse(text, out value, out _);

    /// <summary>Parses or throws a <see cref="UsageException"/> naming the option and why.</summary>
    public static TimeSpan Parse(string option, string text)
    {
        if (!TryParse(text, out var value, out var reason))
            throw new UsageException($"{option}: \"{text}\" {reason}");
        return value;
    }

    /// <summary><see cref="Parse"/> in whole seconds, at most <paramref name="maxSeconds"/>.</summary>
    public static int ParseSeconds(string option, string text, int maxSeconds)
    {
        var value = Parse(option, text);
        if (value.TotalSeconds > maxSeconds)
            throw new UsageException($"{option}: \"{text}\" is longer than {Format(TimeSpan.FromSeconds(maxSeconds))}");
        return (int)value.TotalSeconds;
    }

    /// <summary>
    /// For output, as Prometheus writes durations (<c>2m</c>, <c>1m30s</c>, <c>1d</c>): the same text as
    /// the engine's messages about windows and <c>For</c> (<c>DurationText</c>), so that <c>logalert
    /// check</c> and an error about the same rule say one duration one way.
    /// </summary>
    public static string Format(TimeSpan span) => LogAlert.Core.DurationText.show(span);
}

/// <summary>A mistake in how logalert was called: reported in one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
