namespace LogAlert.Core

open System
open System.Collections.Generic

/// The bounds every value the engine folds over stays within, so that no computation on log time
/// or bytes can overflow, however corrupt the input: log time is Unix seconds of the years 1970 to
/// 9999 (what an ISO-8601 time can show), a duration (lateness, skew, a window) is at most 10000
/// years, and the sum of two of them is far inside an `int64`. Byte sums are 128 bits wide (`ByteSum`, `Summary.Bytes`).
[<RequireQualifiedAccess>]
module Bounds =
    /// The first valid second of log time: 1970-01-01T00:00:00Z.
    [<Literal>]
    let MinTime = 0L

    /// The last valid second of log time: 9999-12-31T23:59:59Z.
    [<Literal>]
    let MaxTime = 253402300799L

    /// The longest duration in seconds (10000 years of 365 days): lateness, skew, windows, `For`.
    [<Literal>]
    let MaxDuration = 315360000000L

    /// The largest `bytes` of one record: 2^50, a pebibyte. No response is that large; a larger
    /// value is a corrupt field, not traffic.
    [<Literal>]
    let MaxBytes = 1125899906842624L

    /// The longest request or upstream time a record holds, in microseconds: ten years of 365 days
    /// (docs/semantics.md §1). A larger value is a corrupt field; it is held as this much, so sums
    /// stay far inside 128 bits.
    [<Literal>]
    let MaxDurationMicros = 315360000000000L

    /// The largest line number a record holds: 2^48 - 1 (it shares a word with the input's index).
    [<Literal>]
    let MaxLine = 281474976710655L

    /// The largest index of an input a record holds: 2^15 - 1 inputs.
    [<Literal>]
    let MaxSource = 32767

    /// Whether `second` is valid log time.
    let isValidTime (second: int64) = second >= MinTime && second <= MaxTime

    /// `second` moved into the valid range of log time.
    let clampTime (second: int64) = max MinTime (min MaxTime second)

    /// `seconds` moved into `0 .. MaxDuration`.
    let clampDuration (seconds: int64) = max 0L (min MaxDuration seconds)

/// Durations as Prometheus writes them (`1h30m`, `1d12h`, `1s500ms`, `-5s`), for what is said of a rule's
/// windows and `For`: .NET's own form (`00:00:01.5000000`, `-00:00:05`) is what they said.
[<RequireQualifiedAccess>]
module internal DurationText =
    let private ticksPerMs = TimeSpan.TicksPerMillisecond

    let show (span: TimeSpan) =
        let ticks = span.Ticks
        if ticks = 0L then "0s"
        else
            let sign = if ticks < 0L then "-" else ""
            // Unsigned, so that TimeSpan.MinValue has a magnitude.
            let size = if ticks < 0L then uint64 (-(ticks + 1L)) + 1UL else uint64 ticks
            if size % uint64 ticksPerMs <> 0UL then
                sign + (decimal size / decimal TimeSpan.TicksPerSecond).ToString("0.#######", Globalization.CultureInfo.InvariantCulture) + "s"
            else
                let ms = size / uint64 ticksPerMs
                let day = 86_400_000UL
                // Prometheus's units: a year of 365 days, weeks, days, hours, minutes, seconds, ms.
                let parts =
                    [ ms / (365UL * day), "y"; ms % (365UL * day) / (7UL * day), "w"; ms % (365UL * day) % (7UL * day) / day, "d"
                      ms % day / 3_600_000UL, "h"; ms / 60_000UL % 60UL, "m"; ms / 1000UL % 60UL, "s"; ms % 1000UL, "ms" ]
                    |> List.filter (fun (n, _) -> n > 0UL)
                    |> List.map (fun (n, unit) -> string n + unit)
                sign + String.Concat parts

/// A threshold as a rule's messages, `logalert check` and Alertmanager's annotation say it: the
/// shortest text that reads back as the number, and `+Inf`, `-Inf`, `NaN` as Prometheus writes them
/// (`Above(double.NegativeInfinity)` read "-Infinity").
[<RequireQualifiedAccess>]
module internal NumberText =
    let show (value: float) =
        if Double.IsPositiveInfinity value then "+Inf"
        elif Double.IsNegativeInfinity value then "-Inf"
        elif Double.IsNaN value then "NaN"
        else value.ToString("G", Globalization.CultureInfo.InvariantCulture)

