/// FsCheck properties of the fold: oracle, chunking, gaps, invariants.
module LogAlert.Core.Tests.Properties

open System
open Xunit
open Xunit.Abstractions
open FsCheck
open FsCheck.FSharp
open LogAlert.Core
open LogAlert.Core.Tests.Generators
open LogAlert.Core.Tests.Oracle

/// Labels a property (FsCheck 3 dropped the operator; the label shows in a failure report).
let inline private (|@) property (label: string) = Prop.label label property

// One delegate each for the life of the tests, as a lambda that captures nothing is in a script:
// a result through them is looked at again only in the groups a move touched.
let private tripled = Func<float, float>(fun v -> v * 3.0)
let private notFirstHost = Func<string, float, bool>(fun host v -> host <> "10.0.0.1" || v > 1.0)

/// The rules every property runs: scalar and per-group, selectors, TopK and Distinct, `For`,
/// hysteresis, and a rule that fires on silence (so gaps have something to do).
let ruleSpecs (busyAbove: int) (busyFor: int64) =
    let sec (n: int) = TimeSpan.FromSeconds(float n)
    [ { Name = "busy"; Value = Scalar(fun q -> q.Sum("requests", sec 3)); Above = float busyAbove; Recover = float (busyAbove - 1); For = busyFor }
      { Name = "rate"; Value = Scalar(fun q -> q.Rate("requests", sec 4)); Above = 0.5; Recover = 0.25; For = 0L }
      { Name = "errors"; Value = Scalar(fun q -> q.Sum("requests", sec 5, "status_class=\"5xx\"")); Above = 1.0; Recover = 1.0; For = 1L }
      { Name = "sections"; Value = PerGroup(fun q -> q.SumBy("requests", sec 4, "section", "status!~\"4..\"")); Above = 1.0; Recover = 1.0; For = 0L }
      { Name = "quiet"; Value = Scalar(fun q -> 2.0 - q.Sum("requests", sec 6)); Above = 0.0; Recover = 0.0; For = 3L }
      { Name = "hosts"; Value = Scalar(fun q -> q.Distinct("host", sec 5)); Above = 2.0; Recover = 2.0; For = 0L }
      { Name = "top"; Value = Scalar(fun q -> let t = q.TopK(1, "bytes", sec 5, "host") in if t.Count = 0 then 0.0 else t.Entries[0].Value)
        Above = 2500.0; Recover = 1500.0; For = 0L }
      // The runner-up's share of requests: order and truncation of TopK both matter here.
      { Name = "second"; Value = Scalar(fun q -> let t = q.TopK(2, "requests", sec 5, "host") in if t.Count < 2 then 0.0 else t.Entries[1].Value)
        Above = 1.0; Recover = 1.0; For = 0L }
      // Durations and the labels only some formats log: a mean latency (its own series, beside the
      // requests of the same selector), upstream time per virtual host, agents per referer.
      { Name = "latency"
        Value = Scalar(fun q -> q.Sum("request_time", sec 4, "status!=\"404\"") / max 1.0 (q.Sum("requests", sec 4, "status!=\"404\"")))
        Above = 1.5; Recover = 1.2; For = 1L }
      { Name = "upstream"; Value = PerGroup(fun q -> q.SumBy("upstream_response_time", sec 3, "vhost")); Above = 2.0; Recover = 1.0; For = 2L }
      { Name = "agents"; Value = Scalar(fun q -> q.Distinct("user_agent", sec 5, "referer!=\"-\"")); Above = 1.0; Recover = 1.0; For = 0L }
      // Steps on each group's value alone: `Select` and `Where` (a group left out while alerting
      // reads as 0), and a `Select` whose lambda captures another window's sum: a new delegate
      // each second, so its result is evaluated whole.
      { Name = "steps"; Value = PerGroup(fun q -> q.RateBy("requests", sec 4, "host").Select(tripled).Where(notFirstHost))
        Above = 1.0; Recover = 0.5; For = 1L }
      { Name = "captured"
        Value = PerGroup(fun q -> let all = q.Sum("requests", sec 2) in q.SumBy("requests", sec 4, "section").Select(Func<float, float>(fun v -> v - all)))
        Above = 0.0; Recover = 0.0; For = 0L } ]

let config specs =
    { Lateness = lateness
      MaxSkew = 1_000_000_000L
      SummaryInterval = 10L
      Rules = specs |> List.map toRule
      Retention = 10L
      // Records for as long as the windows that read them need (learnt from the rules' queries).
      RecordRetention = 0L; Series = []; Unread = [] }

let runBatches specs (batches: Record list list) =
    Engine.run (config specs) [ for b in batches -> Input.ofSeq b
                                yield EndOfInput ]

let private tests =
    match Environment.GetEnvironmentVariable "LOGALERT_PROPTEST_N" with
    | null | "" -> 200
    | n -> int n

