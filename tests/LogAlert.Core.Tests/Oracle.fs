/// A naive recomputation to check the streaming engine against: sorted records, every second from
/// the first to the last evaluated, every window summed from scratch. Slow and obviously right.
module LogAlert.Core.Tests.Oracle

open System
open System.Collections.Generic
open LogAlert.Core

/// IQuery by brute force over all records.
let private selectors = System.Collections.Concurrent.ConcurrentDictionary<string, Selector>()
let private selectorOf text =
    selectors.GetOrAdd(text, fun t ->
        match Selector.create t with
        | Ok s -> s
        | Error e -> failwith (SelectorError.describe e))

/// `records` must be sorted by time.
type NaiveQuery(records: Record[], now: int64) =
    let seconds (w: TimeSpan) = int64 w.TotalSeconds
    /// Index of the first record with time >= t.
    let lowerBound t =
        let mutable lo, hi = 0, records.Length
        while lo < hi do
            let mid = (lo + hi) / 2
            if records[mid].Time < t then lo <- mid + 1 else hi <- mid
        lo
    let inWindow w (selector: string | null) =
        let sel = selectorOf (match selector with null -> "" | s -> s)
        records[lowerBound (now - seconds w + 1L) .. lowerBound (now + 1L) - 1]
        |> Array.filter (fun r -> Selector.isMatch r sel)
    // Durations are summed in whole microseconds, as the engine sums them: exact in any order.
    let sumOf m (records: Record[]) =
        match m with
        | "bytes" -> records |> Array.sumBy (fun r -> float r.Bytes)
        | "request_time" -> float (records |> Array.sumBy (fun r -> r.RequestMicros)) / 1e6
        | "upstream_response_time" -> float (records |> Array.sumBy (fun r -> r.UpstreamMicros)) / 1e6
        | _ -> float records.Length
    let labelOf l =
        match Label.create l with
        | Ok l -> l
        | Error e -> failwith (SelectorError.describe e)
    let sumBy m w label selector =
        let l = labelOf label
        inWindow w selector
        |> Array.groupBy (Label.valueOf l)
        |> Array.map (fun (k, rs) -> k, sumOf m rs)
        |> Array.sortWith (fun (a, _) (b, _) -> String.CompareOrdinal(a, b))
    interface IQuery with
        member _.Now = DateTimeOffset.FromUnixTimeSeconds now
        member _.Sum(m, w, selector) = inWindow w selector |> sumOf m
        member this.Rate(m, w, selector) = (this :> IQuery).Sum(m, w, selector) / float (seconds w)
        member _.SumBy(m, w, label, selector) =
            Grouped(label, sumBy m w label selector |> Array.map KeyValuePair)
        member this.RateBy(m, w, label, selector) =
            Grouped(label, sumBy m w label selector |> Array.map (fun (k, v) -> KeyValuePair(k, v / float (seconds w))))
        member _.TopK(k, m, w, label, selector) =
            let top =
                sumBy m w label selector
                |> Array.sortWith (fun (ka, va) (kb, vb) -> let c = compare vb va in if c <> 0 then c else String.CompareOrdinal(ka, kb))
                |> Array.truncate k
            Grouped(label, top |> Array.map KeyValuePair)
        member _.Distinct(label, w, selector) =
            let l = labelOf label
            inWindow w selector |> Array.map (Label.valueOf l) |> Array.distinct |> Array.length |> float

/// A rule as test data: how to build it, and its thresholds for the oracle.
type RuleSpec =
    { Name: string
      Value: RuleValue
      Above: float
      Recover: float
      For: int64 }

let private firingTemplate = "{rule} {value} at {time}"
let private resolvedTemplate = "{rule} ok {value} at {time} since {since}"

let toRule (spec: RuleSpec) =
    match Rule.create spec.Name spec.Value spec.Above (Some spec.Recover) spec.For (Some firingTemplate) (Some resolvedTemplate) with
    | Ok r -> r
    | Error e -> failwith (RuleError.describe e)

