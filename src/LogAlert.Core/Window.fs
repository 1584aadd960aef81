namespace LogAlert.Core


open System
open System.Collections.Generic
open System.Runtime.InteropServices

/// A remembered `TopK` answer of a grouped window, kept so that the next second can start from it.
/// Invariant: every group not in `Entries` ranks at or below `Bound` and `BoundName` in `TopK`'s
/// order: a value below `Bound`, or equal to it with a name not ordinally before `BoundName`
/// (`Bound` -infinity: there is no such group). The name matters when many groups tie there.
type TopCache =
    { K: int
      Metric: Metric
      /// The window move (`Window.Moves`) the entries are for.
      Moves: int64
      /// The best groups, best first (one more than `K` when there are that many).
      Entries: KeyValuePair<int, float>[]
      Bound: float
      BoundName: string }

/// Running totals over the window `(At − Width, At]` of the records a selector picks, optionally
/// grouped by a label. Moving it one second costs the tallies of two seconds, whatever the width.
type Window =
    { Width: int64
      /// The label it groups by and the selector: which tally of each second it reads.
      Series: Series
      /// The second the totals are for.
      At: int64
      /// The second it was built at: with `Moves`, which version of which window it is (a window
      /// built again, after a jump of its width or more, starts its moves again).
      Built: int64
      Total: Totals
      /// Totals per label value id (`Label.idOf`), for grouped windows; a value is present while it
      /// has records.
      Groups: Table<Totals>
      /// How many times the window moved (or took late records): versions its top-k caches.
      Moves: int64
      /// The tallies the last move added (sign 1) or took away (sign -1), as it gave them to the
      /// group table: their keys (`Label.idOf`) are the groups it touched (a key may be in more
      /// than one).
      Changed: struct (int * int[] * Totals[])[]
      TopCaches: TopCache list }

    /// The label the window groups by, if any.
    member this.GroupBy = this.Series.GroupBy
    /// The records it counts.
    member this.Selector = this.Series.Selector

/// The seconds a window move adds (sign 1) and takes away (sign -1), in order, as `Window.apply`
/// reads them: one list each thread reuses. Every window moves every second, and a list of cells
/// for each move was 64 bytes a window a second.
[<Sealed>]
type private Moves() =
    [<System.ThreadStatic; DefaultValue>]
    static val mutable private list: List<struct (int64 * Bucket)> | null

    /// This thread's list, emptied: valid until the next `Take` on this thread.
    static member Take() =
        match Moves.list with
        | null ->
            let l = List<struct (int64 * Bucket)>(4)
            Moves.list <- l
            l
        | l ->
            l.Clear()
            l