/// Runs a property with FsCheck, output to xunit. MaxTest comes from `./build.sh proptest N`
/// (LOGALERT_PROPTEST_N), which an attribute's constant argument could not take.
let check (output: ITestOutputHelper) (property: 'a -> Property) =
    let config =
        Config.QuickThrowOnFailure
            .WithMaxTest(tests)
            .WithArbitrary([ typeof<Arbitraries> ])
            .WithRunner(FsCheck.Xunit.TestOutputRunner output)
    Check.One(config, property)

let private params' =
    Gen.zip (Gen.choose (1, 4)) (Gen.elements [ 0L; 2L ]) |> Arb.fromGen

let private hasDisorder (s: Stream) = s.Arrival |> List.pairwise |> List.exists (fun (a, b) -> b.Time < a.Time)
let private hasDuplicates (s: Stream) = s.Sorted |> List.countBy (fun r -> r.Time) |> List.exists (fun (_, n) -> n > 1)
/// Whether some record arrives more than `seconds` behind the newest one before it.
let private arrivesBehind seconds (s: Stream) =
    let mutable newest = None
    let mutable found = false
    for r in s.Arrival do
        match newest with
        | Some n when r.Time < n - seconds -> found <- true
        | _ -> ()
        newest <- Some(match newest with Some n -> max n r.Time | None -> r.Time)
    found

let private hasGap (s: Stream) = s.Sorted |> List.pairwise |> List.exists (fun (a, b) -> b.Time - a.Time > 10L)

/// Whether some rule value sat exactly on a threshold at some evaluated second.
let private hasTie busyAbove (s: Stream) =
    let records = Array.ofList s.Sorted
    if records.Length = 0 then false
    else
        let first, last = records[0].Time, records[records.Length - 1].Time
        let specs = ruleSpecs busyAbove 0L
        seq { first .. min last (first + 200L) }
        |> Seq.exists (fun t ->
            let q = NaiveQuery(records, t)
            specs |> List.exists (fun spec ->
                match spec.Value with
                | Scalar f -> let v = f q in v = spec.Above || v = spec.Recover
                | PerGroup f -> (f q).Entries |> Seq.exists (fun kv -> kv.Value = spec.Above)))

let private classified busyAbove (s: Stream) (p: bool) =
    p
    |> Prop.classify (hasDisorder s) "disorder"
    |> Prop.classify (hasDuplicates s) "duplicate timestamps"
    |> Prop.classify (hasGap s) "gap > 10s"
    |> Prop.classify (hasTie busyAbove s) "exact-threshold tie"

type ``The streaming fold``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``equals a naive recomputation over the sorted records when disorder is within the lateness``() =
        check output (fun (BoundedDisorder s) ->
            Prop.forAll params' (fun (above, forSeconds) ->
                let specs = ruleSpecs above forSeconds
                let expected = Oracle.events 10L specs s.Sorted
                let actual = runBatches specs [ s.Arrival ]
                (actual = expected |@ sprintf "expected %A\nactual %A" expected actual)
                |> Prop.classify (hasDisorder s) "disorder"
                |> Prop.classify (hasDuplicates s) "duplicate timestamps"
                |> Prop.classify (hasGap s) "gap > 10s"
                |> Prop.classify (hasTie above s) "exact-threshold tie"))

    [<Fact; Trait("Category", "property")>]
    member _.``gives the same events however the input is split into batches``() =
        check output (fun (AnyDisorder s) ->
            Prop.forAll (Arb.fromGen (chunks s.Arrival)) (fun batches ->
                let specs = ruleSpecs 2 2L
                let whole = runBatches specs [ s.Arrival ]
                let oneByOne = runBatches specs [ for r in s.Arrival -> [ r ] ]
                let split = runBatches specs batches
                (whole = split && whole = oneByOne) |> classified 2 s))

    [<Fact; Trait("Category", "property")>]
    member _.``continues from a kept state exactly as from the start``() =
        check output (fun (AnyDisorder s) ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, s.Arrival.Length))) (fun cut ->
                let specs = ruleSpecs 2 2L
                let a, b = List.splitAt cut s.Arrival
                let cfg = config specs
                let afterA, eventsA = Engine.step (Input.ofSeq a) (Engine.init cfg)
                // The state after `a` is a value: using it twice gives the same result twice.
                let once = Engine.step (Input.ofSeq b) afterA |> snd
                let twice = Engine.step (Input.ofSeq b) afterA |> snd
                let whole = Engine.step (Input.ofSeq s.Arrival) (Engine.init cfg) |> snd
                once = twice && eventsA @ once = whole))

    [<Fact; Trait("Category", "property")>]
    member _.``reports what fires inside a step from the state before it and the step's events``() =
        // What a run stopped inside a step (a stuck rule) reports: the step's events applied to the
        // report before it give the report after it, in its order (values aside: a firing alert's
        // value moves without a transition), and the counts stay those before it.
        check output (fun (AnyDisorder s) ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, s.Arrival.Length))) (fun cut ->
                let specs = ruleSpecs 2 2L
                let a, b = List.splitAt cut s.Arrival
                let before = Engine.step (Input.ofSeq a) (Engine.init (config specs)) |> fst
                let events = Collections.Generic.List<Event>()
                let after = Engine.stepInto events (Input.ofSeq b) before
                let firing (r: Report) = r.Firing |> List.map (fun f -> f.Rule, f.Labels, f.Since)
                let whole = Engine.reportAfter events events.Count before
                (firing whole = firing (Engine.report after) |@ sprintf "after %A\nreported %A" (Engine.report after).Firing whole.Firing)
                .&. ((whole.Records, whole.Skewed, whole.Late) = (let r = Engine.report before in r.Records, r.Skewed, r.Late) |@ "counts")))

    [<Fact; Trait("Category", "property")>]
    member _.``evaluates a gap of any length in work bounded by the longest window``() =
        check output (fun (BoundedDisorder s) ->
            Prop.forAll (Arb.fromGen (Gen.elements [ 1_000L; 1_000_000L; 315_360_000L ])) (fun gap ->
                let specs = ruleSpecs 2 2L
                let span = match s.Sorted with [] -> 0L | rs -> (List.last rs).Time - rs.Head.Time
                let shifted = s.Sorted |> List.map (fun r -> record (r.Time + span + gap) r.Host r.Section r.Status r.Bytes r.Line)
                let stream = s.Sorted @ shifted
                let state, events =
                    [ Input.ofSeq stream; EndOfInput ]
                    |> List.fold (fun (st, acc) i -> let st', e = Engine.step i st in st', acc @ e) (Engine.init (config specs), [])
                // A gap costs at most the longest window (6 s), the lateness, the longest For and a summary interval
                // per data second.
                let seconds = stream |> List.map (fun r -> r.Time) |> List.distinct |> List.length
                let bound = int64 seconds * (6L + lateness + 3L + 10L + 2L) + 2L
                let naive = if gap < 2_000L then Oracle.events 10L specs stream = events else true
                (state.EvaluatedSeconds <= bound |@ sprintf "evaluated %d seconds, bound %d" state.EvaluatedSeconds bound)
                .&. (naive |@ "differs from per-second evaluation")))

    [<Fact; Trait("Category", "property")>]
    member _.``evaluates windows minutes wide only where a value can change, exactly as every second``() =
        // Windows of 2 to 7 minutes, and gaps of 65 to 250 s inside them: the engine evaluates the
        // seconds a record enters or leaves a window, a For ends or a summary is due, and moves a
        // window across the seconds between at once (docs/semantics.md §8).
        let minutes (n: int) = TimeSpan.FromMinutes(float n)
        let specs =
            [ { Name = "busy"; Value = Scalar(fun q -> q.Sum("requests", minutes 5)); Above = 6.0; Recover = 3.0; For = 40L }
              { Name = "sections"; Value = PerGroup(fun q -> q.RateBy("requests", minutes 3, "section", "status!~\"4..\"") * 60.0)
                Above = 2.0; Recover = 1.0; For = 0L }
              { Name = "quiet"; Value = Scalar(fun q -> 2.0 - q.Sum("requests", minutes 7)); Above = 0.0; Recover = 0.0; For = 30L }
              // A scale that another window decides: the result follows the same window with another
              // multiplier, so each group's value changes although the window did not move.
              { Name = "weighted"
                Value = PerGroup(fun q -> q.SumBy("requests", minutes 3, "section") * (if q.Sum("requests", minutes 1) > 2.0 then 2.0 else 1.0))
                Above = 4.0; Recover = 4.0; For = 0L }
              // A group pending for 20 s fires with no record in between: the end of its For changes it.
              { Name = "failing"; Value = PerGroup(fun q -> q.SumBy("requests", minutes 4, "host", "status_class=\"5xx\""))
                Above = 1.0; Recover = 1.0; For = 20L }
              { Name = "hosts"; Value = Scalar(fun q -> q.Distinct("host", minutes 2, "status_class=\"5xx\"")); Above = 1.0; Recover = 1.0; For = 0L }
              { Name = "top"; Value = Scalar(fun q -> let t = q.TopK(1, "bytes", minutes 4, "host") in if t.Count = 0 then 0.0 else t.Entries[0].Value)
                Above = 4000.0; Recover = 2500.0; For = 0L } ]
        let stream = Gen.zip (streamOf wideTimeSteps (int lateness)) (Gen.elements [ 1; 3 ]) |> Arb.fromGen
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(tests).WithRunner(FsCheck.Xunit.TestOutputRunner output),
            Prop.forAll stream (fun (s, batches) ->
                let expected = Oracle.events 10L specs s.Sorted
                let state, actual =
                    [ yield! s.Arrival |> List.splitInto (max 1 (min batches s.Arrival.Length)) |> List.map Input.ofSeq
                      EndOfInput ]
                    |> List.fold (fun (st, acc) i -> let st', e = Engine.step i st in st', acc @ e) (Engine.init (config specs), [])
                // Each second with records is evaluated itself, as each of the eight windows lets it
                // go, at the end of a For (three rules) and of a summary, and once more per batch.
                let seconds = s.Sorted |> List.map (fun r -> r.Time) |> List.distinct |> List.length
                let bound = int64 seconds * (1L + 8L + 3L + 1L) + int64 batches + 1L
                (actual = expected |@ sprintf "expected %A\nactual %A" expected actual)
                .&. (state.EvaluatedSeconds <= bound |@ sprintf "evaluated %d seconds, bound %d" state.EvaluatedSeconds bound)
                |> Prop.classify (hasGap s) "gap > 10s"
                |> Prop.classify (s.Sorted |> List.pairwise |> List.exists (fun (a, b) -> b.Time - a.Time > 64L)) "gap > 64s"))

    [<Fact; Trait("Category", "property")>]
    member _.``keeps the seconds a window not read for a while will let go``() =
        // The widest window is read only while a narrow one holds records: between reads, the store
        // must keep every second that window still holds, or they are never taken away from it.
        let specs =
            [ { Name = "sometimes"
                Value = Scalar(fun q -> if q.Sum("requests", TimeSpan.FromSeconds 10.0) > 0.0 then q.Sum("requests", TimeSpan.FromMinutes 3.0) else 0.0)
                Above = 5.0; Recover = 5.0; For = 0L } ]
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(tests).WithRunner(FsCheck.Xunit.TestOutputRunner output),
            Prop.forAll (streamOf wideTimeSteps (int lateness) |> Arb.fromGen) (fun s ->
                let expected = Oracle.events 10L specs s.Sorted
                let actual = runBatches specs [ s.Arrival ]
                actual = expected |@ sprintf "expected %A\nactual %A" expected actual))

    [<Fact; Trait("Category", "property")>]
    member _.``keeps records only as long as the summaries need, windows read tallies, with the same events``() =
        check output (fun (AnyDisorder s) ->
            Prop.forAll (Arb.fromGen (Gen.elements [ 0L; 10L ])) (fun summary ->
                let specs = ruleSpecs 2 2L
                let run recordRetention =
                    let cfg = { config specs with SummaryInterval = summary; RecordRetention = recordRetention }
                    let state, events =
                        [ Input.ofSeq s.Arrival; EndOfInput ]
                        |> List.fold (fun (st, acc) i -> let st', e = Engine.step i st in st', acc @ e) (Engine.init cfg, [])
                    state, events
                // The windows that read records (errors, hosts, top; up to 5 s wide) read the tallies of
                // their series once a second's records are gone. Without summaries the lean run keeps
                // the records of 1 second, with them of 10; the full run keeps 10 seconds either way.
                let leanState, lean = run 0L
                let _, full = run 10L
                let bound = if summary = 0L then 1 else 10
                (lean = full |@ sprintf "kept records %ds %A\nkept 10s %A" bound lean full)
                .&. (leanState.StoredRecordSeconds <= bound |@ sprintf "%d seconds of records, bound %d" leanState.StoredRecordSeconds bound)
                |> Prop.classify (hasDisorder s) "disorder"
                // Later than the lateness plus a second: joins a second whose records are gone, as
                // totals and tallies.
                |> Prop.classify (arrivesBehind (lateness + 1L) s) "a record over 6s behind the newest"))

    [<Fact; Trait("Category", "property")>]
    member _.``summaries read from per-second tallies equal summaries read from records``() =
        // A long interval's summary reads each second's tallies of hosts, sections and status
        // classes (`Summary.TalliedAfter`) and keeps no records for it: the same summaries, late
        // records (joining seconds already tallied) included, and records kept only as the windows
        // need them.
        check output (fun (AnyDisorder s) ->
            Prop.forAll (Arb.fromGen (Gen.elements [ 10L; 30L ])) (fun summary ->
                let specs = ruleSpecs 2 2L
                let run talliedAfter =
                    let cfg = { config specs with SummaryInterval = summary }
                    [ Input.ofSeq s.Arrival; EndOfInput ]
                    |> List.fold (fun (st, acc) i -> let st', e = Engine.step i st in st', acc @ e) (Engine.initWith talliedAfter cfg, [])
                let _, fromRecords = run Int64.MaxValue
                let talliedState, fromTallies = run 0L
                let summaries = fromTallies |> List.filter (function SummaryReady _ -> true | _ -> false)
                (fromTallies = fromRecords |@ sprintf "tallies %A\nrecords %A" fromTallies fromRecords)
                .&. (talliedState.StoredRecordSeconds <= 10 |@ sprintf "%d seconds of records" talliedState.StoredRecordSeconds)
                |> Prop.classify (not summaries.IsEmpty) "with summaries"
                |> Prop.classify (arrivesBehind (lateness + 1L) s) "a record over 6s behind the newest"))

    [<Fact; Trait("Category", "property")>]
    member _.``never fires twice without a resolve, and equality never flips a state``() =
        check output (fun (AnyDisorder s) ->
            Prop.forAll params' (fun (above, forSeconds) ->
                let specs = ruleSpecs above forSeconds
                let events = runBatches specs [ s.Arrival ]
                let alerts = events |> List.choose (function Alert a -> Some a | _ -> None)
                let alternates =
                    alerts
                    |> List.groupBy (fun a -> a.Rule, a.Labels)
                    |> List.forall (fun (_, xs) ->
                        xs |> List.mapi (fun i a -> a.Transition = (if i % 2 = 0 then Fired else Resolved)) |> List.forall id)
                let strict =
                    alerts |> List.forall (fun a ->
                        let spec = specs |> List.find (fun r -> r.Name = a.Rule)
                        match a.Transition with
                        | Fired -> a.Value > spec.Above
                        | Resolved -> a.Value < spec.Recover)
                let ordered = alerts |> List.pairwise |> List.forall (fun (a, b) -> a.Time <= b.Time)
                (alternates |@ "alternates") .&. (strict |@ "strict thresholds") .&. (ordered |@ "in time order")
                |> Prop.classify (hasTie above s) "exact-threshold tie"))

    [<Fact; Trait("Category", "property")>]
    member _.``counts a late record in later windows and never rewrites an emitted second``() =
        check output (fun (BoundedDisorder s) ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, 40))) (fun back ->
                let lateRule =
                    { Name = "late"; Value = Scalar(fun q -> q.Sum("requests", TimeSpan.FromSeconds 60.0, "section=\"/late\""))
                      Above = 0.0; Recover = 0.0; For = 0L }
                let specs = ruleSpecs 2 0L @ [ lateRule ]
                let st, _ = Engine.step (Input.ofSeq s.Arrival) (Engine.init (config specs))
                (st.NextSecond.IsSome) ==> lazy (
                    let next = st.NextSecond.Value
                    let newest = st.NewestTime.Value
                    let late = record (newest - lateness - 1L - int64 back) "10.0.0.9" "/late" 500 5000L 999L
                    let st2, after = Engine.step (Input.ofSeq [ late ]) st
                    let _, final = Engine.step EndOfInput st2
                    let later = after @ final
                    let times = later |> List.choose (function Alert a -> Some a.Time | SummaryReady x when not x.Partial -> Some(x.End - 1L) | _ -> None)
                    let isLate = late.Time < next
                    // It is counted in the stats, and in the first later evaluation whose window covers it.
                    let firedLater = later |> List.exists (function Alert a -> a.Rule = "late" && a.Transition = Fired | _ -> false)
                    let covered = late.Time > next - 60L
                    (times |> List.forall (fun t -> t >= next) |@ "an event for an already-closed second")
                    .&. ((st2.LateCount = st.LateCount + (if isLate then 1L else 0L)) |@ "late counted")
                    .&. ((st2.RecordCount = st.RecordCount + 1L) |@ "record counted")
                    .&. ((not covered || firedLater) |@ "late record not seen by a later window")
                    |> Prop.classify isLate "record was late")))

