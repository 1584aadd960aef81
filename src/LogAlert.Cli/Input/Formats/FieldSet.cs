using System.Diagnostics.CodeAnalysis;
using LogAlert.Core;

namespace LogAlert.Cli.Input.Formats;

/// <summary>What a field of a format holds, and so how its text is read.</summary>
internal enum FieldKind : byte
{
    /// <summary>A field logalert does not use: matched, then ignored.</summary>
    Skip,
    Host,
    User,
    /// <summary><c>dd/Mon/yyyy:HH:MM:SS ±hhmm</c>.</summary>
    TimeLocal,
    TimeIso,
    /// <summary>Unix seconds with an optional fraction (<c>$msec</c>).</summary>
    Msec,
    EpochSeconds,
    EpochMillis,
    EpochMicros,
    /// <summary>An Apache <c>%{format}t</c> time, read by its <see cref="ClockFormat"/>.</summary>
    Clock,
    Request,
    Method,
    Path,
    Status,
    Bytes,
    Seconds,
    Millis,
    Micros,
    Upstream,
    VirtualHost,
    Referer,
    UserAgent,
}

/// <summary>
/// The values of one line as its fields are met, then checked and put together as
/// <see cref="AccessFields"/>. A format may log a value twice (<c>%s</c> and <c>%>s</c>,
/// <c>$request</c> and <c>$request_uri</c>); each field has a rank, and the value of the
/// highest-ranked field is kept (the later one among equals). Every field is checked, kept or not.
/// </summary>
internal ref struct FieldSet
{
    private enum Role
    {
        Host, User, Time, Request, Method, Path, Status, Bytes, RequestTime, Upstream, VirtualHost, Referer, UserAgent,
    }

    // Four bits a role: 0 when no field gave it yet, else the rank of the one that did, plus one.
    private ulong _ranks;

    private long _time;
    private ReadOnlySpan<byte> _host, _user, _request, _method, _path, _virtualHost, _referer, _userAgent;
    private int _status;
    private long _bytes;
    private double _requestTime, _upstream;

    public readonly bool HasTime => Has(Role.Time);
    public readonly bool HasStatus => Has(Role.Status);

    /// <summary>A request line, or a method and a path: what <see cref="Finish"/> needs.</summary>
    public readonly bool HasRequest => Has(Role.Request) || (Has(Role.Method) && Has(Role.Path));

    private readonly bool Has(Role role) => ((_ranks >> (4 * (int)role)) & 0xF) != 0;

    private bool Claim(Role role, int rank)
    {
        var shift = 4 * (int)role;
        if ((int)((_ranks >> shift) & 0xF) > rank + 1) return false;
        _ranks = (_ranks & ~(0xFUL << shift)) | ((ulong)(rank + 1) << shift);
        return true;
    }

    /// <summary>
    /// Sets the values of a line's first fields, as <see cref="TryTake(FieldKind, int, ReadOnlySpan{byte}, bool, out string?)"/>
    /// would from plain texts (no escapes): for a reader that checked them itself, before any other field.
    /// </summary>
    public void TakePrefix(ReadOnlySpan<byte> host, int hostRank, ReadOnlySpan<byte> user, int userRank, long time, int timeRank,
        ReadOnlySpan<byte> request, int requestRank, int status, int statusRank, long bytes, int bytesRank)
    {
        Claim(Role.Host, hostRank);
        Claim(Role.User, userRank);
        Claim(Role.Time, timeRank);
        Claim(Role.Request, requestRank);
        Claim(Role.Status, statusRank);
        Claim(Role.Bytes, bytesRank);
        _host = host;
        _user = user;
        _time = time;
        _request = request;
        _status = status;
        _bytes = bytes;
    }

    /// <summary>Sets the time from a field that read it itself (the times whose text has spaces).</summary>
    public void TakeTime(long time, int rank)
    {
        if (Claim(Role.Time, rank)) _time = time;
    }

    /// <summary>
    /// Reads <paramref name="value"/> as a field of <paramref name="kind"/>; says why not when it is
    /// not one. With <paramref name="unescape"/>, texts have the server's escapes undone (text
    /// formats); JSON has already undone its own.
    /// </summary>
    public bool TryTake(FieldKind kind, int rank, ReadOnlySpan<byte> value, bool unescape, [NotNullWhen(false)] out string? reason) =>
        TryTake(kind, rank, value, unescape, keep: true, out reason);

    /// <summary>
    /// <see cref="TryTake(FieldKind, int, ReadOnlySpan{byte}, bool, out string?)"/>; without
    /// <paramref name="keep"/>, an extra (<see cref="AccessExtras"/>) that no reader wants is checked
    /// as usual but not kept: a text is neither unescaped nor kept, a time not converted, and
    /// <see cref="Finish"/> gives it as not logged. Whether a line is bad does not depend on it.
    /// The values a record needs are always kept.
    /// </summary>
    public bool TryTake(FieldKind kind, int rank, ReadOnlySpan<byte> value, bool unescape, bool keep,
        [NotNullWhen(false)] out string? reason)
    {
        reason = null;
        if (!keep && kind is FieldKind.VirtualHost or FieldKind.Referer or FieldKind.UserAgent) return true;
        switch (kind)
        {
            case FieldKind.Skip:
                return true;
            case FieldKind.Host:
                if (Claim(Role.Host, rank)) _host = Text(value, unescape);
                return true;
            case FieldKind.User:
                if (Claim(Role.User, rank)) _user = Text(value, unescape);
                return true;
            case FieldKind.Request:
                if (Claim(Role.Request, rank)) _request = Text(value, unescape);
                return true;
            case FieldKind.Method:
                if (Claim(Role.Method, rank)) _method = Text(value, unescape);
                return true;
            case FieldKind.Path:
                if (Claim(Role.Path, rank)) _path = Text(value, unescape);
                return true;
            case FieldKind.VirtualHost:
                // Apache logs '-' for %{Host}i when the request had no Host header: then %v (the
                // server's name, lower in rank) says it. A '-' is kept only while no field named one.
                if (FieldValues.IsDash(value))
                {
                    if (!Has(Role.VirtualHost)) _virtualHost = value;
                }
                else if (Claim(Role.VirtualHost, rank)) _virtualHost = Text(value, unescape);
                return true;
            case FieldKind.Referer:
                if (Claim(Role.Referer, rank)) _referer = Text(value, unescape);
                return true;
            case FieldKind.UserAgent:
                if (Claim(Role.UserAgent, rank)) _userAgent = Text(value, unescape);
                return true;
            case FieldKind.TimeLocal:
                var read = MinuteCache.Current.Read(value, out var local);
                if (value.Length != FieldValues.TimeLocalLength) read = TimeRead.Malformed;
                return Time(read, local, rank, value, TimeLocalShape, out reason);
            case FieldKind.TimeIso:
                return Time(FieldValues.TimeIso(value, out var iso), iso, rank, value, TimeIsoShape, out reason);
            case FieldKind.Msec:
                return Time(FieldValues.Epoch(value, 1, fraction: true, out var msec), msec, rank, value, "Unix seconds", out reason);
            case FieldKind.EpochSeconds:
                return Time(FieldValues.Epoch(value, 1, fraction: false, out var s), s, rank, value, "whole Unix seconds", out reason);
            case FieldKind.EpochMillis:
                return Time(FieldValues.Epoch(value, 1000, fraction: false, out var ms), ms, rank, value, "Unix milliseconds", out reason);
            case FieldKind.EpochMicros:
                return Time(FieldValues.Epoch(value, 1000_000, fraction: false, out var us), us, rank, value, "Unix microseconds", out reason);
            case FieldKind.Status:
                if (!FieldValues.TryDigits(value, out var status))
                {
                    reason = FieldValues.IsWholeNumber(value)
                        ? $"status {FieldValues.Show(value)} is not in 100..599"
                        : $"status {FieldValues.Show(value)} is not an integer";
                    return false;
                }
                if (status is < 100 or > 599)
                {
                    // As logged (digits only here): "099" read "status 99".
                    reason = $"status {System.Text.Encoding.ASCII.GetString(value)} is not in 100..599";
                    return false;
                }
                if (Claim(Role.Status, rank)) _status = (int)status;
                return true;
            case FieldKind.Bytes:
                long bytes = 0;
                if (!FieldValues.IsDash(value) && !FieldValues.TryDigits(value, out bytes))
                {
                    reason = FieldValues.IsWholeNumber(value)
                        ? $"bytes {FieldValues.Show(value)} is {(value[0] == (byte)'-' ? "negative" : $"above the limit of {Bounds.MaxBytes} (1 PiB)")}"
                        : $"bytes {FieldValues.Show(value)} is not an integer or '-'";
                    return false;
                }
                if (bytes > Bounds.MaxBytes)
                {
                    reason = RecordErrorModule.describe(RecordError.NewBadBytes(bytes));
                    return false;
                }
                if (Claim(Role.Bytes, rank)) _bytes = bytes;
                return true;
            case FieldKind.Seconds:
            case FieldKind.Millis:
            case FieldKind.Micros:
                double seconds;
                // nginx's `escape=json` writes a variable with no value as "" where text formats have
                // `-` (`$upstream_response_time` of a request no upstream served): not recorded.
                if (value.IsEmpty) seconds = double.NaN;
                else if (kind == FieldKind.Seconds)
                {
                    if (!keep) return FieldValues.IsSeconds(value) || NotDuration(value, "seconds", out reason);
                    if (!FieldValues.TrySeconds(value, out seconds)) return NotDuration(value, "seconds", out reason);
                }
                else if (FieldValues.IsDash(value)) seconds = double.NaN;
                else if (FieldValues.TryDigits(value, out var count)) seconds = count / (kind == FieldKind.Millis ? 1e3 : 1e6);
                else return NotDuration(value, kind == FieldKind.Millis ? "milliseconds" : "microseconds", out reason);
                if (keep && Claim(Role.RequestTime, rank)) _requestTime = seconds;
                return true;
            case FieldKind.Upstream:
                var upstream = double.NaN; // "" as for a duration above
                if (!value.IsEmpty && !FieldValues.TryUpstreamSeconds(value, convert: keep, out upstream))
                {
                    reason = $"upstream response time {FieldValues.Show(value)} is not a list of seconds or '-'";
                    return false;
                }
                if (keep && Claim(Role.Upstream, rank)) _upstream = upstream;
                return true;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "a time read by a clock format goes to TakeTime");
        }
    }

    private static ReadOnlySpan<byte> Text(ReadOnlySpan<byte> value, bool unescape) =>
        unescape ? FieldValues.Unescape(value) : value;

    private const string TimeLocalShape = "dd/Mon/yyyy:HH:MM:SS ±hhmm";
    private const string TimeIsoShape = "an ISO 8601 time with an offset";

    private bool Time(TimeRead read, long time, int rank, ReadOnlySpan<byte> value, string shape, [NotNullWhen(false)] out string? reason)
    {
        reason = read switch
        {
            TimeRead.Ok => null,
            TimeRead.OutOfRange => RecordErrorModule.describe(RecordError.NewBadTime(time)),
            _ when (shape == TimeLocalShape || shape == TimeIsoShape) && FieldValues.IsNoSuchDay(value, local: shape == TimeLocalShape)
                => $"time {FieldValues.Show(value)} names a day or time of day that does not exist",
            _ => $"time {FieldValues.Show(value)} is not {shape}",
        };
        if (reason is not null) return false;
        TakeTime(time, rank);
        return true;
    }

    private static bool NotDuration(ReadOnlySpan<byte> value, string unit, [NotNullWhen(false)] out string? reason)
    {
        reason = $"request time {FieldValues.Show(value)} is not {unit} or '-'";
        return false;
    }

    /// <summary>
    /// The line's fields, once the caller has made sure the line gave a time, a status and a request
    /// (<see cref="HasTime"/>, <see cref="HasStatus"/>, <see cref="HasRequest"/>). A method and path
    /// logged on their own (<c>$request_method</c>, <c>$request_uri</c>) win over those of the request
    /// line. A method that is not one makes both <c>-</c>, as for a request that is not a request line;
    /// a path that is not one (<c>*</c> of <c>OPTIONS *</c>) makes the path <c>-</c>.
    /// </summary>
    public readonly AccessFields Finish()
    {
        ReadOnlySpan<byte> method = FieldValues.Dash, path = FieldValues.Dash;
        if (Has(Role.Request)) FieldValues.SplitRequest(_request, out method, out path);
        if (Has(Role.Method)) method = _method;
        if (Has(Role.Path)) path = _path;
        // SplitRequest gives a method and path checked (the path '-' when the target is none), or both
        // '-': only fields of their own need checking.
        if (FieldValues.IsDash(method) || (Has(Role.Method) && !FieldValues.IsMethod(method)))
        {
            method = FieldValues.Dash;
            path = FieldValues.Dash;
        }
        else if (Has(Role.Path) && !FieldValues.TryPath(path, out path)) path = FieldValues.Dash;
        return new AccessFields
        {
            Time = _time,
            Host = _host.IsEmpty ? FieldValues.Dash : _host,
            User = _user.IsEmpty ? FieldValues.Dash : _user,
            Method = method,
            Path = path,
            Status = _status,
            Bytes = _bytes,
            RequestTime = Has(Role.RequestTime) ? _requestTime : double.NaN,
            UpstreamResponseTime = Has(Role.Upstream) ? _upstream : double.NaN,
            VirtualHost = _virtualHost,
            Referer = _referer,
            UserAgent = _userAgent,
        };
    }
}
