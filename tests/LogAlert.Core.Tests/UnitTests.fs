module LogAlert.Core.Tests.UnitTests

open System
open System.Collections.Generic
open System.Collections.Immutable
open Xunit
open FsCheck
open FsCheck.FSharp
open LogAlert.Core
open LogAlert.Core.Tests.Generators

[<Theory>]
[<InlineData("/api/user?id=3", "/api")>]
[<InlineData("/report", "/report")>]
[<InlineData("/", "/")>]
[<InlineData("/report?x=/y", "/report")>]
[<InlineData("/a/b/c", "/a")>]
[<InlineData("/café/menü?q=ä", "/café")>] // non-ASCII: the grammar cuts UTF-8 bytes
[<InlineData("/😀#frag", "/😀")>]
let ``the section is what stands before the second slash, query removed`` (path: string, section: string) =
    Assert.Equal(section, Record.sectionOfPath path)

[<Theory>]
[<InlineData("GET /api/user HTTP/1.0", "GET", "/api/user")>]
[<InlineData("POST /report", "POST", "/report")>]
[<InlineData("GET  /ü/ä HTTP/1.1", "GET", "/ü/ä")>]
[<InlineData("LÖSCHEN /x", "LÖSCHEN", "/x")>]
let ``a request splits into method and path`` (request: string, m: string, path: string) =
    match Record.parseRequest request with
    | Ok(struct (a, b)) -> Assert.Equal((m, path), (a, b))
    | Error e -> failwith (RecordError.describe e)

[<Theory>]
[<InlineData("GET")>]
[<InlineData("GET api/user HTTP/1.0")>]
[<InlineData("GET /a HTTP/1.0 extra")>]
[<InlineData("")>]
let ``a malformed request is an error`` (request: string) =
    Assert.True(Result.isError (Record.parseRequest request))

[<Fact>]
let ``status outside 100 to 599 and negative bytes are rejected`` () =
    Assert.Equal(Error(BadStatus 700), Record.create 1L "h" "-" "GET / HTTP/1.0" 700 0L 0 1L |> Result.map ignore)
    Assert.Equal(Error(BadBytes -1L), Record.create 1L "h" "-" "GET / HTTP/1.0" 200 -1L 0 1L |> Result.map ignore)

let private r status section = record 100L "h" section status 10L 1L

[<Theory>]
[<InlineData("status=~\"5..\"", 500, "/api", true)>]
[<InlineData("status=~\"5..\"", 404, "/api", false)>]
[<InlineData("status=~\"5\"", 500, "/api", false)>] // anchored: 5 does not match 500
[<InlineData("section=\"/api\", method!=\"POST\"", 200, "/api", true)>]
[<InlineData("section='/a\\'b'", 200, "/a'b", true)>] // PromQL's escapes: a quote, a backslash, \n, \t
[<InlineData("section=\"/a\\\\b\"", 200, "/a\\b", true)>]
[<InlineData("section=\"/caf\\u00e9\\x21\"", 200, "/caf\u00e9!", true)>] // and \x, \u as PromQL has them
[<InlineData("{section!~\"/a.*\"}", 200, "/api", false)>]
[<InlineData("status_class=\"4xx\"", 404, "/x", true)>]
[<InlineData("", 200, "/x", true)>]
let ``selectors are Prometheus label matchers`` (text: string, status: int, section: string, expected: bool) =
    match Selector.create text with
    | Ok s -> Assert.Equal(expected, Selector.isMatch (r status section) s)
    | Error e -> failwith (SelectorError.describe e)

[<Theory>]
[<InlineData("bogus=\"1\"")>]
[<InlineData("status=500")>]
[<InlineData("status=~\"(\"")>]
[<InlineData("status=\"5")>]
let ``a bad selector is an error that says why`` (text: string) =
    match Selector.create text with
    | Ok _ -> failwith "accepted"
    | Error e -> Assert.False(String.IsNullOrWhiteSpace(SelectorError.describe e))

// Columns of the text as the rule gives it: they were counted after its spaces and braces were cut,
// and an unclosed quote was placed at the end, not where it opens.
[<Theory>]
[<InlineData("section=\"/a", "unclosed quote at column 9")>]
[<InlineData("{section=\"/a\"}x", "unclosed { at column 1")>]
[<InlineData("  {section=\"/a\"", "unclosed { at column 3")>]
[<InlineData("{ status=\"500\" section=\"/a\" }", "expected ',' at column 16")>]
[<InlineData("  status 500", "expected =, !=, =~ or !~ at column 10")>]
// An escape PromQL does not have is an error, as there: `\.` was read as `.`, any character.
[<InlineData("section=~\"/[^/]*\\.php\"", "unknown escape \\.: a backslash is written \\\\ in a selector, as in PromQL (\\\\. for a regex's \\.) at column 17")>]
[<InlineData("section='/x\\q'", "unknown escape \\q: a backslash is written \\\\ in a selector, as in PromQL (\\\\. for a regex's \\.) at column 12")>]
let ``a selector's syntax error names the column in the text as given`` (text: string, reason: string) =
    match Selector.create text with
    | Ok _ -> failwith "accepted"
    | Error e -> Assert.Equal(sprintf "selector \"%s\": %s" text reason, SelectorError.describe e)

// A rule that builds a selector from a label value: pasted in as it is, a value with a quote ended
// the selector early and one with a backslash (nginx's `\xFF`) was read as an escape. The user
// label, which takes any text as logged.
let private byUser (user: string) =
    match Record.create 100L "h" user "GET /x HTTP/1.0" 200 10L 0 1L with
    | Ok r -> r
    | Error e -> failwith (RecordError.describe e)

[<Theory>]
[<InlineData("a\"b")>]
[<InlineData("\\xFF")>]
[<InlineData("x\\")>]
[<InlineData("'")>]
[<InlineData("a, method=\"GET\"")>]
let ``a value quoted by Selector.Quote selects that value and no other`` (value: string) =
    for op, expected in [ "=", true; "!=", false ] do
        match Selector.create ("user" + op + Selector.Quote value) with
        | Ok s ->
            Assert.Equal(expected, Selector.isMatch (byUser value) s)
            Assert.Equal(not expected, Selector.isMatch (byUser (value + "x")) s)
        | Error e -> failwith (SelectorError.describe e)

[<Fact>]
let ``Selector.Quote round-trips any text`` () =
    let property (value: NonEmptyString) =
        let value = value.Get
        match Selector.create ("user=" + Selector.Quote value) with
        | Ok s -> Selector.isMatch (byUser value) s && not (Selector.isMatch (byUser (value + "\\")) s)
        | Error _ -> false
    Check.One(Config.QuickThrowOnFailure.WithMaxTest 1000, Prop.forAll (ArbMap.defaults |> ArbMap.arbitrary) property)

