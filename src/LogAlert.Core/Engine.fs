namespace LogAlert.Core

open System
open System.Collections.Generic
open System.Runtime.InteropServices

/// The records of one batch that join the open seconds, gathered by second as slices of the batch
/// (not copies): in a log in time order, each second of a batch is one slice. Records of one second
/// that stand next to each other extend one run; `Flush` hands every slice to the store.
[<Sealed>]
type private BatchSlices(records: Record[]) =
    // The runs ended so far, in order. Usually each of its own second, in time order, and each goes
    // to the store as it is; grouped by second first (`addSlices`, one store update a second) only
    // when a second comes back, as in interleaved logs.
    let pending = List<struct (int64 * ReadOnlyMemory<Record>)>(4)
    let mutable runStart = 0
    let mutable runEnd = 0 // exclusive; no run when equal to runStart
    let mutable runTime = 0L
    // The slices of one second when it has several, handed to `Store.addSlices`.
    let group = List<ReadOnlyMemory<Record>>(4)

    /// Ends the current run, keeping it as one slice.
    member this.EndRun() =
        if runEnd > runStart then
            pending.Add(struct (runTime, ReadOnlyMemory<Record>(records, runStart, runEnd - runStart)))
            runStart <- runEnd

    /// The record at `index` extends the run it follows when it has the run's second, else starts one.
    member this.Join(index, time) =
        if runEnd = index && runEnd > runStart && time = runTime then runEnd <- index + 1
        else
            this.EndRun()
            runStart <- index
            runEnd <- index + 1
            runTime <- time

    /// A record from elsewhere (a confirmed suspect), kept as a slice of its own.
    member this.KeepOne(record: Record) =
        this.EndRun()
        pending.Add(struct (record.Time, ReadOnlyMemory [| record |]))

    /// `store` with every slice kept so far added; empties the batch's slices.
    member this.Flush(store: Store) =
        this.EndRun()
        this.FlushEnded store

    /// `store` with the runs ended so far added: the current run stays open, to take the rest of
    /// its second's records (one slice a second, not two, when a newer record closes seconds).
    member _.FlushEnded(store: Store) =
        let mutable store = store
        let mutable ascending = true
        for i in 1 .. pending.Count - 1 do
            let struct (second, _) = pending[i]
            let struct (before, _) = pending[i - 1]
            if second <= before then ascending <- false
        if not ascending then
            // A second came back (a jittered log: a record a second or two behind the newest):
            // the runs are put in order of second, each second's in the order they came (a stable
            // insertion sort of a few), and each second goes to the store once, in time order, so
            // that it is appended rather than inserted before a later one (which copies the log).
            // A dictionary of lists per second made 80 bytes a flush and more for every second.
            for i in 1 .. pending.Count - 1 do
                let run = pending[i]
                let struct (second, _) = run
                let mutable j = i - 1
                while j >= 0 && (let struct (s, _) = pending[j] in s > second) do
                    pending[j + 1] <- pending[j]
                    j <- j - 1
                pending[j + 1] <- run
        let mutable i = 0
        while i < pending.Count do
            let struct (second, slice) = pending[i]
            let mutable next = i + 1
            while next < pending.Count && (let struct (s, _) = pending[next] in s = second) do
                next <- next + 1
            if next = i + 1 then store <- Store.addSlice second slice store
            else
                group.Clear()
                for k in i .. next - 1 do
                    let struct (_, s) = pending[k]
                    group.Add s
                store <- Store.addSlices second group store
            i <- next
        pending.Clear()
        store