/// Building and moving windows.
[<RequireQualifiedAccess>]
module Window =

    /// Whether a window reads more than its seconds' totals: one that selects, groups or sums a
    /// duration reads their records, or their tallies for its series; one that counts the requests
    /// and bytes of everything reads the totals only.
    let needsRecords (groupBy: Label option) (selector: Selector) (summed: Metric) =
        groupBy.IsSome || not (Selector.isAll selector) || Metric.summed summed <> Bytes

    /// `needsRecords` for a query as a rule writes it: the label it groups by (null: none) and its
    /// selector's text (null or empty: every record). A selector that does not parse counts as one
    /// that selects.
    [<CompiledName("QueryNeedsRecords")>]
    let queryNeedsRecords (label: string | null) (selector: string | null) (metric: string | null) =
        not (isNull label)
        || (match Metric.create (match metric with null -> "requests" | m -> m) with
            | Ok m -> Metric.summed m <> Bytes
            | Error _ -> false)
        || (match Selector.create selector with
            | Ok s -> not (Selector.isAll s)
            | Error _ -> true)

    /// The window with each bucket's records added (sign 1) or taken away (sign -1), in one new
    /// version of the group table per move.
    let private apply (changes: List<struct (int64 * Bucket)>) at (window: Window) =
        if changes.Count = 0 then (if at = window.At then window else { window with At = at })
        elif not (needsRecords window.GroupBy window.Selector window.Series.Summed) then
            let mutable total = window.Total
            for struct (sign, bucket) in changes do
                total <-
                    { Requests = total.Requests + sign * bucket.Requests
                      Sum = if sign > 0L then total.Sum + bucket.Bytes else total.Sum - bucket.Bytes }
            { window with Total = total; At = at }
        else
            // Each second's tally for this window's series: closed seconds have one once the series
            // is known; a second still holding records is tallied from them here (a series asked for
            // after the second closed). A second without either lost its records before anyone asked
            // for this series: it counted nothing entering, nor does it leaving. The tallies go to
            // the table as they are, signed: one version per move, and no copy.
            let grouped = window.GroupBy.IsSome
            let parts = Array.zeroCreate (if grouped then changes.Count else 0)
            let mutable count = 0
            let mutable requests = 0L
            let mutable bytes = ByteSum.Zero
            for struct (sign, bucket) in changes do
                let mutable t = Unchecked.defaultof<SecondTally>
                let found =
                    bucket.TryTally(window.Series.Key, &t)
                    || (not bucket.Chunks.IsEmpty
                        && (t <- Series.tally window.Series bucket.Chunks ValueNone
                            true))
                if found then
                    requests <- requests + sign * t.Total.Requests
                    bytes <- if sign > 0L then bytes + t.Total.Sum else bytes - t.Total.Sum
                    if grouped && t.Keys.Length > 0 then
                        parts[count] <- struct (int sign, t.Keys, t.Totals)
                        count <- count + 1
            let parts = if count = parts.Length then parts else Array.sub parts 0 count
            { window with
                At = at
                Total = { Requests = window.Total.Requests + requests; Sum = window.Total.Sum + bytes }
                Groups = if parts.Length = 0 then window.Groups else window.Groups.Accumulate(parts, TotalsGroup())
                Moves = window.Moves + 1L
                Changed = parts }

    /// A window of `width` seconds at second `at`, summing `Metric.summed summed`, computed from the store.
    let build width groupBy selector summed at (store: Store) =
        let empty =
            { Width = width; Series = Series.create groupBy selector summed; At = at; Built = at
              Total = Totals.Zero; Groups = Table<Totals>.Empty
              Moves = 0L; Changed = [||]; TopCaches = [] }
        let buckets = Moves.Take()
        store |> Store.iterRange (at - width + 1L) at (fun _ b -> buckets.Add(struct (1L, b)))
        apply buckets at empty

    /// The window moved forward to second `at` (never backwards).
    let advanceTo at (store: Store) (window: Window) =
        if at <= window.At then window
        elif at - window.At >= window.Width then build window.Width window.GroupBy window.Selector window.Series.Summed at store
        elif at - window.At <= 64L then
            // For each second moved (usually one), the second entering and the one leaving, in
            // that order, counted in a loop: no range, list cells or enumerator.
            let changes = Moves.Take()
            let mutable s = window.At + 1L
            while s <= at do
                match Store.tryFind s store with
                | ValueSome b -> changes.Add(struct (1L, b))
                | ValueNone -> ()
                match Store.tryFind (s - window.Width) store with
                | ValueSome b -> changes.Add(struct (-1L, b))
                | ValueNone -> ()
                s <- s + 1L
            apply changes at window
        else
            // A long move (evaluation jumped over seconds where nothing changes): the seconds that
            // enter and those that leave are found in the store, not looked up one by one, and
            // applied in the order the second-by-second loop above gives: by the second at which
            // each enters or leaves, entering first.
            let entering = Store.range (window.At + 1L) at store |> Array.ofSeq
            let leaving = Store.range (window.At + 1L - window.Width) (at - window.Width) store |> Array.ofSeq
            let changes = Moves.Take()
            let mutable e = 0
            for (left, b) in leaving do
                while e < entering.Length && fst entering[e] <= left + window.Width do
                    changes.Add(struct (1L, snd entering[e]))
                    e <- e + 1
                changes.Add(struct (-1L, b))
            while e < entering.Length do
                changes.Add(struct (1L, snd entering[e]))
                e <- e + 1
            apply changes at window

    /// The window with late `records` (of one second, already closed) counted, if it covers them.
    let addLate second (records: Record[]) (window: Window) =
        if second > window.At - window.Width && second <= window.At then
            let changes = Moves.Take()
            changes.Add(struct (1L, Bucket.addAll records Bucket.empty))
            apply changes window.At window
        else window

    let private better label (a: KeyValuePair<int, float>) (b: KeyValuePair<int, float>) =
        a.Value > b.Value
        || (a.Value = b.Value && System.String.CompareOrdinal(Label.nameOf label a.Key, Label.nameOf label b.Key) < 0)

    /// Offers `kv` to `ranked`, the best `size` so far, best first: a key already ranked is not
    /// ranked twice (a key may come in a tally added and in one taken away). Module functions,
    /// not closures inside `top`: those were a few objects a call, and `top` runs every second.
    let private offer (ranked: List<KeyValuePair<int, float>>) size label (kv: KeyValuePair<int, float>) =
        if ranked.Count < size || better label kv ranked[ranked.Count - 1] then
            let mutable i = 0
            while i < ranked.Count && ranked[i].Key <> kv.Key do
                i <- i + 1
            if i = ranked.Count then
                let mutable at = ranked.Count
                while at > 0 && better label kv ranked[at - 1] do
                    at <- at - 1
                ranked.Insert(at, kv)
                if ranked.Count > size then ranked.RemoveAt size

    let rec private cacheFor k metric (caches: TopCache list) =
        match caches with
        | [] -> ValueNone
        | c :: rest -> if c.K = k && c.Metric = metric then ValueSome c else cacheFor k metric rest

    /// Whether a group of value `value` named `name` ranks above the bound `bound`, `boundName`.
    let private aboveBound (value: float) (name: string) (bound: float) (boundName: string) =
        value > bound || (value = bound && System.String.CompareOrdinal(name, boundName) < 0)

    /// The `k` groups with the largest totals of `metric` (ties by key, ordinal), best first, and the
    /// window remembering them. A scan of every group costs the number of groups (100k hosts); when
    /// the window moved once since the last answer, only the remembered groups and the groups that
    /// move touched can have overtaken, unless a remembered one fell to the bound of the rest.
    let top k metric (window: Window) =
        let label = match window.GroupBy with Some l -> l | None -> Host // no groups: never named
        let fullScan () =
            // k + 2 best: k + 1 to remember, and the next one bounds all the others.
            let best = window.Groups.Top(k + 2, (fun t -> t.Of metric), Label.nameOf label)
            let kept = Array.truncate (k + 1) best
            if best.Length > k + 1 then kept, best[k + 1].Value, Label.nameOf label best[k + 1].Key
            else kept, System.Double.NegativeInfinity, ""
        let cached = cacheFor k metric window.TopCaches
        let entries, bound, boundName =
            match cached with
            | ValueSome c when c.Moves = window.Moves -> c.Entries, c.Bound, c.BoundName
            | ValueSome c when c.Moves = window.Moves - 1L ->
                // The candidates: every group the move touched and the remembered groups, each at
                // its total now (one look-up each, of a slot the move has just brought into the cache).
                let size = k + 2
                let ranked = List<KeyValuePair<int, float>>(size + 1)
                let groups = window.Groups.Reader // `offer` reads no table: valid for both loops
                for struct (_, keys, _) in window.Changed do
                    for key in keys do
                        let mutable t = Totals.Zero
                        // Absent: it left the window. Most of 100k hosts are far below the last of
                        // the k + 2: one compare each.
                        if groups.TryGetValue(key, &t) then
                            let v = t.Of metric
                            if ranked.Count < size || v >= ranked[size - 1].Value then offer ranked size label (KeyValuePair(key, v))
                for e in c.Entries do
                    let mutable t = Totals.Zero
                    if groups.TryGetValue(e.Key, &t) then offer ranked size label (KeyValuePair(e.Key, t.Of metric))
                let kept = Array.init (min (k + 1) ranked.Count) (fun i -> ranked[i])
                // The groups outside rank at or below the old bound (untouched, not remembered: their
                // totals did not change) or the best candidate not kept, whichever ranks higher. The
                // bound's name, not only its value: a long tail of groups tied at the k-th place
                // (a million clients of 1 to 5 requests each) made every second a full scan.
                let bound, boundName =
                    if ranked.Count > k + 1 then
                        let next = ranked[k + 1]
                        let nextName = Label.nameOf label next.Key
                        if aboveBound next.Value nextName c.Bound c.BoundName then next.Value, nextName else c.Bound, c.BoundName
                    else c.Bound, c.BoundName
                // Exact when the k-th kept group ranks strictly above everything outside.
                let exact =
                    if kept.Length >= k then k = 0 || aboveBound kept[k - 1].Value (Label.nameOf label kept[k - 1].Key) bound boundName
                    else System.Double.IsNegativeInfinity bound
                if exact then kept, bound, boundName else fullScan ()
            | _ -> fullScan ()
        let cache = { K = k; Metric = metric; Moves = window.Moves; Entries = entries; Bound = bound; BoundName = boundName }
        let caches = cache :: (window.TopCaches |> List.filter (fun c -> not (c.K = k && c.Metric = metric)))
        let best = Array.init (min k entries.Length) (fun i -> KeyValuePair(Label.nameOf label entries[i].Key, entries[i].Value))
        best, { window with TopCaches = caches }

    /// Whether the window holds no record.
    let isEmpty (window: Window) = window.Total.Requests = 0L
