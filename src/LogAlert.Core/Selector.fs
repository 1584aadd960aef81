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
    /// The virtual host (`$host`), as `vhost`.
    | VirtualHost
    /// The Referer header, as `referer`.
    | Referer
    /// The User-Agent header, as `user_agent`.
    | UserAgent

/// Why a label name or selector text is not valid.
type SelectorError =
    /// The label is not one of `section`, `method`, `status`, `status_class`, `host`, `user`, `vhost`,
    /// `referer`, `user_agent`.
    | UnknownLabel of name: string
    /// The selector text does not parse; `position` is 0-based.
    | Syntax of text: string * position: int * reason: string
    /// A `=~` or `!~` pattern is not a valid regular expression.
    | BadRegex of pattern: string * reason: string
    /// A `=~` or `!~` pattern uses a construct that cannot be matched in linear time (a backreference,
    /// a lookaround, an atomic group, a conditional), or is too large to be; `construct` says which.
    | UnsupportedRegex of pattern: string * construct: string

/// Helpers for `SelectorError`.
[<RequireQualifiedAccess>]
module SelectorError =
    /// A one-line, human-readable reason.
    let describe error =
        match error with
        | UnknownLabel name ->
            sprintf "unknown label \"%s\" (labels: section, method, status, status_class, host, user, vhost, referer, user_agent)" name
        | Syntax(text, position, reason) -> sprintf "selector \"%s\": %s at column %d" text reason (position + 1)
        | BadRegex(pattern, reason) -> sprintf "regex \"%s\": %s" pattern reason
        | UnsupportedRegex(pattern, construct) ->
            sprintf
                "regex \"%s\": %s cannot be matched in linear time; selector regexes follow Prometheus' RE2, which has no backreferences, lookarounds, atomic groups or conditionals"
                pattern
                construct

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
        | "vhost" -> Ok VirtualHost
        | "referer" -> Ok Referer
        | "user_agent" -> Ok UserAgent
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
        | VirtualHost -> "vhost"
        | Referer -> "referer"
        | UserAgent -> "user_agent"

    // Not sprintf "%dxx": F#'s format machinery cost several milliseconds of a short run's first summary.
    let private statusClasses = [| ""; "1xx"; "2xx"; "3xx"; "4xx"; "5xx" |]

    /// The id of the value of `label` on `record`: its label's `Symbols` id for text labels, the
    /// status for `status`, its hundreds for `status_class`. Within one label, equal ids are equal
    /// values.
    let inline internal idOf label (record: Record) =
        match label with
        | Section -> record.SectionId
        | Method -> record.MethodId
        | Status -> record.Status
        | StatusClass -> record.Status / 100
        | Host -> record.HostId
        | User -> record.UserId
        | VirtualHost -> record.VirtualHostId
        | Referer -> record.RefererId
        | UserAgent -> record.UserAgentId

    /// The value an `idOf label` id stands for.
    let nameOf label id =
        match label with
        | Status -> statusText[id]
        | StatusClass -> statusClasses[id]
        | Section -> Symbols.Sections.Name id
        | Method -> Symbols.Methods.Name id
        | Host -> Symbols.Hosts.Name id
        | User -> Symbols.Users.Name id
        | VirtualHost -> Symbols.VirtualHosts.Name id
        | Referer -> Symbols.Referers.Name id
        | UserAgent -> Symbols.UserAgents.Name id

    /// The value of `label` on `record`.
    let valueOf label (record: Record) = nameOf label (idOf label record)

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
          Regex: Regex option
          /// The verdict per value id (`Label.idOf`), found on first sight: 0 not yet known, 1 match,
          /// 2 no match. A memo of a pure function, so a regex runs once per distinct value, not once
          /// per record. Races between threads only repeat work: every writer writes the same verdict.
          mutable Verdicts: byte[]
          /// The `Symbols.Epoch` the verdicts are for: ids given back since may stand for other texts.
          mutable Epoch: int }

