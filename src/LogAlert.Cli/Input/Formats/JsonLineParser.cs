using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace LogAlert.Cli.Input.Formats;

/// <summary>
/// Reads access logs written as one JSON object a line (nginx's <c>log_format ... escape=json</c>,
/// log shippers), with nginx's variable names as keys, or the seed CSV's column names.
/// </summary>
/// <remarks>
/// <para>
/// Keys read (others are skipped, whatever their value): <c>remote_addr</c> or <c>remotehost</c>;
/// <c>remote_user</c> or <c>authuser</c>; a time, <c>time_iso8601</c>, <c>time_local</c>, <c>msec</c>
/// (Unix seconds with a fraction) or <c>date</c> (whole Unix seconds), the first of those present in
/// that order (each one present must be valid); <c>request</c>, or <c>request_method</c> with <c>request_uri</c> (or <c>uri</c>), which
/// win over the request line's; <c>status</c>; <c>body_bytes_sent</c> or <c>bytes</c>, else
/// <c>bytes_sent</c>; <c>request_time</c>; <c>upstream_response_time</c>; <c>http_referer</c>;
/// <c>http_user_agent</c>; <c>host</c>. A number may be a JSON number or a string (<c>"status":"200"</c>,
/// as nginx writes every variable); <c>null</c> is the same as a missing key.
/// </para>
/// <para>
/// A line without a time, a status or a request is bad, and so is one that is not a JSON object.
/// nginx's default escaping (a JSON <c>log_format</c> without <c>escape=json</c>, a common slip)
/// writes <c>\x22</c> for a quote and <c>\xC3\xA9</c> for the bytes of é, which is not JSON: those
/// escapes are undone first, as the server formats undo them (semantics §1). They were bad lines,
/// and every request with a quote or a non-ASCII byte in its URI or user agent was lost.
/// </para>
/// <para>Reads with <see cref="Utf8JsonReader"/>, building no document: nothing is allocated for a good
/// line unless a string in it has escapes.</para>
/// </remarks>
public sealed class JsonLineParser : IAccessLineParser
{
    /// <summary>The parser: it keeps no state, so one serves every input.</summary>
    public static JsonLineParser Instance { get; } = new();

    private JsonLineParser() { }

