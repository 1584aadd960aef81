namespace LogAlert.Cli.Rules;

/// <summary>
/// Shell-like file name patterns for rule arguments the shell did not expand (quoted, or written in a
/// script): <c>*</c> and <c>?</c> within one path segment, <c>**</c> for any number of folders. As in
/// bash, a wildcard does not match a leading dot. Matches are returned in ordinal order, spelled
/// the way the pattern was (<c>rules/*.csx</c> gives <c>rules/a.csx</c>).
/// </summary>
internal static class RuleGlob
{
    private static readonly char[] Separators = ['/', '\\'];

    /// <summary>Whether the text holds a wildcard.</summary>
    public static bool IsPattern(string text) => text.IndexOfAny(['*', '?']) >= 0;

    /// <summary>
    /// The files <paramref name="pattern"/> matches whose names end in <paramref name="suffix"/> (a glob
    /// picks only those: 'rules/*' compiled rules/README.md as C#); a <see cref="UsageException"/>
    /// when it matches none, saying so, or only other files, naming them <paramref name="kind"/>.
    /// </summary>
    public static List<string> ExpandTo(string pattern, string suffix, string kind, StringComparison comparison)
    {
        var found = Expand(pattern);
        if (found.Count == 0) throw new UsageException($"{pattern}: no file matches");
        var kept = found.Where(f => f.EndsWith(suffix, comparison)).ToList();
        if (kept.Count == 0)
            throw new UsageException($"{pattern}: no {kind} file matches ({found.Count} other file{(found.Count == 1 ? "" : "s")} do{(found.Count == 1 ? "es" : "")})");
        return kept;
    }

    /// <summary>The files the pattern matches, ordinal order.</summary>
    public static IReadOnlyList<string> Expand(string pattern)
    {
        var rooted = Path.IsPathRooted(pattern);
        var segments = pattern.Split(Separators, StringSplitOptions.RemoveEmptyEntries);
        // (where it is on disk, how it is spelled in the output)
        var current = new List<(string Disk, string Shown)>
        {
            rooted ? (Path.GetPathRoot(pattern)!, Path.GetPathRoot(pattern)!) : (Environment.CurrentDirectory, ""),
        };
        for (var i = 0; i < segments.Length && current.Count > 0; i++)
        {
            var segment = segments[i];
            var last = i == segments.Length - 1;
            var next = new List<(string, string)>();
            foreach (var (disk, shown) in current)
            {
                if (segment == "**")
                {
                    if (last) continue; // `rules/**` names folders, not rule files.
                    next.Add((disk, shown));
                    foreach (var dir in SafeEnumerate(disk, directories: true, recursive: true))
                        next.Add((dir, Join(shown, Path.GetRelativePath(disk, dir).Replace('\\', '/'))));
                }
                else if (IsPattern(segment))
                {
                    foreach (var entry in SafeEnumerate(disk, directories: !last, recursive: false))
                    {
                        var name = Path.GetFileName(entry);
                        if (Matches(segment, name)) next.Add((entry, Join(shown, name)));
                    }
                }
                else
                {
                    var entry = Path.Combine(disk, segment);
                    if (last ? File.Exists(entry) : Directory.Exists(entry)) next.Add((entry, Join(shown, segment)));
                }
            }
            current = next;
        }
        return current.Select(c => c.Shown).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    private static string Join(string shown, string name) =>
        shown.Length == 0 ? name : shown.EndsWith('/') || shown.EndsWith('\\') ? shown + name : shown + "/" + name;

    private static IEnumerable<string> SafeEnumerate(string folder, bool directories, bool recursive)
    {
        try
        {
            var options = new EnumerationOptions
            {
                RecurseSubdirectories = recursive,
                IgnoreInaccessible = true,
                AttributesToSkip = 0,
                ReturnSpecialDirectories = false,
            };
            var entries = directories
                ? Directory.EnumerateDirectories(folder, "*", options)
                : Directory.EnumerateFiles(folder, "*", options);
            // `**` does not descend into hidden folders, as `*` does not match them.
            return recursive
                ? entries.Where(e => !Path.GetRelativePath(folder, e).Split(Separators).Any(p => p.StartsWith('.'))).ToList()
                : entries.ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Whether <paramref name="name"/> matches <paramref name="pattern"/> (<c>*</c>, <c>?</c>; ordinal).</summary>
    public static bool Matches(string pattern, string name)
    {
        if (name.StartsWith('.') && !pattern.StartsWith('.')) return false;
        // Iterative wildcard match with backtracking to the last star: linear for typical patterns.
        int p = 0, n = 0, star = -1, mark = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == name[n]))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++mark;
            }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
