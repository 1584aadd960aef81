namespace LogAlert.Core

open System

/// Why a line of input did not become a record.
type RecordError =
    /// The `request` field is not `METHOD SP PATH [SP PROTOCOL]` with a path starting with `/`.
    | BadRequest of request: string
    /// The status is not an integer in 100..599.
    | BadStatus of status: int
    /// Bytes are negative.
    | BadBytes of bytes: int64

/// Helpers for `RecordError`.
[<RequireQualifiedAccess>]
module RecordError =
    /// A one-line, human-readable reason.
    let describe error =
        match error with
        | BadRequest request -> sprintf "request \"%s\" is not 'METHOD /path [PROTOCOL]'" request
        | BadStatus status -> sprintf "status %d is not in 100..599" status
        | BadBytes bytes -> sprintf "bytes %d is negative" bytes

/// One access-log request: the only thing the engine folds over. Built once, at the boundary,
/// by `Record.create`; the core never re-validates. A struct: the store keeps records for the
/// longest window, and arrays of structs are one object to the GC where a million records as
/// classes were a million objects promoted out of the young generation.
[<Struct; CustomEquality; NoComparison>]
type Record private (time: int64, host: string, user: string, method: string, section: string,
                     status: int, bytes: int64, source: int, line: int64) =
    /// Log time, Unix epoch seconds.
    member _.Time = time
    /// The `remotehost` field.
    member _.Host = host
    /// The `authuser` field.
    member _.User = user
    /// The request method, e.g. `GET`.
    member _.Method = method
    /// What stands before the second `/` of the path, query removed: `/api/user?id=3` -> `/api`.
    member _.Section = section
    /// HTTP status, 100..599.
    member _.Status = status
    /// Response bytes, 0 for `-`.
    member _.Bytes = bytes
    /// Index of the input (file) the record came from, 0-based, in the order given.
    member _.Source = source
    /// 1-based physical line number in that input.
    member _.Line = line

    override this.Equals(other: obj) =
        match other with
        | :? Record as r ->
            r.Time = time && r.Host = host && r.User = user && r.Method = method && r.Section = section
            && r.Status = status && r.Bytes = bytes && r.Source = source && r.Line = line
        | _ -> false

    override _.GetHashCode() = System.HashCode.Combine(time, host, section, status, bytes, line)

    override _.ToString() = sprintf "%d %s %s %s %d %d (line %d)" time host method section status bytes line

    static member internal Make(time, host, user, method, section, status, bytes, source, line) =
        Record(time, host, user, method, section, status, bytes, source, line)

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
    let sectionLength (path: ReadOnlySpan<byte>) =
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
    let requestParts (request: ReadOnlySpan<byte>) : struct (int * int * int) =
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

    /// Validates raw field values into a record. `section` must come from `sectionOfPath`
    /// (the CSV reader interns it from a span, so that a million records share a few strings).
    [<CompiledName("CreateWithSection")>]
    let createWithSection time host user method section status bytes source line =
        if status < 100 || status > 599 then Error(BadStatus status)
        elif bytes < 0L then Error(BadBytes bytes)
        else Ok(Record.Make(time, host, user, method, section, status, bytes, source, line))

    /// `createWithSection` into `record`, without a `Result` to copy it through: true when the values
    /// are valid, false (and `record` untouched) when not, and `createWithSection` says why.
    [<CompiledName("TryCreateWithSection")>]
    let tryCreateWithSection time host user method section status bytes source line (record: outref<Record>) =
        if status < 100 || status > 599 || bytes < 0L then false
        else
            record <- Record.Make(time, host, user, method, section, status, bytes, source, line)
            true

    /// Validates raw field values (the request as written in the log) into a record.
    let create time host user request status bytes source line =
        match parseRequest request with
        | Error e -> Error e
        | Ok(struct (method, path)) ->
            createWithSection time host user method (sectionOfPath path) status bytes source line

    /// The status class label, e.g. `4xx`.
    let statusClass (record: Record) =
        match record.Status / 100 with
        | 1 -> "1xx"
        | 2 -> "2xx"
        | 3 -> "3xx"
        | 4 -> "4xx"
        | _ -> "5xx"