type ``The symbol table``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``gives one id per text, from strings and UTF-8 bytes alike, on several threads at once``() =
        // Texts from a small alphabet with non-ASCII letters, so that many repeat and multi-byte
        // UTF-8 goes through the byte path; a per-run prefix keeps them new to the process.
        let text = Gen.elements [ "a"; "b"; "é"; "日"; "/"; "-" ] |> Gen.listOf |> Gen.map (String.concat "")
        // Dotted numbers: canonical IPv4 addresses (filed by address) and near misses (leading
        // zeros, numbers above 255, three or five parts), which are texts like any other.
        // Few numbers, so that one address comes written several ways.
        let number = Gen.frequency [ 9, Gen.elements [ "0"; "1"; "10"; "255"; "256"; "00"; "01"; "010"; "199" ]
                                     1, Gen.elements [ ""; "1a"; " 1"; "1000"; "-1"; "/"; "9:" ] ]
        let dotted = Gen.choose (3, 5) |> Gen.bind (fun n -> Gen.listOfLength n number) |> Gen.map (String.concat ".")
        let canonical (t: string) =
            let parts = t.Split '.'
            parts.Length = 4
            && parts |> Array.forall (fun p -> p.Length > 0 && (p = "0" || p[0] <> '0') && p |> Seq.forall Char.IsAsciiDigit && int p <= 255)
        let texts = Gen.frequency [ 1, Gen.listOf (Gen.map Choice1Of2 text); 1, Gen.listOf (Gen.map Choice2Of2 dotted) ]
        let input = Gen.zip texts (Gen.choose (1, 4))
        let run = ref 0
        check output (fun () ->
            Prop.forAll (Arb.fromGen input) (fun (texts, threads) ->
                let prefix = sprintf "p%d:" (System.Threading.Interlocked.Increment run)
                // Half the cases in a table of their own, half in one every test shares.
                let symbols = if run.Value % 2 = 0 then Symbols() else Symbols.Hosts
                // Dotted numbers are used as they are: the same address in every run is one id.
                let texts = texts |> List.map (function Choice1Of2 t -> prefix + t | Choice2Of2 d -> d) |> Array.ofList
                // Each thread interns every text, half of them by bytes, in its own order.
                let idsOf t =
                    texts
                    |> Array.mapi (fun i x ->
                        if (i + t) % 2 = 0 then symbols.Intern x
                        else symbols.Intern(ReadOnlySpan(Text.Encoding.UTF8.GetBytes x)))
                let results = Array.Parallel.init threads idsOf
                let ids = results[0]
                let sameEverywhere = results |> Array.forall (fun r -> r = ids)
                let named = Array.forall2 (fun (x: string) id -> symbols.Name id = x) texts ids
                let oneIdPerText = (Array.distinct texts).Length = (Array.distinct ids).Length
                (sameEverywhere |@ "ids differ between threads or paths")
                .&. (named |@ "a name does not round-trip")
                .&. (oneIdPerText |@ "two texts share an id, or one text has two")
                |> Prop.classify (Array.exists canonical texts) "a canonical IPv4 address"
                |> Prop.classify (texts |> Array.exists (fun t -> t.Contains '.' && not (canonical t))) "dotted, not canonical"))

    [<Fact; Trait("Category", "property")>]
    member _.``files a text found inside a line where it files the text alone``() =
        // Near misses of canonical IPv4 (leading zeros, numbers above 255, three or five parts,
        // other characters), with digits and dots before and after them in the line, which the
        // look at 16 bytes around the text must not take for part of it; and lines too short
        // around the text for that look, which take the plain way.
        let number = Gen.frequency [ 30, Gen.elements [ "0"; "1"; "9"; "10"; "99"; "100"; "255"; "199"; "249" ]
                                     6, Gen.elements [ "256"; "00"; "01"; "010"; "300"; "099" ]
                                     1, Gen.elements [ ""; "1a"; " 1"; "1000"; "-1"; "/"; "9:"; "\u00e9" ] ]
        let parts = Gen.frequency [ 4, Gen.constant 4; 1, Gen.elements [ 3; 5 ] ]
        let dotted = parts |> Gen.bind (fun n -> Gen.listOfLength n number) |> Gen.map (String.concat ".")
        let around = Gen.elements [ "1"; "."; "0"; "9"; "\""; ","; "a"; "\n" ] |> Gen.listOf |> Gen.map (String.concat "")
        let input = Gen.zip3 around dotted around
        check output (fun () ->
            Prop.forAll (Arb.fromGen input) (fun (before, text, after) ->
                let bytes (s: string) = Text.Encoding.UTF8.GetBytes s
                let line = Array.concat [ bytes before; bytes text; bytes after ]
                let start = (bytes before).Length
                let length = (bytes text).Length
                let alone = Symbols.Key(ReadOnlySpan(bytes text))
                let inLine = Symbols.Key(ReadOnlySpan line, start, length)
                (alone = inLine |@ sprintf "%A: alone %x, in the line %x" (before, text, after) alone inLine)
                |> Prop.classify (alone &&& (1L <<< 32) <> 0L) "an address"
                |> Prop.classify (start >= 3 && line.Length - start >= 16) "16 bytes around it"))