/// A conjunction of label matchers, e.g. `section="/api", status=~"5.."`. Empty selects all.
type Selector =
    private
        { Text: string
          Matchers: Matcher list }

    /// The selector as written, normalised (used as a cache key).
    member this.Key = this.Text

    /// `value` in double quotes with its backslashes and double quotes escaped, as a selector reads
    /// it back: for a rule that builds a selector from a label value,
    /// `q.Sum("requests", w, $"section={Selector.Quote(section)}")`. Pasted in as it is, a value with
    /// a quote ended the selector early, and one with a backslash (nginx logs a byte that is no UTF-8
    /// as `\xFF`) was read as an escape.
    static member Quote(value: string | null) : string =
        match value with
        | null -> "\"\""
        | value -> "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""

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

    // Label values are data an attacker chooses (a path is whatever a client requests), and a verdict
    // is decided in the fold, outside --rule-timeout: a backtracking regex such as `/(a|aa)*b` took
    // exponential time on a 60-character path. NonBacktracking matches in time linear in the value,
    // as Prometheus' RE2 does, and refuses the constructs RE2 lacks as well. Not Compiled: that
    // option only serves the backtracking engines.
    let private regexOptions = RegexOptions.CultureInvariant ||| RegexOptions.NonBacktracking

    // .NET names the construct it cannot run: "... not supported in conjunction with expressions
    // containing: 'backreference (\ number)'." Any other refusal is about the automaton's size.
    let private unsupportedConstruct (e: NotSupportedException) =
        let marker = "containing: '"
        let start = e.Message.IndexOf(marker, StringComparison.Ordinal)
        let stop = if start < 0 then -1 else e.Message.LastIndexOf('\'')
        if start >= 0 && stop > start + marker.Length then
            e.Message.Substring(start + marker.Length, stop - start - marker.Length)
        else
            "a pattern this large"

    // RE2's (Prometheus') classes, which .NET reads otherwise: `\d`, `\w` and `\s` are ASCII in RE2
    // and Unicode in .NET (`\d` matched an Arabic-Indic digit), and `[[:alpha:]]` is a POSIX class
    // in RE2 but, in .NET, the set `[:alph` followed by a `]`. Both are rewritten to the sets RE2
    // means, as ranges of UTF-16 code units (a negated one, `\S` or `[[:^alpha:]]`, as the ranges
    // between: `[\s\S]` keeps meaning any character); a `[` inside a class is a literal in RE2 (in
    // .NET it starts a subtraction).
    let private classRanges =
        let r (a: char) (b: char) = struct (int a, int b)
        dict [ "alnum", [ r '0' '9'; r 'A' 'Z'; r 'a' 'z' ]
               "alpha", [ r 'A' 'Z'; r 'a' 'z' ]
               "ascii", [ r '\000' '\127' ]
               "blank", [ r '\t' '\t'; r ' ' ' ' ]
               "cntrl", [ r '\000' '\031'; r '\127' '\127' ]
               "digit", [ r '0' '9' ]
               "graph", [ r '!' '~' ]
               "lower", [ r 'a' 'z' ]
               "print", [ r ' ' '~' ]
               "punct", [ r '!' '/'; r ':' '@'; r '[' '`'; r '{' '~' ]
               "space", [ r '\t' '\r'; r ' ' ' ' ]
               "upper", [ r 'A' 'Z' ]
               "word", [ r '0' '9'; r 'A' 'Z'; r '_' '_'; r 'a' 'z' ]
               "xdigit", [ r '0' '9'; r 'A' 'F'; r 'a' 'f' ]
               // Perl's, as RE2 reads them: ASCII only (`\s` has no vertical tab).
               "\\d", [ r '0' '9' ]
               "\\w", [ r '0' '9'; r 'A' 'Z'; r '_' '_'; r 'a' 'z' ]
               "\\s", [ r '\t' '\n'; r '\012' '\r'; r ' ' ' ' ] ]

    /// The inside of a .NET class holding `ranges` (sorted, apart), or, `negated`, every other code unit.
    let private classText (ranges: struct (int * int) list) (negated: bool) =
        let ranges =
            if not negated then ranges
            else
                let gaps = ResizeArray<struct (int * int)>()
                let mutable next = 0
                for struct (a, b) in ranges do
                    if a > next then gaps.Add(struct (next, a - 1))
                    next <- b + 1
                if next <= 0xFFFF then gaps.Add(struct (next, 0xFFFF))
                List.ofSeq gaps
        let sb = Text.StringBuilder()
        for struct (a, b) in ranges do
            sb.Append($"\\u{a:x4}") |> ignore
            if b > a then sb.Append($"-\\u{b:x4}") |> ignore
        sb.ToString()

    /// `pattern` with RE2's classes written as .NET reads them alike, or why it cannot be.
    let private asRe2 (pattern: string) : Result<string, string> =
        let sb = Text.StringBuilder(pattern.Length + 16)
        let mutable inClass = false
        let mutable classStart = false // just after `[` or `[^`: a `]` there is a literal
        let mutable error = None
        let mutable i = 0
        while error.IsNone && i < pattern.Length do
            let c = pattern[i]
            if c = '\\' && i + 1 < pattern.Length then
                let e = pattern[i + 1]
                match classRanges.TryGetValue("\\" + string (Char.ToLowerInvariant e)) with
                | true, ranges ->
                    let text = classText ranges (Char.IsUpper e)
                    sb.Append(if inClass then text else "[" + text + "]") |> ignore
                | _ -> sb.Append(c).Append(e) |> ignore
                i <- i + 2
                classStart <- false
            elif inClass then
                if c = '[' && i + 1 < pattern.Length && pattern[i + 1] = ':' && pattern.IndexOf(":]", i + 2) > 0 then
                    let close = pattern.IndexOf(":]", i + 2)
                    let name = pattern.Substring(i + 2, close - i - 2)
                    let negated = name.StartsWith '^'
                    match classRanges.TryGetValue(if negated then name.Substring 1 else name) with
                    | true, ranges when not (name.Contains '\\') ->
                        sb.Append(classText ranges negated) |> ignore
                        i <- close + 2
                    | _ -> error <- Some $"[:{name}:] is not a character class (RE2's are [:alpha:], [:digit:], [:space:], ...)"
                else
                    if c = '[' || (c = ']' && classStart) then sb.Append('\\').Append(c) |> ignore
                    elif c = ']' then
                        inClass <- false
                        sb.Append(c) |> ignore
                    else sb.Append(c) |> ignore
                    i <- i + 1
                classStart <- false
            elif c = '[' then
                inClass <- true
                classStart <- true
                sb.Append(c) |> ignore
                i <- i + 1
                if i < pattern.Length && pattern[i] = '^' then
                    sb.Append('^') |> ignore
                    i <- i + 1
            else
                sb.Append(c) |> ignore
                i <- i + 1
        match error with
        | Some e -> Error e
        | None -> Ok(sb.ToString())

    /// The anchored regex of a `=~`/`!~` pattern. The pattern is parsed on its own first, so that a
    /// parse error points into what the user wrote and a pattern with unbalanced parentheses such as
    /// `5..)|(.*` cannot escape the anchors (`^(?:5..)|(.*)$` parses, and matches anything).
    let private anchored (pattern: string) =
        try
            Regex(pattern, regexOptions) |> ignore
            match asRe2 pattern with
            | Ok re2 -> Ok(Regex(@"\A(?:" + re2 + @")\z", regexOptions))
            | Error reason -> Error(BadRegex(pattern, reason))
        with
        | :? NotSupportedException as e -> Error(UnsupportedRegex(pattern, unsupportedConstruct e))
        | :? ArgumentException as e -> Error(BadRegex(pattern, e.Message))

    let private matcher label op value =
        match op with
        | Equal
        | NotEqual -> Ok { Label = label; Op = op; Value = value; Regex = None; Verdicts = Array.zeroCreate 64; Epoch = Symbols.Epoch }
        | Matches
        | NotMatches ->
            anchored value
            |> Result.map (fun regex ->
                { Label = label; Op = op; Value = value; Regex = Some regex; Verdicts = Array.zeroCreate 64; Epoch = Symbols.Epoch })

    let private parse (text: string) : Result<Selector, SelectorError> =
        let trimmed = text.Trim()
        let braced = trimmed.Length >= 2 && trimmed.StartsWith('{') && trimmed.EndsWith('}')
        let s = if braced then trimmed.Substring(1, trimmed.Length - 2) else trimmed
        // Columns are counted in the text as given: `i` is in `s`, after the spaces and brace cut.
        let offset = (text.Length - text.TrimStart().Length) + (if braced then 1 else 0)
        let n = s.Length
        let mutable i = 0
        let mutable error = None
        let matchers = ResizeArray()
        let fail reason = error <- Some(Syntax(text, offset + i, reason))
        let skipSpace () =
            while i < n && Char.IsWhiteSpace s[i] do i <- i + 1
        if not braced && trimmed.StartsWith('{') then fail "unclosed {"
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
                    let opened = i
                    i <- i + 1
                    let value = Text.StringBuilder()
                    while error.IsNone && i < n && s[i] <> quote do
                        if s[i] = '\\' && i + 1 < n then
                            i <- i + 1
                            // PromQL's escapes; any other is an error, as there: `\.` taken as `.` made
                            // `section=~'/[^/]*\.php'` match "/xaphp", in silence.
                            match s[i] with
                            | 'n' -> value.Append '\n' |> ignore
                            | 't' -> value.Append '\t' |> ignore
                            | 'r' -> value.Append '\r' |> ignore
                            | 'a' -> value.Append '\a' |> ignore
                            | 'b' -> value.Append '\b' |> ignore
                            | 'f' -> value.Append '\f' |> ignore
                            | 'v' -> value.Append '\v' |> ignore
                            | '\\' | '\'' | '"' as c -> value.Append c |> ignore
                            | 'x' | 'u' as c when
                                (let digits = if c = 'x' then 2 else 4
                                 i + digits < n && s.Substring(i + 1, digits) |> Seq.forall Uri.IsHexDigit) ->
                                let digits = if c = 'x' then 2 else 4
                                value.Append(char (Convert.ToInt32(s.Substring(i + 1, digits), 16))) |> ignore
                                i <- i + digits
                            | c ->
                                i <- i - 1
                                fail (sprintf "unknown escape \\%c: a backslash is written \\\\ in a selector, as in PromQL (\\\\. for a regex's \\.)" c)
                        else value.Append(s[i]) |> ignore
                        i <- i + 1
                    if error.IsSome then ()
                    elif i >= n then
                        i <- opened // said where it opens
                        fail "unclosed quote"
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
            // Each value quoted with its quotes and backslashes escaped: two selectors have one key
            // (and so share tallies) only when they select alike. `%A` quoted without escaping, and
            // `section='/x",status="500'` had the key of `section="/x",status="500"`.
            let key =
                list
                |> List.map (fun m -> Label.name m.Label + opText m.Op + Selector.Quote m.Value)
                |> String.concat ","
            Ok { Text = key; Matchers = list }

    /// Parses `label op "value", ...` (braces optional, as in `{status="500"}`); null or empty selects all.
    let create (text: string | null) : Result<Selector, SelectorError> =
        match text with
        | null -> Ok all
        | text -> parse text

    let private decide (m: Matcher) (value: string) =
        match m.Op, m.Regex with
        | Equal, _ -> String.Equals(value, m.Value)
        | NotEqual, _ -> not (String.Equals(value, m.Value))
        | Matches, Some r -> r.IsMatch value
        | NotMatches, Some r -> not (r.IsMatch value)
        | _, None -> false

    // The first sight of a value id (in this epoch): decide by its text and remember.
    let private learn (m: Matcher) id =
        let epoch = Symbols.Epoch
        if m.Epoch <> epoch then
            m.Verdicts <- Array.zeroCreate 64
            m.Epoch <- epoch
        let verdict = decide m (Label.nameOf m.Label id)
        let mutable verdicts = m.Verdicts
        if id >= verdicts.Length then
            let grown = Array.zeroCreate (max (id + 1) (verdicts.Length * 2))
            Array.blit verdicts 0 grown 0 verdicts.Length
            verdicts <- grown
            m.Verdicts <- grown
        verdicts[id] <- if verdict then 1uy else 2uy
        verdict

    let private matches (record: Record) (m: Matcher) =
        let id = Label.idOf m.Label record
        let verdicts = m.Verdicts
        if id < verdicts.Length && verdicts[id] <> 0uy && m.Epoch = Symbols.Epoch then verdicts[id] = 1uy else learn m id

    /// Whether `record` satisfies every matcher of `selector`.
    let isMatch (record: Record) (selector: Selector) =
        // A loop, not List.forall: a closure over the record would be made for every record.
        let mutable ms = selector.Matchers
        let mutable ok = true
        while ok && not ms.IsEmpty do
            ok <- matches record ms.Head
            ms <- ms.Tail
        ok

    /// Whether the selector selects every record.
    let isAll (selector: Selector) = List.isEmpty selector.Matchers

    /// The labels the selector's matchers read, in order.
    let labels (selector: Selector) = selector.Matchers |> List.map (fun m -> m.Label)