/// Why a line of input did not become a record.
type RecordError =
    /// The `request` field is not `METHOD SP PATH [SP PROTOCOL]` with a path starting with `/`.
    | BadRequest of request: string
    /// The status is not an integer in 100..599.
    | BadStatus of status: int
    /// Bytes are negative or above `Bounds.MaxBytes`.
    | BadBytes of bytes: int64
    /// The timestamp is outside `Bounds.MinTime .. Bounds.MaxTime`.
    | BadTime of time: int64

/// Helpers for `RecordError`.
[<RequireQualifiedAccess>]
module RecordError =
    /// A one-line, human-readable reason.
    let describe error =
        match error with
        | BadRequest request -> sprintf "request \"%s\" is not 'METHOD /path [PROTOCOL]'" request
        | BadStatus status -> sprintf "status %d is not in 100..599" status
        | BadBytes bytes when bytes < 0L -> sprintf "bytes %d is negative" bytes
        | BadBytes bytes -> sprintf "bytes %d is above the limit of %d (1 PiB)" bytes Bounds.MaxBytes
        | BadTime time ->
            sprintf "timestamp %d is outside the valid range of log time, %d (1970-01-01T00:00:00Z) to %d (9999-12-31T23:59:59Z)"
                time Bounds.MinTime Bounds.MaxTime

/// One access-log request: the only thing the engine folds over. Built once, at the boundary,
/// by `Record.create`; the core never re-validates. A struct with no reference in it (label text
/// is a `Symbols` id): the store keeps records for the longest window, and an array of them is
/// one object the GC neither traces nor card-scans, whatever it holds.
[<Struct; CustomEquality; NoComparison>]
// 64 bytes, a cache line: the durations are `float32`s of whole microseconds (exact up to 2^24 µs,
// about 16 s, and within 1e-7 beyond), and the input's index shares a word with the line number
// (`Bounds.MaxLine`, `Bounds.MaxSource`). At 80 bytes, with two `int64` durations and a word of
// its own for the index, a run that read none of them was measurably slower (docs/performance.md).
type Record private (time: int64, bytes: int64, lineAndSource: int64, requestTime: float32, upstreamTime: float32,
                     host: int, user: int, method: int, section: int, status: int,
                     virtualHost: int, referer: int, userAgent: int) =
    static let micros (value: float32) = int64 value
    /// Log time, Unix epoch seconds, within `Bounds.MinTime .. Bounds.MaxTime`.
    member _.Time = time
    /// The `remotehost` field.
    member _.Host = Symbols.Hosts.Name host
    /// The `authuser` field.
    member _.User = Symbols.Users.Name user
    /// The request method, e.g. `GET`.
    member _.Method = Symbols.Methods.Name method
    /// What stands before the second `/` of the path, query removed: `/api/user?id=3` -> `/api`.
    member _.Section = Symbols.Sections.Name section
    /// The virtual host the request was for (`$host`, `%v`); `-` when the format does not log it.
    member _.VirtualHost = Symbols.VirtualHosts.Name virtualHost
    /// The Referer header as sent; `-` when the format does not log it.
    member _.Referer = Symbols.Referers.Name referer
    /// The User-Agent header as sent; `-` when the format does not log it.
    member _.UserAgent = Symbols.UserAgents.Name userAgent
    /// The `Symbols.Hosts` id of `Host`.
    member internal _.HostId = host
    /// The `Symbols.Users` id of `User`.
    member internal _.UserId = user
    /// The `Symbols.Methods` id of `Method`.
    member internal _.MethodId = method
    /// The `Symbols.Sections` id of `Section`.
    member internal _.SectionId = section
    /// The `Symbols.VirtualHosts` id of `VirtualHost`.
    member internal _.VirtualHostId = virtualHost
    /// The `Symbols.Referers` id of `Referer`.
    member internal _.RefererId = referer
    /// The `Symbols.UserAgents` id of `UserAgent`.
    member internal _.UserAgentId = userAgent
    /// HTTP status, 100..599.
    member _.Status = status
    /// Response bytes, 0 for `-`; at most `Bounds.MaxBytes`.
    member _.Bytes = bytes
    /// Microseconds the request took (`$request_time`, `%D`), 0 when the format does not log it;
    /// at most `Bounds.MaxDurationMicros`. Whole microseconds, so that sums are exact whatever the
    /// order records are added in (as kept: exact up to about 16 s, within 1e-7 beyond).
    member _.RequestMicros = micros requestTime
    /// Microseconds spent waiting for upstream servers (`$upstream_response_time`, summed over its
    /// list), 0 when not logged; at most `Bounds.MaxDurationMicros`.
    member _.UpstreamMicros = micros upstreamTime
    /// Index of the input (file) the record came from, 0-based, in the order given; at most `Bounds.MaxSource`.
    member _.Source = int (lineAndSource >>> 48)
    /// 1-based physical line number in that input; at most `Bounds.MaxLine`.
    member _.Line = lineAndSource &&& Bounds.MaxLine

    override this.Equals(other: obj) =
        match other with
        | :? Record as r ->
            // Equal ids are equal texts: each label's table is process-wide.
            r.Time = time && r.HostId = host && r.UserId = user && r.MethodId = method && r.SectionId = section
            && r.Status = status && r.Bytes = bytes && r.Source = this.Source && r.Line = this.Line
            && r.RequestMicros = this.RequestMicros && r.UpstreamMicros = this.UpstreamMicros
            && r.VirtualHostId = virtualHost && r.RefererId = referer && r.UserAgentId = userAgent
        | _ -> false

    override _.GetHashCode() = System.HashCode.Combine(time, host, section, status, bytes, lineAndSource)

    override this.ToString() =
        sprintf "%d %s %s %s %d %d (line %d)" time this.Host this.Method this.Section status bytes this.Line

    /// The record with another `Symbols.Hosts` id: the reader looks hosts up a run of lines at a
    /// time (see `Symbols.Prefetch`) and fills them in after.
    member internal _.WithHostId(id: int) =
        Record(time, bytes, lineAndSource, requestTime, upstreamTime, id, user, method, section, status,
               virtualHost, referer, userAgent)

    /// The record with the fields only some formats log: durations in microseconds (clamped to
    /// `0 .. Bounds.MaxDurationMicros`) and `Symbols` ids of the virtual host, referer and agent.
    member internal _.WithExtras(requestMicros: int64, upstreamMicros: int64, virtualHostId: int, refererId: int, userAgentId: int) =
        let clamp (micros: int64) = float32 (max 0L (min Bounds.MaxDurationMicros micros))
        Record(time, bytes, lineAndSource, clamp requestMicros, clamp upstreamMicros, host, user, method, section, status,
               virtualHostId, refererId, userAgentId)

    static member internal Make(time, host, user, method, section, status, bytes, source: int, line: int64) =
        // Ids 0 of the tables of the optional texts are `-`.
        Record(time, bytes, (int64 source <<< 48) ||| line, 0.0f, 0.0f, host, user, method, section, status, 0, 0, 0)