/// Ints under addition, for `Table.Accumulate`.
[<Struct>]
type IntSum =
    interface IGroup<int> with
        member _.Zero = 0
        member _.Add(a, b) = a + b
        member _.Negate v = -v
        member _.IsZero v = v = 0

type ``The persistent table``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``reads every kept version as it was, in any order of access``() =
        // Mostly small keys, now and then one far beyond them, which turns the newest version's
        // array into a dictionary in mid-history.
        let key = Gen.frequency [ 6, Gen.choose (0, 4); 1, Gen.choose (100_000, 100_002) ]
        // A set value may be 0: present at zero, unlike a sum, which then leaves the table.
        let change = Gen.zip key (Gen.frequency [ 3, Gen.choose (0, 9) |> Gen.map ValueSome; 1, Gen.constant ValueNone ])
        // A batch either sets values (distinct keys) or adds deltas (keys may repeat; a key whose sum
        // comes to 0 is removed), as a grouped window does every second.
        let sets = Gen.listOf change |> Gen.map (List.distinctBy fst >> Choice1Of2)
        // Deltas come in signed parts, as a window move passes the tallies of the seconds entering
        // (+) and leaving (-); a key may repeat within a part and across parts.
        let part = Gen.zip (Gen.elements [ 1; -1 ]) (Gen.listOf (Gen.zip key (Gen.choose (-3, 3))))
        let adds = Gen.listOf part |> Gen.map Choice2Of2
        // Half the histories only add: their versions are undone by negated deltas. Once a batch
        // sets values, the table keeps old values instead (a set value may be a present zero).
        let history = Gen.oneof [ Gen.listOf (Gen.oneof [ sets; adds ]); Gen.listOf adds ]
        let input = Gen.zip history (Gen.listOf (Gen.choose (0, 1000)))
        // Short chains, so that histories cross from one chain to the next (a copy) often.
        Table<int>.ChainAtMost <- 3
        check output (fun () ->
            Prop.forAll (Arb.fromGen input) (fun (batches, reads) ->
                let tables, models =
                    batches
                    |> List.fold (fun (ts: Table<int> list, ms: Map<int, int> list) b ->
                        match b with
                        | Choice1Of2 sets ->
                            let t = ts.Head.Update([| for k, v in sets -> struct (k, v) |])
                            let m = sets |> List.fold (fun m (k, v) -> match v with ValueSome x -> Map.add k x m | ValueNone -> Map.remove k m) ms.Head
                            t :: ts, m :: ms
                        | Choice2Of2 parts ->
                            let t =
                                ts.Head.Accumulate(
                                    [| for sign, adds in parts -> struct (sign, adds |> List.map fst |> Array.ofList, adds |> List.map snd |> Array.ofList) |],
                                    IntSum())
                            // The model sums every delta, then drops the keys that came to 0.
                            let summed =
                                parts |> List.fold (fun m (sign, adds) ->
                                    adds |> List.fold (fun m (k, d) -> Map.add k ((Map.tryFind k m |> Option.defaultValue 0) + sign * d) m) m) ms.Head
                            let touched = parts |> List.collect (snd >> List.map fst) |> set
                            let m = summed |> Map.filter (fun k v -> v <> 0 || not (touched.Contains k))
                            t :: ts, m :: ms) ([ Table<int>.Empty ], [ Map.empty ])
                let tables, models = Array.ofList tables, Array.ofList models
                let contents (t: Table<int>) = t.ToArray() |> Array.map (fun kv -> kv.Key, kv.Value) |> Map.ofArray
                let read i = contents tables[i] = models[i] && tables[i].Count = models[i].Count
                // Versions in a random order, then every one from newest to oldest and back.
                let n = tables.Length
                ((reads |> List.forall (fun r -> read (r % n)))
                 && List.forall read [ 0 .. n - 1 ]
                 && List.forall read [ n - 1 .. -1 .. 0 ])
                |> Prop.classify (batches |> List.forall (function Choice2Of2 _ -> true | _ -> false)) "adds only"
                |> Prop.classify (batches |> List.exists (function
                                                              | Choice2Of2 parts ->
                                                                  let keys = parts |> List.collect (snd >> List.map fst)
                                                                  keys.Length <> (List.distinct keys).Length
                                                              | _ -> false)) "a key repeats in a batch"))

