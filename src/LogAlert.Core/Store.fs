namespace LogAlert.Core

open System
open System.Collections.Generic

/// What a window counts: each record adds 1 to `requests`, its bytes to `bytes`, and its durations
/// to `request_time` and `upstream_response_time` (read in seconds, summed in microseconds).
type Metric =
    | Requests
    | Bytes
    | RequestTime
    | UpstreamTime

/// Helpers for `Metric`.
[<RequireQualifiedAccess>]
module Metric =
    /// The metric for a name as written in a query.
    let create (name: string) =
        match name with
        | "requests" -> Ok Requests
        | "bytes" -> Ok Bytes
        | "request_time" -> Ok RequestTime
        | "upstream_response_time" -> Ok UpstreamTime
        | other ->
            Error(sprintf "unknown metric \"%s\" (metrics: requests, bytes, request_time, upstream_response_time)" other)

    /// The name as written in queries.
    let name metric =
        match metric with
        | Requests -> "requests"
        | Bytes -> "bytes"
        | RequestTime -> "request_time"
        | UpstreamTime -> "upstream_response_time"

    /// The metric whose sum a series keeps beside the count of requests: `Bytes` for `requests` and
    /// `bytes` (one series serves both, as it always has), the duration itself for a duration.
    let summed metric =
        match metric with
        | Requests | Bytes -> Bytes
        | RequestTime | UpstreamTime -> metric

    /// The value `record` adds to a sum of `metric` (`summed`): bytes, or microseconds.
    let internal valueOf metric (record: inref<Record>) =
        match metric with
        | RequestTime -> record.RequestMicros
        | UpstreamTime -> record.UpstreamMicros
        | Requests | Bytes -> record.Bytes

/// A sum of bytes that no input can make wrap: 128 bits, as two words. A record holds at most
/// `Bounds.MaxBytes` (2^50), so an `int64` sum wraps after 8192 such records, and a window of them
/// read as negative; 2^63 records of 2^50 bytes fit in 2^113. Not `Int128`, whose 16-byte alignment
/// made `Totals` 32 bytes: as two 8-byte words it is 24, and the tables of a window grouped by host
/// hold one per host.
[<Struct; CustomEquality; NoComparison>]
type ByteSum =
    val Low: uint64
    val High: int64
    new(low, high) = { Low = low; High = high }

    /// No bytes.
    static member Zero = ByteSum(0UL, 0L)

    /// The sum of one record's bytes.
    static member Of(bytes: int64) = ByteSum(uint64 bytes, (if bytes < 0L then -1L else 0L))

    static member (+)(a: ByteSum, b: ByteSum) =
        let low = a.Low + b.Low
        ByteSum(low, a.High + b.High + (if low < a.Low then 1L else 0L))

    static member (~-)(a: ByteSum) =
        let low = ~~~a.Low + 1UL
        ByteSum(low, ~~~a.High + (if low = 0UL then 1L else 0L))

    static member (-)(a: ByteSum, b: ByteSum) = a + -b

    /// Whether the sum is zero.
    member this.IsZero = this.Low = 0UL && this.High = 0L

    /// The sum as an `Int128`.
    member this.ToInt128() = Int128(uint64 this.High, this.Low)

    /// The sum as a rule reads it.
    member this.ToFloat() = float (this.ToInt128())

    override this.Equals(other: obj) =
        match other with
        | :? ByteSum as b -> b.Low = this.Low && b.High = this.High
        | _ -> false

    override this.GetHashCode() = HashCode.Combine(this.Low, this.High)

/// Requests and the sum of one more metric: bytes, or (for a series of a duration,
/// `Metric.summed`) its microseconds.
[<Struct>]
type Totals =
    { Requests: int64
      Sum: ByteSum }

    /// The total of `metric`, as a rule reads it: of totals that sum `Metric.summed metric`.
    member this.Of metric =
        match metric with
        | Requests -> float this.Requests
        | Bytes -> this.Sum.ToFloat()
        | RequestTime | UpstreamTime -> this.Sum.ToFloat() / 1e6

    /// No requests, nothing summed.
    static member Zero = { Requests = 0L; Sum = ByteSum.Zero }

    /// The sum of two totals.
    static member Add (a: Totals) (b: Totals) = { Requests = a.Requests + b.Requests; Sum = a.Sum + b.Sum }