/// The events a correct engine emits for `sorted` records with these rules.
let events (interval: int64) (specs: RuleSpec list) (sorted: Record list) : Event list =
    let records = Array.ofList sorted
    let rules = specs |> List.map toRule
    let out = List<Event>()
    if records.Length > 0 then
        let first = records |> Array.map (fun r -> r.Time) |> Array.min
        let last = records |> Array.map (fun r -> r.Time) |> Array.max
        // (rule, group) -> Pending since | Firing since, value
        let phases = Dictionary<string * string, Choice<int64, int64 * float>>()
        let groupLabel = Dictionary<string, string>()
        for s in first..last do
            let q = NaiveQuery(records, s)
            for spec, rule in List.zip specs rules do
                let values =
                    match spec.Value with
                    | Scalar f -> [ "", f q ]
                    | PerGroup f ->
                        let g = f q
                        groupLabel[spec.Name] <- g.Label
                        let present = [ for kv in g.Entries -> kv.Key, kv.Value ]
                        let alerting =
                            [ for KeyValue((name, key), _) in phases do
                                  if name = spec.Name && not (present |> List.exists (fun (k, _) -> k = key)) then
                                      yield key, 0.0 ]
                        present @ alerting |> List.sortWith (fun (a, _) (b, _) -> String.CompareOrdinal(a, b))
                for key, v in values do
                    let labels = match spec.Value with PerGroup _ -> [ groupLabel[spec.Name], key ] | Scalar _ -> []
                    let fire () =
                        phases[(spec.Name, key)] <- Choice2Of2(s, v)
                        out.Add(Alert { AlertEvent.Rule = spec.Name; Labels = labels; Transition = Fired; Time = s; Value = v
                                        Threshold = spec.Above; FiringSince = s
                                        Message = Rule.render firingTemplate rule labels s s v })
                    match phases.TryGetValue((spec.Name, key)) with
                    | false, _ ->
                        if v > spec.Above then
                            if spec.For = 0L then fire () else phases[(spec.Name, key)] <- Choice1Of2 s
                    | true, Choice1Of2 since ->
                        if v > spec.Above then (if s - since >= spec.For then fire ())
                        else phases.Remove((spec.Name, key)) |> ignore
                    | true, Choice2Of2(since, _) ->
                        if v < spec.Recover then
                            phases.Remove((spec.Name, key)) |> ignore
                            out.Add(Alert { AlertEvent.Rule = spec.Name; Labels = labels; Transition = Resolved; Time = s; Value = v
                                            Threshold = spec.Above; FiringSince = since
                                            Message = Rule.render resolvedTemplate rule labels s since v })
                        else phases[(spec.Name, key)] <- Choice2Of2(since, v)
            let summaryOf start stop partial =
                let inside = records |> Array.filter (fun r -> r.Time >= start && r.Time < stop)
                if inside.Length > 0 then
                    let sections =
                        inside
                        |> Array.countBy (fun r -> r.Section)
                        |> Array.map (fun (k, n) -> k, int64 n)
                        |> Array.sortWith (fun (ka, va) (kb, vb) -> let c = compare vb va in if c <> 0 then c else String.CompareOrdinal(ka, kb))
                        |> Array.truncate 3
                        |> List.ofArray
                    let status =
                        inside |> Array.countBy (fun r -> sprintf "%dxx" (r.Status / 100)) |> Array.sortBy fst
                        |> Array.map (fun (k, n) -> k, int64 n) |> List.ofArray
                    out.Add(SummaryReady { Start = start; End = stop; Requests = int64 inside.Length
                                           Bytes = inside |> Array.fold (fun sum r -> sum + Int128.op_Implicit r.Bytes) Int128.Zero; Sections = sections
                                           Status = status; Hosts = inside |> Array.distinctBy (fun r -> r.Host) |> Array.length
                                           Partial = partial })
            if interval > 0L && (s + 1L) % interval = 0L then summaryOf (s + 1L - interval) (s + 1L) false
            if s = last && interval > 0L && (s + 1L) % interval <> 0L then
                summaryOf (Summary.intervalStart interval s) (s + 1L) true
        let firing =
            [ for spec in specs do
                  let keys =
                      phases |> Seq.choose (fun (KeyValue((name, key), p)) -> if name = spec.Name then Some(key, p) else None)
                      |> Seq.sortWith (fun (a, _) (b, _) -> String.CompareOrdinal(a, b))
                  for key, p in keys do
                      match p with
                      | Choice2Of2(since, v) ->
                          let labels = match spec.Value with PerGroup _ -> [ groupLabel[spec.Name], key ] | Scalar _ -> []
                          yield { FiringAlert.Rule = spec.Name; Labels = labels; Since = since; Value = v; RuleFailed = false }
                      | Choice1Of2 _ -> () ]
        out.Add(Finished { Records = int64 records.Length; Skewed = 0L; Late = 0L; Firing = firing })
    else
        out.Add(Finished { Records = 0L; Skewed = 0L; Late = 0L; Firing = [] })
    List.ofSeq out