[<Theory>]
[<InlineData("section=~\"/api\"", "/api", true)>]
[<InlineData("section=~\"/api\"", "/api2", false)>] // anchored at the end
[<InlineData("section=~\"api\"", "/api", false)>] // and at the start
[<InlineData("section=~\"/api|/report\"", "/report", true)>]
[<InlineData("section=~\"/api|/report\"", "/apix", false)>] // the anchors hold the whole alternation
[<InlineData("section=~\"/[a-c]+[0-9]{2}\"", "/cab42", true)>]
[<InlineData("section=~\"/[a-c]+[0-9]{2}\"", "/cab4", false)>]
[<InlineData("section=~\"/[^/]*\\\\.php\"", "/index.php", true)>] // \\. in the selector is \. in the regex
[<InlineData("section=~\"/[^/]*\\\\.php\"", "/indexphp", false)>]
[<InlineData("section=~\"(?i)/API\"", "/api", true)>]
[<InlineData("section!~\"/(health|metrics)\"", "/metrics", false)>]
[<InlineData("section!~\"/(health|metrics)\"", "/metricsx", true)>]
[<InlineData("section=~\"/caf\u00e9\"", "/caf\u00e9", true)>]
let ``regex selectors are fully anchored and match alternations and classes`` (text: string, section: string, expected: bool) =
    match Selector.create text with
    | Ok s -> Assert.Equal(expected, Selector.isMatch (r 200 section) s)
    | Error e -> failwith (SelectorError.describe e)

[<Theory>]
[<InlineData("section=~\"/[[:alpha:]]+\"", "/API", true)>] // RE2's POSIX class: .NET read [:alph then ]
[<InlineData("section=~\"/[[:alpha:]]+\"", "/a]", false)>]
[<InlineData("section=~\"/[^[:digit:][:space:]]+\"", "/a-b", true)>]
[<InlineData("section=~\"/[^[:digit:][:space:]]+\"", "/a1", false)>]
[<InlineData("section=~\"/[[:punct:]]\"", "/[", true)>]
[<InlineData("section=~\"/\\\\d+\"", "/42", true)>] // \\d in the selector is \d in the regex: ASCII, as in RE2
[<InlineData("section=~\"/\\\\d+\"", "/\u0663", false)>] // an Arabic-Indic digit
[<InlineData("section=~\"/\\\\w+\"", "/caf\u00e9", false)>]
[<InlineData("section=~\"/\\\\W\"", "/\u00e9", true)>]
[<InlineData("section=~\"/[\\\\d.]+\"", "/1.2", true)>]
[<InlineData("section=~\"/[]a]+\"", "/]a", true)>] // a ] first in a class is a literal
[<InlineData("section=~\"/[a[]+\"", "/a[", true)>] // so is a [ inside one
[<InlineData("section=~\"/[\\\\s\\\\S]+\"", "/caf\u00e9!", true)>] // any character, as in RE2
[<InlineData("section=~\"/[[:^alpha:]]+\"", "/12", true)>]
[<InlineData("section=~\"/[[:^alpha:]]+\"", "/1a", false)>]
[<InlineData("section=~\"/[^\\\\D]\"", "/5", true)>]
[<InlineData("section=~\"/[^\\\\D]\"", "/\u0663", false)>]
let ``regex classes read as RE2 reads them`` (text: string, section: string, expected: bool) =
    match Selector.create text with
    | Ok s -> Assert.Equal(expected, Selector.isMatch (r 200 section) s)
    | Error e -> failwith (SelectorError.describe e)

[<Theory>]
[<InlineData("section=~\"/[[:alfa:]]\"", "[:alfa:] is not a character class")>]
[<InlineData("section=~\"/[[:^alfa:]]\"", "[:^alfa:] is not a character class")>]
let ``a class RE2 does not have is refused`` (text: string, reason: string) =
    match Selector.create text with
    | Ok _ -> failwith "accepted"
    | Error e -> Assert.Contains(reason, SelectorError.describe e)

[<Fact>]
let ``a regex selector takes linear time on a value chosen to make backtracking explode`` () =
    // A backtracking engine tries about 1.6^60 ways to split 60 a's into a's and aa's.
    let section = "/" + String('a', 60)
    match Selector.create "section=~\"/(a|aa)*b\"" with
    | Ok s ->
        let clock = Diagnostics.Stopwatch.StartNew()
        Assert.False(Selector.isMatch (r 200 section) s)
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds 1.0, sprintf "took %O" clock.Elapsed)
    | Error e -> failwith (SelectorError.describe e)

[<Theory>]
[<InlineData("section=~\"(a)\\\\1\"", "backreference")>]
[<InlineData("section=~\"(?=/a)/.*\"", "lookahead")>]
[<InlineData("section!~\"(?<!x)/a\"", "lookbehind")>]
[<InlineData("section=~\"(?>/a+)\"", "atomic")>]
[<InlineData("section=~\"(?(/a)/a|/b)\"", "conditional")>]
let ``a regex that cannot run in linear time is refused, naming the construct and RE2`` (text: string, construct: string) =
    match Selector.create text with
    | Ok _ -> failwith "accepted"
    | Error(UnsupportedRegex(pattern, what) as e) ->
        Assert.Contains(construct, what)
        let message = SelectorError.describe e
        Assert.StartsWith(sprintf "regex \"%s\": " pattern, message)
        Assert.Contains("RE2", message)
        Assert.DoesNotContain("\n", message)
    | Error e -> failwith (SelectorError.describe e)

[<Fact>]
let ``a regex with unbalanced parentheses cannot escape the anchors`` () =
    // Wrapped as ^(?:5..)|(.*)$ it would parse, and match every status.
    match Selector.create "status=~\"5..)|(.*\"" with
    | Ok _ -> failwith "accepted"
    | Error e -> Assert.StartsWith("regex \"5..)|(.*\": ", SelectorError.describe e)

let private highTraffic =
    match BuiltIn.highTraffic 10.0 (TimeSpan.FromMinutes 2.0) with
    | Ok r -> r
    | Error e -> failwith (RuleError.describe e)

[<Fact>]
let ``high traffic fires above 10 requests per second over 2 minutes and resolves below`` () =
    // 11 records a second for 130 s, then 1 a second for 200 s.
    let records =
        [ for s in 0L .. 129L do for i in 1 .. 11 -> record (baseTime + s) "h" "/api" 200 1L (s * 100L + int64 i)
          for s in 130L .. 329L -> record (baseTime + s) "h" "/api" 200 1L (100_000L + s) ]
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = [ highTraffic ]; Retention = 120L; RecordRetention = 0L; Series = []; Unread = [] }
    let alerts = Engine.run config [ Input.ofSeq records; EndOfInput ] |> List.choose (function Alert a -> Some a | _ -> None)
    match alerts with
    | [ fired; resolved ] ->
        // Rate over (s−120, s] first exceeds 10 when 11·k/120 > 10, k = 110 seconds in: s = base + 109.
        Assert.Equal(baseTime + 109L, fired.Time)
        Assert.Equal(Fired, fired.Transition)
        Assert.Equal("High traffic generated an alert - hits = 10.08, triggered at 2019-02-07T21:12:49Z", fired.Message)
        Assert.Equal(Resolved, resolved.Transition)
        Assert.True(resolved.Value < 10.0)
        Assert.Equal(fired.Time, resolved.FiringSince)
    | other -> failwithf "expected one firing and one resolve, got %A" other

