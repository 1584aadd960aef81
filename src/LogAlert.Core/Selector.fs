namespace LogAlert.Core

open System
open System.Text.RegularExpressions

/// A label a query can select, group or count by.
type Label =
    | Section
    | Method
    | Status
    | StatusClass
    | Host
    | User

/// Why a label name or selector text is not valid.
type SelectorError =
    /// The label is not one of `section`, `method`, `status`, `status_class`, `host`, `user`.
    | UnknownLabel of name: string
    /// The selector text does not parse; `position` is 0-based.
    | Syntax of text: string * position: int * reason: string
    /// A `=~` or `!~` pattern is not a valid regular expression.
    | BadRegex of pattern: string * reason: string

/// Helpers for `SelectorError`.
[<RequireQualifiedAccess>]
module SelectorError =
    /// A one-line, human-readable reason.
    let describe error =
        match error with
        | UnknownLabel name ->
            sprintf "unknown label \"%s\" (labels: section, method, status, status_class, host, user)" name
        | Syntax(text, position, reason) -> sprintf "selector \"%s\": %s at column %d" text reason (position + 1)
        | BadRegex(pattern, reason) -> sprintf "regex \"%s\": %s" pattern reason

/// Labels of a record.
[<RequireQualifiedAccess>]
module Label =
    // Status labels are read per record on the hot path: build each string once.
    let private statusText = Array.init 600 string

    /// The label for a name as written in a query (`status_class`), or an error.
    let create (name: string) =
        match name with
        | "section" -> Ok Section
        | "method" -> Ok Method
        | "status" -> Ok Status
        | "status_class" -> Ok StatusClass
        | "host" -> Ok Host
        | "user" -> Ok User
        | other -> Error(UnknownLabel other)

    /// The name as written in queries and events.
    let name label =
        match label with
        | Section -> "section"
        | Method -> "method"
        | Status -> "status"
        | StatusClass -> "status_class"
        | Host -> "host"
        | User -> "user"

    /// The value of `label` on `record`.
    let valueOf label (record: Record) =
        match label with
        | Section -> record.Section
        | Method -> record.Method
        | Status -> statusText[record.Status]
        | StatusClass -> Record.statusClass record
        | Host -> record.Host
        | User -> record.User

/// How a matcher compares a label to its value: Prometheus' `=`, `!=`, `=~`, `!~`.
type MatchOp =
    | Equal
    | NotEqual
    | Matches
    | NotMatches

/// One `label op "value"` matcher. Regexes are fully anchored, as in Prometheus.
type Matcher =
    private
        { Label: Label
          Op: MatchOp
          Value: string
          Regex: Regex option }

/// A conjunction of label matchers, e.g. `section="/api", status=~"5.."`. Empty selects all.
type Selector =
    private
        { Text: string
          Matchers: Matcher list }

    /// The selector as written, normalised (used as a cache key).
    member this.Key = this.Text

/// Parsing and matching selectors.
[<RequireQualifiedAccess>]
module Selector =

    /// Selects every record.
    let all = { Text = ""; Matchers = [] }

    let private opText op =
        match op with
        | Equal -> "="
        | NotEqual -> "!="
        | Matches -> "=~"
        | NotMatches -> "!~"

    let private matcher label op value =
        match op with
        | Equal
        | NotEqual -> Ok { Label = label; Op = op; Value = value; Regex = None }
        | Matches
        | NotMatches ->
            try
                let regex =
                    Regex("^(?:" + value + ")$", RegexOptions.CultureInvariant ||| RegexOptions.Compiled)
                Ok { Label = label; Op = op; Value = value; Regex = Some regex }
            with :? ArgumentException as e ->
                Error(BadRegex(value, e.Message))

    let private parse (text: string) : Result<Selector, SelectorError> =
        let s = text.Trim()
        let s = if s.StartsWith('{') && s.EndsWith('}') then s.Substring(1, s.Length - 2) else s
        let n = s.Length
        let mutable i = 0
        let mutable error = None
        let matchers = ResizeArray()
        let fail reason = error <- Some(Syntax(text, i, reason))
        let skipSpace () =
            while i < n && Char.IsWhiteSpace s[i] do i <- i + 1
        skipSpace ()
        while error.IsNone && i < n do
            let start = i
            while i < n && (Char.IsLetterOrDigit s[i] || s[i] = '_') do i <- i + 1
            let name = s.Substring(start, i - start)
            skipSpace ()
            if name.Length = 0 then fail "expected a label name"
            else
                let op =
                    if i + 1 < n && s[i] = '=' && s[i + 1] = '~' then i <- i + 2; Some Matches
                    elif i + 1 < n && s[i] = '!' && s[i + 1] = '~' then i <- i + 2; Some NotMatches
                    elif i + 1 < n && s[i] = '!' && s[i + 1] = '=' then i <- i + 2; Some NotEqual
                    elif i < n && s[i] = '=' then i <- i + 1; Some Equal
                    else None
                skipSpace ()
                match op with
                | None -> fail "expected =, !=, =~ or !~"
                | Some _ when i >= n || (s[i] <> '"' && s[i] <> '\'') -> fail "expected a quoted value"
                | Some op ->
                    let quote = s[i]
                    i <- i + 1
                    let value = Text.StringBuilder()
                    while i < n && s[i] <> quote do
                        if s[i] = '\\' && i + 1 < n then
                            i <- i + 1
                            value.Append(match s[i] with 'n' -> '\n' | 't' -> '\t' | c -> c) |> ignore
                        else value.Append(s[i]) |> ignore
                        i <- i + 1
                    if i >= n then fail "unclosed quote"
                    else
                        i <- i + 1
                        match Label.create name with
                        | Error e -> error <- Some e
                        | Ok label ->
                            match matcher label op (value.ToString()) with
                            | Error e -> error <- Some e
                            | Ok m ->
                                matchers.Add m
                                skipSpace ()
                                if i < n then
                                    if s[i] = ',' then i <- i + 1; skipSpace ()
                                    else fail "expected ','"
        match error with
        | Some e -> Error e
        | None ->
            let list = List.ofSeq matchers
            let key =
                list
                |> List.map (fun m -> sprintf "%s%s%A" (Label.name m.Label) (opText m.Op) m.Value)
                |> String.concat ","
            Ok { Text = key; Matchers = list }

    /// Parses `label op "value", ...` (braces optional, as in `{status="500"}`); null or empty selects all.
    let create (text: string | null) : Result<Selector, SelectorError> =
        match text with
        | null -> Ok all
        | text -> parse text

    let private matches (record: Record) (m: Matcher) =
        let value = Label.valueOf m.Label record
        match m.Op, m.Regex with
        | Equal, _ -> String.Equals(value, m.Value)
        | NotEqual, _ -> not (String.Equals(value, m.Value))
        | Matches, Some r -> r.IsMatch value
        | NotMatches, Some r -> not (r.IsMatch value)
        | _, None -> false

    /// Whether `record` satisfies every matcher of `selector`.
    let isMatch (record: Record) (selector: Selector) =
        match selector.Matchers with
        | [] -> true
        | ms -> List.forall (matches record) ms

    /// Whether the selector selects every record.
    let isAll (selector: Selector) = List.isEmpty selector.Matchers
