namespace LogAlert.Cli.Input.Formats;

/// <summary>
/// A <c>--log-format</c> pasted as the server's config writes it, unwrapped to the format string:
/// nginx's whole directive (<c>log_format main '$remote_addr - … "$request" '</c> then
/// <c>'$status …';</c> on the next line) or only its quoted pieces, and Apache's
/// <c>LogFormat "%h %l %u %t \"%r\" %>s %b" common</c>, and the format of a <c>CustomLog</c> line
/// (its quoted string, or a preset's nickname). The pieces' text is kept as the config has
/// it, escapes and all (<see cref="LineTemplate.TryCompile(string, out LineTemplate?, out string?)"/>
/// reads them as the config means them), and nginx's pieces are joined as nginx joins them, with
/// nothing between. Anything else is a bare format string and is left alone.
/// </summary>
internal static class ConfigFormat
{
    /// <summary>
    /// The format string in <paramref name="text"/>; <paramref name="text"/> itself when it is not
    /// config syntax. Null, with <paramref name="error"/>, when it starts as a directive or a quoted
    /// piece but is not a whole one.
    /// </summary>
    public static string? Unwrap(string text, out string? error) => Unwrap(text, out error, out _);

    /// <inheritdoc cref="Unwrap(string, out string?)"/>
    /// <param name="text">The pasted text.</param>
    /// <param name="error">What is wrong, when it returns null.</param>
    /// <param name="literally">Whether an nginx directive says <c>escape=none</c>: its texts are as logged (<see cref="LineTemplate.Literally"/>).</param>
    public static string? Unwrap(string text, out string? error, out bool literally)
    {
        error = null;
        literally = false;
        var t = text.Trim();
        if (StartsWithWord(t, "log_format")) return Nginx(t["log_format".Length..], out error, out literally);
        if (StartsWithWord(t, "LogFormat")) return Apache(t["LogFormat".Length..], out error);
        if (StartsWithWord(t, "CustomLog")) return CustomLog(t["CustomLog".Length..], out error);
        if (t.Length > 0 && t[0] is '\'' or '"')
        {
            // Only quoted pieces (what is between log_format's name and its ';'), or Apache's
            // quoted string; a format that merely starts with a quote goes as it is.
            var pieces = Pieces(t, 0, out var end, out _);
            if (pieces is not null && end == t.Length) return pieces;
        }
        return text;
    }

    // log_format NAME [escape=default|json|none] STRING...;
    private static string? Nginx(string rest, out string? error, out bool literally)
    {
        literally = false;
        var i = SkipSpace(rest, 0);
        var name = Word(rest, ref i);
        if (name.Length == 0 || name[0] is '\'' or '"')
        {
            error = "--log-format: log_format needs a name before its format, as in log_format main '…';";
            return null;
        }
        i = SkipSpace(rest, i);
        var at = i;
        var word = Word(rest, ref at);
        if (word.StartsWith("escape=", StringComparison.Ordinal))
        {
            if (word is not ("escape=default" or "escape=json" or "escape=none"))
            {
                error = $"--log-format: log_format's {word} is not escape=default, escape=json or escape=none";
                return null;
            }
            literally = word == "escape=none";
            i = SkipSpace(rest, at);
        }
        var format = Pieces(rest, i, out var end, out error, unquotedToo: true);
        if (format is null) return null;
        if (end != rest.Length || format.Length == 0)
        {
            error = "--log-format: log_format's format is not one or more quoted strings ending in ';'";
            return null;
        }
        return format;
    }

    // LogFormat "STRING" [NICKNAME]
    private static string? Apache(string rest, out string? error)
    {
        var i = SkipSpace(rest, 0);
        if (i >= rest.Length || rest[i] != '"' || Quoted(rest, i, out var end) is not { } format)
        {
            error = "--log-format: LogFormat's format is one double-quoted string, as in LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common";
            return null;
        }
        i = SkipSpace(rest, end);
        Word(rest, ref i); // the nickname, if any
        if (SkipSpace(rest, i) != rest.Length)
        {
            error = "--log-format: LogFormat takes a format string and a nickname, nothing after them";
            return null;
        }
        error = null;
        return format;
    }

    // CustomLog FILE|"|PIPE" "STRING"|NICKNAME [env=…|expr=…]: the format, or a preset's nickname.
    private static string? CustomLog(string rest, out string? error)
    {
        var i = SkipSpace(rest, 0);
        error = null;
        if (i < rest.Length && rest[i] == '"') // "|/usr/bin/rotatelogs …"
        {
            if (Quoted(rest, i, out i) is null)
            {
                error = "--log-format: CustomLog's file (or piped program) has no closing quote";
                return null;
            }
        }
        else Word(rest, ref i);
        i = SkipSpace(rest, i);
        if (i < rest.Length && rest[i] == '"')
        {
            if (Quoted(rest, i, out _) is { } format) return format;
            error = "--log-format: CustomLog's format has no closing quote";
            return null;
        }
        var nickname = Word(rest, ref i);
        if (nickname is "common" or "combined" or "vhost_combined") return nickname;
        error = nickname.Length == 0
            ? "--log-format: CustomLog names a file and then a format, and this one has no format"
            : $"--log-format: CustomLog names the format \"{nickname}\" that a LogFormat line defines: give that line instead";
        return null;
    }

    // Quoted strings (and, in a directive, bare words) from `i`, joined, up to an optional ';' and
    // the end: `end` is where the reading stopped.
    private static string? Pieces(string s, int i, out int end, out string? error, bool unquotedToo = false)
    {
        var joined = new System.Text.StringBuilder();
        error = null;
        end = i;
        while (true)
        {
            i = SkipSpace(s, i);
            if (i >= s.Length) break;
            if (s[i] == ';')
            {
                i = SkipSpace(s, i + 1);
                while (i < s.Length && s[i] == '#') i = SkipSpace(s, AfterComment(s, i));
                break;
            }
            if (s[i] == '#')
            {
                i = AfterComment(s, i);
                continue;
            }
            if (s[i] is '\'' or '"')
            {
                if (Quoted(s, i, out var after) is not { } piece)
                {
                    var from = s[(i + 1)..];
                    error = $"--log-format: the quote before \"{(from.Length > 20 ? from[..20] + "…" : from)}\" is not closed";
                    return null;
                }
                joined.Append(piece);
                i = after;
            }
            else if (unquotedToo) joined.Append(Word(s, ref i));
            else return null;
        }
        end = i;
        return joined.ToString();
    }

    // A comment, as in the config: from `#` to the end of its line.
    private static int AfterComment(string s, int i)
    {
        var eol = s.IndexOf('\n', i);
        return eol < 0 ? s.Length : eol + 1;
    }

    // The text between the quote at `start` and the next one of the same kind that no backslash
    // escapes, as written; null when it is not closed.
    private static string? Quoted(string s, int start, out int after)
    {
        var quote = s[start];
        for (var i = start + 1; i < s.Length; i++)
        {
            if (s[i] == '\\') i++;
            else if (s[i] == quote)
            {
                after = i + 1;
                return s[(start + 1)..i];
            }
        }
        after = s.Length;
        return null;
    }

    private static string Word(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] != ';') i++;
        return s[start..i];
    }

    private static int SkipSpace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }

    private static bool StartsWithWord(string s, string word) =>
        s.StartsWith(word, StringComparison.Ordinal) && s.Length > word.Length && char.IsWhiteSpace(s[word.Length]);
}
