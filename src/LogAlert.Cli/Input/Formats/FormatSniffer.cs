using System.Text;

namespace LogAlert.Cli.Input.Formats;

/// <summary>What <see cref="FormatSniffer.Sniff"/> found.</summary>
/// <param name="Format">
/// <c>csv</c>, <c>combined</c>, <c>common</c>, <c>vhost_combined</c> or <c>jsonl</c>; null when none fits (or there was no
/// line to look at).
/// </param>
/// <param name="Parser">
/// What reads lines of <paramref name="Format"/>: <see cref="LineTemplate.Combined"/>,
/// <see cref="LineTemplate.Common"/>, <see cref="LineTemplate.VhostCombined"/> or <see cref="JsonLineParser.Instance"/>; null for <c>csv</c>
/// (the CSV reader reads it) and when nothing fits.
/// </param>
/// <param name="Tried">
/// The formats tried, in order, each with why it did not fit, for an error message: <c>csv (line 1
/// is not the header "remotehost",...), combined (line 1: expected "[" at column 17), ...</c>.
/// </param>
/// <param name="Unfit">
/// When no format fits: the first line looked at that no format reads (its number in the head and its
/// text), which an error message quotes; null when each line fits some format, but none fits most.
/// </param>
public sealed record SniffResult(string? Format, IAccessLineParser? Parser, string Tried, (int Number, string Text)? Unfit = null);

/// <summary>Tells the format of an input from its first lines, so that a user need not say it.</summary>
/// <remarks>
/// The formats are tried in a fixed order, and the first that fits wins: <c>csv</c> (the first
/// non-blank line is the seed's header, naming at least <c>remotehost</c>, <c>authuser</c>,
/// <c>date</c>, <c>request</c>, <c>status</c> and <c>bytes</c>, in any order and case), then
/// <c>combined</c>, <c>common</c>, <c>vhost_combined</c> and <c>jsonl</c>, each of which fits when more than half of the
/// lines looked at parse as it: one damaged line (a log rotated mid-write) does not hide the format,
/// and a log of combined lines is never taken as common, whose lines end after the bytes.
/// </remarks>
public static class FormatSniffer
{
    /// <summary>What a line made only of is not looked at: blanks, and the NULs a crash leaves.</summary>
    public static ReadOnlySpan<byte> Blank => " \t\r\0"u8;

    /// <summary>How many non-blank lines are looked at, at most.</summary>
    public const int SampleLines = 5;

    /// <summary>The non-blank lines of <paramref name="head"/>, counted up to <see cref="SampleLines"/>.</summary>
    public static int NonBlankLines(ReadOnlySpan<byte> head)
    {
        var count = 0;
        while (!head.IsEmpty && count < SampleLines)
        {
            var end = head.IndexOf((byte)'\n');
            var line = end < 0 ? head : head[..end];
            head = end < 0 ? default : head[(end + 1)..];
            if (line.IndexOfAnyExcept(Blank) >= 0) count++;
        }
        return count;
    }

    /// <summary>
    /// Tells the format of the input that starts with <paramref name="head"/>: whole lines, separated
    /// by <c>\n</c> (a last line without one counts as whole, so pass only complete lines).
    /// <paramref name="lineBase"/> is the input's lines before <paramref name="head"/>, added to the line
    /// numbers <see cref="SniffResult.Tried"/> names (a dropped over-long first line made them one short).
    /// </summary>
    public static SniffResult Sniff(ReadOnlySpan<byte> head, long lineBase = 0)
    {
        // Non-blank lines, with their 1-based line numbers in head.
        var lines = new List<(int Number, byte[] Text)>();
        var number = 0;
        while (!head.IsEmpty && lines.Count < SampleLines)
        {
            var end = head.IndexOf((byte)'\n');
            var line = end < 0 ? head : head[..end];
            head = end < 0 ? default : head[(end + 1)..];
            number++;
            // NULs before a line (a crash's lost writes) are not part of it, and a line of them
            // alone says nothing of the format: the parsers skip the one and report the other.
            if (line.IndexOfAnyExcept(Blank) >= 0) lines.Add((number, line.TrimStart((byte)0).ToArray()));
        }
        if (lines.Count == 0) return new SniffResult(null, null, "nothing: there is no non-blank line to look at");

        var tried = new StringBuilder();
        if (IsCsvHeader(lines[0].Text, out var missing)) return new SniffResult("csv", null, "csv");
        // A header with most of the columns lacks the others: said, as --input-format csv says it,
        // where "is not the header" sent a user looking for a quoting or order problem.
        tried.Append(missing.Count <= Columns.Required.Length / 2
            ? $"csv (line {lines[0].Number + lineBase} is a header without the column{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing.Select(m => $"\"{m}\""))})"
            : $"csv (line {lines[0].Number + lineBase} is not the header \"remotehost\",\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\")");
        // Whether some format reads each line: the error quotes the first that none reads, not line
        // 1, which may fit (two good lines of five, the rest junk, blamed the first good one).
        var read = new bool[lines.Count];
        foreach (var (name, parser) in new (string, IAccessLineParser)[]
                 {
                     ("combined", LineTemplate.Combined), ("common", LineTemplate.Common),
                     ("vhost_combined", LineTemplate.VhostCombined), ("jsonl", JsonLineParser.Instance),
                 })
        {
            var fits = 0;
            string? firstReason = null;
            for (var i = 0; i < lines.Count; i++)
            {
                if (parser.TryParse(lines[i].Text, out _, out var reason))
                {
                    fits++;
                    read[i] = true;
                }
                else firstReason ??= $"line {lines[i].Number + lineBase}: {reason}";
            }
            tried.Append(", ").Append(name);
            if (fits * 2 > lines.Count) return new SniffResult(name, parser, tried.ToString());
            // Some lines fit, too few to decide: said, since the vote is why it failed.
            tried.Append(fits > 0 ? $" ({fits} of {lines.Count} lines; {firstReason})" : $" ({firstReason})");
        }
        var unfit = Array.IndexOf(read, false);
        return new SniffResult(null, null, tried.ToString(),
            unfit < 0 ? null : (lines[unfit].Number, Encoding.UTF8.GetString(lines[unfit].Text).TrimEnd('\r')));
    }

    /// <summary>
    /// The seed's CSV header: comma-separated names, each maybe quoted and spaced, among them every
    /// column the CSV reader needs, matched as the CSV reader matches them (<see cref="Columns.Match"/>).
    /// </summary>
    private static bool IsCsvHeader(byte[] line, out List<string> missing)
    {
        var names = Encoding.UTF8.GetString(line).Split(',').Select(name => name.Trim().Trim('"').Trim()).ToArray();
        return Columns.Match(names, out missing) is not null;
    }
}