/// Totals as a window's groups sum them: a group whose totals are zero has no records and leaves
/// the table.
[<Struct>]
type TotalsGroup =
    interface IGroup<Totals> with
        member _.Zero = Totals.Zero
        member _.Add(a, b) = Totals.Add a b
        member _.Negate t = { Requests = -t.Requests; Sum = -t.Sum }
        member _.IsZero t = t.Requests = 0L && t.Sum.IsZero

/// What a grouped or selecting window (or one summing a duration) reads from each second: the
/// records a selector picks, grouped by a label or not, counted and summed by one metric. Windows
/// with the same label, selector and summed metric share one series.
type Series =
    { /// `Series.key`: the label's name, the selector's and the summed metric's, one string.
      Key: string
      GroupBy: Label option
      Selector: Selector
      /// What `Totals.Sum` sums (`Metric.summed`): `Bytes`, or a duration.
      Summed: Metric }

/// The totals of one second's records that a series picks: per label value id (`Label.idOf`),
/// each id once, for a grouped series, and all together.
// A struct, held in its bucket's array: every closing second makes one per series (four with the
// shipped rules), and as objects they were 48 bytes more each (docs/performance.md, 2026-12-06).
[<Struct>]
type SecondTally =
    { Series: Series
      Keys: int[]
      Totals: Totals[]
      Total: Totals }

/// Building series and their per-second tallies.
[<RequireQualifiedAccess>]
module Series =
    /// The key of the series of a window grouped by `groupBy` over the records `selector` picks,
    /// summing `summed` (`Metric.summed`).
    let key (groupBy: Label option) (selector: Selector) (summed: Metric) =
        let series = (match groupBy with Some l -> Label.name l | None -> "") + "\u001f" + selector.Key
        // The series of bytes keeps the key it always had.
        match summed with
        | Requests | Bytes -> series
        | RequestTime | UpstreamTime -> series + "\u001f" + Metric.name summed

    /// The series of a window grouped by `groupBy` over the records `selector` picks, summing
    /// `Metric.summed metric`.
    let create groupBy selector metric =
        let summed = Metric.summed metric
        { Key = key groupBy selector summed; GroupBy = groupBy; Selector = selector; Summed = summed }

    /// The tally of `records` (one second's) for `series`, added to `existing` if any.
    let tally (series: Series) (chunks: ReadOnlyMemory<Record> list) (existing: SecondTally voption) =
        let sums = Scratch<Totals>.Take() // emptied; not in use: windows tally inside a move only
        let mutable requests = 0L
        let mutable bytes = ByteSum.Zero
        match existing with
        | ValueSome t ->
            for i in 0 .. t.Keys.Length - 1 do
                sums[t.Keys[i]] <- t.Totals[i]
            requests <- t.Total.Requests
            bytes <- t.Total.Sum
        | ValueNone -> ()
        for chunk in chunks do
            let span = chunk.Span
            for i in 0 .. span.Length - 1 do
                let r = &span[i]
                if Selector.isMatch r series.Selector then
                    let value = ByteSum.Of(Metric.valueOf series.Summed &r)
                    requests <- requests + 1L
                    bytes <- bytes + value
                    match series.GroupBy with
                    | Some label ->
                        Dictionaries.accumulate sums (Label.idOf label r) Totals.Zero { Requests = 1L; Sum = value } Totals.Add
                    | None -> ()
        // An ungrouped series (a selector, or a duration) has no keys: the shared empty arrays.
        let keys = if sums.Count = 0 then Array.Empty() else Array.zeroCreate sums.Count
        let totals = if sums.Count = 0 then Array.Empty() else Array.zeroCreate sums.Count
        sums.Keys.CopyTo(keys, 0)
        sums.Values.CopyTo(totals, 0)
        { Series = series; Keys = keys; Totals = totals; Total = { Requests = requests; Sum = bytes } }