[<Theory>]
[<InlineData(0.125, "0.13")>]
[<InlineData(0.375, "0.38")>]
[<InlineData(2.625, "2.63")>]
[<InlineData(-0.125, "-0.13")>]
[<InlineData(10.0833333, "10.08")>]
// Past a decimal's range, as the final report and Alertmanager write it.
[<InlineData(1e30, "1E+30")>]
let ``a message's value has 2 decimals rounded half away from zero, as the event's value`` (value: float, text: string) =
    // Halves that a double holds exactly: "F2" alone rounded them to even (0.125 read 0.12).
    Assert.Equal("v=" + text, Rule.render "v={value}" highTraffic [] baseTime baseTime value)

[<Theory>]
[<InlineData("/{label}")>]
[<InlineData("/{value}{rule}{section}")>]
[<InlineData("/a")>]
let ``what fills a placeholder is not filled again`` (section: string) =
    // A client picks the section: its braces must not pull in other values (one pass).
    Assert.Equal($"section {section} is hot, {{host}} stays",
                 Rule.render "section {section} is hot, {host} stays" highTraffic [ "section", section ] baseTime baseTime 1.0)
    Assert.Equal($"{section} by high_traffic",
                 Rule.render "{label} by {rule}" highTraffic [ "section", section ] baseTime baseTime 1.0)

[<Fact>]
let ``a skewed record is reported and does not move time`` () =
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 10L; Rules = [ highTraffic ]; Retention = 120L; RecordRetention = 0L; Series = []; Unread = [] }
    let a = record baseTime "h" "/a" 200 1L 2L
    let far = record (baseTime + 10_000L) "h" "/a" 200 1L 3L
    let b = record (baseTime + 1L) "h" "/a" 200 1L 4L
    let state, events = Engine.step (Input.ofSeq [ a; far; b ]) (Engine.init config)
    Assert.Equal(Some(baseTime + 1L), state.NewestTime)
    Assert.Equal(1L, state.SkewedCount)
    Assert.Equal(2L, state.RecordCount)
    Assert.Contains(Skewed(far, baseTime), events)

[<Fact>]
let ``summaries are aligned, skip empty intervals and end with a partial one`` () =
    let config = { Lateness = 5L; MaxSkew = 1_000_000L; SummaryInterval = 10L; Rules = []; Retention = 10L; RecordRetention = 0L; Series = []; Unread = [] }
    // baseTime is a multiple of 10: records at +3, +4, +15 and +1000.
    let rs = [ 3L; 4L; 15L; 1000L ] |> List.mapi (fun i t -> record (baseTime + t) "h" "/a" 200 1L (int64 i))
    let summaries = Engine.run config [ Input.ofSeq rs; EndOfInput ] |> List.choose (function SummaryReady s -> Some s | _ -> None)
    Assert.Equal<(int64 * int64 * int64 * bool) list>(
        [ baseTime, baseTime + 10L, 2L, false
          baseTime + 10L, baseTime + 20L, 1L, false
          baseTime + 1000L, baseTime + 1001L, 1L, true ],
        summaries |> List.map (fun s -> s.Start, s.End, s.Requests, s.Partial))

[<Fact>]
let ``a jump confirmed by the next record is time moving on, not skew`` () =
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 10L; Rules = [ highTraffic ]; Retention = 120L; RecordRetention = 0L; Series = []; Unread = [] }
    let before = [ for t in 0L .. 5L -> record (baseTime + t) "h" "/a" 200 1L t ]
    // A weekend without traffic: far beyond --max-skew, and the records after it agree with each other.
    let after = [ for t in 0L .. 5L -> record (baseTime + 200_000L + t) "h" "/a" 200 1L (100L + t) ]
    let state, events = Engine.step (Input.ofSeq (before @ after)) (Engine.init config)
    let _, final = Engine.step EndOfInput state
    Assert.Equal(0L, state.SkewedCount)
    Assert.Equal(12L, state.RecordCount)
    Assert.Equal(Some(baseTime + 200_005L), state.NewestTime)
    let starts = events @ final |> List.choose (function SummaryReady s -> Some s.Start | _ -> None)
    Assert.Equal<int64 list>([ baseTime; baseTime + 200_000L ], starts)

[<Fact>]
let ``a quiet log whose requests are hours apart loses none of them`` () =
    // 0, 2h, 4h, 4h+1s with a skew of 1h: each jump is confirmed by the next record, which is later
    // still. Every record but the first was skewed when the next had to be within the skew of it.
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 10L; Rules = [ highTraffic ]; Retention = 120L; RecordRetention = 0L; Series = []; Unread = [] }
    let times = [ 0L; 7200L; 14_400L; 14_401L ]
    let records = times |> List.mapi (fun i t -> record (baseTime + t) "h" "/a" 200 1L (int64 i + 1L))
    let state, events = Engine.step (Input.ofSeq records) (Engine.init config)
    let _, final = Engine.step EndOfInput state
    Assert.Equal((0L, 4L), (state.SkewedCount, state.RecordCount))
    let starts = events @ final |> List.choose (function SummaryReady s -> Some s.Start | _ -> None)
    Assert.Equal<int64 list>([ baseTime; baseTime + 7200L; baseTime + 14_400L ], starts)

/// Skewed records and counts of `times` (seconds after baseTime) in one batch, and the same in every
/// split into two batches: a step on `a @ b` equals a step on `a` then one on `b`.
let private skewOf (maxSkew: int64) (times: int64 list) =
    let config = { Lateness = 5L; MaxSkew = maxSkew; SummaryInterval = 10L; Rules = [ highTraffic ]; Retention = 120L; RecordRetention = 0L; Series = []; Unread = [] }
    let records = times |> List.mapi (fun i t -> record (baseTime + t) "h" "/a" 200 1L (int64 i + 1L))
    let runIn (batches: Record list list) =
        let mutable state = Engine.init config
        let events = ResizeArray()
        for b in batches do
            let next, e = Engine.step (Input.ofSeq b) state
            state <- next
            events.AddRange e
        let _, final = Engine.step EndOfInput state
        events.AddRange final
        List.ofSeq events
    let whole = runIn [ records ]
    for cut in 1 .. records.Length - 1 do
        Assert.Equal<Event list>(whole, runIn [ List.take cut records; List.skip cut records ])
    let skewed = whole |> List.choose (function Skewed(r, _) -> Some(r.Time - baseTime) | _ -> None)
    match List.last whole with
    | Finished report -> skewed, report.Records, report.Late
    | other -> failwithf "expected the report last, got %A" other

