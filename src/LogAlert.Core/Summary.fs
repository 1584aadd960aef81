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

    /// Intervals longer than this many seconds are summed from each second's tallies of its hosts,
    /// sections and status classes (`series`), made as the second closes, not from its records:
    /// kept for the interval, records cost about 70 bytes each, and `--summary-interval 1d` at
    /// 1000 requests a second held 3 GB after 12 hours. A tally costs a pair of numbers per value in
    /// the second. Shorter intervals keep the records, which the windows keep for a few seconds
    /// anyway, and tally nothing more.
    let internal TalliedAfter = 60L

    /// The series a summary of a long interval reads (`TalliedAfter`): every request, by host, by
    /// section and by status class.
    let internal series =
        [ Series.create (Some Host) Selector.all Requests
          Series.create (Some Section) Selector.all Requests
          Series.create (Some StatusClass) Selector.all Requests ]

    // Their keys, in that order.
    let private keys = series |> List.map (fun s -> s.Key) |> Array.ofList

    /// Counts `bucket` from its tallies into `status` (by class), `hosts` and `sections`, when it
    /// has all three; says whether it did.
    let private countTallied (bucket: Bucket) (status: int64[]) (hosts: IdBits) (sections: IdCounts) =
        let mutable h = Unchecked.defaultof<SecondTally>
        let mutable se = Unchecked.defaultof<SecondTally>
        let mutable st = Unchecked.defaultof<SecondTally>
        if bucket.TryTally(keys[0], &h) && bucket.TryTally(keys[1], &se) && bucket.TryTally(keys[2], &st) then
            for id in h.Keys do
                hosts.Add id
            for i in 0 .. se.Keys.Length - 1 do
                sections.AddMany(se.Keys[i], se.Totals[i].Requests)
            for i in 0 .. st.Keys.Length - 1 do
                status[st.Keys[i]] <- status[st.Keys[i]] + st.Totals[i].Requests
            true
        else false

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
            if not (countTallied bucket status hosts sections) then countRecords bucket status hosts sections)
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