/// The records of one second of log time, with their totals and, once the second is closed, a tally
/// for each series the windows read. Immutable: adding records makes a new bucket that shares the
/// old chunks (and adds them to its tallies). Windows read a second's tally of their series when
/// there is one, its records when not. Once no window or summary needs the records of its second any
/// more, a bucket keeps only its totals and tallies (see `Store.stripBefore`).
[<Sealed>]
type Bucket private (chunks: ReadOnlyMemory<Record> list, requests: int64, bytes: ByteSum, tallies: SecondTally[]) =
    /// Record chunks, newest first: slices of arrays that nobody writes once they are in a bucket.
    member _.Chunks = chunks
    /// Number of records.
    member _.Requests = requests
    /// Sum of bytes.
    member _.Bytes = bytes
    /// The tally of each series made for this second, with every record in it: an array, one
    /// entry per series (a handful), searched by key. A map of them was made anew, node by node,
    /// for every closing second, and searched by comparing strings.
    member _.Tallies = tallies

    /// The tally of the series with key `key` (`Series.key`), if the bucket has one.
    member _.TryTally(key: string, tally: outref<SecondTally>) =
        let mutable i = 0
        // The keys are the series' own strings: found by reference, nearly always.
        while i < tallies.Length && not (obj.ReferenceEquals(tallies[i].Series.Key, key) || String.Equals(tallies[i].Series.Key, key)) do
            i <- i + 1
        if i < tallies.Length then
            tally <- tallies[i]
            true
        else false

    static member internal Make(chunks, requests, bytes, tallies) = Bucket(chunks, requests, bytes, tallies)

/// Building and reading buckets.
[<RequireQualifiedAccess>]
module Bucket =
    /// A bucket with no records.
    let empty = Bucket.Make([], 0L, ByteSum.Zero, [||])

    let private bytesOf (records: ReadOnlyMemory<Record>) =
        let mutable bytes = ByteSum.Zero
        for r in records.Span do
            bytes <- bytes + ByteSum.Of r.Bytes
        bytes

    let private has (key: string) (bucket: Bucket) =
        let mutable t = Unchecked.defaultof<SecondTally>
        bucket.TryTally(key, &t)

    // The tallies with `records` added to each (and, for each of `series` not among them, a new one).
    let private tallyInto (series: Series[]) (records: ReadOnlyMemory<Record>) (bucket: Bucket) =
        let result = List<SecondTally>(bucket.Tallies.Length + series.Length)
        for t in bucket.Tallies do
            result.Add(Series.tally t.Series [ records ] (ValueSome t))
        for s in series do
            if not (has s.Key bucket) then result.Add(Series.tally s [ records ] ValueNone)
        result.ToArray()

    /// The bucket with `records` (all of the same second) added, as they are: a slice of the input
    /// batch is kept, not copied, so the batch must not be written later. Its tallies count them too.
    let addSlice (records: ReadOnlyMemory<Record>) (bucket: Bucket) =
        if records.IsEmpty then bucket
        else
            let tallies = if bucket.Tallies.Length = 0 then bucket.Tallies else tallyInto [||] records bucket
            Bucket.Make(records :: bucket.Chunks, bucket.Requests + int64 records.Length, bucket.Bytes + bytesOf records, tallies)

    /// The bucket with `records` (all of the same second) added. `records` must not be written later.
    let addAll (records: Record[]) (bucket: Bucket) = addSlice (ReadOnlyMemory records) bucket

    /// The bucket with a tally, from its records, for each of `series` it has none for.
    let withTallies (series: Series[]) (bucket: Bucket) =
        let mutable missing = 0
        for s in series do
            if not (has s.Key bucket) then missing <- missing + 1
        if missing = 0 then bucket
        else
            let tallies = Array.zeroCreate (bucket.Tallies.Length + missing)
            Array.blit bucket.Tallies 0 tallies 0 bucket.Tallies.Length
            let mutable i = bucket.Tallies.Length
            for s in series do
                if not (has s.Key bucket) then
                    tallies[i] <- Series.tally s bucket.Chunks ValueNone
                    i <- i + 1
            Bucket.Make(bucket.Chunks, bucket.Requests, bucket.Bytes, tallies)

    /// The bucket without its records: its totals, and its tally for each of `series` and every
    /// series it has a tally for already.
    let strip (series: Series[]) (bucket: Bucket) =
        if bucket.Chunks.IsEmpty then bucket
        else
            let b = withTallies series bucket
            Bucket.Make([], b.Requests, b.Bytes, b.Tallies)

    /// The bucket (without records) with the totals of `records` added, and their tally to each of
    /// its tallies and of `series`: late records for a second whose records are gone.
    let addTotals (series: Series[]) (records: ReadOnlyMemory<Record>) (bucket: Bucket) =
        Bucket.Make(bucket.Chunks, bucket.Requests + int64 records.Length, bucket.Bytes + bytesOf records,
                    tallyInto series records bucket)

