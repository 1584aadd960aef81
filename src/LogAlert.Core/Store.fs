namespace LogAlert.Core

open System
open System.Collections.Generic

/// The records of one second of log time, with their totals. Immutable: adding records makes a
/// new bucket that shares the old chunks. Once no window needs the records of its second any more,
/// a bucket keeps only its totals (see `Store.stripBefore`).
[<Sealed>]
type Bucket private (chunks: ReadOnlyMemory<Record> list, requests: int64, bytes: int64) =
    /// Record chunks, newest first: slices of arrays that nobody writes once they are in a bucket.
    member _.Chunks = chunks
    /// Number of records.
    member _.Requests = requests
    /// Sum of bytes.
    member _.Bytes = bytes

    static member internal Make(chunks, requests, bytes) = Bucket(chunks, requests, bytes)

/// Building and reading buckets.
[<RequireQualifiedAccess>]
module Bucket =
    /// A bucket with no records.
    let empty = Bucket.Make([], 0L, 0L)

    let private bytesOf (records: ReadOnlyMemory<Record>) =
        let mutable bytes = 0L
        for r in records.Span do
            bytes <- bytes + r.Bytes
        bytes

    /// The bucket with `records` (all of the same second) added, as they are: a slice of the input
    /// batch is kept, not copied, so the batch must not be written later.
    let addSlice (records: ReadOnlyMemory<Record>) (bucket: Bucket) =
        if records.IsEmpty then bucket
        else Bucket.Make(records :: bucket.Chunks, bucket.Requests + int64 records.Length, bucket.Bytes + bytesOf records)

    /// The bucket with `records` (all of the same second) added. `records` must not be written later.
    let addAll (records: Record[]) (bucket: Bucket) = addSlice (ReadOnlyMemory records) bucket

    /// The bucket with its totals and without its records.
    let totalsOnly (bucket: Bucket) =
        if bucket.Chunks.IsEmpty then bucket else Bucket.Make([], bucket.Requests, bucket.Bytes)

    /// The bucket with the totals of `records` added, and not the records.
    let addTotals (records: ReadOnlyMemory<Record>) (bucket: Bucket) =
        Bucket.Make(bucket.Chunks, bucket.Requests + int64 records.Length, bucket.Bytes + bytesOf records)

/// The time-series store: one bucket per second that has records. Immutable. The buckets of
/// seconds before `RecordsFrom` hold totals only: a window that neither selects nor groups reads
/// nothing else, so a store whose longest such window is an hour keeps an hour of totals and only
/// as many seconds of records as the windows that look at records (and the summaries) need.
type Store =
    private
        { Buckets: Map<int64, Bucket>
          RecordsFrom: int64 }

/// Reading and writing the store.
[<RequireQualifiedAccess>]
module Store =
    /// A store with no records.
    let empty = { Buckets = Map.empty; RecordsFrom = Int64.MinValue }

    /// The bucket of second `second`, if it has records.
    let tryFind second (store: Store) = Map.tryFind second store.Buckets

    // How records join second `second`: as they are, or before `RecordsFrom` as totals only.
    let private adder second (store: Store) =
        if second < store.RecordsFrom then Bucket.addTotals else Bucket.addSlice

    /// The store with `records` (all of second `second`) added; the slice is kept, not copied
    /// (before `RecordsFrom`, only its totals are).
    let addSlice second (records: ReadOnlyMemory<Record>) (store: Store) =
        let bucket = Map.tryFind second store.Buckets |> Option.defaultValue Bucket.empty
        { store with Buckets = Map.add second (adder second store records bucket) store.Buckets }

    /// The store with `slices` (all of second `second`) added, in order; they are kept, not copied
    /// (before `RecordsFrom`, only their totals are).
    let addSlices second (slices: ReadOnlyMemory<Record> seq) (store: Store) =
        let bucket = Map.tryFind second store.Buckets |> Option.defaultValue Bucket.empty
        let add = adder second store
        { store with Buckets = Map.add second (Seq.fold (fun b s -> add s b) bucket slices) store.Buckets }

    /// The store with `records` (all of second `second`) added. `records` must not be written later.
    let addAll second (records: Record[]) (store: Store) = addSlice second (ReadOnlyMemory records) store

    /// The store without the buckets of seconds before `second`.
    let dropBefore second (store: Store) =
        let mutable buckets = store.Buckets
        let mutable go = true
        while go && not buckets.IsEmpty do
            let first, _ = Map.minKeyValue buckets
            if first < second then buckets <- Map.remove first buckets else go <- false
        if obj.ReferenceEquals(buckets, store.Buckets) then store else { store with Buckets = buckets }

    /// The number of seconds that have records.
    let count (store: Store) = store.Buckets.Count

    /// Seconds in `[first, last]` that have records, in order, with their buckets.
    let range first last (store: Store) : (int64 * Bucket) seq =
        if last - first < 64L then
            seq {
                for s in first..last do
                    match Map.tryFind s store.Buckets with
                    | Some b -> yield s, b
                    | None -> ()
            }
        else
            store.Buckets
            |> Seq.skipWhile (fun (KeyValue(s, _)) -> s < first)
            |> Seq.takeWhile (fun (KeyValue(s, _)) -> s <= last)
            |> Seq.map (fun (KeyValue(s, b)) -> s, b)

    /// The store with `bucket` merged into second `second` (before `RecordsFrom`, its totals only).
    let addBucket second (bucket: Bucket) (store: Store) =
        let bucket = if second < store.RecordsFrom then Bucket.totalsOnly bucket else bucket
        match Map.tryFind second store.Buckets with
        | None -> { store with Buckets = Map.add second bucket store.Buckets }
        | Some existing ->
            let merged =
                if second < store.RecordsFrom then
                    Bucket.Make(existing.Chunks, existing.Requests + bucket.Requests, existing.Bytes + bucket.Bytes)
                else List.foldBack Bucket.addSlice bucket.Chunks existing
            { store with Buckets = Map.add second merged store.Buckets }

    /// The earliest second with records, if any.
    let tryFirstSecond (store: Store) =
        if store.Buckets.IsEmpty then None else Some(fst (Map.minKeyValue store.Buckets))

    /// The store without second `second`, and that second's bucket.
    let take second (store: Store) =
        match Map.tryFind second store.Buckets with
        | None -> None, store
        | Some b -> Some b, { store with Buckets = Map.remove second store.Buckets }

    /// The number of seconds that hold records (not only totals).
    let recordCount (store: Store) =
        store.Buckets |> Seq.sumBy (fun (KeyValue(_, b)) -> if b.Chunks.IsEmpty then 0 else 1)

    /// The store with only the totals of the seconds before `second` (they can no longer be given
    /// records either). Never moves back; costs the buckets it strips.
    let stripBefore second (store: Store) =
        if second <= store.RecordsFrom then store
        else
            let mutable buckets = store.Buckets
            let first = match tryFirstSecond store with Some s -> max s store.RecordsFrom | None -> second
            for s, b in range first (second - 1L) store |> Array.ofSeq do
                if not b.Chunks.IsEmpty then buckets <- Map.add s (Bucket.totalsOnly b) buckets
            { Buckets = buckets; RecordsFrom = second }