type ``The top-k of a window``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``from a remembered answer equals a full ranking at every second``() =
        // Many hosts with skewed popularity, a few seconds wide: groups overtake and drop out often.
        let host = Gen.frequency [ 6, Gen.elements [ "h0"; "h1" ]; 3, Gen.elements [ for i in 2..6 -> sprintf "h%d" i ]; 1, Gen.elements [ for i in 7..40 -> sprintf "h%d" i ] ]
        let second = Gen.choose (0, 30) |> Gen.map int64
        let input = Gen.zip3 (Gen.listOf (Gen.zip second host)) (Gen.choose (0, 4)) (Gen.choose (1, 6))
        check output (fun () ->
            Prop.forAll (Arb.fromGen input) (fun (records, k, width) ->
                let store =
                    records
                    |> List.mapi (fun i (t, h) -> record (baseTime + t) h "/a" 200 1L (int64 i))
                    |> List.groupBy (fun r -> r.Time)
                    |> List.fold (fun st (t, rs) -> Store.addAll t (Array.ofList rs) st) Store.empty
                let mutable w = Window.build (int64 width) (Some Host) Selector.all Requests (baseTime - 1L) store
                let mutable ok = true
                for s in baseTime .. baseTime + 40L do
                    w <- Window.advanceTo s store w
                    let best, remembered = Window.top k Requests w
                    w <- remembered
                    let expected =
                        [ for r in records do
                              let t, h = r
                              if baseTime + t > s - int64 width && baseTime + t <= s then yield h ]
                        |> List.countBy id
                        |> List.sortWith (fun (ka, a) (kb, b) -> let c = compare b a in if c <> 0 then c else String.CompareOrdinal(ka, kb))
                        |> List.truncate k
                        |> List.map (fun (h, n) -> h, float n)
                    if (best |> Array.map (fun kv -> kv.Key, kv.Value) |> List.ofArray) <> expected then ok <- false
                ok))

