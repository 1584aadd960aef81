namespace LogAlert.Core

open System
open System.Collections.Generic

/// Traffic over one summary interval `[Start, End)` of log time.
type Summary =
    { Start: int64
      End: int64
      Requests: int64
      /// Bytes of every request: an `Int128`, which no input can make wrap (see `ByteSum`).
      Bytes: Int128
      /// The sections with the most hits (top 3, ties by name, ordinal), most first.
      Sections: (string * int64) list
      /// Requests per status class present (`2xx`...), in class order.
      Status: (string * int64) list
      /// Distinct hosts.
      Hosts: int
      /// Whether the interval was cut short by the end of input.
      Partial: bool }

    /// Requests per second over the interval.
    member this.Rps = float this.Requests / float (max 1L (this.End - this.Start))

/// Computing summaries from the store.
[<RequireQualifiedAccess>]
module Summary =

    /// The interval of `interval` seconds holding `second`: its first second.
    let intervalStart interval (second: int64) =
        let r = second % interval
        if r < 0L then second - r - interval else second - r

    /// Counts the records of `bucket` into `status` (by class), `hosts` and `sections`.
    // Called for every second with records, so it would run precompiled (ReadyToRun) code for its
    // first 200 calls: it loops over every record, so it is compiled fully optimised at once instead.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)>]
    let private countRecords (bucket: Bucket) (status: int64[]) (hosts: IdBits) (sections: IdCounts) =
        for chunk in bucket.Chunks do
            let span = chunk.Span
            for i in 0 .. span.Length - 1 do
                let r = &span[i] // not a copy of the record
                let c = r.Status / 100
                status[c] <- status[c] + 1L
                hosts.Add r.HostId
                sections.Add r.SectionId

    /// The summary of `[start, endExclusive)`, or None when it holds no records.
    let internal compute start endExclusive partial (store: Store) =
        // Sections by id in an array, not a dictionary: no hash a record (see `IdCounts`).
        let sections = IdCounts.Take()
        // Distinct hosts: 30k an interval on a busy site, as bits (see `IdBits`).
        let hosts = IdBits.Take()
        let status = Array.zeroCreate<int64> 6
        let requests = ref 0L
        let bytes = ref Int128.Zero
        store
        |> Store.iterRange start (endExclusive - 1L) (fun _ bucket ->
            requests.Value <- requests.Value + bucket.Requests
            bytes.Value <- bytes.Value + bucket.Bytes.ToInt128()
            countRecords bucket status hosts sections)
        let requests, bytes = requests.Value, bytes.Value
        let distinctHosts = hosts.Count() // empties the set
        if requests = 0L then None
        else
            // The best three by hits, ties by name (ordinal): one pass, not a sort of every section.
            let best = ResizeArray<struct (string * int64)>(4)
            let before (ka: string, va: int64) (struct (kb: string, vb: int64)) =
                va > vb || (va = vb && String.CompareOrdinal(ka, kb) < 0)
            for k in sections.Ids do
                let v = sections[k]
                if best.Count < 3 || v >= (let struct (_, last) = best[best.Count - 1] in last) then
                    let name = Symbols.Sections.Name k
                    let mutable i = best.Count
                    while i > 0 && before (name, v) best[i - 1] do
                        i <- i - 1
                    if i < 3 then
                        best.Insert(i, struct (name, v))
                        if best.Count > 3 then best.RemoveAt 3
            let top = [ for struct (name, v) in best -> name, v ]
            Some
                { Start = start
                  End = endExclusive
                  Requests = requests
                  Bytes = bytes
                  Sections = top
                  Status = [ for c in 1..5 do if status[c] > 0L then yield Label.nameOf StatusClass c, status[c] ]
                  Hosts = distinctHosts
                  Partial = partial }
