namespace LogAlert.Core

open System
open System.Collections.Generic

/// The records of one second of log time, with their totals. Immutable: adding records makes a
/// new bucket that shares the old chunks.
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

    /// The bucket with `records` (all of the same second) added, as they are: a slice of the input
    /// batch is kept, not copied, so the batch must not be written later.
    let addSlice (records: ReadOnlyMemory<Record>) (bucket: Bucket) =
        if records.IsEmpty then bucket
        else
            let mutable bytes = 0L
            for r in records.Span do
                bytes <- bytes + r.Bytes
            Bucket.Make(records :: bucket.Chunks, bucket.Requests + int64 records.Length, bucket.Bytes + bytes)

    /// The bucket with `records` (all of the same second) added. `records` must not be written later.
    let addAll (records: Record[]) (bucket: Bucket) = addSlice (ReadOnlyMemory records) bucket

/// The time-series store: one bucket per second that has records. Immutable.
type Store =
    private
        { Buckets: Map<int64, Bucket> }

/// Reading and writing the store.
[<RequireQualifiedAccess>]
module Store =
    /// A store with no records.
    let empty = { Buckets = Map.empty }

    /// The bucket of second `second`, if it has records.
    let tryFind second (store: Store) = Map.tryFind second store.Buckets

    /// The store with `records` (all of second `second`) added; the slice is kept, not copied.
    let addSlice second (records: ReadOnlyMemory<Record>) (store: Store) =
        let bucket = Map.tryFind second store.Buckets |> Option.defaultValue Bucket.empty
        { Buckets = Map.add second (Bucket.addSlice records bucket) store.Buckets }

    /// The store with `slices` (all of second `second`) added, in order; they are kept, not copied.
    let addSlices second (slices: ReadOnlyMemory<Record> seq) (store: Store) =
        let bucket = Map.tryFind second store.Buckets |> Option.defaultValue Bucket.empty
        { Buckets = Map.add second (Seq.fold (fun b s -> Bucket.addSlice s b) bucket slices) store.Buckets }

    /// The store with `records` (all of second `second`) added. `records` must not be written later.
    let addAll second (records: Record[]) (store: Store) = addSlice second (ReadOnlyMemory records) store

    /// The store without the buckets of seconds before `second`.
    let dropBefore second (store: Store) =
        let mutable buckets = store.Buckets
        let mutable go = true
        while go && not buckets.IsEmpty do
            let first, _ = Map.minKeyValue buckets
            if first < second then buckets <- Map.remove first buckets else go <- false
        if obj.ReferenceEquals(buckets, store.Buckets) then store else { Buckets = buckets }

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

    /// The store with `bucket` merged into second `second`.
    let addBucket second (bucket: Bucket) (store: Store) =
        match Map.tryFind second store.Buckets with
        | None -> { Buckets = Map.add second bucket store.Buckets }
        | Some existing ->
            let merged = List.foldBack Bucket.addSlice bucket.Chunks existing
            { Buckets = Map.add second merged store.Buckets }

    /// The earliest second with records, if any.
    let tryFirstSecond (store: Store) =
        if store.Buckets.IsEmpty then None else Some(fst (Map.minKeyValue store.Buckets))

    /// The store without second `second`, and that second's bucket.
    let take second (store: Store) =
        match Map.tryFind second store.Buckets with
        | None -> None, store
        | Some b -> Some b, { Buckets = Map.remove second store.Buckets }
