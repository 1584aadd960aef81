using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;

namespace LogAlert.Cli.Input.Formats;

/// <summary>Which web server's syntax a format string is in.</summary>
public enum LogFormatSyntax
{
    /// <summary>Told from the string: a preset name, else nginx when it has a <c>$variable</c> before any <c>%</c>, else Apache.</summary>
    Auto,

    /// <summary>nginx <c>log_format</c>: <c>$name</c> or <c>${name}</c>.</summary>
    Nginx,

    /// <summary>Apache <c>LogFormat</c>: <c>%h</c>, <c>%>s</c>, <c>%{Referer}i</c>.</summary>
    Apache,
}

/// <summary>
/// A web server's log format, compiled once into literals and fields, that reads lines of that
/// format (<see cref="IAccessLineParser"/>).
/// </summary>
/// <remarks>
/// <para>
/// A line is literal, field, literal, ..., field, literal: every literal must be there byte for byte.
/// A field ends where the literal after it begins, found as follows. A field between double quotes
/// ends at the first <c>"</c> that no backslash escapes (the servers escape quotes in logged text).
/// A time that has a space in it (<c>$time_local</c>, Apache <c>%t</c> and <c>%{format}t</c>) ends
/// where its shape does, and an <c>$upstream_response_time</c> list (<c>0.002, 0.003</c>) where its
/// list does, as do nginx's other lists (<c>$upstream_status</c>, <c>$upstream_addr</c>, …) and
/// X-Forwarded-For chains when a space follows them. A field followed by a literal and a time (the
/// user before <c>[$time_local]</c>) ends at the first occurrence of that literal after which the time
/// reads. Any other field ends at the first occurrence of the whole next literal (or, when there
/// is none, of its first byte, so that the error names the byte that is wrong); the last field ends
/// where the final literal ends the line, or at the end of the line. So a field that logalert does
/// not use (<c>$http_x_forwarded_for</c>, <c>%l</c>) is read like any other text and ignored; if such a
/// field can have the next literal inside it (a space-separated field with spaces in it), the line
/// is misread, as it would be by any reader of that format.
/// </para>
/// <para>
/// Texts have the server's escapes undone (<c>\x22</c>, Apache's <c>\"</c>): see <see cref="AccessFields"/>.
/// A format string with <c>\"</c> (as written inside the quotes of an Apache or nginx config line)
/// means <c>"</c>. Two fields with nothing between them cannot be told apart, so such a format is refused,
/// except for a path followed by its query (<c>%U%q</c>, <c>$uri$is_args$args</c>), read as one path,
/// and a host followed by a request URI (<c>$host$request_uri</c>), which starts with <c>/</c>.
/// </para>
/// </remarks>
public sealed class LineTemplate : IAccessLineParser
{
    /// <summary>Apache's (and NCSA's) Common Log Format: <c>%h %l %u %t "%r" %>s %b</c>.</summary>
    public static LineTemplate Common { get; } = Preset("common", "%h %l %u %t \"%r\" %>s %b");