[<Fact>]
let ``a corrupt far-future first record is skewed once two records agree against it`` () =
    // It was accepted, being first, and nothing closed until log time reached it a year on: live,
    // no event came out at all.
    let year = 365L * 86400L
    Assert.Equal(([ year ], 4L, 0L), skewOf 3600L [ year; 0L; 1L; 2L; 3L ])
    // Two of them, the second earlier: both skewed, the log's own records taken.
    Assert.Equal(([ 2L * year; year ], 3L, 0L), skewOf 3600L [ 2L * year; year; 0L; 1L; 2L ])

[<Fact>]
let ``a correct first record stands when one record, not two, is more than the skew before it`` () =
    // A request of two hours, logged when it ended as the log's second line: counted in order.
    Assert.Equal(([], 4L, 0L), skewOf 3600L [ 7200L; 0L; 7201L; 7202L ])
    // Or a corrupt past time on the second line: taken as the build before took it, not in place of the first.
    Assert.Equal(([], 4L, 0L), skewOf 3600L [ 7200L; -1_000_000L; 7201L; 7202L ])
    // Jitter within the lateness (5s) never weighs against it, however small the skew: it was skewed.
    Assert.Equal(([], 6L, 0L), skewOf 1L [ 3L; 1L; 0L; 3L; 4L; 5L ])

[<Fact>]
let ``a first record with nothing after it to decide is accepted`` () =
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 10L; Rules = [ highTraffic ]; Retention = 120L; RecordRetention = 0L; Series = []; Unread = [] }
    Assert.Equal(([], 1L, 0L), skewOf 3600L [ 0L ])
    Assert.Equal(([], 2L, 0L), skewOf 3600L [ 7200L; 0L ])
    // At the live clock's Tick too: one request and then quiet still gets its summary.
    let held, _ = Engine.step (Input.ofSeq [ record baseTime "h" "/a" 200 1L 1L ]) (Engine.init config)
    Assert.Equal((Some baseTime, None, 0L), (held.HeldTime, held.NewestTime, held.RecordCount))
    let ticked, events = Engine.step (Tick(baseTime + 20L)) held
    Assert.Equal((None, Some baseTime, 1L), (ticked.HeldTime, ticked.NewestTime, ticked.RecordCount))
    Assert.Contains(events, fun e -> match e with SummaryReady s -> s.Start = baseTime && s.Requests = 1L | _ -> false)

[<Fact>]
let ``a confirmed suspect and the next one held may span batches`` () =
    // The suspect at 2h ends one batch; 4h (later still) confirms it and is held in turn, and 4h+1s,
    // in a third batch, confirms that.
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = []; Retention = 10L; RecordRetention = 0L; Series = []; Unread = [] }
    let at i t = record (baseTime + t) "h" "/a" 200 1L i
    let batches = [ [ at 1L 0L; at 2L 7200L ]; [ at 3L 14_400L ]; [ at 4L 14_401L ] ]
    let state = batches |> List.fold (fun st b -> fst (Engine.step (Input.ofSeq b) st)) (Engine.init config)
    let _, final = Engine.step EndOfInput state
    Assert.Equal((0L, 4L), (state.SkewedCount, state.RecordCount))
    Assert.Equal(Some(baseTime + 14_401L), state.NewestTime)
    Assert.DoesNotContain(final, fun e -> match e with Skewed _ -> true | _ -> false)

[<Fact>]
let ``two corrupt timestamps in a row, the second the later, read as a jump to the first`` () =
    // The documented cost of the rule above (docs/semantics.md §4): the first is accepted, the
    // second skewed, and the records after them are late.
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = []; Retention = 10L; RecordRetention = 0L; Series = []; Unread = [] }
    let at i t = record (baseTime + t) "h" "/a" 200 1L i
    let year = 365L * 86400L
    let state, _ = Engine.step (Input.ofSeq [ at 1L 0L; at 2L 1L; at 3L year; at 4L (2L * year); at 5L 2L; at 6L 3L ]) (Engine.init config)
    Assert.Equal((1L, 5L, 2L), (state.SkewedCount, state.RecordCount, state.LateCount))

[<Fact>]
let ``a suspect is skewed when the next record falls back more than the skew before it`` () =
    // 1h ahead plus 1s, then a record 2h before the suspect (still too far ahead of the newest):
    // the suspect was a corrupt timestamp, and the second record is the next suspect.
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = []; Retention = 10L; RecordRetention = 0L; Series = []; Unread = [] }
    let first = record baseTime "h" "/a" 200 1L 1L
    let corrupt = record (baseTime + 20_000L) "h" "/a" 200 1L 2L
    let next = record (baseTime + 10_000L) "h" "/a" 200 1L 3L
    let after = record (baseTime + 10_001L) "h" "/a" 200 1L 4L
    let state, events = Engine.step (Input.ofSeq [ first; corrupt; next; after ]) (Engine.init config)
    Assert.Equal<Event list>([ Skewed(corrupt, baseTime) ], events |> List.filter (function Skewed _ -> true | _ -> false))
    Assert.Equal((1L, 3L), (state.SkewedCount, state.RecordCount))

[<Fact>]
let ``a record too far ahead at the end of input is skewed`` () =
    let config = { Lateness = 5L; MaxSkew = 3600L; SummaryInterval = 10L; Rules = [ highTraffic ]; Retention = 120L; RecordRetention = 0L; Series = []; Unread = [] }
    let far = record (baseTime + 10_000L) "h" "/a" 200 1L 9L
    let state, _ = Engine.step (Input.ofSeq [ record baseTime "h" "/a" 200 1L 1L; far ]) (Engine.init config)
    let _, final = Engine.step EndOfInput state
    Assert.Contains(Skewed(far, baseTime), final)
    match List.last final with
    | Finished report -> Assert.Equal((1L, 1L), (report.Skewed, report.Records))
    | other -> failwithf "expected the report last, got %A" other

[<Fact>]
let ``a store keeps only the totals of the seconds before its record horizon, late records included`` () =
    let at t = record t "10.0.0.1" "/a" 200 100L t
    let store =
        Store.empty
        |> Store.addAll 10L [| at 10L |]
        |> Store.addAll 12L [| at 12L; at 12L |]
        |> Store.stripBefore 12L
        // Late records for seconds before the horizon: one that had records, one that had none.
        |> Store.addAll 10L [| at 10L |]
        |> Store.addSlices 11L [ ReadOnlyMemory [| at 11L; at 11L |] ]
    let bucket second = (Store.tryFind second store).Value
    Assert.Equal((2L, Int128.op_Implicit 200L, 0), ((bucket 10L).Requests, (bucket 10L).Bytes.ToInt128(), (bucket 10L).Chunks.Length))
    Assert.Equal((2L, Int128.op_Implicit 200L, 0), ((bucket 11L).Requests, (bucket 11L).Bytes.ToInt128(), (bucket 11L).Chunks.Length))
    Assert.Equal((2L, Int128.op_Implicit 200L, 1), ((bucket 12L).Requests, (bucket 12L).Bytes.ToInt128(), (bucket 12L).Chunks.Length))
    // The horizon never moves back.
    Assert.Same(store, Store.stripBefore 11L store)