/// Building records.
[<RequireQualifiedAccess>]
module Record =

    // The request grammar works on UTF-8 bytes, as the reader gets them from CsvHelper, so no field
    // is decoded to find its parts. Every byte the grammar looks for (' ', '/', '?', '#') is ASCII,
    // and no byte of a multi-byte UTF-8 sequence is ASCII, so the parts found are the same as in the
    // decoded text, and every cut falls between two characters.

    /// Length in bytes of the section of a UTF-8 `path`, always a prefix of it: what stands before
    /// the second `/`, query removed. `/api/user?id=3` -> 4 (`/api`), `/report` -> 7, `/` -> 1.
    [<CompiledName("SectionLength")>]
    let internal sectionLength (path: ReadOnlySpan<byte>) =
        // The section ends at whichever comes first after the leading `/`: the second `/`, or the
        // query (`?`, `#`), which is removed; one search finds both.
        if path.Length <= 1 then 1
        else
            let stop = path.Slice(1).IndexOfAny(byte '/', byte '?', byte '#')
            if stop < 0 then path.Length else stop + 1

    /// Splits a UTF-8 `METHOD SP PATH [SP PROTOCOL]`: returns (methodLength, pathStart, pathLength)
    /// in bytes, or methodLength = -1 when the request is malformed (no path, path not starting
    /// with `/`, more than three parts).
    [<CompiledName("RequestParts")>]
    let internal requestParts (request: ReadOnlySpan<byte>) : struct (int * int * int) =
        let bad = struct (-1, 0, 0)
        let m = request.IndexOf(byte ' ')
        if m <= 0 then bad
        else
            // Nearly always one space before the path and one before the protocol: those cost no search.
            let p =
                if m + 1 < request.Length && request[m + 1] <> byte ' ' then m + 1
                else
                    let spaces = request.Slice(m + 1).IndexOfAnyExcept(byte ' ')
                    if spaces < 0 then request.Length else m + 1 + spaces
            if p >= request.Length || request[p] <> byte '/' then bad
            else
                let rest = request.Slice(p)
                let e = rest.IndexOf(byte ' ')
                if e < 0 then struct (m, p, rest.Length)
                elif rest.Slice(e + 1).IndexOf(byte ' ') < 0 then struct (m, p, e) // `PATH PROTOCOL`
                else
                    let protocol = rest.Slice(e).Trim(byte ' ')
                    if protocol.IndexOf(byte ' ') >= 0 then bad else struct (m, p, e)

    let private utf8 = Text.UTF8Encoding(false)

    /// The section of a path: `/api/user?id=3` -> `/api`, `/report` -> `/report`, `/` -> `/`.
    let sectionOfPath (path: string) =
        if path.Length = 0 then "/"
        else
            let bytes = utf8.GetBytes path
            utf8.GetString(bytes, 0, sectionLength (ReadOnlySpan bytes))

    /// Splits `METHOD SP PATH [SP PROTOCOL]` into method and path.
    let parseRequest (request: string) : Result<struct (string * string), RecordError> =
        let bytes = utf8.GetBytes request
        let struct (m, p, l) = requestParts (ReadOnlySpan bytes)
        if m < 0 then Error(BadRequest request)
        else Ok(struct (utf8.GetString(bytes, 0, m), utf8.GetString(bytes, p, l)))

    /// Validates raw field values into a record, their texts interned in `Symbols`. `section` must
    /// come from `sectionOfPath`.
    [<CompiledName("CreateWithSection")>]
    let createWithSection time (host: string) (user: string) (method: string) (section: string) status bytes source line =
        if source < 0 || source > Bounds.MaxSource then
            raise (ArgumentOutOfRangeException("source", source, sprintf "an input index is 0 to %d" Bounds.MaxSource))
        if line < 0L || line > Bounds.MaxLine then
            raise (ArgumentOutOfRangeException("line", line, sprintf "a line number is 0 to %d" Bounds.MaxLine))
        if not (Bounds.isValidTime time) then Error(BadTime time)
        elif status < 100 || status > 599 then Error(BadStatus status)
        elif bytes < 0L || bytes > Bounds.MaxBytes then Error(BadBytes bytes)
        else
            Ok(Record.Make(time, Symbols.Hosts.Intern host, Symbols.Users.Intern user, Symbols.Methods.Intern method,
                           Symbols.Sections.Intern section, status, bytes, source, line))

    /// `createWithSection` with the label texts as `Symbols` ids.
    [<CompiledName("CreateFromIds")>]
    let internal createFromIds time (host: int) (user: int) (method: int) (section: int) status bytes source line =
        if not (Bounds.isValidTime time) then Error(BadTime time)
        elif status < 100 || status > 599 then Error(BadStatus status)
        elif bytes < 0L || bytes > Bounds.MaxBytes then Error(BadBytes bytes)
        else Ok(Record.Make(time, host, user, method, section, status, bytes, source, line))

    /// `createWithSection` from `Symbols` ids into `record`, without a `Result` to copy it through:
    /// true when the values are valid, false (and `record` untouched) when not, and
    /// `createWithSection` says why.
    [<CompiledName("TryCreateWithSection")>]
    let internal tryCreateWithSection time (host: int) (user: int) (method: int) (section: int) status bytes source line (record: outref<Record>) =
        if not (Bounds.isValidTime time) || status < 100 || status > 599 || bytes < 0L || bytes > Bounds.MaxBytes then false
        else
            record <- Record.Make(time, host, user, method, section, status, bytes, source, line)
            true

    /// Validates raw field values (the request as written in the log) into a record.
    let create time host user request status bytes source line =
        match parseRequest request with
        | Error e -> Error e
        | Ok(struct (method, path)) ->
            createWithSection time host user method (sectionOfPath path) status bytes source line