/// The engine: a pure step function folded over the input.
[<RequireQualifiedAccess>]
module Engine =

    /// The state before any input, whose summaries read tallies when their interval is longer than
    /// `talliedAfter` seconds (`Summary.TalliedAfter`; tests set either way).
    let internal initWith (talliedAfter: int64) (config: EngineConfig) =
        // Every duration within Bounds.MaxDuration and every time within Bounds.MinTime..MaxTime:
        // then no sum or difference of them below can overflow.
        let config =
            { config with
                Lateness = Bounds.clampDuration config.Lateness
                MaxSkew = Bounds.clampDuration config.MaxSkew
                SummaryInterval = Bounds.clampDuration config.SummaryInterval
                Retention = Bounds.clampDuration config.Retention
                RecordRetention = Bounds.clampDuration config.RecordRetention }
        // A long summary interval reads tallies, not records (`Summary.TalliedAfter`): its series
        // are tallied from the start, and kept tallied as the rules' own (`Evaluation.closeSecond`).
        let tallied = config.SummaryInterval > talliedAfter
        let config =
            if tallied then { config with Series = config.Series @ (Summary.series |> List.filter (fun s -> not (config.Series |> List.exists (fun c -> c.Key = s.Key)))) }
            else config
        { Config = config
          Closed = config.Series |> List.fold (fun store series -> Store.withSeries series store) Store.empty
          Open = Store.empty
          Windows = [||]
          Rules = config.Rules |> List.map (fun r -> { Rule = r; Alerts = Map.empty; GroupLabel = ""; Follows = ValueNone; Failed = false })
          Newest = None
          Watermark = Int64.MinValue
          Cursor = None
          Retention = max 1L (max config.Retention (max config.RecordRetention config.SummaryInterval))
          RecordRetention = max 1L (max config.RecordRetention (if tallied then 0L else config.SummaryInterval))
          Records = 0L
          Skewed = 0L
          Late = 0L
          Suspect = None
          Challenger = None
          Evaluated = 0L
          Ended = false }

    /// The state before any input.
    let init (config: EngineConfig) = initWith Summary.TalliedAfter config

    /// Takes a batch of records: each is admitted (`Admission`), joins the open seconds or, late, the
    /// closed ones and their windows; a newer timestamp closes the seconds it can, and each of them
    /// is evaluated before the next record is taken.
    // Called once per batch, and ReadyToRun code is only replaced after 200 calls: compiled fully
    // optimised at once instead, so the first 800k records do not go through the precompiled code.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)>]
    let private absorb (records: Record[]) (events: List<Event>) (state: State) =
        let slices = BatchSlices records
        let maxSkew = state.Config.MaxSkew
        let mutable st = state
        let mutable newest = st.Newest
        let mutable suspect = ValueOption.ofOption st.Suspect
        let mutable challenger = ValueOption.ofOption st.Challenger
        // Records taken by the fast path (`plain`) are counted apart from the others: the closures below
        // capture the other counters, which makes them heap cells.
        let mutable plain = 0L
        let mutable accepted, skewed, late = 0L, 0L, 0L
        let mutable limit = Evaluation.closeLimit st
        let mutable nextToClose =
            match st.Cursor, Store.tryFirstSecond st.Open with
            | Some c, _ -> c
            | None, ValueSome s -> s
            | None, ValueNone -> Int64.MaxValue
        // A newer timestamp can close seconds, and every second it closes is evaluated here.
        let advanceTo (time: int64) =
            newest <- Some time
            let newLimit = time - st.Config.Lateness - 1L
            if newLimit > limit then
                limit <- newLimit
                if limit >= nextToClose then
                    // The current run is of second `time`, after every second this closes: it
                    // joins the open seconds later, in one slice with the rest of its second.
                    st <- Evaluation.closeThroughWith limit events (slices.FlushEnded st.Open) newest st
                    nextToClose <- st.Cursor.Value
        // An accepted record: `index` is its place in the batch, or -1 for a confirmed suspect, which
        // stands elsewhere (earlier in this batch or in an earlier one) and joins as a slice of its own.
        let accept index (r: Record) =
            accepted <- accepted + 1L
            if Admission.isLate st.Cursor r.Time then
                late <- late + 1L
                st <- Evaluation.addLate r st
            else
                if index < 0 then slices.KeepOne r else slices.Join(index, r.Time)
                if st.Cursor.IsNone then nextToClose <- min nextToClose r.Time
            if newest.IsNone || r.Time > newest.Value then advanceTo r.Time
        let skew (r: Record) =
            skewed <- skewed + 1L
            events.Add(Skewed(r, newest.Value))
        // Skew is measured from `max` (§4): live, after a quiet spell the clock has driven log time
        // past the newest record, and the next request, as far ahead as the quiet was long, is no
        // jump. Batch runs have no clock (the watermark is the minimum): the newest timestamp.
        let inline skewFrom () =
            match newest with
            | Some n when st.Watermark > n -> Some st.Watermark
            | n -> n
        // Before any record is accepted (§4): the first record has nothing to be ahead of, so it is
        // held; a record more than the skew before it is held beside it, and the next one decides.
        // Two records cannot tell which is corrupt: a far-future first line then the log's own, or
        // the first line then a long request's, logged when it ended. Accepting the first at once
        // kept every second open until log time reached a corrupt one (live, no event at all).
        // "Before" the first by more than the skew and the lateness both: a record up to the lateness
        // behind counts as if sorted (§5), so jitter never weighs against the first (with --max-skew
        // 1s, +3 +1 +0 skewed the first).
        let slack = max maxSkew st.Config.Lateness
        let rec first index (r: Record) =
            let time = r.Time
            match suspect, challenger with
            | ValueNone, _ -> suspect <- ValueSome r
            | ValueSome f, ValueNone when time < f.Time - slack -> challenger <- ValueSome r
            | ValueSome f, ValueSome c when time < f.Time - slack ->
                // Two records agree against the first: it was the corrupt one. The challenger is
                // now the first held, and this record is judged against it.
                skewed <- skewed + 1L
                events.Add(Skewed(f, c.Time))
                suspect <- ValueSome c
                challenger <- ValueNone
                first index r
            | ValueSome f, held ->
                // Not more than the skew before the first: the first stands, then the challenger
                // (an early record: nothing is closed yet, so it counts in order), then this one
                // is judged against them as any record is.
                suspect <- ValueNone
                challenger <- ValueNone
                accept -1 f
                held |> ValueOption.iter (accept -1)
                match Admission.decide (skewFrom ()) ValueNone maxSkew time with
                | Hold _ -> suspect <- ValueSome r
                | _ -> accept index r
        for index in 0 .. records.Length - 1 do
            let time = records[index].Time
            if Admission.isPlain (skewFrom ()) st.Cursor suspect maxSkew time then
                // Nearly every record: it only joins or starts a run, reading no more than its time.
                plain <- plain + 1L
                slices.Join(index, time)
                if time > newest.Value then advanceTo time
            elif newest.IsNone then first index records[index]
            else
                match Admission.decide (skewFrom ()) suspect maxSkew time with
                | Accept -> accept index records[index]
                | Hold disproved ->
                    disproved |> ValueOption.iter skew
                    suspect <- ValueSome records[index]
                | Confirm s ->
                    suspect <- ValueNone
                    accept -1 s
                    // Judged against the suspect now accepted: more than the skew past it, it is
                    // the next suspect (a quiet log's requests hours apart), else it is taken.
                    match Admission.decide (skewFrom ()) ValueNone maxSkew time with
                    | Hold _ -> suspect <- ValueSome records[index]
                    | _ -> accept index records[index]
                | Disprove s ->
                    skew s
                    suspect <- ValueNone
                    accept index records[index]
        { st with
            Open = slices.Flush st.Open
            Newest = newest
            Suspect = ValueOption.toOption suspect
            Challenger = ValueOption.toOption challenger
            Records = st.Records + plain + accepted
            Skewed = st.Skewed + skewed
            Late = st.Late + late }

    /// A first record held (and a challenger beside it) with nothing after it to decide: the end of
    /// input, or a live quiet spell long enough for the clock to drive log time. Nothing says the
    /// first was corrupt, so both are accepted, as a first record always was.
    let private acceptHeldFirst (state: State) =
        match state.Suspect, state.Newest with
        | Some f, None ->
            let add (r: Record) store = Store.addAll r.Time [| r |] store
            { state with
                Suspect = None
                Challenger = None
                Open = state.Open |> add f |> (match state.Challenger with Some c -> add c | None -> id)
                Newest = Some f.Time
                Records = state.Records + (if state.Challenger.IsSome then 2L else 1L) }
        | _ -> state

    let rec private finish (events: List<Event>) (state: State) =
        // A later suspect nothing came to confirm was one corrupt timestamp.
        let state =
            match state.Suspect, state.Newest with
            | Some s, Some n ->
                events.Add(Skewed(s, n))
                { state with Suspect = None; Skewed = state.Skewed + 1L }
            | _ -> acceptHeldFirst state
        // Every second up to `max` closes: the newest timestamp, or, live, the later time the clock
        // drove log time to (`Tick`), so that stopping a run in a quiet spell resolves what the
        // quiet resolved (docs/semantics.md §5).
        let limit = max (defaultArg state.Newest Int64.MinValue) state.Watermark
        let st = if limit = Int64.MinValue then state else Evaluation.closeThrough limit events state
        let interval = st.Config.SummaryInterval
        if interval > 0L && limit <> Int64.MinValue && (limit + 1L) % interval <> 0L then
            Summary.compute (Summary.intervalStart interval limit) (limit + 1L) true st.Closed
            |> Option.iter (SummaryReady >> events.Add)
        events.Add(Finished(report st))
        { st with Ended = true }

    /// The report of `state` as it stands: what it counted, and the alerts firing.
    and report (state: State) =
        { Records = state.Records; Skewed = state.Skewed; Late = state.Late; Firing = Alerts.firing state.Rules }

    /// `report state` with the alert events of a step that did not return applied (the first `count`
    /// of `events`): an alert that step fired and did not resolve is firing, one it resolved is not.
    /// Counts stay those of `state`; a value is that of its last transition or of `state`.
    let reportAfter (events: List<Event>) (count: int) (state: State) =
        let before = report state
        let failed = state.Rules |> List.filter (fun rs -> rs.Failed) |> List.map (fun rs -> rs.Rule.RuleName) |> Set.ofList
        let mutable firing = before.Firing
        for i in 0 .. count - 1 do
            match events[i] with
            | Alert a ->
                firing <- firing |> List.filter (fun f -> not (f.Rule = a.Rule && f.Labels = a.Labels))
                if a.Transition = Fired then
                    firing <- firing @ [ { Rule = a.Rule; Labels = a.Labels; Since = a.Time; Value = a.Value; RuleFailed = failed.Contains a.Rule } ]
            | _ -> ()
        // In `report`'s order: rule by rule in rule order, groups in ordinal order.
        let rank = state.Rules |> List.mapi (fun i rs -> rs.Rule.RuleName, i) |> Map.ofList
        let order (f: FiringAlert) = (Map.tryFind f.Rule rank |> Option.defaultValue Int32.MaxValue), f.Labels |> List.map snd
        let byOrder (a: FiringAlert) (b: FiringAlert) =
            let (ra, ga), (rb, gb) = order a, order b
            if ra <> rb then compare ra rb
            else Seq.compareWith (fun (x: string) y -> String.CompareOrdinal(x, y)) ga gb
        { before with Firing = List.sortWith byOrder firing }

    /// Whether a label's symbol table holds enough ids no state may hold any more for
    /// `reclaimIds` to pay (see `Symbols.RetainDue`).
    let reclaimDue () =
        Symbols.Hosts.RetainDue || Symbols.Users.RetainDue || Symbols.Methods.RetainDue || Symbols.Sections.RetainDue
        || Symbols.VirtualHosts.RetainDue || Symbols.Referers.RetainDue || Symbols.UserAgents.RetainDue

    /// Gives every label value id that `state` does not hold back to its symbol table (`Symbols.Retain`);
    /// returns how many. The ids `state` holds: those of its records (open seconds, the closed
    /// seconds that keep records, a suspect), of each second's tallies, and of each window's groups,
    /// last move and remembered top-k. Impure (the tables are process-wide), and only right when
    /// nothing else holds an id: the shell calls it between steps, with its reader paused, and
    /// keeps no other state.
    let reclaimIds (state: State) =
        let hosts, users, methods, sections = IdSet(), IdSet(), IdSet(), IdSet()
        let virtualHosts, referers, userAgents = IdSet(), IdSet(), IdSet()
        let setOf label =
            match label with
            | Host -> ValueSome hosts
            | User -> ValueSome users
            | Method -> ValueSome methods
            | Section -> ValueSome sections
            | VirtualHost -> ValueSome virtualHosts
            | Referer -> ValueSome referers
            | UserAgent -> ValueSome userAgents
            | Status | StatusClass -> ValueNone // numbers, not Symbols ids
        let addRecord (r: Record) =
            hosts.Add r.HostId
            users.Add r.UserId
            methods.Add r.MethodId
            sections.Add r.SectionId
            virtualHosts.Add r.VirtualHostId
            referers.Add r.RefererId
            userAgents.Add r.UserAgentId
        let addKeys (label: Label option) (keys: int[]) =
            match label |> Option.map setOf with
            | Some(ValueSome set) ->
                for key in keys do
                    set.Add key
            | _ -> ()
        let addBucket (bucket: Bucket) =
            for chunk in bucket.Chunks do
                for r in chunk.Span do
                    addRecord r
            for tally in bucket.Tallies do
                addKeys tally.Series.GroupBy tally.Keys
        Store.iterBuckets addBucket state.Open
        Store.iterBuckets addBucket state.Closed
        for KeyValue(_, window) in state.Windows do
            match window.GroupBy |> Option.map setOf with
            | Some(ValueSome set) ->
                window.Groups.IterKeys set.Add
                for struct (_, keys, _) in window.Changed do
                    for key in keys do
                        set.Add key
                for cache in window.TopCaches do
                    for entry in cache.Entries do
                        set.Add entry.Key
            | _ -> ()
        state.Suspect |> Option.iter addRecord
        state.Challenger |> Option.iter addRecord
        Symbols.Hosts.Retain hosts + Symbols.Users.Retain users + Symbols.Methods.Retain methods + Symbols.Sections.Retain sections
        + Symbols.VirtualHosts.Retain virtualHosts + Symbols.Referers.Retain referers + Symbols.UserAgents.Retain userAgents

    /// `step`, with the events appended to `events` as they are computed.
    let stepInto (events: List<Event>) (input: Input) (state: State) : State =
        if state.Ended then state
        else
            match input with
            | Records records when records.IsDefaultOrEmpty -> state
            // The array behind the immutable one, read only: the store keeps slices of it.
            | Records records -> absorb (ImmutableCollectionsMarshal.AsArray records |> nonNull) events state
            | Tick second ->
                let second = Bounds.clampTime second
                let state = acceptHeldFirst state
                if second > state.Watermark then
                    let st = { state with Watermark = second }
                    Evaluation.closeThrough (Evaluation.closeLimit st) events st
                else state
            | EndOfInput -> finish events state

    /// One step of the fold: the new state and the events it emits, in output order.
    let step (input: Input) (state: State) : State * Event list =
        let events = List<Event>()
        let next = stepInto events input state
        next, List.ofSeq events

    /// Folds the engine over `inputs` from the initial state: all events, in order.
    let run config (inputs: Input seq) =
        let mutable state = init config
        [ for input in inputs do
              let next, events = step input state
              state <- next
              yield! events ]