[<Fact>]
let ``a remembered top-k is exact when another grouped window moved in between`` () =
    // A 2-second window by host, one second at a time (so it moves, not rebuilds, and ranks from
    // its remembered answer): h0 leads with 3 until its second leaves, then h1 leads with 3. A
    // window grouped by section moves between each move of the host window and its ranking.
    let records =
        [ for i in 0..2 do
              yield record baseTime "h0" "/a" 200 1L (int64 i)
          yield record baseTime "h1" "/b" 200 1L 3L
          yield record (baseTime + 1L) "h1" "/c" 200 1L 4L
          yield record (baseTime + 2L) "h1" "/d" 200 1L 5L
          yield record (baseTime + 2L) "h1" "/e" 200 1L 6L ]
    let store =
        records
        |> List.groupBy (fun r -> r.Time)
        |> List.fold (fun st (t, rs) -> Store.addAll t (Array.ofList rs) st) Store.empty
    let mutable hosts = Window.build 2L (Some Host) Selector.all Requests (baseTime - 1L) store
    let mutable sections = Window.build 2L (Some Section) Selector.all Requests (baseTime - 1L) store
    let ranking second =
        hosts <- Window.advanceTo second store hosts
        sections <- Window.advanceTo second store sections
        let best, remembered = Window.top 1 Requests hosts
        hosts <- remembered
        best |> Array.map (fun kv -> kv.Key, kv.Value) |> List.ofArray
    Assert.Equal<(string * float) list>([ "h0", 3.0 ], ranking baseTime)
    Assert.Equal<(string * float) list>([ "h0", 3.0 ], ranking (baseTime + 1L))
    Assert.Equal<(string * float) list>([ "h1", 3.0 ], ranking (baseTime + 2L))

[<Fact>]
let ``a symbol is its decoded text: bytes that are not UTF-8 and lone surrogates read as U+FFFD`` () =
    let symbols = Symbols()
    let fresh = string (Guid.NewGuid())
    let internBytes (tail: byte[]) = symbols.Intern(ReadOnlySpan(Array.append (Text.Encoding.UTF8.GetBytes fresh) tail))
    let replaced = symbols.Intern(fresh + "\uFFFD")
    Assert.Equal(replaced, internBytes [| 0xFFuy |])
    Assert.Equal(replaced, internBytes [| 0xC3uy |]) // a sequence cut short
    Assert.Equal(replaced, symbols.Intern(fresh + "\uD800")) // a lone surrogate
    Assert.Equal(fresh + "\uFFFD", symbols.Name replaced)
    // A string with a lone surrogate interned first still names its id by the decoded text.
    let other = string (Guid.NewGuid())
    let id = symbols.Intern(other + "\uDC00")
    Assert.Equal(other + "\uFFFD", symbols.Name id)
    Assert.NotEqual(replaced, internBytes [| 0x41uy |])

[<Fact>]
let ``a canonical IPv4 text is filed by its address, any other text by its hash`` () =
    let key (text: string) = Symbols.Key(ReadOnlySpan(Text.Encoding.UTF8.GetBytes text))
    let address = 1L <<< 32
    Assert.Equal(address ||| 0x0A000001L, key "10.0.0.1")
    Assert.Equal(address ||| 0xFFFFFFFFL, key "255.255.255.255")
    Assert.Equal(address, key "0.0.0.0")
    Assert.Equal(address ||| 0xC0A8640AL, key "192.168.100.10")
    for other in [ "10.0.0.01"; "010.0.0.1"; "256.1.1.1"; "1.2.3"; "1.2.3.4.5"; "1..2.3"; " 1.2.3.4"; "1.2.3.4 "
                   "1.2.3.a"; "1.2.3.-4"; "1.2.3.1000"; "a.b.c.d"; "1.2.3.4/"; "::1"; "1.2.3.4.."; "" ] do
        Assert.True(key other &&& address = 0L, other)
    // Either way one id per text, named by the text.
    let symbols = Symbols()
    for text in [ "10.0.0.1"; "10.0.0.01"; "1.2.3.4"; "01.2.3.4"; "host-a" ] do
        let id = symbols.Intern text
        Assert.Equal(id, symbols.Intern(ReadOnlySpan(Text.Encoding.UTF8.GetBytes text)))
        Assert.Equal(text, symbols.Name id)
    Assert.Equal(5, symbols.Count)

[<Fact>]
let ``symbols grow from four threads at once: one id per text, named by it`` () =
    // 6,000 addresses and 6,000 other texts (some of them dotted, not canonical) into a fresh
    // table, from four threads in four orders: both indexes double several times while others read.
    let texts =
        [| for i in 0 .. 5999 do
               yield sprintf "10.%d.%d.%d" (i / 65536) (i / 256 % 256) (i % 256)
               yield if i % 3 = 0 then sprintf "10.%d.%d.0%d" (i / 65536) (i / 256 % 256) (i % 256) else sprintf "host-%d" i |]
    let symbols = Symbols()
    let order t = if t % 2 = 0 then texts else Array.rev texts
    let results =
        Array.Parallel.init 4 (fun t ->
            order t
            |> Array.mapi (fun i x -> x, (if (i + t) % 2 = 0 then symbols.Intern x else symbols.Intern(ReadOnlySpan(Text.Encoding.UTF8.GetBytes x))))
            |> Map.ofArray)
    let ids = results[0]
    for r in results do
        Assert.True((r = ids), "ids differ between threads")
    for KeyValue(text, id) in ids do
        Assert.Equal(text, symbols.Name id)
    Assert.Equal(texts.Length, ids |> Map.toSeq |> Seq.map snd |> Seq.distinct |> Seq.length)
    Assert.Equal(texts.Length, symbols.Count)

[<Fact>]
let ``a series no window reads any more is no longer tallied`` () =
    // A rule that builds its selector from the data (here: from the second), so that every second
    // asks for a window no other second does; each one expires 3 s later.
    let spec =
        { Oracle.RuleSpec.Name = "moving"; Oracle.RuleSpec.Above = 1e9; Oracle.RuleSpec.Recover = 1e9; Oracle.RuleSpec.For = 0L
          Oracle.RuleSpec.Value = Scalar(fun q -> q.Sum("requests", TimeSpan.FromSeconds 3.0, sprintf "host=\"h%d\"" (q.Now.ToUnixTimeSeconds() % 1000L))) }
    let told = Series.create (Some Section) Selector.all Requests // told at load time: kept whatever the windows
    let config = { Lateness = 0L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = [ Oracle.toRule spec ]; Retention = 3L; RecordRetention = 0L; Series = [ told ]; Unread = [] }
    let records = [| for s in 0L .. 199L -> record (baseTime + s) (sprintf "h%d" ((baseTime + s) % 1000L)) "/a" 200 1L s |]
    let state, _ = Engine.step (Input.ofSeq records) (Engine.init config)
    // The told series and the windows of the last few seconds: not one per second evaluated.
    Assert.True(state.EvaluatedSeconds > 190L)
    Assert.InRange(state.TalliedSeries, 2, 6)