/// The request grammar of docs/semantics.md §1, written with strings only: the reference the byte grammar must equal.
module private RequestReference =
    /// `METHOD SP PATH [SP PROTOCOL]`: method, then spaces, a path from `/` to the next space, then
    /// optionally one protocol word with spaces around it. (method, path) or None.
    let parse (request: string) =
        let m = request.IndexOf ' '
        if m <= 0 then None
        else
            let afterMethod = request.Substring(m).TrimStart ' '
            if not (afterMethod.StartsWith "/") then None
            else
                let e = afterMethod.IndexOf ' '
                let path = if e < 0 then afterMethod else afterMethod.Substring(0, e)
                let protocol = if e < 0 then "" else afterMethod.Substring(e).Trim ' '
                if protocol.Contains ' ' then None else Some(request.Substring(0, m), path)

    /// What stands before the second `/`, query (`?`, `#`) removed.
    let section (path: string) =
        let q = path.IndexOfAny [| '?'; '#' |]
        let p = if q >= 0 then path.Substring(0, q) else path
        if p.Length <= 1 then "/"
        else
            let second = p.IndexOf('/', 1)
            if second < 0 then p else p.Substring(0, second)

type ``The request grammar``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``splits bytes exactly as the string reference splits text``() =
        // Few characters, so that spaces, slashes and query marks meet in every order.
        let piece chars = Gen.elements chars |> Gen.arrayOf |> Gen.map String
        let any = piece [ ' '; ' '; '/'; '/'; '?'; '#'; 'G'; 'a'; 'ü' ]
        let spaces = Gen.elements [ ""; " "; " "; "  " ]
        // Mostly shaped like a request (a word, spaces, a path, a protocol), with odd parts in it.
        let shaped =
            Gen.zip3 (Gen.zip3 (piece [ 'G'; 'E'; 'ü' ]) spaces (piece [ '/'; '/'; 'a'; '?'; '#'; 'ü' ]))
                     (Gen.zip spaces (piece [ 'H'; '/'; '1' ])) spaces
            |> Gen.map (fun ((m, s1, path), (s2, protocol), s3) -> m + s1 + path + s2 + protocol + s3)
        let text = Gen.frequency [ 1, any; 3, shaped ]
        check output (fun () ->
            Prop.forAll (Arb.fromGen text) (fun request ->
                let expected =
                    RequestReference.parse request
                    |> Option.map (fun (m, path) -> m, path, RequestReference.section path)
                let actual =
                    match Record.parseRequest request with
                    | Ok(struct (m, path)) -> Some(m, path, Record.sectionOfPath path)
                    | Error _ -> None
                (actual = expected |@ sprintf "%A: expected %A, got %A" request expected actual)
                |> Prop.classify expected.IsSome "well-formed"
                |> Prop.classify (request.Contains "  ") "double space"))

