using LogAlert.Core;

namespace LogAlert.Cli.Input.Formats;

/// <summary>
/// What one access-log line says, whatever its format: the values a record needs, and a few more
/// that rules may want. The spans point into the line given to the parser (or, for a text that had
/// escapes to undo, into a small array of its own), so they are valid as long as the line is.
/// </summary>
/// <remarks>
/// A request that is not <c>METHOD PATH [HTTP/x]</c> (nginx logs <c>-</c> for a connection closed
/// before the request, and the raw bytes of a TLS handshake sent to a plain-HTTP port) still makes a
/// record: <see cref="Method"/> and <see cref="Path"/> are then both <c>-</c>, and so is the section.
/// A request line whose target is no path (<c>OPTIONS *</c>, <c>CONNECT host:443</c>) keeps its method.
/// Texts are kept as logged: a user, referer or agent of <c>-</c> stays <c>-</c>.
/// </remarks>
public readonly ref struct AccessFields
{
    /// <summary>Log time, Unix seconds (UTC), within <see cref="Bounds.MinTime"/>..<see cref="Bounds.MaxTime"/>.</summary>
    public long Time { get; init; }

    /// <summary>The client (<c>$remote_addr</c>, <c>%h</c>); <c>-</c> when the format has none.</summary>
    public ReadOnlySpan<byte> Host { get; init; }

    /// <summary>The authenticated user (<c>$remote_user</c>, <c>%u</c>); <c>-</c> when none.</summary>
    public ReadOnlySpan<byte> User { get; init; }

    /// <summary>The request method, e.g. <c>GET</c>; <c>-</c> when the request is not a request line.</summary>
    public ReadOnlySpan<byte> Method { get; init; }

    /// <summary>
    /// The request path, starting with <c>/</c> and with its query; an absolute URL's path
    /// (<c>http://h/a/b</c> gives <c>/a/b</c>, <c>http://h</c> gives <c>/</c>); <c>-</c> when the
    /// request is not a request line or its target is no path (<c>*</c>, <c>host:443</c>).
    /// </summary>
    public ReadOnlySpan<byte> Path { get; init; }

    /// <summary>The section of <see cref="Path"/> (docs/semantics.md §1): <c>/api/user?id=3</c> gives <c>/api</c>, <c>-</c> gives <c>-</c>.</summary>
    public ReadOnlySpan<byte> Section => Path.IsEmpty ? Path : Path[..RecordModule.SectionLength(Path)];

    /// <summary>The response status, 100..599.</summary>
    public int Status { get; init; }

    /// <summary>Bytes of the response body (or, when the format logs only that, of the whole response); 0 for <c>-</c>.</summary>
    public long Bytes { get; init; }

    /// <summary>Seconds the request took; <see cref="double.NaN"/> when not logged or logged as <c>-</c>.</summary>
    public double RequestTime { get; init; }

    /// <summary>
    /// Seconds spent waiting for upstream servers, summed over the list nginx logs when a request went
    /// to several (<c>0.002, 0.003</c>; <c>0.002 : 0.003</c> after an internal redirect); entries of
    /// <c>-</c> count nothing. <see cref="double.NaN"/> when not logged or all <c>-</c>.
    /// </summary>
    public double UpstreamResponseTime { get; init; }

    /// <summary>The virtual host (<c>$host</c>, <c>%{Host}i</c>, <c>%v</c>); empty when not logged.</summary>
    public ReadOnlySpan<byte> VirtualHost { get; init; }

    /// <summary>The Referer header as sent (escapes undone); empty when not logged.</summary>
    public ReadOnlySpan<byte> Referer { get; init; }

    /// <summary>The User-Agent header as sent (escapes undone); empty when not logged.</summary>
    public ReadOnlySpan<byte> UserAgent { get; init; }
}

/// <summary>Reads one line of some access-log format into <see cref="AccessFields"/>, or says why it cannot.</summary>
/// <remarks>Implementations keep no state between lines, so one instance serves any number of threads.</remarks>
public interface IAccessLineParser
{
    /// <summary>
    /// Reads <paramref name="line"/> (one line, UTF-8; a trailing <c>\r</c> or <c>\n</c> is ignored).
    /// Allocates nothing unless the line is bad or a text in it has escapes to undo.
    /// </summary>
    /// <param name="line">The line; the spans of <paramref name="fields"/> point into it.</param>
    /// <param name="fields">What the line says, when it returns true.</param>
    /// <param name="reason">Why the line is bad, e.g. <c>expected "[" at column 17</c>, when it returns false.</param>
    bool TryParse(ReadOnlySpan<byte> line, out AccessFields fields, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? reason);
}