/// The time-series store: one bucket per second that has records. Immutable. The buckets of
/// seconds before `RecordsFrom` hold totals, and a tally per series the windows read, only: a
/// window that neither selects nor groups reads nothing else, and one that does reads the tally of
/// its series, so a store keeps as many seconds of records as the summaries (and the windows of a
/// rule that could not say what it asks for) need, and an hour of tallies for an hour-wide window.
type Store =
    private
        { /// The seconds from `RecordsFrom` on: they hold records, and records still join them.
          /// A `SecondLog`, like `History`: a new second is appended (records come in time order,
          /// seconds close in order) and the oldest leave from the front, neither with a copy; the
          /// balanced tree it replaced copied a path of nodes for each, in the open store and the
          /// closed one: 0.8 kB a second of a sparse log. A second that takes more records after
          /// the next one arrived (a log out of order, a late record) costs a copy of the log.
          Recent: SecondLog<Bucket>
          /// The seconds before `RecordsFrom`, totals and tallies only: each closing second appends
          /// one and drops the oldest, which a `SecondLog` does without copying (a balanced tree
          /// copied a path of nodes for each, three a second).
          History: SecondLog<Bucket>
          RecordsFrom: int64
          /// The series whose tallies a bucket keeps when its records go, by key (ordinal). An
          /// array: every closing second reads it, and a map's value collection was a new
          /// enumerator chain each time; a store tallies a handful.
          Series: Series[] }

