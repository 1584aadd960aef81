namespace LogAlert.Core

open System
open System.Collections.Generic

/// Closing seconds (docs/semantics.md §5, §8, §10): each second is evaluated once, in order, once
/// the newest timestamp is past it by more than the lateness; seconds at which no value can change
/// (no records, no window letting records go, no `For` ending, no summary) are jumped over.
[<RequireQualifiedAccess>]
module internal Evaluation =

    /// The first second after `second` at which something other than a window letting records go
    /// can change a value: the next record, a pending alert's `For` running out, the end of a summary
    /// interval that holds records.
    let nextInteresting (state: State) second =
        let candidates = List<int64>()
        Store.tryFirstSecond state.Open |> ValueOption.iter candidates.Add
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
            let holdsRecords = match Store.tryCeiling start state.Closed with ValueSome s -> s <= second | ValueNone -> false
            if last > second && holdsRecords then candidates.Add last
        candidates |> Seq.filter (fun s -> s > second) |> Seq.fold min Int64.MaxValue

    /// Evaluates second `second` (closed): its bucket joins the closed store, every rule is
    /// evaluated over the windows as they stand at `second`, windows no rule read for their width are
    /// dropped, the summary is emitted if an interval ends here, and history older than every window
    /// goes. The next second to evaluate is the next one when it has records, else the first at
    /// which something can change.
    /// `openStore` and `newest` stand for the state's open seconds and newest timestamp, which the
    /// new state takes: a newer record closes seconds after it joined the open ones, and a state
    /// made for that alone was 144 bytes a second of a sparse log.
    let closeSecond second (events: List<Event>) (openStore: Store) (newest: int64 option) (state: State) =
        let struct (bucket, openStore) = Store.take second openStore
        let closed =
            match bucket with
            | ValueSome b -> Store.addBucket second b state.Closed
            | ValueNone -> state.Closed
        let view = QueryView(closed, state.Windows, second, state.Config.Unread)
        // In rule order (their events are in that order); the same list when no rule's state
        // changed, as on most seconds: no new list a second.
        let rec evaluateAll (rules: RuleState list) =
            match rules with
            | [] -> rules
            | rs :: rest ->
                let evaluated = Alerts.evaluate view second events rs
                let others = evaluateAll rest
                if obj.ReferenceEquals(evaluated, rs) && obj.ReferenceEquals(others, rest) then rules else evaluated :: others
        let rules = evaluateAll state.Rules
        view.Close()
        let read = view.Windows
        let mutable retention = state.Retention
        let mutable closed = closed
        for KeyValue(_, w) in read do
            retention <- max retention w.Width
            // A window that selects, groups or sums a duration reads its series' tallies: every
            // second that closes from now on is tallied for it.
            if Window.needsRecords w.GroupBy w.Selector w.Series.Summed then closed <- Store.withSeries w.Series closed
        // The windows read at this second, and those not read that still cover it (the next read
        // moves them). Usually the rules read every window every second: then the new state's
        // windows are the ones read, in the order read.
        let mutable unread = 0
        for kv in state.Windows do
            if not (view.Reads kv.Key) then unread <- unread + 1
        let windows =
            if unread = 0 then read.ToArray()
            else
                let kept = List<KeyValuePair<string, Window>>(read)
                for kv in state.Windows do
                    if not (view.Reads kv.Key) && kv.Value.At + kv.Value.Width >= second then kept.Add kv
                kept.ToArray()
        if unread > 0 then
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
        // A window kept but not read at this second still holds its seconds back to At - Width + 1,
        // and takes them away when it is read again: the store keeps them until then.
        let mutable keepFrom = second - retention + 1L
        if windows.Length > read.Count then
            for KeyValue(_, w) in windows do
                keepFrom <- min keepFrom (w.At - w.Width + 1L)
        let closed = Store.expire keepFrom (second - state.RecordRetention + 1L) closed
        // Immutable from here: a closure that captured a mutable one made it a heap cell.
        let retention = retention
        let after cursor =
            { state with
                Closed = closed
                Open = openStore
                Newest = newest
                Windows = windows
                Rules = rules
                Retention = retention
                Evaluated = state.Evaluated + 1L
                Cursor = cursor }
        match Store.tryFirstSecond openStore with
        | ValueSome s when s = second + 1L -> after (Some s) // the usual case: records in the next second
        | _ ->
            // Otherwise only a record, a pending alert's `For`, a summary, or a second with
            // records leaving a window the rules read can change what follows (§8).
            let state = after state.Cursor
            let mutable next = nextInteresting state second
            if view.SawData then
                for KeyValue(_, w) in view.Windows do
                    match Store.tryCeiling (second - w.Width + 1L) state.Closed with
                    | ValueSome oldest when oldest <= second -> next <- min next (oldest + w.Width)
                    | _ -> ()
            { state with Cursor = Some(max (second + 1L) next) }

    /// Evaluates every closed second up to `limit`, in order, of `state` with `openStore` as its
    /// open seconds and `newest` as its newest timestamp.
    let closeThroughWith limit (events: List<Event>) (openStore: Store) (newest: int64 option) (state: State) =
        let start =
            match state.Cursor with
            | Some c -> ValueSome c
            | None -> Store.tryFirstSecond openStore
        match start with
        | ValueSome first when first <= limit ->
            let mutable st = closeSecond first events openStore newest state
            while st.Cursor.Value <= limit do
                st <- closeSecond st.Cursor.Value events st.Open st.Newest st
            // Seconds skipped in a quiet stretch are closed too.
            if st.Cursor.Value > limit + 1L then st <- { st with Cursor = Some(limit + 1L) }
            st
        | _ when obj.ReferenceEquals(openStore, state.Open) && newest = state.Newest -> state
        | _ -> { state with Open = openStore; Newest = newest }

    /// Evaluates every closed second up to `limit`, in order.
    let closeThrough limit (events: List<Event>) (state: State) =
        closeThroughWith limit events state.Open state.Newest state

    /// The last second the newest timestamp (or the live clock's `Tick`) closes: it minus the
    /// lateness, minus one; `Int64.MinValue` before either.
    let closeLimit (state: State) =
        let newest = defaultArg state.Newest Int64.MinValue
        let mark = max newest state.Watermark
        if mark = Int64.MinValue then Int64.MinValue else mark - state.Config.Lateness - 1L

    /// A late record: its second is closed. It joins the store and every window covering it.
    let addLate (r: Record) (state: State) =
        let cursor = state.Cursor.Value
        if r.Time < cursor - state.Retention then state
        else
            let one = [| r |]
            { state with
                Closed = Store.addAll r.Time one state.Closed
                Windows = state.Windows |> Array.map (fun kv -> KeyValuePair(kv.Key, Window.addLate r.Time one kv.Value)) }
