namespace LogAlert.Core

open System
open System.Collections.Generic

/// Engine settings, fixed for a run.
type EngineConfig =
    { /// `L`: second `s` closes when the newest timestamp is past `s + L`.
      Lateness: int64
      /// A record more than this ahead of the newest accepted timestamp is skewed.
      MaxSkew: int64
      /// Summary interval in seconds; 0 disables summaries.
      SummaryInterval: int64
      /// Rules in evaluation (and output) order.
      Rules: Rule list
      /// Seconds of history kept at least (windows that rules use extend it).
      Retention: int64
      /// Seconds of records kept at least (the summaries extend it to their interval); older
      /// seconds keep their totals, and a tally for each series a window reads. A rule that could
      /// not say at load time what it asks for needs records for its widest window instead.
      RecordRetention: int64
      /// The series (label and selector) of the grouped and selecting windows the rules will ask
      /// for: their tallies are kept from the start, so that a window first asked for later still
      /// reads its whole width. Windows the rules use add theirs.
      Series: Series list }

/// Whether an alert event fires or resolves.
type Transition =
    | Fired
    | Resolved

/// One alert transition.
type AlertEvent =
    { Rule: string
      /// The group's label for `WhenEach` rules, e.g. `["section", "/api"]`; empty otherwise.
      Labels: (string * string) list
      Transition: Transition
      Time: int64
      Value: float
      Threshold: float
      /// When the alert fired (equals `Time` for `Fired`).
      FiringSince: int64
      Message: string }

/// An alert still firing.
type FiringAlert =
    { Rule: string
      Labels: (string * string) list
      Since: int64
      Value: float }

/// The end-of-input report.
type Report =
    { Records: int64
      Skewed: int64
      Late: int64
      Firing: FiringAlert list }

/// What the engine tells the shell.
type Event =
    | Alert of AlertEvent
    | SummaryReady of Summary
    /// A rule threw; it is switched off from this second on.
    | RuleFailed of rule: string * time: int64 * message: string
    /// A record too far ahead of the newest accepted one; not counted.
    | Skewed of record: Record * newest: int64
    | Finished of Report

/// What the engine folds over.
type Input =
    /// Records in input order. The store keeps slices of the array: it must not be written afterwards.
    | Records of Record[]
    /// Live mode: log time has reached this second without records (the wall clock moved); a
    /// second past `Bounds.MaxTime` is taken as `Bounds.MaxTime`.
    | Tick of int64
    | EndOfInput

/// The state of one alert (one rule, or one group of a `WhenEach` rule). Inactive alerts are absent.
type AlertPhase =
    | Pending of since: int64
    | Firing of since: int64 * value: float

/// A rule with the state of its alerts, keyed by group label value ("" for single rules).
type RuleState =
    { Rule: Rule
      Alerts: Map<string, AlertPhase>
      /// The label a `WhenEach` rule groups by, once known.
      GroupLabel: string
      Failed: bool }

/// Everything the engine knows. Immutable: a kept state keeps its meaning.
type State =
    private
        { Config: EngineConfig
          /// Closed seconds.
          Closed: Store
          /// Seconds not yet closed (>= Cursor).
          Open: Store
          Windows: Map<string, Window>
          Rules: RuleState list
          Newest: int64 option
          Watermark: int64
          /// The next second to evaluate; None until the first second closes.
          Cursor: int64 option
          Retention: int64
          RecordRetention: int64
          Records: int64
          Skewed: int64
          Late: int64
          /// A record too far ahead, held until the next record tells a jump from a corrupt timestamp.
          Suspect: Record voption
          Evaluated: int64
          Ended: bool }

    /// The newest accepted timestamp.
    member this.NewestTime = this.Newest
    /// The next second to be evaluated, once evaluation has started.
    member this.NextSecond = this.Cursor
    /// Accepted records (late ones included).
    member this.RecordCount = this.Records
    /// Skewed records.
    member this.SkewedCount = this.Skewed
    /// Late records.
    member this.LateCount = this.Late
    /// Seconds evaluated so far (quiet stretches are skipped, not evaluated).
    member this.EvaluatedSeconds = this.Evaluated
    /// Seconds held in the store (closed and open).
    member this.StoredSeconds = Store.count this.Closed + Store.count this.Open
    /// Seconds held with their records (the others keep totals only).
    member this.StoredRecordSeconds = Store.recordCount this.Closed + Store.recordCount this.Open
    /// Series each closing second is tallied for.
    member this.TalliedSeries = Seq.length (Store.series this.Closed)