/// Reading and writing the store.
[<RequireQualifiedAccess>]
module Store =
    /// A store with no records.
    let empty = { Recent = SecondLog.empty; History = SecondLog.empty; RecordsFrom = Int64.MinValue; Series = [||] }

    /// The store keeping tallies for `series` too, from the next second whose records go (seconds
    /// already without records have none for it).
    let withSeries (series: Series) (store: Store) =
        if store.Series |> Array.exists (fun s -> s.Key = series.Key) then store
        else
            let added = Array.append store.Series [| series |]
            Array.sortInPlaceWith (fun (a: Series) b -> String.CompareOrdinal(a.Key, b.Key)) added
            { store with Series = added }

    /// The series the store keeps tallies for.
    let series (store: Store) : ICollection<Series> = store.Series

    /// The store tallying only the series `keep` says yes to (by `Series.key`); the tallies already
    /// made stay with their seconds.
    let retainSeries (keep: string -> bool) (store: Store) =
        let kept = store.Series |> Array.filter (fun s -> keep s.Key)
        if kept.Length = store.Series.Length then store else { store with Series = kept }

    /// The bucket of second `second`, if it has records.
    let tryFind second (store: Store) =
        if second >= store.RecordsFrom then SecondLog.tryFind second store.Recent
        else SecondLog.tryFind second store.History

    // The bucket of `second` (`ValueNone` when absent) made anew by `update`: in `Recent` from
    // `RecordsFrom` on, else, as totals and tallies, in `History`.
    // Inline, and a second after the last (nearly every second) appended here: then `update` is
    // called in place, not made a closure for `SecondLog.upsert`, 64 bytes a second.
    let inline private update second ([<InlineIfLambda>] update: Bucket voption -> Bucket) (store: Store) =
        let recent = second >= store.RecordsFrom
        let log = if recent then store.Recent else store.History
        let log =
            match SecondLog.tryLast log with
            | ValueSome last when last >= second -> SecondLog.upsert second update log
            | _ -> SecondLog.append second (update ValueNone) log
        if recent then { store with Recent = log } else { store with History = log }

    let inline private orEmpty (bucket: Bucket voption) = match bucket with ValueSome b -> b | ValueNone -> Bucket.empty

    /// The store with `records` (all of second `second`) added; the slice is kept, not copied
    /// (before `RecordsFrom`, only its totals and tallies are).
    let addSlice second (records: ReadOnlyMemory<Record>) (store: Store) =
        if second >= store.RecordsFrom then update second (fun b -> Bucket.addSlice records (orEmpty b)) store
        else update second (fun b -> Bucket.addTotals store.Series records (orEmpty b)) store

    /// The store with `slices` (all of second `second`) added, in order; they are kept, not copied
    /// (before `RecordsFrom`, only their totals and tallies are).
    let addSlices second (slices: ReadOnlyMemory<Record> seq) (store: Store) =
        let series = store.Series
        let recent = second >= store.RecordsFrom
        update second (fun existing ->
            let mutable bucket = orEmpty existing
            for slice in slices do
                bucket <- if recent then Bucket.addSlice slice bucket else Bucket.addTotals series slice bucket
            bucket) store

    /// The store with `records` (all of second `second`) added. `records` must not be written later.
    let addAll second (records: Record[]) (store: Store) = addSlice second (ReadOnlyMemory records) store

    /// The number of seconds that have records.
    let count (store: Store) = store.History.Count + store.Recent.Count

    /// Calls `action` with every bucket, in time order.
    let iterBuckets (action: Bucket -> unit) (store: Store) =
        store.History |> SecondLog.iter (fun _ bucket -> action bucket)
        store.Recent |> SecondLog.iter (fun _ bucket -> action bucket)

    /// Seconds in `[first, last]` that have records, in order, with their buckets: costs the
    /// seconds that have records, not the seconds in the range.
    let range first last (store: Store) : (int64 * Bucket) seq =
        let found = List<int64 * Bucket>()
        store.History |> SecondLog.iterRange first last (fun s b -> found.Add((s, b)))
        store.Recent |> SecondLog.iterRange first last (fun s b -> found.Add((s, b)))
        found

    /// `range` without the list: `action` with each second that has records and its bucket, in order.
    let iterRange first last (action: int64 -> Bucket -> unit) (store: Store) =
        store.History |> SecondLog.iterRange first last action
        store.Recent |> SecondLog.iterRange first last action

    /// The earliest second at or after `second` that has records, if any.
    let tryCeiling second (store: Store) =
        match (if second < store.RecordsFrom then SecondLog.ceiling second store.History else ValueNone) with
        | ValueSome s -> ValueSome s
        | ValueNone -> SecondLog.ceiling second store.Recent

    /// The store with `bucket` merged into second `second`, tallied for the store's series (before
    /// `RecordsFrom`, its totals and tallies only).
    let addBucket second (bucket: Bucket) (store: Store) =
        let series = store.Series
        let recent = second >= store.RecordsFrom
        update second (fun existing ->
            match existing with
            | ValueNone ->
                // A second joining the closed store is tallied once for every series the windows
                // read: they read the tally, entering and leaving, instead of its records.
                if recent then Bucket.withTallies series bucket else Bucket.strip series bucket
            | ValueSome existing when recent -> List.foldBack Bucket.addSlice bucket.Chunks existing
            | ValueSome existing -> List.foldBack (Bucket.addTotals series) bucket.Chunks existing) store

    /// The earliest second with records, if any.
    let tryFirstSecond (store: Store) =
        match SecondLog.tryFirst store.History with
        | ValueSome s -> ValueSome s
        | ValueNone -> SecondLog.tryFirst store.Recent

    /// The store without second `second`, and that second's bucket.
    let take second (store: Store) =
        match tryFind second store with
        | ValueNone -> struct (ValueNone, store)
        | ValueSome b when second >= store.RecordsFrom -> struct (ValueSome b, { store with Recent = SecondLog.remove second store.Recent })
        | ValueSome b -> struct (ValueSome b, { store with History = SecondLog.remove second store.History })

    /// The number of seconds that hold records (not only totals and tallies).
    let recordCount (store: Store) =
        let n = ref 0
        store |> iterBuckets (fun b -> if not b.Chunks.IsEmpty then n.Value <- n.Value + 1)
        n.Value

    /// The store without the buckets of seconds before `keepFrom`, and with only the totals and
    /// tallies of those before `stripFrom` (they can no longer be given records either: they move
    /// from `Recent` to the end of `History`), as one new store: a closing second does both.
    /// `RecordsFrom` never moves back; costs the buckets it drops and strips.
    let expire keepFrom stripFrom (store: Store) =
        let mutable history = SecondLog.dropBefore keepFrom store.History
        let mutable recent = if keepFrom > store.RecordsFrom then SecondLog.dropBefore keepFrom store.Recent else store.Recent
        let strip = stripFrom > store.RecordsFrom
        if strip then
            let mutable go = true
            while go do
                match SecondLog.tryFirstEntry recent with
                | ValueSome(struct (s, bucket)) when s < stripFrom ->
                    recent <- SecondLog.remove s recent
                    history <- SecondLog.append s (Bucket.strip store.Series bucket) history
                | _ -> go <- false
        if not strip && history.Count = store.History.Count && recent.Count = store.Recent.Count then store
        else { store with Recent = recent; History = history; RecordsFrom = (if strip then stripFrom else store.RecordsFrom) }

    /// The store with only the totals and tallies of the seconds before `second` (`expire`).
    let stripBefore second (store: Store) = expire Int64.MinValue second store