[<Theory>]
[<InlineData("Sum", "reqests", 60000, null, null, true)>]
[<InlineData("Rate", "requests", 1500, null, null, true)>]
[<InlineData("Sum", "bytes", 60000, null, "status=~\"5..", true)>]
[<InlineData("SumBy", "requests", 60000, "path", null, true)>]
[<InlineData("SumBy", "reqests", 500, "path", "x=", true)>] // several mistakes: the width is named first
[<InlineData("RateBy", "reqests", 60000, "path", "x=", true)>] // then the metric
[<InlineData("TopK", "bytes", 60000, "path", "x=", true)>] // then the label
[<InlineData("TopK", "bytes", 60000, "host", "x=", true)>] // then the selector
[<InlineData("Distinct", "reqests", 60000, "host", "status=~\"(\"", true)>] // Distinct has no metric
[<InlineData("Rate", "requests", 60000, "path", "section=\"/a\"", false)>] // nor Rate a label: accepted
let ``a query reads the same to the load-time check as to the engine`` (fn: string, metric: string, widthMs: int, label: string, selector: string, rejected: bool) =
    let width = TimeSpan.FromMilliseconds(float widthMs)
    let ask (q: IQuery) =
        match fn with
        | "Sum" -> q.Sum(metric, width, selector)
        | "Rate" -> q.Rate(metric, width, selector)
        | "SumBy" -> q.SumBy(metric, width, label, selector).Count |> float
        | "RateBy" -> q.RateBy(metric, width, label, selector).Count |> float
        | "TopK" -> q.TopK(1, metric, width, label, selector).Count |> float
        | _ -> q.Distinct(label, width, selector)
    let rule =
        match Rule.create "r" (Scalar ask) 1e9 None 0L None None with
        | Ok r -> r
        | Error e -> failwith (RuleError.describe e)
    let config = { Lateness = 0L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = [ rule ]; Retention = 60L; RecordRetention = 0L; Series = []; Unread = [] }
    let events = Engine.run config [ Input.ofSeq [ record baseTime "h" "/a" 200 1L 1L ]; EndOfInput ]
    let atRunTime = events |> List.tryPick (function RuleFailed(_, _, message) -> Some message | _ -> None)
    let atLoadTime = Interop.Queries.Problem(fn, metric, width, label, selector)
    Assert.Equal(rejected, atRunTime.IsSome)
    Assert.Equal(atRunTime, Option.ofObj atLoadTime)

// k below 1 answers no groups, as Prometheus' topk(0, ...) does; it failed the rule (switched off
// for good), which a k computed from the data reached in any quiet window.
[<Theory>]
[<InlineData(1, 1)>]
[<InlineData(0, 0)>]
[<InlineData(-3, 0)>]
let ``TopK with k below 1 answers no groups and does not fail the rule`` (k: int, groups: int) =
    let ask (q: IQuery) = float (q.TopK(k, "requests", TimeSpan.FromMinutes 1.0, "host", null).Count) + 0.5
    let rule =
        match Rule.create "r" (Scalar ask) 1.0 None 0L None None with
        | Ok r -> r
        | Error e -> failwith (RuleError.describe e)
    let config = { Lateness = 0L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = [ rule ]; Retention = 60L; RecordRetention = 0L; Series = []; Unread = [] }
    let events = Engine.run config [ Input.ofSeq [ for s in 0L .. 4L -> record (baseTime + s) "h" "/a" 200 1L s ]; EndOfInput ]
    Assert.DoesNotContain(events, fun e -> match e with RuleFailed _ -> true | _ -> false)
    let fired = events |> List.exists (function Alert a -> a.Transition = Fired | _ -> false)
    Assert.Equal(groups > 0, fired)

let private quietRule name =
    match Rule.create name (Scalar(fun _ -> 0.0)) 1e9 None 0L None None with
    | Ok r -> r
    | Error e -> failwith (RuleError.describe e)

let private seriesOf (settings: Interop.EngineSettings) =
    [ for w in settings.Series -> sprintf "%s|%s" (string w.Label) (string w.Selector) ]

[<Fact>]
let ``what the engine keeps follows what the rules told at load time`` () =
    let settings = Interop.EngineSettings(Rules = [| quietRule "a"; quietRule "b" |], SummaryInterval = TimeSpan.Zero)
    // a told all it reads: a total over 2m, requests per section over 5m.
    settings.Windows.Add(
        Interop.RuleWindows("a", [ Interop.QueryWindow(TimeSpan.FromMinutes 2.0, null, null)
                                   Interop.QueryWindow(TimeSpan.FromMinutes 5.0, "section", null) ], true))
    // b threw part way: it told a selecting window over 10m, and may read others.
    settings.Windows.Add(
        Interop.RuleWindows("b", [ Interop.QueryWindow(TimeSpan.FromMinutes 10.0, null, "status_class=\"5xx\"") ], false))
    // c was loaded but does not run: its window counts for the history kept, its series is not tallied.
    settings.Windows.Add(Interop.RuleWindows("c", [ Interop.QueryWindow(TimeSpan.FromHours 1.0, "host", null) ], true))

    Assert.Equal(TimeSpan.FromHours 1.0, settings.Retention)
    Assert.Equal(TimeSpan.FromMinutes 10.0, settings.RecordRetention) // b's widest window
    Assert.Equal<string list>([ "section|"; "|status_class=\"5xx\"" ], seriesOf settings)

    // The engine keeps records for 10m, totals for the hour, and tallies the two series.
    let records = [| for s in 0L .. 1799L -> record (baseTime + s) "h" "/a" 200 1L s |]
    let state = Interop.Fold.PushInto(Interop.Fold.Start settings, ImmutableArray.CreateRange records, Interop.NoticeBuffer())
    Assert.Equal(2, state.TalliedSeries)
    Assert.InRange(state.StoredRecordSeconds, 600, 610)
    Assert.InRange(state.StoredSeconds, 1795, 1800)

