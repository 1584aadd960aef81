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
        var text = ReadText(fullPath, displayPath);
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
                    loaded = ReadText(target, ShownAs(target));
                    pending.Enqueue((target, loaded));
                }
                catch (Exception e) when (e is (IOException and not NotUtf8Exception) or UnauthorizedAccessException)
                {
                    // The compiler reports it; the key just records that it was missing.
                }
                loads.Add((target, loaded));
            }
        }
        return new RuleSource(displayPath, fullPath, text, loads);
    }

    /// <summary>A rule file's bytes that are not UTF-8: where, so that the user can fix them.</summary>
    public sealed class NotUtf8Exception(string path, int line, int column, byte value)
        : IOException($"{path}:{line}:{column}: error: byte 0x{value:X2} is not UTF-8; save the rule file as UTF-8");

    /// <summary>
    /// The file's text, read as UTF-8 (a BOM is skipped), or as UTF-16 when it starts with that BOM. Bytes that are not UTF-8 (a file saved as
    /// Latin-1) were read as U+FFFD, which changed a rule's name or a string in it without a word.
    /// </summary>
    private static string ReadText(string path, string shownAs)
    {
        var bytes = File.ReadAllBytes(path);
        var span = bytes.AsSpan();
        // UTF-16 with its BOM (what Windows PowerShell 5's `>` writes) loaded before, as .NET reads it.
        if (span.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || span.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            var utf16 = new System.Text.UnicodeEncoding(bigEndian: span[0] == 0xFE, byteOrderMark: false, throwOnInvalidBytes: true);
            try { return utf16.GetString(span[2..]); }
            catch (System.Text.DecoderFallbackException)
            {
                throw new IOException($"{shownAs}: error: not valid UTF-16 after its byte order mark; save the rule file as UTF-8");
            }
        }
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) span = span[3..];
        var chars = new char[span.Length];
        var status = System.Text.Unicode.Utf8.ToUtf16(span, chars, out var read, out var written, replaceInvalidSequences: false);
        if (status == System.Buffers.OperationStatus.Done) return new string(chars, 0, written);
        var before = span[..read];
        var line = before.Count((byte)'\n') + 1;
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        var column = System.Text.Encoding.UTF8.GetCharCount(before[lineStart..]) + 1;
        throw new NotUtf8Exception(shownAs, line, column, span[read]);
    }

    /// <summary>
    /// Where <c>#load "target"</c> in <paramref name="containingFile"/> points, or null when that is
    /// outside the containing file's folder: rule files may share helpers kept next to them, but a rule
    /// folder must not pull in code from elsewhere on the machine.
    /// </summary>
    public static string? ResolveLoad(string containingFile, string target) => ResolveLoad(containingFile, target, out _);

    /// <summary>
    /// <see cref="ResolveLoad(string, string)"/>, saying why a target is refused. The path returned is
    /// the one the compiler opens (<c>..</c> taken away as text, as Roslyn does); the check is made on
    /// where that path really leads, symbolic links resolved at every step, so that a link in the rule
    /// folder that points elsewhere is refused like the path it points to.
    /// </summary>
    public static string? ResolveLoad(string containingFile, string target, out string? refusal)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(containingFile)) ?? "/";
        var resolved = Path.GetFullPath(Path.Combine(folder, target));
        const string Rule = "only files in the folder of the rule file (or below it) may be loaded";
        if (!IsUnder(resolved, folder))
        {
            refusal = Rule;
            return null;
        }
        string real;
        try
        {
            real = RealPath(resolved);
            if (IsUnder(real, RealPath(folder)))
            {
                refusal = null;
                return resolved;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            refusal = $"{e.Message}; {Rule}";
            return null;
        }
        refusal = $"it leads through a symbolic link to {real}; {Rule}";
        return null;
    }

    private static bool IsUnder(string path, string folder)
    {
        var prefix = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>
    /// An absolute path with every symbolic link on the way resolved, as <c>realpath(3)</c> gives it,
    /// except that a part that does not exist is kept as written (the compiler reports a missing file).
    /// Throws <see cref="IOException"/> on a loop of links.
    /// </summary>
    internal static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var pending = new Stack<string>(full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = root;
        var links = 0;
        while (pending.TryPop(out var part))
        {
            var next = Path.Combine(current, part);
            var target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++links > 40) throw new IOException($"{path}: too many levels of symbolic links"); // Linux's ELOOP limit
            // A relative target is relative to the link's folder, which is free of links by now, so
            // its ".." can be taken away as text; the target's own parts are resolved in turn.
            var resolved = Path.GetFullPath(target, current);
            var resolvedRoot = Path.GetPathRoot(resolved) ?? "/";
            foreach (var p in resolved[resolvedRoot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
                pending.Push(p);
            current = resolvedRoot;
        }
        return current;
    }

    /// <summary>How to show a path the compiler or a caller attribute gave: the user's own spelling for
    /// this file, a path relative to the working directory for a loaded file under it.</summary>
    public string Display(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == FullPath || path == DisplayPath) return DisplayPath;
        var full = Path.GetFullPath(path);
        return full == FullPath ? DisplayPath : ShownAs(full);
    }

    /// <summary>A loaded file's path as messages show it: relative to the working directory when under it.</summary>
    internal static string ShownAs(string full)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, full);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative;
    }
}