/// What a log of seconds (`SecondLog`) must answer as F#'s `Map` does at `key`: its
/// count, the value of `key`, the first key at or after it, and the keys in `[key, key + n]`.
module private SecondsModel =
    let agrees (count: int) (tryFind: int64 -> int voption) (ceiling: int64 -> int64 voption)
               (iterRange: int64 -> int64 -> (int64 -> int -> unit) -> unit) (model: Map<int64, int>) (key: int64) (n: int) =
        let ranged = ResizeArray()
        iterRange key (key + int64 n) (fun s v -> ranged.Add((s, v)))
        count = model.Count
        && tryFind key = (match Map.tryFind key model with Some v -> ValueSome v | None -> ValueNone)
        && ceiling key = (match model |> Seq.tryFind (fun kv -> kv.Key >= key) with Some kv -> ValueSome kv.Key | None -> ValueNone)
        && List.ofSeq ranged = [ for KeyValue(s, v) in model do if s >= key && s <= key + int64 n then yield s, v ]

type ``A log of seconds``(output: ITestOutputHelper) =

    [<Fact; Trait("Category", "property")>]
    member _.``agrees with Map, and every version kept reads as it did when made``() =
        // 0-2 append after the last key, 3 sets or inserts any key, 4 removes, 5 drops the oldest
        // keys, 6 goes back to an earlier version and goes on from it (an older state used again).
        let op = Gen.zip3 (Gen.choose (0, 6)) (Gen.choose (-20, 120)) (Gen.choose (1, 30))
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(tests).WithRunner(FsCheck.Xunit.TestOutputRunner output),
            Prop.forAll (Arb.fromGen (Gen.listOf op)) (fun ops ->
                let contents (log: SecondLog<int>) =
                    let items = ResizeArray()
                    log |> SecondLog.iter (fun s v -> items.Add((s, v)))
                    List.ofSeq items
                let versions = ResizeArray<SecondLog<int> * Map<int64, int>>()
                let mutable log = SecondLog.empty<int>
                let mutable model = Map.empty<int64, int>
                let mutable ok = true
                for (kind, k, n) in ops do
                    let key = int64 k
                    match kind with
                    | 0 | 1 | 2 ->
                        let next = (if model.IsEmpty then key else (Seq.last model).Key + int64 n)
                        log <- SecondLog.append next n log
                        model <- Map.add next n model
                    | 3 ->
                        log <- SecondLog.upsert key (function ValueSome v -> v + n | ValueNone -> n) log
                        model <- Map.add key (match Map.tryFind key model with Some v -> v + n | None -> n) model
                    | 4 ->
                        // Half of the removals take the first key, as closing the open seconds does.
                        let key = if n % 2 = 0 && not model.IsEmpty then (Seq.head model).Key else key
                        log <- SecondLog.remove key log
                        model <- Map.remove key model
                    | 5 ->
                        log <- SecondLog.dropBefore key log
                        model <- model |> Map.filter (fun s _ -> s >= key)
                    | _ ->
                        if versions.Count > 0 then
                            let kept, keptModel = versions[n % versions.Count]
                            log <- kept
                            model <- keptModel
                    versions.Add((log, model))
                    let current = log
                    ok <-
                        ok
                        && SecondsModel.agrees current.Count (fun k -> SecondLog.tryFind k current) (fun k -> SecondLog.ceiling k current)
                            (fun a b f -> SecondLog.iterRange a b f current) model key n
                        && SecondLog.tryFirst log = (if model.IsEmpty then ValueNone else ValueSome (Seq.head model).Key)
                        && SecondLog.tryFirstEntry log
                           = (if model.IsEmpty then ValueNone else let h = Seq.head model in ValueSome(struct (h.Key, h.Value)))
                        // Every version made so far still holds what it held.
                        && versions |> Seq.forall (fun (v, m) -> contents v = [ for KeyValue(s, x) in m -> s, x ])
                ok))