[<Fact>]
let ``rules that told nothing keep a second of history and no records`` () =
    let settings = Interop.EngineSettings(Rules = [| quietRule "a" |], SummaryInterval = TimeSpan.Zero)
    Assert.Equal(TimeSpan.FromSeconds 1.0, settings.Retention)
    Assert.Equal(TimeSpan.Zero, settings.RecordRetention)
    Assert.Empty(settings.Series)
    // A rule that told all it reads, and reads totals only: no records either.
    settings.Windows.Add(Interop.RuleWindows("a", [ Interop.QueryWindow(TimeSpan.FromMinutes 2.0, null, "") ], true))
    Assert.Equal(TimeSpan.FromMinutes 2.0, settings.Retention)
    Assert.Equal(TimeSpan.Zero, settings.RecordRetention)
    Assert.Empty(settings.Series)
    let records = [| for s in 0L .. 599L -> record (baseTime + s) "h" "/a" 200 1L s |]
    let state = Interop.Fold.PushInto(Interop.Fold.Start settings, ImmutableArray.CreateRange records, Interop.NoticeBuffer())
    Assert.Equal(0, state.TalliedSeries)
    Assert.InRange(state.StoredRecordSeconds, 0, 7) // the open seconds (lateness 5s) and the last closed one
    Assert.InRange(state.StoredSeconds, 115, 127)

[<Fact>]
let ``a WhenEach result through Select and Where is looked at again only where a move touched it`` () =
    // 400 hosts in the first second, then one record a second from one of them for 100 seconds.
    let records =
        [| for i in 0L .. 399L -> record baseTime (sprintf "10.1.%d.%d" (i / 256L) (i % 256L)) "/a" 200 1L i
           for s in 1L .. 100L -> record (baseTime + s) "10.1.0.7" "/a" 200 1L (400L + s) |]
    let calls = ref 0
    // One delegate for the whole run, as a lambda that captures nothing is in a script.
    let counted = Func<float, float>(fun v -> calls.Value <- calls.Value + 1; v)
    let kept = Func<string, float, bool>(fun _ v -> v > 0.0)
    let events value =
        match Rule.create "hosts" (PerGroup value) 5.0 (Some 5.0) 0L None None with
        | Error e -> failwith (RuleError.describe e)
        | Ok rule ->
            let cfg = { Lateness = 0L; MaxSkew = 3600L; SummaryInterval = 0L; Rules = [ rule ]; Retention = 0L; RecordRetention = 0L; Series = []; Unread = [] }
            let state, events = Engine.step (Input.ofSeq records) (Engine.init cfg)
            events @ snd (Engine.step EndOfInput state)
    let window = TimeSpan.FromMinutes 10.0
    let followed = events (fun q -> q.SumBy("requests", window, "host").Select(counted).Where(kept))
    let followedCalls = calls.Value
    // The same values through a new delegate each second: evaluated whole every second.
    let whole = events (fun q -> q.SumBy("requests", window, "host").Select(Func<float, float>(fun v -> calls.Value <- calls.Value + 1; v)).Where(kept))
    let wholeCalls = calls.Value - followedCalls
    Assert.Equal<Event list>(whole, followed)
    Assert.Contains(followed, fun e -> match e with Alert a -> a.Transition = Fired && a.Labels = [ "host", "10.1.0.7" ] | _ -> false)
    // 400 groups over 101 seconds: some 40k calls evaluated whole; a few a second followed.
    Assert.InRange(wholeCalls, 400 * 100, Int32.MaxValue)
    Assert.InRange(followedCalls, 1, 400 + 3 * 100)

[<Fact>]
let ``a rule's wrappers all leave once its result is read, last first, even when one throws`` () =
    let view = QueryView(Store.empty, [||], baseTime, [])
    let scope = view :> IEvaluationScope
    let left = List<string>()
    scope.OnEvaluated(Action(fun () -> left.Add "watchdog"))
    scope.OnEvaluated(Action(fun () -> left.Add "console"; failwith "stderr is gone"))
    let e = Assert.Throws<Exception>(fun () -> view.Evaluated())
    Assert.Equal("stderr is gone", e.Message)
    Assert.Equal<string list>([ "console"; "watchdog" ], List.ofSeq left)
    view.Evaluated() // nothing left to call
    Assert.Equal(2, left.Count)

[<Fact>]
let ``notices say what the engine's events say`` () =
    let perSection =
        match Rule.create "hot" (PerGroup(fun q -> q.SumBy("requests", TimeSpan.FromSeconds 10.0, "section"))) 2.0 None 0L None None with
        | Ok r -> r
        | Error e -> failwith (RuleError.describe e)
    let failing =
        match Rule.create "broken" (Scalar(fun q -> if q.Now.ToUnixTimeSeconds() > baseTime + 3L then failwith "no" else 0.0)) 1.0 None 0L None None with
        | Ok r -> r
        | Error e -> failwith (RuleError.describe e)
    let settings = Interop.EngineSettings(Rules = [| perSection; failing |], Lateness = TimeSpan.Zero, MaxSkew = TimeSpan.FromSeconds 100.0)
    let records =
        [| for s in 0L .. 14L do
               for i in 0L .. 2L -> record (baseTime + s) "h" (if i = 0L then "/b" else "/a") (if i = 2L then 503 else 200) 10L (s * 3L + i)
           yield record (baseTime + 1000L) "h" "/a" 200 1L 99L |]
    let step = Interop.Fold.Push(Interop.Fold.Start settings, ImmutableArray.CreateRange records)
    let finish = Interop.Fold.End step.State
    let notices = [ yield! step.Events; yield! finish.Events ]
    let events =
        let state, events = Engine.step (Input.ofSeq records) (Interop.Fold.Start settings).Core
        events @ snd (Engine.step EndOfInput state)
    Assert.Equal(events.Length, notices.Length)
    for event, notice in List.zip events notices do
        match event, notice with
        | Alert a, (:? Interop.AlertNotice as n) ->
            Assert.Equal(a.Rule, n.Rule)
            Assert.Equal<Interop.LabelPair list>([ for k, v in a.Labels -> { Interop.LabelPair.Name = k; Interop.LabelPair.Value = v } ], List.ofSeq n.Labels)
            Assert.Equal((if a.Transition = Fired then Interop.AlertTransition.Fired else Interop.AlertTransition.Resolved), n.Transition)
            Assert.Equal((a.Time, a.Value, a.Threshold, a.FiringSince, a.Message), (n.Time, n.Value, n.Threshold, n.FiringSince, n.Message))
        | SummaryReady s, (:? Interop.SummaryNotice as n) ->
            Assert.Equal((s.Start, s.End, s.Requests, s.Bytes, s.Rps, s.Hosts, s.Partial), (n.Start, n.End, n.Requests, n.Bytes, n.Rps, n.Hosts, n.Partial))
            Assert.Equal<(string * int64) list>(s.Sections, [ for x in n.Sections -> x.Section, x.Hits ])
            Assert.Equal<(string * int64) list>(s.Status, [ for x in n.Status -> x.StatusClass, x.Requests ])
        | RuleFailed(rule, time, message), (:? Interop.RuleFailedNotice as n) -> Assert.Equal((rule, time, message), (n.Rule, n.Time, n.Message))
        | Skewed(r, newest), (:? Interop.SkewedNotice as n) -> Assert.Equal((r, newest), (n.Record, n.Newest))
        | Finished r, (:? Interop.FinishedNotice as n) ->
            Assert.Equal((r.Records, r.Skewed, r.Late), (n.Report.Records, n.Report.Skewed, n.Report.Late))
            Assert.Equal<(string * (string * string) list * int64 * float) list>(
                [ for f in r.Firing -> f.Rule, f.Labels, f.Since, f.Value ],
                [ for f in n.Report.Firing -> f.Rule, [ for l in f.Labels -> l.Name, l.Value ], f.Since, f.Value ])
        | e, n -> failwithf "%A became %O" e n
        Assert.Equal(Interop.Notices.ofEvent event, notice) // equal when they say the same
    // Every kind came up, alerts with their labels.
    let kinds = notices |> List.map (fun n -> n.GetType().Name) |> List.distinct |> List.sort
    Assert.Equal<string list>([ "AlertNotice"; "FinishedNotice"; "RuleFailedNotice"; "SkewedNotice"; "SummaryNotice" ], kinds)
    Assert.Contains(notices, fun n -> match n with :? Interop.AlertNotice as a -> a.Labels.Count = 1 | _ -> false)
    Assert.NotEmpty((List.last notices :?> Interop.FinishedNotice).Report.Firing)