/// The engine: a pure step function folded over the input.
[<RequireQualifiedAccess>]
module Engine =

    /// The state before any input.
    let init (config: EngineConfig) =
        // Every duration within Bounds.MaxDuration and every time within Bounds.MinTime..MaxTime:
        // then no sum or difference of them below can overflow.
        let config =
            { config with
                Lateness = Bounds.clampDuration config.Lateness
                MaxSkew = Bounds.clampDuration config.MaxSkew
                SummaryInterval = Bounds.clampDuration config.SummaryInterval
                Retention = Bounds.clampDuration config.Retention
                RecordRetention = Bounds.clampDuration config.RecordRetention }
        { Config = config
          Closed = config.Series |> List.fold (fun store series -> Store.withSeries series store) Store.empty
          Open = Store.empty
          Windows = Map.empty
          Rules = config.Rules |> List.map (fun r -> { Rule = r; Alerts = Map.empty; GroupLabel = ""; Failed = false })
          Newest = None
          Watermark = Int64.MinValue
          Cursor = None
          Retention = max 1L (max config.Retention (max config.RecordRetention config.SummaryInterval))
          RecordRetention = max 1L (max config.RecordRetention config.SummaryInterval)
          Records = 0L
          Skewed = 0L
          Late = 0L
          Suspect = ValueNone
          Evaluated = 0L
          Ended = false }

    let private labelsOf (rule: Rule) (grouped: string) key =
        if rule.IsPerGroup then [ grouped, key ] else []

    let private message (rule: Rule) labels transition second since value =
        let template =
            match transition, rule.Message, rule.RecoveryMessage with
            | Fired, Some m, _ -> m
            | Fired, None, _ -> "{rule} is firing - value = {value} > {threshold}, triggered at {time}"
            | Resolved, _, Some m -> m
            | Resolved, _, None -> "{rule} resolved - value = {value}, recovered at {time}"
        Rule.render template rule labels second since value

    /// One alert's transition at `second` with value `v`.
    let private transition (rule: Rule) labels second v (phase: AlertPhase option) =
        let fired () =
            let e =
                { Rule = rule.RuleName; Labels = labels; Transition = Fired; Time = second; Value = v
                  Threshold = rule.Threshold; FiringSince = second
                  Message = message rule labels Fired second second v }
            Some(Firing(second, v)), Some e
        match phase with
        | None when v > rule.Threshold -> if rule.For = 0L then fired () else Some(Pending second), None
        | None -> None, None
        | Some(Pending since) when v > rule.Threshold ->
            if second - since >= rule.For then fired () else phase, None
        | Some(Pending _) -> None, None
        | Some(Firing(since, _)) when v < rule.Recover ->
            let e =
                { Rule = rule.RuleName; Labels = labels; Transition = Resolved; Time = second; Value = v
                  Threshold = rule.Threshold; FiringSince = since
                  Message = message rule labels Resolved second since v }
            None, Some e
        | Some(Firing(since, _)) -> Some(Firing(since, v)), None

    /// Evaluates one rule at `second`, appending its events.
    let private evaluateRule (query: IQuery) second (events: List<Event>) (rs: RuleState) =
        if rs.Failed then rs
        else
            try
                match Rule.value rs.Rule with
                | Scalar f ->
                    let v = f query
                    let phase, e = transition rs.Rule [] second v (Map.tryFind "" rs.Alerts)
                    e |> Option.iter (Alert >> events.Add)
                    let alerts = match phase with Some p -> Map.add "" p rs.Alerts | None -> Map.remove "" rs.Alerts
                    if obj.ReferenceEquals(alerts, rs.Alerts) then rs else { rs with Alerts = alerts }
                | PerGroup f ->
                    let grouped = f query
                    if isNull grouped then raise (NullReferenceException "WhenEach returned null")
                    let values = Dictionary<string, float>(StringComparer.Ordinal)
                    for kv in grouped.Entries do
                        values[kv.Key] <- kv.Value
                    // Groups that are alerting but absent from the result read as 0.
                    let keys =
                        Seq.append values.Keys (rs.Alerts |> Seq.map (fun kv -> kv.Key))
                        |> Seq.distinct
                        |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b))
                        |> Array.ofSeq
                    let mutable alerts = rs.Alerts
                    for key in keys do
                        let v = match values.TryGetValue key with | true, v -> v | _ -> 0.0
                        let labels = labelsOf rs.Rule grouped.Label key
                        let phase, e = transition rs.Rule labels second v (Map.tryFind key alerts)
                        e |> Option.iter (Alert >> events.Add)
                        alerts <-
                            match phase with
                            | Some p -> Map.add key p alerts
                            | None -> if alerts.ContainsKey key then Map.remove key alerts else alerts
                    { rs with Alerts = alerts; GroupLabel = grouped.Label }
            with e ->
                events.Add(RuleFailed(rs.Rule.RuleName, second, e.Message))
                { rs with Failed = true }

    /// The seconds after `second` at which something could happen while no window holds data:
    /// the next record, a pending alert's `For` running out, the end of a summary interval.
    let private nextInteresting (state: State) second =
        let candidates = List<int64>()
        Store.tryFirstSecond state.Open |> Option.iter candidates.Add
        for rs in state.Rules do
            if not rs.Failed then
                for KeyValue(_, phase) in rs.Alerts do
                    match phase with
                    | Pending since -> candidates.Add(since + rs.Rule.For)
                    | Firing _ -> ()
        let interval = state.Config.SummaryInterval
        if interval > 0L then
            let start = Summary.intervalStart interval second
            let last = start + interval - 1L
            if last > second && not (Seq.isEmpty (Store.range start second state.Closed)) then candidates.Add last
        candidates |> Seq.filter (fun s -> s > second) |> Seq.fold min Int64.MaxValue

    /// Evaluates second `second` (closed): rules, then the summary if an interval ends here.
    let private evaluate second (events: List<Event>) (state: State) =
        let bucket, openStore = Store.take second state.Open
        let closed =
            match bucket with
            | Some b -> Store.addBucket second b state.Closed
            | None -> state.Closed
        let view = QueryView(closed, state.Windows, second)
        let rules = state.Rules |> List.map (evaluateRule view second events)
        let mutable windows = state.Windows
        let mutable retention = state.Retention
        let mutable closed = closed
        for KeyValue(key, w) in view.Windows do
            windows <- Map.add key w windows
            retention <- max retention w.Width
            // A window that selects or groups reads its series' tallies: every second that closes
            // from now on is tallied for it.
            if Window.needsRecords w.GroupBy w.Selector then closed <- Store.withSeries w.Series closed
        if windows.Count > view.Windows.Count then
            windows <- windows |> Map.filter (fun _ w -> w.At + w.Width >= second)
            // A series no window reads any more, and no rule told at load time, is no longer tallied
            // (a rule that builds selectors from data would otherwise add one every second). A window
            // of it asked for again is built afresh from what the seconds hold.
            let live = HashSet<string>(state.Config.Series |> Seq.map (fun s -> s.Key))
            for KeyValue(_, w) in windows do
                live.Add w.Series.Key |> ignore
            closed <- Store.retainSeries live.Contains closed
        let interval = state.Config.SummaryInterval
        if interval > 0L && (second + 1L) % interval = 0L then
            Summary.compute (second + 1L - interval) (second + 1L) false closed
            |> Option.iter (SummaryReady >> events.Add)
        let state =
            { state with
                Closed =
                    closed
                    |> Store.dropBefore (second - retention + 1L)
                    |> Store.stripBefore (second - state.RecordRetention + 1L)
                Open = openStore
                Windows = windows
                Rules = rules
                Retention = retention
                Evaluated = state.Evaluated + 1L }
        let next = if view.SawData then second + 1L else max (second + 1L) (nextInteresting state second)
        { state with Cursor = Some next }

    /// Evaluates every closed second up to `limit`, in order.
    let private closeThrough limit (events: List<Event>) (state: State) =
        let start =
            match state.Cursor with
            | Some c -> Some c
            | None -> Store.tryFirstSecond state.Open
        match start with
        | Some first when first <= limit ->
            let mutable st = { state with Cursor = Some first }
            while st.Cursor.Value <= limit do
                st <- evaluate st.Cursor.Value events st
            // Seconds skipped in a quiet stretch are closed too.
            if st.Cursor.Value > limit + 1L then st <- { st with Cursor = Some(limit + 1L) }
            st
        | _ -> state

    let private closeLimit (state: State) =
        let newest = defaultArg state.Newest Int64.MinValue
        let mark = max newest state.Watermark
        if mark = Int64.MinValue then Int64.MinValue else mark - state.Config.Lateness - 1L

    /// A late record: its second is closed. It joins the store and every window covering it.
    let private addLate (r: Record) (state: State) =
        let cursor = state.Cursor.Value
        if r.Time < cursor - state.Retention then state
        else
            let one = [| r |]
            { state with
                Closed = Store.addAll r.Time one state.Closed
                Windows = state.Windows |> Map.map (fun _ w -> Window.addLate r.Time one w) }

    // Called once per batch, and ReadyToRun code is only replaced after 200 calls: compiled fully
    // optimised at once instead, so the first 800k records do not go through the precompiled code.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)>]
    let private absorb (records: Record[]) (events: List<Event>) (state: State) =
        let mutable st = state
        // Records of one second that stand next to each other in the batch join the store as one
        // slice of the batch, not copied: in a log in time order, each second of a batch is one slice.
        let buffer = Dictionary<int64, List<ReadOnlyMemory<Record>>>()
        let mutable runStart = 0
        let mutable runEnd = 0 // exclusive; no run when equal to runStart
        let mutable runTime = 0L
        let keep second (slice: ReadOnlyMemory<Record>) =
            match buffer.TryGetValue second with
            | true, l -> l.Add slice
            | _ ->
                let l = List<ReadOnlyMemory<Record>>(2)
                l.Add slice
                buffer[second] <- l
        let endRun () =
            if runEnd > runStart then
                keep runTime (ReadOnlyMemory<Record>(records, runStart, runEnd - runStart))
                runStart <- runEnd
        // The record at `index` extends the run it follows when it has the run's second, else starts one.
        let joinRun index time =
            if runEnd = index && runEnd > runStart && time = runTime then runEnd <- index + 1
            else
                endRun ()
                runStart <- index
                runEnd <- index + 1
                runTime <- time
        let flush () =
            endRun ()
            if buffer.Count > 0 then
                let mutable openStore = st.Open
                for KeyValue(second, slices) in buffer do
                    openStore <- Store.addSlices second slices openStore
                buffer.Clear()
                st <- { st with Open = openStore }
        let mutable newest = st.Newest
        let mutable accepted = 0L
        let mutable skewed = 0L
        let mutable late = 0L
        let mutable limit = closeLimit st
        let mutable nextToClose =
            match st.Cursor with
            | Some c -> c
            | None -> Store.tryFirstSecond st.Open |> Option.defaultValue Int64.MaxValue
        let mutable suspect = st.Suspect
        let maxSkew = st.Config.MaxSkew
        // A newer timestamp can close seconds, and every second it closes is evaluated here.
        let advanceTo (time: int64) =
            newest <- Some time
            let newLimit = time - st.Config.Lateness - 1L
            if newLimit > limit then
                limit <- newLimit
                if limit >= nextToClose then
                    flush ()
                    st <- closeThrough limit events { st with Newest = newest }
                    nextToClose <- st.Cursor.Value
        for index in 0 .. records.Length - 1 do
            let time = records[index].Time
            // Nearly every record: nothing suspect, not too far ahead, not late, and a second already
            // closed (so there is a cursor). It only joins or starts a run, reading no more than its time.
            match newest, st.Cursor with
            | Some n, Some c when suspect.IsNone && time <= n + maxSkew && time >= c ->
                accepted <- accepted + 1L
                joinRun index time
                if time > n then advanceTo time
            | _ ->
                let current = records[index]
                // A record too far ahead is held as a suspect. The next record decides: if it agrees with
                // the suspect (within the skew of it, and also too far ahead), the log really jumped and
                // both are accepted; otherwise the suspect was one corrupt timestamp and is skewed.
                let mutable first = ValueNone
                let mutable acceptCurrent = true
                match newest with
                | Some n when current.Time > n + maxSkew ->
                    match suspect with
                    | ValueSome s when abs (current.Time - s.Time) <= maxSkew ->
                        first <- ValueSome s
                        suspect <- ValueNone
                    | ValueSome s ->
                        skewed <- skewed + 1L
                        events.Add(Skewed(s, n))
                        suspect <- ValueSome current
                        acceptCurrent <- false
                    | ValueNone ->
                        suspect <- ValueSome current
                        acceptCurrent <- false
                | _ ->
                    match suspect with
                    | ValueSome s ->
                        skewed <- skewed + 1L
                        events.Add(Skewed(s, newest.Value))
                        suspect <- ValueNone
                    | ValueNone -> ()
                let count = (if first.IsSome then 1 else 0) + (if acceptCurrent then 1 else 0)
                for k in 0 .. count - 1 do
                    let r = if k = 0 && first.IsSome then first.Value else current
                    accepted <- accepted + 1L
                    match st.Cursor with
                    | Some c when r.Time < c ->
                        late <- late + 1L
                        st <- addLate r st
                    | _ ->
                        if k = 0 && first.IsSome then
                            endRun ()
                            keep r.Time (ReadOnlyMemory [| r |]) // the suspect, from an earlier place
                        else joinRun index r.Time
                        if st.Cursor.IsNone then nextToClose <- min nextToClose r.Time
                    if newest.IsNone || r.Time > newest.Value then advanceTo r.Time
        flush ()
        { st with
            Newest = newest
            Suspect = suspect
            Records = st.Records + accepted
            Skewed = st.Skewed + skewed
            Late = st.Late + late }

    let rec private finish (events: List<Event>) (state: State) =
        // A suspect nothing came to confirm was one corrupt timestamp.
        let state =
            match state.Suspect, state.Newest with
            | ValueSome s, Some n ->
                events.Add(Skewed(s, n))
                { state with Suspect = ValueNone; Skewed = state.Skewed + 1L }
            | _ -> state
        let limit =
            match state.Newest with
            | Some n -> max n (closeLimit state)
            | None -> closeLimit state
        let st = if limit = Int64.MinValue then state else closeThrough limit events state
        let interval = st.Config.SummaryInterval
        if interval > 0L && limit <> Int64.MinValue && (limit + 1L) % interval <> 0L then
            Summary.compute (Summary.intervalStart interval limit) (limit + 1L) true st.Closed
            |> Option.iter (SummaryReady >> events.Add)
        events.Add(Finished(report st))
        { st with Ended = true }

    /// The report of `state` as it stands: what it counted, and the alerts firing.
    and report (state: State) =
        let firing =
            [ for rs in state.Rules do
                  for KeyValue(key, phase) in rs.Alerts |> Seq.sortWith (fun a b -> String.CompareOrdinal(a.Key, b.Key)) do
                      match phase with
                      | Firing(since, v) ->
                          let labels = labelsOf rs.Rule rs.GroupLabel key
                          yield { Rule = rs.Rule.RuleName; Labels = labels; Since = since; Value = v }
                      | Pending _ -> () ]
        { Records = state.Records; Skewed = state.Skewed; Late = state.Late; Firing = firing }

    /// Whether a label's symbol table holds enough ids no state may hold any more for
    /// `reclaimIds` to pay (see `Symbols.RetainDue`).
    let reclaimDue () =
        Symbols.Hosts.RetainDue || Symbols.Users.RetainDue || Symbols.Methods.RetainDue || Symbols.Sections.RetainDue

    /// Gives every label value id that `state` does not hold back to its symbol table (`Symbols.Retain`);
    /// returns how many. The ids `state` holds: those of its records (open seconds, the closed
    /// seconds that keep records, a suspect), of each second's tallies, and of each window's groups,
    /// last move and remembered top-k. Impure (the tables are process-wide), and only right when
    /// nothing else holds an id: the shell calls it between steps, with its reader paused, and
    /// keeps no other state.
    let reclaimIds (state: State) =
        let hosts, users, methods, sections = IdSet(), IdSet(), IdSet(), IdSet()
        let setOf label =
            match label with
            | Host -> ValueSome hosts
            | User -> ValueSome users
            | Method -> ValueSome methods
            | Section -> ValueSome sections
            | Status | StatusClass -> ValueNone // numbers, not Symbols ids
        let addRecord (r: Record) =
            hosts.Add r.HostId
            users.Add r.UserId
            methods.Add r.MethodId
            sections.Add r.SectionId
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
            for KeyValue(_, tally) in bucket.Tallies do
                addKeys tally.Series.GroupBy tally.Keys
        Store.iterBuckets addBucket state.Open
        Store.iterBuckets addBucket state.Closed
        for KeyValue(_, window) in state.Windows do
            match window.GroupBy |> Option.map setOf with
            | Some(ValueSome set) ->
                window.Groups.IterKeys set.Add
                for keys in window.Changed do
                    for key in keys do
                        set.Add key
                for cache in window.TopCaches do
                    for entry in cache.Entries do
                        set.Add entry.Key
            | _ -> ()
        state.Suspect |> ValueOption.iter addRecord
        Symbols.Hosts.Retain hosts + Symbols.Users.Retain users + Symbols.Methods.Retain methods + Symbols.Sections.Retain sections

    /// `step`, with the events appended to `events` as they are computed.
    let stepInto (events: List<Event>) (input: Input) (state: State) : State =
        if state.Ended then state
        else
            match input with
            | Records records -> absorb records events state
            | Tick second ->
                let second = Bounds.clampTime second
                if second > state.Watermark then
                    let st = { state with Watermark = second }
                    closeThrough (closeLimit st) events st
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