    /// <summary>
    /// The Combined Log Format: common, then <c>"%{Referer}i" "%{User-Agent}i"</c>. nginx's predefined
    /// <c>combined</c> writes lines of the same shape.
    /// </summary>
    public static LineTemplate Combined { get; } =
        Preset("combined", "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"");

    /// <summary>
    /// Apache's <c>vhost_combined</c> (its stock config's format for the log of every virtual host,
    /// Debian's <c>other_vhosts_access.log</c>): the virtual host and port, then combined with the bytes
    /// sent (<c>%O</c>).
    /// </summary>
    public static LineTemplate VhostCombined { get; } =
        Preset("vhost_combined", "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"");

    private readonly byte[][] _literals; // one more than fields: before the first field, between, after the last
    private readonly Field[] _fields;
    private readonly Step[] _steps;
    private readonly Prefix _prefix;
    private readonly bool _usePrefix; // false: the general loop alone, in this template and those made from it (tests)
    // The templates of one compiled format, by the extras they keep; shared by all of them.
    private readonly LineTemplate?[] _family;
    // The step of an Apache %l (ident) followed by " %u", or -1: a line whose ident is not "-" and
    // whose user has a space in it has a field before the client's address (Apache's
    // vhost_combined, nginx's "$host $remote_addr - $remote_user"), and read as it stands its virtual
    // host would be taken for the client and its address for the ident: it is bad, not misread.
    private readonly int _identAt;
    // nginx's escape=none: texts are as logged (a backslash is a backslash, a quote may stand inside
    // a quoted field), so nothing is unescaped and a quoted field ends at a quote that the literal
    // after it follows. Read by the general loop alone (the prefix reader takes \" as an escape).
    private readonly bool _literalText;

    private LineTemplate(string format, byte[][] literals, Field[] fields, AccessExtras extras, LineTemplate?[]? family,
                         bool prefix = true, bool literalText = false)
    {
        _literalText = literalText;
        prefix &= !literalText;
        Format = format;
        _literals = literals;
        _fields = fields;
        Extras = extras;
        _steps = new Step[fields.Length];
        for (var i = 0; i < fields.Length; i++)
            _steps[i] = new Step(fields[i], literals[i + 1], StopOf(fields[i], literals[i + 1], last: i == fields.Length - 1,
                following: i + 1 < fields.Length ? fields[i + 1] : null),
                Keeps(fields[i].Kind, extras));
        _usePrefix = prefix;
        _prefix = prefix ? Prefix.Of(_literals, _steps) : default;
        _identAt = -1;
        for (var i = 0; i + 1 < fields.Length; i++)
            if (fields[i] is { Kind: FieldKind.Skip, Name: "%l" } && fields[i + 1].Kind == FieldKind.User && literals[i + 1] is [(byte)' '])
                _identAt = i;
        // A new family's first template is its compiled one (All), not yet seen by any other thread.
        _family = family ?? new LineTemplate?[(int)AccessExtras.All + 1];
        if (family is null) _family[(int)extras] = this;
    }

    /// <summary>The extras its lines give (<see cref="Wanting"/>); a compiled format and the presets give all.</summary>
    public AccessExtras Extras { get; }

    /// <summary>
    /// The same format, reading lines into <see cref="AccessFields"/> whose extras other than
    /// <paramref name="extras"/> are left as not logged (NaN, an empty text): what is not wanted is
    /// not converted or unescaped. Those fields are still read and checked, so the same lines are
    /// bad whatever is wanted: a <c>$request_time</c> of <c>abc</c> makes a line bad even when no
    /// rule reads request times. Made once per format and set of extras.
    /// </summary>
    public LineTemplate Wanting(AccessExtras extras)
    {
        extras &= AccessExtras.All;
        ref var slot = ref _family[(int)extras];
        if (Volatile.Read(ref slot) is { } made) return made;
        var template = new LineTemplate(Format, _literals, _fields, extras, _family, _usePrefix, _literalText);
        return Interlocked.CompareExchange(ref slot, template, null) ?? template;
    }

    /// <summary>
    /// The same format with its texts as logged, for nginx's <c>log_format … escape=none</c>: nothing
    /// is unescaped, and a quoted field ends at the first quote that the text after it in the format
    /// follows (for the last field, that ends the line), so a quote logged inside it stays in it.
    /// </summary>
    public LineTemplate Literally() =>
        _literalText ? this : new(Format, _literals, _fields, Extras, new LineTemplate?[(int)AccessExtras.All + 1], prefix: false, literalText: true);

    /// <summary>How many leading fields the prefix reader reads (see <see cref="Prefix"/>); 0 when it does not apply.</summary>
    internal int PrefixSteps => _prefix.Steps;

    /// <summary>Whether plain lines go straight to records (see <c>Prefix.Direct</c>).</summary>
    internal bool Direct => _prefix.Direct;

    /// <summary>The same format read by the general loop alone: what the prefix reader must agree with (tests).</summary>
    internal LineTemplate WithoutPrefix() => new(Format, _literals, _fields, Extras, new LineTemplate?[(int)AccessExtras.All + 1], prefix: false);

    private static bool Keeps(FieldKind kind, AccessExtras extras) => kind switch
    {
        FieldKind.Seconds or FieldKind.Millis or FieldKind.Micros => extras.HasFlag(AccessExtras.RequestTime),
        FieldKind.Upstream => extras.HasFlag(AccessExtras.UpstreamTime),
        FieldKind.VirtualHost => extras.HasFlag(AccessExtras.VirtualHost),
        FieldKind.Referer => extras.HasFlag(AccessExtras.Referer),
        FieldKind.UserAgent => extras.HasFlag(AccessExtras.UserAgent),
        _ => true,
    };

    /// <summary>The format string as given (the preset's own string for <c>common</c> and <c>combined</c>).</summary>
    public string Format { get; }

    /// <inheritdoc cref="TryCompile(string, LogFormatSyntax, out LineTemplate?, out string?)"/>
    public static bool TryCompile(string format, [NotNullWhen(true)] out LineTemplate? template, [NotNullWhen(false)] out string? error) =>
        TryCompile(format, LogFormatSyntax.Auto, out template, out error);

    /// <summary>
    /// Compiles <paramref name="format"/>: a preset name (<c>common</c>, <c>combined</c>, <c>vhost_combined</c>), an nginx
    /// <c>log_format</c> string or an Apache <c>LogFormat</c> string. A format must give a time, a
    /// status and a request (a request line, or a method and a path); a variable or directive that is
    /// not one logalert uses is matched and ignored.
    /// </summary>
    /// <param name="format">The format, without the quotes around it in the server's config.</param>
    /// <param name="syntax">The server's syntax, or <see cref="LogFormatSyntax.Auto"/> to tell it from the string.</param>
    /// <param name="template">The compiled format, when it returns true.</param>
    /// <param name="error">What is wrong with the format and where, when it returns false.</param>
    public static bool TryCompile(string format, LogFormatSyntax syntax, [NotNullWhen(true)] out LineTemplate? template,
        [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(format);
        template = null;
        switch (format.Trim().ToLowerInvariant())
        {
            case "common":
                template = Common;
                error = null;
                return true;
            case "combined":
                template = Combined;
                error = null;
                return true;
            case "vhost_combined":
                template = VhostCombined;
                error = null;
                return true;
        }
        if (syntax == LogFormatSyntax.Auto) syntax = Tell(format);
        var builder = new Builder(syntax);
        error = syntax == LogFormatSyntax.Nginx ? builder.ReadNginx(format) : builder.ReadApache(format);
        error ??= builder.Check();
        if (error is not null) return false;
        template = new LineTemplate(format, [.. builder.Literals], [.. builder.Fields], AccessExtras.All, null);
        return true;
    }

    private static LineTemplate Preset(string name, string format) =>
        TryCompile(format, LogFormatSyntax.Apache, out var template, out var error)
            ? template
            : throw new InvalidOperationException($"preset {name}: {error}");

    /// <summary>nginx when a <c>$name</c> or <c>${</c> comes before any <c>%</c>, else Apache.</summary>
    private static LogFormatSyntax Tell(string format)
    {
        for (var i = 0; i < format.Length - 1; i++)
        {
            if (format[i] == '%') return LogFormatSyntax.Apache;
            if (format[i] == '$' && (format[i + 1] == '{' || format[i + 1] == '_' || char.IsAsciiLetter(format[i + 1])))
                return LogFormatSyntax.Nginx;
        }
        return LogFormatSyntax.Apache;
    }

    /// <summary>
    /// Whether <paramref name="ident"/> is not <c>-</c> while <paramref name="user"/>, after it, has a
    /// space in it: see <c>_identAt</c>. The reason names vhost_combined only when the line's first
    /// field has a port, as that preset's <c>%v:%p</c> does: a virtual host alone (openSUSE's
    /// vhost_combined, nginx's <c>$host $remote_addr …</c>) was sent to a format that read none of its lines.
    /// </summary>
    private static bool ShiftedByAField(ReadOnlySpan<byte> line, ReadOnlySpan<byte> ident, ReadOnlySpan<byte> user, [NotNullWhen(true)] out string? reason)
    {
        reason = null;
        if (ident is [(byte)'-'] || user.IndexOf((byte)' ') < 0) return false;
        var first = line.IndexOf((byte)' ') is var space and >= 0 ? line[..space] : line;
        reason = $"{FieldValues.Show(ident)} stands where the ident (%l) should, and the user would be {FieldValues.Show(user)}: "
                 + "the line has a field before the client's address (a virtual host?): "
                 + (first.IndexOf((byte)':') >= 0
                     ? "name its format with --input-format vhost_combined (Apache's) or --log-format"
                     : "give the server's format with --log-format (a virtual host without a port is not Apache's vhost_combined)");
        return true;
    }

    /// <summary>A field of the format: what it holds, its rank (see <see cref="FieldSet"/>), how it is named in the format.</summary>
    private sealed record Field(FieldKind Kind, int Rank, string Name)
    {
        /// <summary>Between double quotes: ends at the first unescaped <c>"</c>.</summary>
        public bool Quoted { get; set; }

        /// <summary>The strftime format of an Apache <c>%{format}t</c> that gives log time.</summary>
        public ClockFormat? Clock { get; init; }

        /// <summary>
        /// A list as nginx logs it, <c>a, b : c</c> (each upstream tried, each internal redirect's), or an
        /// X-Forwarded-For chain (<c>a, b</c>): unquoted, its separators must not end it at their space.
        /// </summary>
        public bool List { get; init; }

        /// <summary>Followed by a request URI with nothing between: ends before the first <c>/</c>.</summary>
        public bool EndsAtSlash { get; init; }
    }

    /// <summary>How the end of a field is found (see the remarks on <see cref="LineTemplate"/>).</summary>
    private enum Stop : byte
    {
        /// <summary>At the next literal, else its first byte, else the end of the line.</summary>
        Free,
        /// <summary>The last field: where the final literal ends the line, else as <see cref="Free"/>.</summary>
        Last,
        /// <summary>Between double quotes: at the first unescaped <c>"</c>.</summary>
        Quoted,
        /// <summary>An <c>$upstream_response_time</c> list followed by a literal.</summary>
        Upstream,
        /// <summary>
        /// A client address or virtual host followed by a literal that starts with a colon
        /// (<c>$remote_addr:$remote_port</c>, <c>$host:$server_port</c>): at that literal, unless the
        /// address is IPv6, which has colons of its own (<see cref="HostColonEnd"/>).
        /// </summary>
        HostColon,
        /// <summary>
        /// A list (<see cref="Field.List"/>) followed by a single space: at the first space that is not
        /// part of a list's <c>", "</c> or <c>" : "</c>.
        /// </summary>
        List,
        /// <summary>A host followed at once by a request URI: before the first <c>/</c>.</summary>
        Slash,
        /// <summary>
        /// A request not between quotes followed by a literal that starts with a space: to its first
        /// word that starts with <c>HTTP/</c>, else its method and a URI (<see cref="RequestEnd"/>).
        /// </summary>
        Request,
        /// <summary><c>dd/Mon/yyyy:HH:MM:SS ±hhmm</c>, of fixed length.</summary>
        TimeLocal,
        /// <summary>A time read by its <see cref="ClockFormat"/>, which says where it ends.</summary>
        Clock,
        /// <summary>
        /// A field followed by a literal and then a time: at the first occurrence of the literal after
        /// which a time reads (<see cref="BeforeTimeEnd"/>), else as <see cref="Free"/>.
        /// </summary>
        BeforeTime,
    }

    private static Stop StopOf(Field field, byte[] next, bool last, Field? following) =>
        field.EndsAtSlash ? Stop.Slash
        : field.Clock is not null ? Stop.Clock
        : field.Kind == FieldKind.TimeLocal ? Stop.TimeLocal
        : field.Quoted ? Stop.Quoted
        : field.Kind == FieldKind.Upstream && next.Length > 0 ? Stop.Upstream
        : field.List && next is [(byte)' '] ? Stop.List
        : field.Kind == FieldKind.Request && next is [(byte)' ', ..] ? Stop.Request
        : field.Kind is FieldKind.Host or FieldKind.VirtualHost && next is [(byte)':', ..] ? Stop.HostColon
        : last ? Stop.Last
        : next.Length > 0 && following is { Kind: FieldKind.TimeLocal } or { Clock: not null } ? Stop.BeforeTime
        : Stop.Free;

    /// <summary>A field as the line loop reads it: decided once, when the template is made.</summary>
    private readonly struct Step(Field field, byte[] next, Stop stop, bool keep)
    {
        public readonly Field Field = field;
        public readonly byte[] Next = next; // the literal after the field
        public readonly Stop Stop = stop;
        public readonly bool Keep = keep;   // its value is wanted (see Wanting)
    }

    /// <inheritdoc/>
    public bool TryParse(ReadOnlySpan<byte> line, out AccessFields fields, [NotNullWhen(false)] out string? reason) =>
        TryParse(line, MinuteCache.Current, out fields, out reason);

    /// <summary><see cref="TryParse(ReadOnlySpan{byte}, out AccessFields, out string?)"/> with the caller's own <see cref="MinuteCache"/>.</summary>
    internal bool TryParse(ReadOnlySpan<byte> line, MinuteCache minutes, out AccessFields fields, [NotNullWhen(false)] out string? reason)
    {
        fields = default;
        if (!line.IsEmpty && line[^1] == (byte)'\n') line = line[..^1];
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        var set = new FieldSet();
        var pos = 0;
        var first = 0;
        if (_prefix.Steps > 0 && _prefix.TryRead(line, minutes, ref set, out pos)) first = _prefix.Steps;
        else
        {
            pos = 0;
            if (!Literal(line, ref pos, _literals[0], out reason)) return false;
        }
        reason = null;
        var steps = _steps;
        int identStart = 0, identEnd = -1;
        for (var i = first; i < steps.Length; i++)
        {
            ref readonly var step = ref steps[i];
            var field = step.Field;
            var next = step.Next;
            int end;
            if (step.Stop is Stop.TimeLocal or Stop.Clock)
            {
                var rest = line[pos..];
                long time = 0;
                var read = TimeRead.Malformed;
                var used = 0;
                if (field.Clock is { } clock) read = clock.Read(rest, out time, out used);
                else if (minutes.Read(rest, out time) is var local && local != TimeRead.Malformed)
                {
                    read = local;
                    used = FieldValues.TimeLocalLength;
                }
                if (read != TimeRead.Ok)
                {
                    reason = read == TimeRead.OutOfRange
                        ? LogAlert.Core.RecordErrorModule.describe(LogAlert.Core.RecordError.NewBadTime(time))
                        : field.Clock is null && rest.Length >= FieldValues.TimeLocalLength && FieldValues.IsNoSuchDay(rest[..FieldValues.TimeLocalLength], local: true)
                            ? $"time {FieldValues.Show(rest[..FieldValues.TimeLocalLength])} names a day or time of day that does not exist"
                            : $"time {FieldValues.Show(line[pos..FreeEnd(line, pos, next, out _)])} is not {(field.Clock is null ? "dd/Mon/yyyy:HH:MM:SS ±hhmm" : $"in the format of {field.Name}")}";
                    return false;
                }
                set.TakeTime(time, field.Rank);
                end = pos + used;
            }
            else
            {
                // escaped: the field may have a backslash in it, so its text may have escapes to undo.
                bool escaped;
                switch (step.Stop)
                {
                    case Stop.Quoted:
                        escaped = false;
                        end = _literalText ? LiteralQuotedEnd(line, pos, next, last: i == steps.Length - 1) : QuotedEnd(line, pos, out escaped);
                        if (end < 0)
                        {
                            reason = $"no closing quote for {field.Name}, which starts at column {pos + 1}";
                            return false;
                        }
                        break;
                    case Stop.Upstream:
                        end = FieldValues.UpstreamEnd(line, pos);
                        escaped = true;
                        break;
                    case Stop.Last:
                        end = LastEnd(line, pos, next, out escaped);
                        break;
                    case Stop.Slash:
                        end = SlashEnd(line, pos, i + 1 < steps.Length ? steps[i + 1].Next : []);
                        if (end < 0)
                        {
                            reason = $"no \"/\" after column {pos + 1}, where {field.Name} ends and the request URI begins";
                            return false;
                        }
                        escaped = line[pos..end].Contains((byte)'\\');
                        break;
                    case Stop.HostColon:
                        end = HostColonEnd(line, pos, next, out escaped);
                        break;
                    case Stop.List:
                        end = ListEnd(line, pos);
                        escaped = true;
                        break;
                    case Stop.Request:
                        end = RequestEnd(line, pos);
                        escaped = line[pos..end].Contains((byte)'\\');
                        break;
                    case Stop.BeforeTime:
                        end = BeforeTimeEnd(line, pos, next, steps[i + 1].Field, minutes, out escaped);
                        break;
                    default:
                        end = FreeEnd(line, pos, next, out escaped);
                        break;
                }
                if (!set.TryTake(field.Kind, field.Rank, line[pos..end], unescape: escaped && !_literalText, step.Keep, out reason)) return false;
                if (i == _identAt) (identStart, identEnd) = (pos, end);
                else if (i == _identAt + 1 && identEnd >= 0 && ShiftedByAField(line, line[identStart..identEnd], line[pos..end], out reason)) return false;
            }
            pos = end;
            if (!Literal(line, ref pos, next, out reason)) return false;
        }
        if (pos < line.Length)
        {
            reason = $"unexpected text at column {pos + 1}: {FieldValues.Show(line[pos..])}";
            return false;
        }
        fields = set.Finish();
        return true;
    }

    /// <summary>
    /// The start that nginx's and Apache's common and combined formats share, and most formats
    /// pasted from a config begin with: <c>%h %l %u %t "%r" %>s %b</c> or <c>$remote_addr -
    /// $remote_user [$time_local] "$request" $status $body_bytes_sent</c>, then the literal after
    /// the bytes. Read for the usual line without the general loop: it reads only a line whose
    /// fields are plain (no backslash, a 3-digit status, digits or <c>-</c> for the bytes) and
    /// otherwise says no, and the general loop reads the line from its start, so every line gets the
    /// values and reasons the general loop gives.
    /// </summary>
    private readonly struct Prefix
    {
        /// <summary>How many steps it reads; 0 when the format does not start this way.</summary>
        public readonly int Steps;

        /// <summary>
        /// Whether the format is the prefix and then only quoted texts and times no reader wants
        /// (common, combined, and combined with request and upstream times, when no rule reads them):
        /// a plain line goes straight to a record (<see cref="TryAdd"/>), without the values every
        /// format can have.
        /// </summary>
        public readonly bool Direct;
        private readonly bool _identity;   // Apache's %l: a field of its own, between spaces
        private readonly byte[] _after;    // the literal after the bytes ("" when the line ends there)
        private readonly bool _bytesLast;  // the bytes end the line
        private readonly int _hostRank, _userRank, _timeRank, _requestRank, _statusRank, _bytesRank;
        private readonly Step[] _steps;

        private Prefix(bool identity, byte[] after, bool bytesLast, Step[] steps)
        {
            Steps = identity ? 7 : 6;
            _identity = identity;
            _after = after;
            _bytesLast = bytesLast;
            _steps = steps;
            Direct = steps.Skip(Steps).All(s =>
                (s.Stop == Stop.Quoted && (!s.Keep || s.Field.Kind == FieldKind.Skip)
                 && s.Field.Kind is FieldKind.Skip or FieldKind.Referer or FieldKind.UserAgent or FieldKind.VirtualHost
                 && s.Next.Length > 0 && s.Next[0] == (byte)'"')
                || (!s.Keep && s.Stop is Stop.Free or Stop.Last or Stop.Upstream
                    && s.Field.Kind is FieldKind.Seconds or FieldKind.Millis or FieldKind.Micros or FieldKind.Upstream));
            var at = 0;
            _hostRank = steps[at++].Field.Rank;
            if (identity) at++;
            _userRank = steps[at++].Field.Rank;
            _timeRank = steps[at++].Field.Rank;
            _requestRank = steps[at++].Field.Rank;
            _statusRank = steps[at++].Field.Rank;
            _bytesRank = steps[at].Field.Rank;
        }

        public static Prefix Of(byte[][] literals, Step[] steps)
        {
            if (literals[0].Length != 0 || steps.Length < 6) return default;
            var at = 0;
            bool Is(FieldKind kind, ReadOnlySpan<byte> next, Stop stop = Stop.Free)
            {
                if (at >= steps.Length || steps[at].Field.Kind != kind || steps[at].Stop != stop || steps[at].Field.Clock is not null
                    || !steps[at].Next.AsSpan().SequenceEqual(next))
                    return false;
                at++;
                return true;
            }
            bool identity;
            if (Is(FieldKind.Host, " - "u8)) identity = false;
            else if (Is(FieldKind.Host, " "u8) && Is(FieldKind.Skip, " "u8)) identity = true;
            else return default;
            if (!(Is(FieldKind.User, " ["u8, Stop.BeforeTime) && Is(FieldKind.TimeLocal, "] \""u8, Stop.TimeLocal)
                  && Is(FieldKind.Request, "\" "u8, Stop.Quoted) && Is(FieldKind.Status, " "u8))
                || at >= steps.Length || steps[at].Field.Kind != FieldKind.Bytes)
                return default;
            var bytes = steps[at];
            // The bytes end where the literal after them begins: found after the digits only when it
            // cannot start with a digit or '-' (else the general loop's first occurrence could differ).
            var last = bytes.Stop == Stop.Last && bytes.Next.Length == 0;
            if (!last && (bytes.Stop != Stop.Free || bytes.Next.Length == 0 || char.IsAsciiDigit((char)bytes.Next[0])
                          || bytes.Next[0] == (byte)'-'))
                return default;
            return new Prefix(identity, bytes.Next, last, steps);
        }

        /// <summary>Reads the prefix of a plain line into <paramref name="set"/>; <paramref name="pos"/> is where the next step starts.</summary>
        public bool TryRead(ReadOnlySpan<byte> line, MinuteCache minutes, ref FieldSet set, out int pos)
        {
            pos = 0;
            if (!TryScan(line, minutes, out var v)) return false;
            set.TakePrefix(line[..v.HostEnd], _hostRank, line.Slice(v.UserStart, v.UserLength), _userRank, v.Time, _timeRank,
                line.Slice(v.RequestStart, v.RequestLength), _requestRank, v.Status, _statusRank, v.Bytes, _bytesRank);
            pos = v.End;
            return true;
        }

        /// <summary>
        /// <see cref="TryRead"/> for a format that is this prefix and quoted texts no reader wants
        /// (<see cref="Direct"/>), straight to a record: true when the line was plain and made one.
        /// </summary>
        public bool TryAdd(ReadOnlySpan<byte> line, MinuteCache minutes, BatchBuilder builder, long number,
            QuoteMap? quotes = null, int offset = 0)
        {
            if (!TryScan(line, minutes, out var v, quotes, offset)) return false;
            var at = v.End;
            for (var step = Steps; step < _steps.Length; step++)
            {
                ref readonly var s = ref _steps[step];
                var next = s.Next;
                int end;
                if (s.Stop == Stop.Quoted)
                {
                    // A quoted text, to the first quote with no backslash before it.
                    end = QuoteOrBackslash(line, at, quotes, offset);
                    if (end < 0 || line[end] != (byte)'"') return false;
                }
                else
                {
                    // A time no reader wants: ended and checked as the general loop does, not converted.
                    end = s.Stop == Stop.Upstream ? FieldValues.UpstreamEnd(line, at)
                        : s.Stop == Stop.Last ? LastEnd(line, at, next, out _)
                        : FreeEnd(line, at, next, out _);
                    var value = line[at..end];
                    var valid = s.Field.Kind switch
                    {
                        FieldKind.Seconds => FieldValues.IsSeconds(value),
                        FieldKind.Upstream => FieldValues.TryUpstreamSeconds(value, convert: false, out _),
                        _ => FieldValues.IsDash(value) || FieldValues.TryDigits(value, out _), // milli- or microseconds
                    };
                    if (!valid) return false;
                }
                if (!StartsAt(line, end, next)) return false;
                at = end + next.Length;
            }
            if (at != line.Length) return false;
            if (!FieldValues.TrySplitPlain(line.Slice(v.RequestStart, v.RequestLength), out var method, out var path)) return false;
            return builder.AddPlain(v.Time, line[..v.HostEnd], v.UserLength == 0 ? FieldValues.Dash : line.Slice(v.UserStart, v.UserLength),
                method, path[..LogAlert.Core.RecordModule.SectionLength(path)], v.Status, v.Bytes, number);
        }

        /// <summary>What <see cref="TryScan"/> found: where the texts stand in the line, and the values.</summary>
        private struct Values
        {
            public int HostEnd, UserStart, UserLength, RequestStart, RequestLength, Status, End;
            public long Time, Bytes;
        }

        /// <summary>The first quote or backslash of <paramref name="line"/> at or after <paramref name="at"/>, -1 when none: from the chunk's map when there is one.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        private static int QuoteOrBackslash(ReadOnlySpan<byte> line, int at, QuoteMap? quotes, int offset)
        {
            if (quotes is not null)
            {
                var found = quotes.NextQuote(offset + at, offset + line.Length);
                return found < 0 ? -1 : found - offset;
            }
            var i = line[at..].IndexOfAny((byte)'"', (byte)'\\');
            return i < 0 ? -1 : at + i;
        }

        private bool TryScan(ReadOnlySpan<byte> line, MinuteCache minutes, out Values v, QuoteMap? quotes = null, int offset = 0)
        {
            v = default;
            var hostEnd = line.IndexOfAny((byte)' ', (byte)'\\');
            if (hostEnd <= 0 || line[hostEnd] != (byte)' ') return false;
            var at = hostEnd + 1;
            if (_identity)
            {
                var skip = line[at..].IndexOfAny((byte)' ', (byte)'\\');
                if (skip < 0 || line[at + skip] != (byte)' ') return false;
                at += skip + 1;
            }
            else
            {
                if (at + 1 >= line.Length || line[at] != (byte)'-' || line[at + 1] != (byte)' ') return false;
                at += 2;
            }
            var userStart = at;
            var userLength = line[at..].IndexOfAny((byte)' ', (byte)'\\');
            if (userLength < 0 || line[at + userLength] != (byte)' ') return false;
            at += userLength + 1;
            if (at >= line.Length || line[at] != (byte)'[') return false;
            at++;
            if (minutes.Read(line[at..], out var time) != TimeRead.Ok) return false;
            at += FieldValues.TimeLocalLength;
            if (at + 3 > line.Length || line[at] != (byte)']' || line[at + 1] != (byte)' ' || line[at + 2] != (byte)'"') return false;
            at += 3;
            var requestStart = at;
            var requestEnd = QuoteOrBackslash(line, at, quotes, offset);
            if (requestEnd < 0 || line[requestEnd] != (byte)'"') return false;
            var requestLength = requestEnd - at;
            at += requestLength + 1;
            if (at + 5 > line.Length || line[at] != (byte)' ' || line[at + 4] != (byte)' ') return false;
            var d0 = (uint)(line[at + 1] - '1');
            var d1 = (uint)(line[at + 2] - '0');
            var d2 = (uint)(line[at + 3] - '0');
            if (d0 > 4 || d1 > 9 || d2 > 9) return false; // 100..599
            var status = (int)((d0 + 1) * 100 + d1 * 10 + d2);
            at += 5;
            long bytes = 0;
            var bytesStart = at;
            if (at < line.Length && line[at] == (byte)'-') at++;
            else
            {
                while (at < line.Length && (uint)(line[at] - '0') <= 9)
                {
                    bytes = bytes * 10 + (line[at] - '0');
                    at++;
                }
                // 15 digits stay below Bounds.MaxBytes (2^50); more are for the general loop to judge.
                if (at == bytesStart || at - bytesStart > 15) return false;
            }
            if (_bytesLast)
            {
                if (at != line.Length) return false;
            }
            else
            {
                if (!StartsAt(line, at, _after)) return false;
                at += _after.Length;
            }
            v.HostEnd = hostEnd;
            v.UserStart = userStart;
            v.UserLength = userLength;
            v.Time = time;
            v.RequestStart = requestStart;
            v.RequestLength = requestLength;
            v.Status = status;
            v.Bytes = bytes;
            v.End = at;
            return true;
        }
    }

    /// <summary>
    /// Adds the record of a plain line straight to <paramref name="builder"/>, when the format allows
    /// it (see <c>Prefix.Direct</c>); false when it did not (the format, or a line that is not
    /// plain), and the line is for <see cref="TryParse(ReadOnlySpan{byte}, MinuteCache, out AccessFields, out string?)"/>.
    /// </summary>
    internal bool TryAddPlain(ReadOnlySpan<byte> line, MinuteCache minutes, BatchBuilder builder, long number)
    {
        if (!_prefix.Direct) return false;
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        return _prefix.TryAdd(line, minutes, builder, number);
    }

    /// <summary>
    /// <see cref="TryAddPlain(ReadOnlySpan{byte}, MinuteCache, BatchBuilder, long)"/> for a line that
    /// stands at <paramref name="offset"/> in a chunk indexed by <paramref name="quotes"/>.
    /// </summary>
    internal bool TryAddPlain(ReadOnlySpan<byte> line, MinuteCache minutes, BatchBuilder builder, long number, QuoteMap quotes, int offset)
    {
        if (!_prefix.Direct) return false;
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        return _prefix.TryAdd(line, minutes, builder, number, quotes, offset);
    }

    /// <summary>Whether plain lines of this template go straight to records, so that a chunk is worth indexing (<see cref="QuoteMap"/>).</summary>
    internal bool ReadsDirect => _prefix.Direct;

    /// <summary>Matches <paramref name="literal"/> at <paramref name="pos"/>; the reason names the first byte that differs.</summary>
    // Literals are a few bytes: compared in place, without a call, on every line.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Literal(ReadOnlySpan<byte> line, ref int pos, byte[] literal, [NotNullWhen(false)] out string? reason)
    {
        reason = null;
        var n = literal.Length;
        if (n == 0) return true;
        var at = pos;
        if ((uint)(at + n) <= (uint)line.Length)
        {
            var k = 0;
            while (k < n && line[at + k] == literal[k]) k++;
            if (k == n)
            {
                pos = at + n;
                return true;
            }
        }
        reason = Mismatch(line, at, literal);
        return false;
    }

    private static string Mismatch(ReadOnlySpan<byte> line, int pos, byte[] literal)
    {
        var same = line[pos..].CommonPrefixLength(literal);
        var at = pos + same;
        var expected = Encoding.UTF8.GetString(literal.AsSpan(same)).Replace("\"", "\\\"");
        return at == line.Length
            ? $"expected \"{expected}\" at column {at + 1}, found the end of the line"
            : $"expected \"{expected}\" at column {at + 1}";
    }

    /// <summary>
    /// Where a list followed by a single space ends (<see cref="Stop.List"/>): spaces next to a comma
    /// (<c>502, 200</c>, or a client's X-Forwarded-For as it sent it: <c>a , b</c>, <c>a,  b</c>) or
    /// around a colon (<c>a : b</c>) separate its entries. An entry list without spaces
    /// (<c>1.1.1.1,2.2.2.2</c>) ends at the space. Only <c>", "</c> was taken once, and a client that
    /// wrote <c>a , b</c> made the next field (the client's address) <c>", b 10.0.0.1"</c>.
    /// </summary>
    private static int ListEnd(ReadOnlySpan<byte> line, int pos)
    {
        var i = pos;
        while (true)
        {
            var space = line[i..].IndexOf((byte)' ');
            if (space < 0) return line.Length;
            i += space;
            var after = i + 1;
            while (after < line.Length && line[after] == ' ') after++;
            if ((i > pos && line[i - 1] == ',') || (after < line.Length && line[after] == ',')) i = after;
            else if (line[i..].StartsWith(" : "u8)) i += 3;
            else return i;
        }
    }

    /// <summary>
    /// Where a request not between quotes ends (<see cref="Stop.Request"/>): <c>GET /a HTTP/1.1</c> has
    /// spaces of its own, and at the first one the status was looked for in the URI ("status "/a" is
    /// not an integer", every line). At the end of its first word that starts with <c>HTTP/</c> after a
    /// space, before any quote (whatever the target, <c>CONNECT host:443</c>, and a target with a space
    /// in it, as nginx logs a bad request's); else after the method and the next word when that is a
    /// URI (it starts with <c>/</c>, is <c>*</c> or has <c>://</c>: HTTP/0.9's <c>GET /a</c>); else
    /// after the method alone (a probe's garbage).
    /// </summary>
    private static int RequestEnd(ReadOnlySpan<byte> line, int pos)
    {
        static int WordEnd(ReadOnlySpan<byte> line, int at) => line[at..].IndexOf((byte)' ') is var space and >= 0 ? at + space : line.Length;
        var rest = line[pos..];
        var quote = rest.IndexOf((byte)'"');
        var protocol = (quote < 0 ? rest : rest[..quote]).IndexOf(" HTTP/"u8);
        // Not past a status: HTTP/0.9's "GET /a 400 HTTP/1.1" (a $server_protocol after the status)
        // took "/a 400" for the target.
        if (protocol > 0 && !HasStatusWord(rest[..protocol])) return WordEnd(line, pos + protocol + 1);
        var method = WordEnd(line, pos);
        if (method + 1 >= line.Length) return method;
        var target = WordEnd(line, method + 1);
        var uri = line[(method + 1)..target];
        return uri is [(byte)'/', ..] or [(byte)'*'] || uri.IndexOf("://"u8) > 0 ? target : method;
    }

    /// <summary>Whether a word after the first of <paramref name="words"/> is three digits, as a status is.</summary>
    private static bool HasStatusWord(ReadOnlySpan<byte> words)
    {
        var first = true;
        foreach (var range in words.Split((byte)' '))
        {
            var word = words[range];
            if (!first && word.Length == 3 && !word.ContainsAnyExceptInRange((byte)'0', (byte)'9')) return true;
            first = false;
        }
        return false;
    }

    /// <summary>
    /// Where a host followed by a literal that starts with a colon ends (<see cref="Stop.HostColon"/>):
    /// at the next literal, as any field, unless the host is an IPv6 address (nginx writes it without
    /// brackets, <c>2001:db8::7:54321</c>): then at the last colon whose text before it is one.
    /// </summary>
    private static int HostColonEnd(ReadOnlySpan<byte> line, int pos, byte[] next, out bool escaped)
    {
        // A bracketed IPv6 address (a Host header's `[::1]`, Apache's `%a` in brackets) ends at its
        // bracket: at the first colon, `$host:$server_port` read the virtual host `[`.
        if (pos < line.Length && line[pos] == '[' && line[pos..].IndexOf((byte)']') is var close and > 0
            && line[(pos + close + 1)..].StartsWith(next))
        {
            escaped = false;
            return pos + close + 1;
        }
        var free = FreeEnd(line, pos, next, out escaped);
        // A name or an IPv4 address has no colon: its first colon ends it. An IPv6 address has hex
        // digits before its first colon (or none: ::1), and more colons after it.
        var before = line[pos..free];
        if (free >= line.Length || before.IndexOfAnyExcept("0123456789abcdefABCDEF"u8) >= 0) return free;
        var word = line[pos..].IndexOfAny((byte)' ', (byte)'"');
        var text = line[pos..(word < 0 ? line.Length : pos + word)];
        Span<char> chars = stackalloc char[Math.Min(text.Length, 64)];
        var end = free;
        for (var c = 1; c < text.Length && c <= 64; c++)
        {
            if (text[c] != ':' || c + 1 >= text.Length || !char.IsAsciiDigit((char)text[c + 1])) continue;
            for (var k = 0; k < c; k++) chars[k] = (char)text[k];
            if (System.Net.IPAddress.TryParse(chars[..c], out var address)
                && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
                end = pos + c;
        }
        return end;
    }

    /// <summary>
    /// Where a host followed at once by a request URI ends (<see cref="Stop.Slash"/>): at the first
    /// <c>/</c> before the text that follows the URI (<paramref name="afterUri"/>); with none, before a
    /// URI of <c>-</c> or <c>*</c> (a request nginx could not read, <c>OPTIONS *</c>) that ends there;
    /// -1 when neither.
    /// </summary>
    private static int SlashEnd(ReadOnlySpan<byte> line, int pos, byte[] afterUri)
    {
        var region = afterUri.Length == 0 ? line.Length - pos : line[pos..].IndexOf(afterUri);
        if (region < 0) region = line.Length - pos;
        var slash = line.Slice(pos, region).IndexOf((byte)'/');
        if (slash >= 0) return pos + slash;
        return region > 0 && line[pos + region - 1] is (byte)'-' or (byte)'*' ? pos + region - 1 : -1;
    }

    /// <summary>
    /// Where a quoted field of text as logged ends (<see cref="Literally"/>): the first <c>"</c> from
    /// <paramref name="pos"/> at which <paramref name="next"/> (which starts with that quote) stands,
    /// ending the line when the field is the <paramref name="last"/>; -1 when there is none.
    /// </summary>
    private static int LiteralQuotedEnd(ReadOnlySpan<byte> line, int pos, byte[] next, bool last)
    {
        for (var i = pos; i < line.Length; i++)
        {
            var quote = line[i..].IndexOf((byte)'"');
            if (quote < 0) return -1;
            i += quote;
            if (line[i..].StartsWith(next) && (!last || i + next.Length == line.Length)) return i;
        }
        return -1;
    }

    /// <summary>
    /// The first <c>"</c> at or after <paramref name="pos"/> that no backslash escapes; -1 when none.
    /// <paramref name="escaped"/>: whether a backslash came before it.
    /// </summary>
    private static int QuotedEnd(ReadOnlySpan<byte> line, int pos, out bool escaped)
    {
        escaped = false;
        var i = pos;
        while (true)
        {
            var stop = line[i..].IndexOfAny((byte)'"', (byte)'\\');
            if (stop < 0) return -1;
            i += stop;
            if (line[i] == '"') return i;
            escaped = true;
            i += 2; // the backslash and the byte it escapes
            if (i >= line.Length) return -1;
        }
    }

    /// <summary>
    /// The next occurrence of <paramref name="next"/>, else of its first byte, else the end of the line.
    /// <paramref name="escaped"/>: whether a backslash may come before it.
    /// </summary>
    private static int FreeEnd(ReadOnlySpan<byte> line, int pos, byte[] next, out bool escaped)
    {
        escaped = true;
        if (next.Length == 0) return line.Length;
        // The fields that end at a literal are short (a host, a status, a byte count): a loop over
        // their bytes finds the end sooner than a vectorised search would start.
        escaped = false;
        var first = next[0];
        var firstAt = -1;
        for (var i = pos; i < line.Length; i++)
        {
            var b = line[i];
            if (b == first)
            {
                if (next.Length == 1 || line[i..].StartsWith(next)) return i;
                if (firstAt < 0) firstAt = i;
            }
            if (b == (byte)'\\') escaped = true;
        }
        escaped = true;
        return firstAt < 0 ? line.Length : firstAt;
    }

    /// <summary>
    /// Where a field followed by <paramref name="next"/> and then the time <paramref name="time"/> ends
    /// (<see cref="Stop.BeforeTime"/>): at the first occurrence of <paramref name="next"/> after which
    /// the time reads, else where <see cref="FreeEnd"/> ends it (and the time's reason says why).
    /// nginx logs <c>$remote_user</c> from any client's <c>Authorization: Basic</c> header as sent,
    /// spaces and brackets included: a user <c>x [</c> ended at its own <c> [</c>, and every line of
    /// a client that sent it was bad (with <c>auto</c>, five such lines first refused the input). A
    /// Basic user cannot hold a colon, so it cannot hold a time.
    /// </summary>
    private static int BeforeTimeEnd(ReadOnlySpan<byte> line, int pos, byte[] next, Field time, MinuteCache minutes, out bool escaped)
    {
        var end = FreeEnd(line, pos, next, out escaped);
        // Not past a quote: the servers escape a quote in the user (nginx \x22, Apache \"), and one
        // after the time (the request's) may hold " [" and a time of its own.
        var quote = line[pos..].IndexOf((byte)'"');
        var bound = quote < 0 ? line.Length : pos + quote;
        for (var at = end; at < bound && line[at..].StartsWith(next);)
        {
            var rest = line[(at + next.Length)..];
            var read = time.Clock is { } clock ? clock.Read(rest, out _, out _) : minutes.Read(rest, out _);
            if (read != TimeRead.Malformed)
            {
                if (at != end) escaped = line[pos..at].Contains((byte)'\\');
                return at;
            }
            var later = line[(at + 1)..bound].IndexOf(next);
            if (later < 0) break;
            at += 1 + later;
        }
        return end;
    }

    /// <summary>
    /// Whether <paramref name="literal"/> stands in <paramref name="line"/> at <paramref name="at"/>.
    /// The literals between fields are one to three bytes (<c>" "</c>, <c>"\" \""</c>): compared
    /// here, inline, rather than by a call to the vectorised <c>SequenceEqual</c> for each, five a line.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool StartsAt(ReadOnlySpan<byte> line, int at, byte[] literal)
    {
        if ((uint)at > (uint)line.Length || line.Length - at < literal.Length) return false;
        return literal.Length switch
        {
            0 => true,
            1 => line[at] == literal[0],
            2 => line[at] == literal[0] && line[at + 1] == literal[1],
            3 => line[at] == literal[0] && line[at + 1] == literal[1] && line[at + 2] == literal[2],
            _ => line.Slice(at, literal.Length).SequenceEqual(literal),
        };
    }

    /// <summary>The last field ends where the final literal ends the line (so it may contain that literal).</summary>
    private static int LastEnd(ReadOnlySpan<byte> line, int pos, byte[] next, out bool escaped)
    {
        escaped = true;
        return line.Length - next.Length >= pos && line.EndsWith(next) ? line.Length - next.Length : FreeEnd(line, pos, next, out escaped);
    }

    /// <summary>Reads a format string into literals and fields, and checks that it gives what a record needs.</summary>
    private sealed class Builder(LogFormatSyntax syntax)
    {
        public readonly List<byte[]> Literals = [];
        public readonly List<Field> Fields = [];
        private readonly StringBuilder _literal = new();
        private string? _clockNote;

        public string? ReadNginx(string format)
        {
            for (var i = 0; i < format.Length; i++)
            {
                var c = format[i];
                if (c == '\\')
                {
                    if (Escape(format, ref i) is { } bad) return bad;
                    continue;
                }
                if (c != '$')
                {
                    _literal.Append(c);
                    continue;
                }
                string name;
                var start = i;
                if (i + 1 < format.Length && format[i + 1] == '{')
                {
                    var close = format.IndexOf('}', i + 2);
                    if (close < 0) return $"unclosed \"${{\" at column {start + 1}";
                    name = format[(i + 2)..close];
                    if (name.Length == 0 || !name.All(IsNameChar))
                        return $"\"${{{name}}}\" at column {start + 1} is not a variable name (letters, digits and _)";
                    i = close;
                }
                else
                {
                    var j = i + 1;
                    while (j < format.Length && IsNameChar(format[j])) j++;
                    if (j == i + 1) return $"\"$\" at column {start + 1} is not followed by a variable name";
                    name = format[(i + 1)..j];
                    i = j - 1;
                }
                // nginx variable names are not case-sensitive.
                var (kind, rank) = name.ToLowerInvariant() switch
                {
                    "remote_addr" => (FieldKind.Host, 0),
                    "remote_user" => (FieldKind.User, 0),
                    "time_local" => (FieldKind.TimeLocal, 0),
                    "time_iso8601" => (FieldKind.TimeIso, 0),
                    "msec" => (FieldKind.Msec, 0),
                    "request" => (FieldKind.Request, 0),
                    "request_method" => (FieldKind.Method, 0),
                    "request_uri" => (FieldKind.Path, 1),
                    "uri" or "document_uri" => (FieldKind.Path, 0),
                    "status" => (FieldKind.Status, 0),
                    "body_bytes_sent" => (FieldKind.Bytes, 1),
                    "bytes_sent" => (FieldKind.Bytes, 0),
                    "request_time" => (FieldKind.Seconds, 0),
                    "upstream_response_time" => (FieldKind.Upstream, 0),
                    "http_referer" => (FieldKind.Referer, 0),
                    "http_user_agent" => (FieldKind.UserAgent, 0),
                    "host" => (FieldKind.VirtualHost, 1),
                    "server_name" => (FieldKind.VirtualHost, 0),
                    _ => (FieldKind.Skip, 0),
                };
                var list = name.ToLowerInvariant() is "upstream_addr" or "upstream_status" or "upstream_connect_time"
                    or "upstream_header_time" or "upstream_queue_time" or "upstream_response_length" or "upstream_bytes_received"
                    or "upstream_bytes_sent" or "http_x_forwarded_for" or "proxy_add_x_forwarded_for";
                if (Add(new Field(kind, rank, "$" + name) { List = list }) is { } error) return error;
            }
            return null;
        }

        private static bool IsNameChar(char c) => c == '_' || char.IsAsciiLetterOrDigit(c);

        // Apache's own example of a time with milliseconds, %{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t, is one
        // time in three directives: none of them alone is a time with an offset. A run of %{…}t
        // directives with at most a few bytes of text between them is read as one (the merged one
        // named in messages as written).
        private static readonly System.Text.RegularExpressions.Regex TimeRun = new(
            @"%[<>]?\{[^}]*\}t(?:[^%\\""]{0,3}%[<>]?\{[^}]*\}t)+", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        private static readonly System.Text.RegularExpressions.Regex TimePiece = new(
            @"(?<text>[^%\\""]{0,3})%[<>]?\{(?:begin:|end:)?(?<p>[^}]*)\}t", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        private readonly Dictionary<string, string> _mergedTimes = [];

        private string MergeTimes(string format) => TimeRun.Replace(format, run =>
        {
            var merged = new StringBuilder();
            var strftime = false;
            foreach (System.Text.RegularExpressions.Match piece in TimePiece.Matches(run.Value))
            {
                merged.Append(piece.Groups["text"].Value);
                switch (piece.Groups["p"].Value)
                {
                    case "sec" or "msec" or "usec": return run.Value; // a whole time of its own
                    case "msec_frac": merged.Append(ClockFormat.Millis); break;
                    case "usec_frac": merged.Append(ClockFormat.Micros); break;
                    case var p:
                        merged.Append(p);
                        strftime = true;
                        break;
                }
            }
            if (!strftime) return run.Value;
            var directive = "%{" + merged + "}t";
            _mergedTimes[directive] = run.Value;
            return directive;
        });

        public string? ReadApache(string format)
        {
            format = MergeTimes(format);
            for (var i = 0; i < format.Length; i++)
            {
                var c = format[i];
                if (c == '\\')
                {
                    if (Escape(format, ref i) is { } bad) return bad;
                    continue;
                }
                if (c != '%')
                {
                    _literal.Append(c);
                    continue;
                }
                var start = i;
                string? param = null;
                var final = false;
                // Between % and the letter: a {parameter}, < or > (original or final request), and
                // status conditions such as !200,304: in any order, as Apache reads them.
                while (true)
                {
                    if (++i == format.Length) return $"\"%\" at column {start + 1} is not followed by a directive";
                    c = format[i];
                    if (c == '%' && i == start + 1)
                    {
                        _literal.Append('%');
                        break;
                    }
                    if (c == '{')
                    {
                        var close = format.IndexOf('}', i + 1);
                        if (close < 0) return $"unclosed \"%{{\" at column {i + 1}";
                        param = format[(i + 1)..close];
                        i = close;
                        continue;
                    }
                    if (c is '<' or '>' or '!' or ',' || char.IsAsciiDigit(c))
                    {
                        final |= c == '>';
                        continue;
                    }
                    var directive = c.ToString();
                    if (c == '^')
                    {
                        if (i + 2 >= format.Length || format.Substring(i + 1, 2) is not ("ti" or "to"))
                            return $"unknown directive \"{format[start..Math.Min(format.Length, i + 3)]}\" at column {start + 1}";
                        directive = "^" + format.Substring(i + 1, 2);
                        i += 2;
                    }
                    var name = format[start..(i + 1)];
                    if (_mergedTimes.TryGetValue(name, out var written)) name = written;
                    var field = Directive(directive, param, final, name, out var error);
                    if (error is not null) return $"{error} at column {start + 1}";
                    if (field is not null && Add(field) is { } adjacent) return adjacent;
                    break;
                }
            }
            return null;
        }

        /// <summary>The field of an Apache directive; null for <c>%t</c>, which it adds itself (as <c>[</c>, time, <c>]</c>).</summary>
        private Field? Directive(string directive, string? param, bool final, string name, out string? error)
        {
            error = null;
            switch (directive)
            {
                case "h":
                    return new Field(FieldKind.Host, 0, name);
                // %a is the client (as mod_remoteip sees it, behind a proxy); %{c}a the connection's
                // peer, the proxy: with both, or with %h, the client is %a.
                case "a":
                    return new Field(FieldKind.Host, param is null ? 1 : 0, name);
                case "u": return new Field(FieldKind.User, 0, name);
                case "r": return new Field(FieldKind.Request, 0, name);
                case "m": return new Field(FieldKind.Method, 0, name);
                case "U": return new Field(FieldKind.Path, 0, name);
                case "s": return new Field(FieldKind.Status, final ? 1 : 0, name);
                case "b":
                case "B":
                    return new Field(FieldKind.Bytes, 1, name);
                case "O": return new Field(FieldKind.Bytes, 0, name);
                case "D": return new Field(FieldKind.Micros, 1, name);
                case "T":
                    switch (param)
                    {
                        case null or "s": return new Field(FieldKind.Seconds, 0, name);
                        case "ms": return new Field(FieldKind.Millis, 1, name);
                        case "us": return new Field(FieldKind.Micros, 1, name);
                        default:
                            error = $"\"{name}\" has unit \"{param}\", not s, ms or us";
                            return null;
                    }
                case "v":
                case "V":
                    return new Field(FieldKind.VirtualHost, 0, name);
                case "i":
                    if (param is null)
                    {
                        error = $"\"{name}\" names no header (as in %{{Referer}}i)";
                        return null;
                    }
                    return param.ToLowerInvariant() switch
                    {
                        "referer" => new Field(FieldKind.Referer, 0, name),
                        "user-agent" => new Field(FieldKind.UserAgent, 0, name),
                        "host" => new Field(FieldKind.VirtualHost, 1, name),
                        "x-forwarded-for" => new Field(FieldKind.Skip, 0, name) { List = true },
                        _ => new Field(FieldKind.Skip, 0, name),
                    };
                case "t":
                    return Time(param, name, out error);
                case "A" or "C" or "e" or "f" or "H" or "k" or "l" or "L" or "n" or "o" or "p" or "P" or "q" or "R"
                    or "X" or "I" or "S" or "M" or "^ti" or "^to":
                    return new Field(FieldKind.Skip, 0, name);
                default:
                    error = $"unknown directive \"{name}\"";
                    return null;
            }
        }

        private Field? Time(string? param, string name, out string? error)
        {
            error = null;
            if (param is null)
            {
                // %t is [dd/Mon/yyyy:HH:MM:SS ±hhmm] with its brackets: as literals, they are checked as such.
                _literal.Append('[');
                if (Add(new Field(FieldKind.TimeLocal, 0, name)) is { } adjacent)
                {
                    error = adjacent;
                    return null;
                }
                _literal.Append(']');
                return null;
            }
            var format = param;
            foreach (var prefix in new[] { "begin:", "end:" })
                if (format.StartsWith(prefix, StringComparison.Ordinal)) format = format[prefix.Length..];
            switch (format)
            {
                case "sec": return new Field(FieldKind.EpochSeconds, 0, name);
                case "msec": return new Field(FieldKind.EpochMillis, 0, name);
                case "usec": return new Field(FieldKind.EpochMicros, 0, name);
                case "msec_frac" or "usec_frac": return new Field(FieldKind.Skip, 0, name);
            }
            if (ClockFormat.TryCompile(format, out var why) is { } clock)
                return new Field(FieldKind.Clock, 0, name) { Clock = clock };
            _clockNote ??= $"{name} cannot be read as log time: {why}";
            return new Field(FieldKind.Skip, 0, name);
        }

        /// <summary><c>\"</c>, <c>\'</c>, <c>\\</c> and <c>\t</c> as the config file means them; a line break cannot be in a line.</summary>
        private string? Escape(string format, ref int i)
        {
            if (i + 1 == format.Length)
            {
                _literal.Append('\\');
                return null;
            }
            var c = format[i + 1];
            switch (c)
            {
                case '"' or '\'' or '\\':
                    _literal.Append(c);
                    break;
                case 't':
                    _literal.Append('\t');
                    break;
                case 'n' or 'r':
                    return $"\"\\{c}\" at column {i + 1} is a line break, which a line cannot contain";
                default:
                    _literal.Append('\\');
                    return null;
            }
            i++;
            return null;
        }

        private string? Add(Field field)
        {
            if (Fields.Count > 0 && _literal.Length == 0)
            {
                // The idioms %U%q and $uri$is_args$args log a path and its query as one text.
                if (Fields[^1].Kind == FieldKind.Path
                    && field.Name.ToLowerInvariant() is "%q" or "$is_args" or "$args" or "$query_string")
                {
                    Fields[^1] = Fields[^1] with { Name = Fields[^1].Name + field.Name };
                    return null;
                }
                // $scheme://$host$request_uri: a request URI starts with "/", which a host has not.
                if (field.Kind == FieldKind.Path && (field.Name == "%U" || field.Name.ToLowerInvariant() is "$request_uri" or "$uri" or "$document_uri")
                    && Fields[^1].Kind is FieldKind.VirtualHost or FieldKind.Skip && !Fields[^1].List)
                {
                    Fields[^1] = Fields[^1] with { EndsAtSlash = true };
                    Literals.Add([]);
                    Fields.Add(field);
                    return null;
                }
                return $"{Fields[^1].Name} and {field.Name} have no text between them, so where one ends and the other begins is unknown";
            }
            Literals.Add(Encoding.UTF8.GetBytes(_literal.ToString()));
            _literal.Clear();
            Fields.Add(field);
            return null;
        }

        /// <summary>Closes the last literal; says what the format lacks, if anything.</summary>
        public string? Check()
        {
            Literals.Add(Encoding.UTF8.GetBytes(_literal.ToString()));
            _literal.Clear();
            var nginx = syntax == LogFormatSyntax.Nginx;
            if (Fields.Count == 0)
                return nginx
                    ? "the format has no variables ($remote_addr, $status, ...)"
                    : "the format has no directives (%h, %>s, ...)";
            bool Has(params FieldKind[] kinds) => Fields.Any(f => kinds.Contains(f.Kind));
            if (!Has(FieldKind.TimeLocal, FieldKind.TimeIso, FieldKind.Msec, FieldKind.EpochSeconds, FieldKind.EpochMillis,
                    FieldKind.EpochMicros, FieldKind.Clock))
                return (nginx
                    ? "the format gives no time: it needs $time_local, $time_iso8601 or $msec"
                    : "the format gives no time: it needs %t, %{sec}t, %{msec}t, %{usec}t or a %{format}t with a date, time and %z")
                    + (_clockNote is null ? "" : $" ({_clockNote})");
            if (!Has(FieldKind.Status))
                return nginx ? "the format gives no status: it needs $status" : "the format gives no status: it needs %>s or %s";
            if (!Has(FieldKind.Request) && !(Has(FieldKind.Method) && Has(FieldKind.Path)))
                return nginx
                    ? "the format gives no request: it needs $request, or $request_method with $request_uri or $uri"
                    : "the format gives no request: it needs %r, or %m with %U";
            // Quoted: the literal before ends with a quote and the one after starts with one.
            for (var i = 0; i < Fields.Count; i++)
                Fields[i].Quoted = Literals[i] is [.., (byte)'"'] && Literals[i + 1] is [(byte)'"', ..]
                                   && Fields[i].Kind != FieldKind.TimeLocal && Fields[i].Clock is null;
            return null;
        }
    }
}