[<Fact>]
let ``a step's notices are in the caller's buffer as soon as they are computed`` () =
    // `seen` is what a second rule finds in the buffer while the engine evaluates it, in the same
    // step as the first rule's alert: what a shell writes when a rule never returns.
    let buffer = Interop.NoticeBuffer()
    let mutable seen = []
    let rule name value =
        match Rule.create name (Scalar value) 0.5 None 0L None None with
        | Ok r -> r
        | Error e -> failwith (RuleError.describe e)
    let first = rule "first" (fun _ -> 1.0)
    let second = rule "second" (fun _ -> seen <- [ for i in 0 .. buffer.Count - 1 -> buffer[i] ]; 0.0)
    let settings = Interop.EngineSettings(Rules = [| first; second |], Lateness = TimeSpan.Zero)
    let records = [| record baseTime "h" "/a" 200 1L 1L; record (baseTime + 1L) "h" "/a" 200 1L 2L |]
    Interop.Fold.PushInto(Interop.Fold.Start settings, ImmutableArray.CreateRange records, buffer) |> ignore
    match seen with
    | [ :? Interop.AlertNotice as a ] -> Assert.Equal("first", a.Rule)
    | other -> failwithf "the buffer held %A" other
    Assert.Equal(1, buffer.Count)
    buffer.Clear()
    Assert.Equal(0, buffer.Count)

[<Fact>]
let ``an engine state says what it holds, and default is none`` () =
    let start = Interop.Fold.Start(Interop.EngineSettings(Lateness = TimeSpan.Zero))
    Assert.True(start.IsStarted)
    Assert.False(start.NewestTime.HasValue)
    let step = Interop.Fold.Push(start, ImmutableArray.Create(record baseTime "h" "/a" 200 1L 1L, record (baseTime + 2L) "h" "/a" 200 1L 2L))
    Assert.Equal(Nullable(baseTime + 2L), step.State.NewestTime)
    Assert.Equal(2L, step.State.RecordCount)
    Assert.False(Unchecked.defaultof<Interop.EngineState>.IsStarted)
    Assert.Throws<ArgumentException>(fun () -> Interop.Fold.End(Unchecked.defaultof<Interop.EngineState>) |> ignore) |> ignore

[<Fact>]
let ``a request or upstream time longer than ten years is held as ten years`` () =
    // docs/semantics.md §1: a record keeps each duration "at most ten years"; a longer one is a
    // corrupt field, which must not add thousands of years to every latency sum over its window.
    let tenYears = 10.0 * 365.0 * 86400.0 * 1e6
    let r = (record baseTime "h" "/a" 200 1L 1L).WithExtras(100_000_000_000_000_000L, 315_360_000_000_001L, 0, 0, 0)
    Assert.InRange(float r.RequestMicros / tenYears, 1.0 - 1e-7, 1.0 + 1e-7)
    Assert.InRange(float r.UpstreamMicros / tenYears, 1.0 - 1e-7, 1.0 + 1e-7)
    let below = (record baseTime "h" "/a" 200 1L 1L).WithExtras(86_400_000_000L, 0L, 0, 0, 0)
    Assert.InRange(float below.RequestMicros / 86_400_000_000.0, 1.0 - 1e-7, 1.0 + 1e-7) // a day: kept (within 1e-7)

[<Fact>]
let ``a record is one cache line, and keeps its line, input and durations`` () =
    Assert.Equal(64, Runtime.CompilerServices.Unsafe.SizeOf<Record>())
    let r =
        (record baseTime "h" "/a" 200 1L Bounds.MaxLine)
            .WithExtras(16_777_216L, Bounds.MaxDurationMicros * 2L, 0, 0, 0)
    Assert.Equal((Bounds.MaxLine, 0), (r.Line, r.Source))
    Assert.Equal(16_777_216L, r.RequestMicros) // 2^24 µs: exact
    Assert.InRange(float r.UpstreamMicros / float Bounds.MaxDurationMicros, 1.0 - 1e-7, 1.0 + 1e-7) // clamped, then within 1e-7
    match Record.createWithSection baseTime "h" "-" "GET" "/a" 200 1L Bounds.MaxSource 7L with
    | Ok r -> Assert.Equal((7L, Bounds.MaxSource), (r.Line, r.Source))
    | Error e -> failwith (RecordError.describe e)
    Assert.Throws<ArgumentOutOfRangeException>(fun () ->
        Record.createWithSection baseTime "h" "-" "GET" "/a" 200 1L (Bounds.MaxSource + 1) 7L |> ignore) |> ignore

[<Fact>]
let ``a window's key depends on its arguments only, however often and in what order it is asked`` () =
    let selectors: (string | null)[] = [| null; "status_class=\"5xx\""; "method=\"GET\"" |]
    let queries =
        [ for width in [ 60L; 120L; 3600L ] do
              for label in [ None; Some Section; Some Host ] do
                  for selector in selectors do
                      for metric in [ Requests; RequestTime ] -> (width, label, selector, metric) ]
    // 54 queries: more than a thread remembers, asked three times, in two orders, with selectors
    // of the same text but other string objects on the last pass.
    let first = queries |> List.map (fun (w, l, s, m) -> WindowKeys.get w l s m)
    let again = queries |> List.rev |> List.map (fun (w, l, s, m) -> WindowKeys.get w l s m) |> List.rev
    let copies = queries |> List.map (fun (w, l, s, m) -> WindowKeys.get w l (match s with null -> null | s -> String(s.ToCharArray())) m)
    Assert.Equal<string>(first, again)
    Assert.Equal<string>(first, copies)
    // Requests and bytes share a window; any other difference is another window.
    Assert.Equal(WindowKeys.get 60L None null Requests, WindowKeys.get 60L None null Bytes)
    Assert.Equal(queries.Length, first |> List.distinct |> List.length)