    /// <inheritdoc/>
    public bool TryParse(ReadOnlySpan<byte> line, out AccessFields fields, [NotNullWhen(false)] out string? reason)
    {
        fields = default;
        var set = new FieldSet();
        if (line.IndexOf("\\x"u8) >= 0) line = FromNginxEscapes(line);
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                reason = "not a JSON object";
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var key = Text(ref reader);
                var (kind, rank) = KeyOf(key);
                reader.Read();
                if (kind == FieldKind.Skip)
                {
                    reader.Skip();
                    continue;
                }
                ReadOnlySpan<byte> value;
                switch (reader.TokenType)
                {
                    case JsonTokenType.Null:
                        continue;
                    case JsonTokenType.String:
                        value = Text(ref reader);
                        break;
                    case JsonTokenType.Number:
                        value = reader.ValueSpan;
                        break;
                    default:
                        reason = $"\"{Encoding.UTF8.GetString(key)}\" is {Describe(reader.TokenType)}, not a string or a number";
                        return false;
                }
                if (!set.TryTake(kind, rank, value, unescape: false, out reason)) return false;
            }
            // Past the object's end: nothing but white space may follow (the reader throws if anything does).
            reader.Read();
        }
        catch (JsonException e)
        {
            var message = e.Message;
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            reason = $"not valid JSON at column {(e.BytePositionInLine ?? 0) + 1}: {(cut >= 0 ? message[..cut] : message)}";
            return false;
        }
        reason = !set.HasTime ? "no time: none of \"time_iso8601\", \"time_local\", \"msec\", \"date\""
            : !set.HasStatus ? "no \"status\""
            : !set.HasRequest ? "no request: no \"request\", nor \"request_method\" with \"request_uri\" or \"uri\""
            : null;
        if (reason is not null) return false;
        fields = set.Finish();
        return true;
    }

    /// <summary>
    /// <paramref name="line"/> with nginx's <c>\xHH</c> escapes written as JSON: a quote or a backslash
    /// escaped by a backslash, a control byte as <c>\u00HH</c>, any other byte as it is. JSON's own
    /// escapes (<c>\\</c>, <c>\"</c>, <c>\u</c>) stay as they are, so <c>\\x22</c> is a backslash and text.
    /// </summary>
    private static byte[] FromNginxEscapes(ReadOnlySpan<byte> line)
    {
        var into = new List<byte>(line.Length);
        for (var i = 0; i < line.Length; i++)
        {
            var b = line[i];
            if (b != (byte)'\\' || i + 1 >= line.Length)
            {
                into.Add(b);
                continue;
            }
            if (line[i + 1] == (byte)'x' && i + 3 < line.Length && IsHex(line[i + 2]) && IsHex(line[i + 3]))
            {
                var v = (byte)(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3]));
                if (v is (byte)'"' or (byte)'\\') into.AddRange([(byte)'\\', v]);
                else if (v < 0x20 || v == 0x7F) into.AddRange(Encoding.ASCII.GetBytes($"\\u{v:x4}"));
                else into.Add(v);
                i += 3;
                continue;
            }
            into.Add(b);
            into.Add(line[++i]); // a JSON escape's second byte: never the start of another escape
        }
        return [.. into];

        static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);
        static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    }

    /// <summary>
    /// A string or property name as text: as it stands, or with its JSON escapes undone in an array of
    /// its own. An escape that is half of a UTF-16 pair without the other half (<c>\udc00</c>), which
    /// is no text (the reader throws for it), is kept as written, as the server formats keep it
    /// (semantics §1): the line is a record, not a bad line.
    /// </summary>
    private static ReadOnlySpan<byte> Text(scoped ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped) return reader.ValueSpan;
        // Undone here, not by the reader's CopyString, which refuses a string whose raw bytes are not
        // UTF-8: nginx's escape=json writes bytes from 0x80 as they are (a TLS handshake sent to a
        // plain-HTTP port) and control bytes as \u00XX, and such a line is a record.
        var escaped = reader.ValueSpan;
        var buffer = new byte[escaped.Length];
        return buffer.AsSpan(0, Unescape(escaped, buffer));
    }

    /// <summary>
    /// <paramref name="escaped"/> (a string's bytes between its quotes, which the reader has checked are
    /// valid JSON escapes) with its escapes undone into <paramref name="into"/>, which is as long (an
    /// escape is never shorter than what it stands for); its other bytes as they are, and so a <c>\u</c>
    /// escape that is half of a surrogate pair without the other half. The length written.
    /// </summary>
    private static int Unescape(ReadOnlySpan<byte> escaped, Span<byte> into)
    {
        var n = 0;
        for (var i = 0; i < escaped.Length; i++)
        {
            var b = escaped[i];
            if (b != (byte)'\\')
            {
                into[n++] = b;
                continue;
            }
            var c = escaped[++i];
            switch (c)
            {
                case (byte)'b': into[n++] = (byte)'\b'; break;
                case (byte)'f': into[n++] = (byte)'\f'; break;
                case (byte)'n': into[n++] = (byte)'\n'; break;
                case (byte)'r': into[n++] = (byte)'\r'; break;
                case (byte)'t': into[n++] = (byte)'\t'; break;
                case (byte)'u':
                    int code = Hex(escaped.Slice(i + 1, 4));
                    i += 4;
                    if (code is >= 0xD800 and <= 0xDBFF && i + 6 < escaped.Length && escaped[i + 1] == (byte)'\\'
                        && escaped[i + 2] == (byte)'u' && Hex(escaped.Slice(i + 3, 4)) is var low and >= 0xDC00 and <= 0xDFFF)
                    {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    }
                    else if (code is >= 0xD800 and <= 0xDFFF)
                    {
                        // Half a pair: its six bytes as written.
                        escaped.Slice(i - 5, 6).CopyTo(into[n..]);
                        n += 6;
                        break;
                    }
                    n += new Rune(code).EncodeToUtf8(into[n..]);
                    break;
                default: into[n++] = c; break; // " \ /
            }
        }
        return n;
    }

    private static int Hex(ReadOnlySpan<byte> four)
    {
        var value = 0;
        foreach (var h in four) value = (value << 4) | (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
        return value;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        _ => token.ToString(),
    };

    /// <summary>What a key holds, and its rank among keys that hold the same (see <see cref="FieldSet"/>).</summary>
    private static (FieldKind Kind, int Rank) KeyOf(ReadOnlySpan<byte> key) => key.Length switch
    {
        3 when key.SequenceEqual("uri"u8) => (FieldKind.Path, 0),
        4 when key.SequenceEqual("msec"u8) => (FieldKind.Msec, 1),
        4 when key.SequenceEqual("date"u8) => (FieldKind.EpochSeconds, 0),
        4 when key.SequenceEqual("host"u8) => (FieldKind.VirtualHost, 0),
        5 when key.SequenceEqual("bytes"u8) => (FieldKind.Bytes, 1),
        6 when key.SequenceEqual("status"u8) => (FieldKind.Status, 0),
        7 when key.SequenceEqual("request"u8) => (FieldKind.Request, 0),
        8 when key.SequenceEqual("authuser"u8) => (FieldKind.User, 0),
        10 when key.SequenceEqual("remotehost"u8) => (FieldKind.Host, 0),
        10 when key.SequenceEqual("time_local"u8) => (FieldKind.TimeLocal, 2),
        10 when key.SequenceEqual("bytes_sent"u8) => (FieldKind.Bytes, 0),
        11 when key.SequenceEqual("remote_addr"u8) => (FieldKind.Host, 0),
        11 when key.SequenceEqual("remote_user"u8) => (FieldKind.User, 0),
        11 when key.SequenceEqual("request_uri"u8) => (FieldKind.Path, 1),
        12 when key.SequenceEqual("time_iso8601"u8) => (FieldKind.TimeIso, 3),
        12 when key.SequenceEqual("request_time"u8) => (FieldKind.Seconds, 0),
        12 when key.SequenceEqual("http_referer"u8) => (FieldKind.Referer, 0),
        14 when key.SequenceEqual("request_method"u8) => (FieldKind.Method, 0),
        15 when key.SequenceEqual("body_bytes_sent"u8) => (FieldKind.Bytes, 1),
        15 when key.SequenceEqual("http_user_agent"u8) => (FieldKind.UserAgent, 0),
        22 when key.SequenceEqual("upstream_response_time"u8) => (FieldKind.Upstream, 0),
        _ => (FieldKind.Skip, 0),
    };
}
