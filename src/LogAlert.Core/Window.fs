namespace LogAlert.Core

open System.Collections.Generic

/// What a window counts: each record adds 1 to `requests` and its bytes to `bytes`.
type Metric =
    | Requests
    | Bytes

/// Helpers for `Metric`.
[<RequireQualifiedAccess>]
module Metric =
    /// The metric for a name as written in a query.
    let create (name: string) =
        match name with
        | "requests" -> Ok Requests
        | "bytes" -> Ok Bytes
        | other -> Error(sprintf "unknown metric \"%s\" (metrics: requests, bytes)" other)

/// Request and byte totals.
[<Struct>]
type Totals =
    { Requests: int64
      Bytes: int64 }

    /// The total of `metric`.
    member this.Of metric =
        match metric with
        | Requests -> this.Requests
        | Bytes -> this.Bytes

/// Running totals over the window `(At − Width, At]` of the records a selector picks, optionally
/// grouped by a label. Moving it one second costs the records of two seconds, whatever the width.
type Window =
    { Width: int64
      GroupBy: Label option
      Selector: Selector
      /// The second the totals are for.
      At: int64
      Total: Totals
      /// Totals per label value, for grouped windows; a value is present while it has records.
      Groups: Table<Totals> }

/// Building and moving windows.
[<RequireQualifiedAccess>]
module Window =

    let private apply sign (bucket: Bucket) (window: Window) =
        if Selector.isAll window.Selector && window.GroupBy.IsNone then
            { window with
                Total =
                    { Requests = window.Total.Requests + sign * bucket.Requests
                      Bytes = window.Total.Bytes + sign * bucket.Bytes } }
        else
            let mutable requests = 0L
            let mutable bytes = 0L
            // Aggregate the second's records per group first, then touch the immutable map once per group.
            let deltas = Dictionary<string, Totals>()
            bucket
            |> Bucket.iter (fun r ->
                if Selector.isMatch r window.Selector then
                    requests <- requests + 1L
                    bytes <- bytes + r.Bytes
                    match window.GroupBy with
                    | Some label ->
                        let key = Label.valueOf label r
                        match deltas.TryGetValue key with
                        | true, t -> deltas[key] <- { Requests = t.Requests + 1L; Bytes = t.Bytes + r.Bytes }
                        | _ -> deltas[key] <- { Requests = 1L; Bytes = r.Bytes }
                    | None -> ())
            let mutable groups = window.Groups
            if deltas.Count > 0 then
                let changes = Array.zeroCreate deltas.Count
                let mutable i = 0
                for KeyValue(key, d) in deltas do
                    let before = match groups.TryFind key with ValueSome t -> t | ValueNone -> { Requests = 0L; Bytes = 0L }
                    let after = { Requests = before.Requests + sign * d.Requests; Bytes = before.Bytes + sign * d.Bytes }
                    changes[i] <- struct (key, (if after.Requests = 0L then ValueNone else ValueSome after))
                    i <- i + 1
                groups <- groups.Update changes
            { window with
                Total = { Requests = window.Total.Requests + sign * requests; Bytes = window.Total.Bytes + sign * bytes }
                Groups = groups }

    /// A window of `width` seconds at second `at`, computed from the store.
    let build width groupBy selector at (store: Store) =
        let empty =
            { Width = width; GroupBy = groupBy; Selector = selector; At = at
              Total = { Requests = 0L; Bytes = 0L }; Groups = Table<Totals>.Empty }
        Store.range (at - width + 1L) at store |> Seq.fold (fun w (_, b) -> apply 1L b w) empty

    /// The window moved forward to second `at` (never backwards).
    let advanceTo at (store: Store) (window: Window) =
        if at <= window.At then window
        elif at - window.At >= window.Width then build window.Width window.GroupBy window.Selector at store
        else
            let mutable w = window
            for s in window.At + 1L .. at do
                match Store.tryFind s store with
                | Some b -> w <- apply 1L b w
                | None -> ()
                match Store.tryFind (s - window.Width) store with
                | Some b -> w <- apply -1L b w
                | None -> ()
            { w with At = at }

    /// The window with late `records` (of one second, already closed) counted, if it covers them.
    let addLate second (records: Record[]) (window: Window) =
        if second > window.At - window.Width && second <= window.At then
            apply 1L (Bucket.addAll records Bucket.empty) window
        else window

    /// Whether the window holds no record.
    let isEmpty (window: Window) = window.Total.Requests = 0L
