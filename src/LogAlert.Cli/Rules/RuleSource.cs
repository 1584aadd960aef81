using System.Text.RegularExpressions;

namespace LogAlert.Cli.Rules;

/// <summary>
/// A rule file as read from disk, with the files it <c>#load</c>s: what the cache key is made of.
/// Found with a plain text scan, not Roslyn, so that a warm start never loads the compiler.
/// </summary>
internal sealed partial class RuleSource
{
    private RuleSource(string displayPath, string fullPath, string text, IReadOnlyList<(string Path, string? Text)> loads)
    {
        DisplayPath = displayPath;
        FullPath = fullPath;
        Text = text;
        Loads = loads;
    }

    /// <summary>The path as the user gave it: what messages show.</summary>
    public string DisplayPath { get; }

    /// <summary>The absolute path: what the compiler sees (so <c>#load</c> resolves next to the file).</summary>
    public string FullPath { get; }

    /// <summary>The rule text.</summary>
    public string Text { get; }

    /// <summary>
    /// Every file a line <c>#load "…"</c> names, transitively, with its text (null when missing).
    /// A superset of what the compiler loads (a directive inside a comment counts too): more
    /// than needed only makes the key stricter.
    /// </summary>
    public IReadOnlyList<(string Path, string? Text)> Loads { get; }

    // C# allows blanks before and after '#'. Verbatim strings are not valid here but cost nothing.
    [GeneratedRegex(@"^[ \t]*#[ \t]*load[ \t]+@?""([^""\r\n]*)""", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex LoadDirective();

    /// <summary>Reads a rule file and what it loads. Throws <see cref="IOException"/> and friends.</summary>
    public static RuleSource Read(string displayPath)
    {
        var fullPath = Path.GetFullPath(displayPath);
        var text = File.ReadAllText(fullPath);
        var loads = new List<(string, string?)>();
        var seen = new HashSet<string>(StringComparer.Ordinal) { fullPath };
        var pending = new Queue<(string Path, string Text)>();
        pending.Enqueue((fullPath, text));
        while (pending.Count > 0)
        {
            var (path, content) = pending.Dequeue();
            foreach (Match m in LoadDirective().Matches(content))
            {
                var target = ResolveLoad(path, m.Groups[1].Value.Replace(@"\\", @"\"));
                if (target is null || !seen.Add(target)) continue;
                string? loaded = null;
                try
                {
                    loaded = File.ReadAllText(target);
                    pending.Enqueue((target, loaded));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The compiler reports it; the key just records that it was missing.
                }
                loads.Add((target, loaded));
            }
        }
        return new RuleSource(displayPath, fullPath, text, loads);
    }

    /// <summary>
    /// Where <c>#load "target"</c> in <paramref name="containingFile"/> points, or null when that is
    /// outside the containing file's folder: rule files may share helpers kept next to them, but a rule
    /// folder must not pull in code from elsewhere on the machine.
    /// </summary>
    public static string? ResolveLoad(string containingFile, string target)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(containingFile)) ?? "/";
        var resolved = Path.GetFullPath(Path.Combine(folder, target));
        var prefix = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        return resolved.StartsWith(prefix, StringComparison.Ordinal) ? resolved : null;
    }

    /// <summary>How to show a path the compiler or a caller attribute gave: the user's own spelling for
    /// this file, a path relative to the working directory for a loaded file under it.</summary>
    public string Display(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == FullPath || path == DisplayPath) return DisplayPath;
        var full = Path.GetFullPath(path);
        if (full == FullPath) return DisplayPath;
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, full);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative;
    }
}
