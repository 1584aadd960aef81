namespace LogAlert.Core

open System
open System.Collections
open System.Collections.Generic
open System.Runtime.InteropServices

/// A query asked for something that does not exist: an unknown metric or label, a bad selector,
/// a window that is not a whole number of seconds. The rule that asked goes to its error state.
type QueryException(message: string) =
    inherit ArgumentException(message)

    /// What a query object kept past the call it was given to says when asked (the engine's, and the
    /// one a rule is called with at load time): it would answer for another second, or a made-up
    /// number, without a word.
    static member internal KeptPastItsCall =
        "this q was given to an earlier call: a query answers only during the call it is given to (keep no state between calls)"

/// One step from a group's value to the value a grouped result holds for it: a step that reads
/// nothing but that value (and the group's name), so that the result stays a function of each
/// group's totals alone.
[<NoEquality; NoComparison>]
type internal GroupOp =
    /// Divided (`true`) or multiplied by a number.
    | Scale of divide: bool * x: float
    /// `Select`: the value mapped.
    | Map of Func<float, float>
    /// `Where`: the group kept when the predicate holds of its name and value, else left out.
    | Keep of Func<string, float, bool>

/// What a rule remembers of the `SumBy` or `RateBy` result it returned (`GroupedSource.Follow`):
/// which window version, and the steps from a group's totals to its value.
[<Struct; NoEquality; NoComparison>]
type internal Followed =
    { Key: string
      Metric: Metric
      Ops: GroupOp list
      Built: int64
      Moves: int64 }

/// What a `SumBy` or `RateBy` result follows from one second to the next, so that a `WhenEach`
/// rule returning it can be re-evaluated for the groups that changed only: the window (its key in
/// the view, the second it was built, how often it moved), the groups its last move touched, and the
/// steps from a group's totals to its value (`Ops`, in order after the metric: each division or
/// multiplication by a number, `Select` and `Where`).
[<NoEquality; NoComparison>]
type internal GroupedSource =
    { /// The window's key in the view (`WindowKeys`): with `Metric` and `Ops`, two results that
      /// compute alike.
      Key: string
      Built: int64
      Moves: int64
      Label: Label
      Table: Table<Totals>
      Metric: Metric
      Ops: GroupOp list
      Changed: struct (int * int[] * Totals[])[] }

    /// A group's value now, `ValueNone` when it has no records in the window or a `Where` left it out.
    member this.ValueOf(id: int) =
        match this.Table.TryFind id with
        | ValueSome t ->
            let mutable v = ValueSome(t.Of this.Metric)
            for op in this.Ops do
                match v with
                | ValueSome x ->
                    v <-
                        match op with
                        | Scale(divide, y) -> ValueSome(if divide then x / y else x * y)
                        | Map f -> ValueSome(f.Invoke x)
                        | Keep predicate -> if predicate.Invoke(Label.nameOf this.Label id, x) then v else ValueNone
                | ValueNone -> ()
            v
        | ValueNone -> ValueNone

    /// The source with one more step.
    member this.Then(op: GroupOp) = { this with Ops = this.Ops @ [ op ] }

    /// What a rule remembers of the result it returned: which window version, and the steps.
    member this.Follow = { Key = this.Key; Metric = this.Metric; Ops = this.Ops; Built = this.Built; Moves = this.Moves }

    /// Whether `followed` reads the same window, built at the same second, by the same steps: then
    /// its values differ from this source's only in the groups the moves between touched. A
    /// `Select` or `Where` step is the same when it is the same delegate: a lambda that captures
    /// nothing is one delegate for the life of its script, and a value depends only on what the
    /// queries return (docs/semantics.md §8); one that captures makes a new delegate a call, and
    /// its result is evaluated whole. Compared field by field: F#'s structural equality on the
    /// tuple and its list went through generic comparers and slow tail calls, 5% of a grouped
    /// rule's second.
    member this.ComputesLike(followed: Followed) =
        let rec sameOps (a: GroupOp list) (b: GroupOp list) =
            match a, b with
            | [], [] -> true
            | op1 :: r1, op2 :: r2 ->
                (match op1, op2 with
                 | Scale(d1, x1), Scale(d2, x2) -> d1 = d2 && x1 = x2
                 | Map f1, Map f2 -> obj.ReferenceEquals(f1, f2)
                 | Keep p1, Keep p2 -> obj.ReferenceEquals(p1, p2)
                 | _ -> false)
                && sameOps r1 r2
            | _ -> false
        String.Equals(followed.Key, this.Key) && followed.Built = this.Built && followed.Metric = this.Metric
        && sameOps followed.Ops this.Ops

/// Values per label value, from `SumBy`, `RateBy` or `TopK`: a read-only dictionary that also
/// knows which label it is grouped by. Missing keys read as 0.
[<Sealed; AllowNullLiteral>]
type Grouped private (label: string, given: KeyValuePair<string, float>[] | null,
                      make: (unit -> KeyValuePair<string, float>[]) | null, source: GroupedSource voption) =
    // The entries and their index, made when first read. Not `Lazy`: a grouped rule returns one
    // of these every second, and two lazies cost a helper, a delegate and a closure each. A rule
    // reads its result on one thread; were two to race, both would compute the same array.
    let mutable entries = given
    let mutable index: Dictionary<string, float> | null = null

    /// Values per label value, `values` as given.
    new(label: string, values: KeyValuePair<string, float>[]) = Grouped(label, values, null, ValueNone)

    /// A result read from a window when first enumerated, following `source` (see `GroupedSource`).
    static member internal Following(label: string, entries: unit -> KeyValuePair<string, float>[], source: GroupedSource) =
        Grouped(label, null, entries, ValueSome source)

    member private _.Pairs: KeyValuePair<string, float>[] =
        match entries with
        | null ->
            let made = (nonNull make) ()
            entries <- made
            made
        | e -> e

    member private this.Index: Dictionary<string, float> =
        match index with
        | null ->
            let d = Dictionary<string, float>(this.Pairs, StringComparer.Ordinal)
            index <- d
            d
        | d -> d

    /// What the result follows, when it is a `SumBy` or `RateBy` result, as it is or through steps
    /// that read each group's value alone (divided or multiplied by numbers, `Select`, `Where`).
    member internal _.Source = source

    /// Whether the engine calls functions of the rule's (`Select`, `Where`) when it reads this
    /// result, after the rule returned it: a result that follows a window through them.
    member internal _.CallsRuleCode =
        match source with
        | ValueSome s -> s.Ops |> List.exists (fun op -> match op with Map _ | Keep _ -> true | Scale _ -> false)
        | ValueNone -> false

    /// The label the values are grouped by, e.g. `section`.
    member _.Label = label
    /// The entries, in order (by label value, or by value for `TopK`).
    member this.Entries: IReadOnlyList<KeyValuePair<string, float>> = this.Pairs
    /// Number of groups.
    member this.Count = this.Pairs.Length
    /// The value of a group, 0 when absent.
    member this.Item
        with get (key: string) =
            match this.Index.TryGetValue key with
            | true, v -> v
            | _ -> 0.0
    /// Whether a group of that label value is present.
    member this.ContainsKey(key: string) = this.Index.ContainsKey key
    /// The value of a group, when it is present.
    member this.TryGetValue(key: string, [<Out>] value: byref<float>) = this.Index.TryGetValue(key, &value)
    /// The groups' label values, in order.
    member this.Keys: IEnumerable<string> = this.Pairs |> Seq.map (fun kv -> kv.Key)
    /// The groups' values, in order.
    member this.Values: IEnumerable<float> = this.Pairs |> Seq.map (fun kv -> kv.Value)
    /// The group values with `f` applied to each value.
    member this.Select(f: Func<float, float>) =
        let mapped () = this.Pairs |> Array.map (fun kv -> KeyValuePair(kv.Key, f.Invoke kv.Value))
        this.Step(Map f, mapped)
    /// The groups for which `predicate` holds.
    member this.Where(predicate: Func<string, float, bool>) =
        let kept () = this.Pairs |> Array.filter (fun kv -> predicate.Invoke(kv.Key, kv.Value))
        this.Step(Keep predicate, kept)
    /// Per group `a / b`, over the groups of `a`; a group whose divisor is 0 or absent is left out.
    static member (/)(a: Grouped, b: Grouped) =
        // Groups of two labels share no key but by chance (a host named like a section): the quotient
        // was empty, or worse, without a word.
        if a.Label <> b.Label then
            raise (QueryException(sprintf "a / b: groups by %s divided by groups by %s; both must group by the same label" a.Label b.Label))
        Grouped(a.Label, a.Entries |> Seq.choose (fun kv -> let d = b[kv.Key] in if d = 0.0 then None else Some(KeyValuePair(kv.Key, kv.Value / d))) |> Array.ofSeq)
    /// Every group value divided by a number.
    static member (/)(a: Grouped, d: float) = a.Scaled(true, d)
    /// Every group value multiplied by a number.
    static member (*)(a: Grouped, m: float) = a.Scaled(false, m)

    member private this.Scaled(divide: bool, x: float) =
        let scaled () =
            this.Pairs |> Array.map (fun kv -> KeyValuePair(kv.Key, (if divide then kv.Value / x else kv.Value * x)))
        match source with
        | ValueSome s -> Grouped(label, null, scaled, ValueSome(s.Then(Scale(divide, x))))
        // Made at once, as a result without a source always was, and with no step to remember:
        // `dominant_host` divides and multiplies a `TopK` result every second.
        | ValueNone -> Grouped(label, scaled ())

    // A step that reads each group's value alone (`Select`, `Where`) keeps what the result follows,
    // and its entries are made when first read; without a source they are made at once, as they
    // always were.
    member private _.Step(op: GroupOp, entries: unit -> KeyValuePair<string, float>[]) =
        match source with
        | ValueSome s -> Grouped(label, null, entries, ValueSome(s.Then op))
        | ValueNone -> Grouped(label, entries ())

    interface IReadOnlyDictionary<string, float> with
        member this.Item with get key = this[key]
        member this.Keys = this.Keys
        member this.Values = this.Values
        member this.ContainsKey key = this.ContainsKey key
        member this.TryGetValue(key, value) = this.TryGetValue(key, &value)
        member this.Count = this.Pairs.Length
        member this.GetEnumerator() : IEnumerator<KeyValuePair<string, float>> = (this.Pairs :> seq<_>).GetEnumerator()
        member this.GetEnumerator() : IEnumerator = this.Pairs.GetEnumerator()

/// What a rule can ask, over the closed window `(Now − width, Now]` of log time.
type IQuery =
    /// The evaluated second, UTC. For messages and labels: a rule's value must not depend on it.
    abstract Now: DateTimeOffset
    /// Sum of `metric` over the window, of the records `selector` picks: `requests`, `bytes`, or
    /// `request_time` or `upstream_response_time` in seconds (0 for a record whose format does not log it).
    abstract Sum: metric: string * width: TimeSpan * [<Optional; DefaultParameterValue(null: string | null)>] selector: string | null -> float
    /// `Sum / width` in seconds.
    abstract Rate: metric: string * width: TimeSpan * [<Optional; DefaultParameterValue(null: string | null)>] selector: string | null -> float
    /// Sum per value of `label`.
    abstract SumBy: metric: string * width: TimeSpan * label: string * [<Optional; DefaultParameterValue(null: string | null)>] selector: string | null -> Grouped
    /// Rate per value of `label`.
    abstract RateBy: metric: string * width: TimeSpan * label: string * [<Optional; DefaultParameterValue(null: string | null)>] selector: string | null -> Grouped
    /// The `k` values of `label` with the largest sums (ties by label value, ordinal), largest first.
    abstract TopK: k: int * metric: string * width: TimeSpan * label: string * [<Optional; DefaultParameterValue(null: string | null)>] selector: string | null -> Grouped
    /// The number of distinct values of `label` among the records in the window.
    abstract Distinct: label: string * width: TimeSpan * [<Optional; DefaultParameterValue(null: string | null)>] selector: string | null -> float

/// The query of one evaluation, for the shell's code that wraps a rule (its watchdog, the
/// attribution of what a rule prints): the engine reads a `WhenEach` result after the rule returned
/// it, and calls the rule's `Select` and `Where` functions then, for the groups it looks at
/// (`Grouped.CallsRuleCode`). Such code holds its scope open until the engine has evaluated the result.
type internal IEvaluationScope =
    /// Calls `leave` once the engine has evaluated what the rule returns from this call, whether
    /// it returned or threw; the last registered is called first.
    abstract OnEvaluated: leave: Action -> unit
    /// Has an exception that the rule's functions throw while the engine evaluates what the rule
    /// returns from this call go through `describe` before it is reported (the shell names the
    /// exception's type and its line in the rule file, as it does for the rule's own call).
    abstract OnFailure: describe: Func<exn, exn> -> unit

/// How the arguments of a query are checked: by the engine (`QueryView`) as a rule asks, and by a
/// rule host that calls each rule once at load time to learn what it asks for (`Interop.Queries`).
/// One order (width, metric, label, then selector) and one wording, so that a mistake reads the
/// same at load time and at run time.
[<RequireQualifiedAccess>]
module internal QueryCheck =
    /// The width of a window in seconds: a whole number of at least 1.
    let seconds (width: TimeSpan) =
        if width.Ticks <= 0L || width.Ticks % TimeSpan.TicksPerSecond <> 0L then
            Error(sprintf "window %s is not a whole number of seconds of at least 1s" (DurationText.show width))
        else Ok(width.Ticks / TimeSpan.TicksPerSecond)

    /// The metric (`requests`, `bytes`).
    let metric (name: string) : Result<Metric, string> = Metric.create name

    /// The label a query groups by or counts (`section`, `host`...).
    let label (name: string) : Result<Label, string> = Label.create name |> Result.mapError SelectorError.describe

    /// The selector; null or empty picks every record.
    let selector (text: string | null) : Result<Selector, string> =
        Selector.create text |> Result.mapError SelectorError.describe

    // `Some label`, one object per label: a grouped query asks every second.
    let private someLabels =
        [| Some Section; Some Method; Some Status; Some StatusClass; Some Host; Some User; Some VirtualHost; Some Referer; Some UserAgent |]

    let private someLabel (l: Label) =
        someLabels[match l with
                   | Section -> 0
                   | Method -> 1
                   | Status -> 2
                   | StatusClass -> 3
                   | Host -> 4
                   | User -> 5
                   | VirtualHost -> 6
                   | Referer -> 7
                   | UserAgent -> 8]

    /// The width, metric and label of a query, checked in that order: the first that is wrong is
    /// the error. `ValueNone` for an argument the query's function does not take (`Distinct` has
    /// no metric, `Sum` and `Rate` no label). The selector comes last (`problem`): the engine
    /// parses it only when it builds a window.
    let arguments (width: TimeSpan) (metricName: ValueOption<string>) (labelName: ValueOption<string>) =
        match seconds width with
        | Error e -> Error e
        | Ok w ->
            let checkedMetric =
                match metricName with
                | ValueSome name ->
                    match metric name with
                    | Ok m -> Ok(ValueSome m)
                    | Error e -> Error e
                | ValueNone -> Ok ValueNone
            match checkedMetric with
            | Error e -> Error e
            | Ok m ->
                match labelName with
                | ValueNone -> Ok(struct (w, m, None))
                | ValueSome name ->
                    match label name with
                    | Ok l -> Ok(struct (w, m, someLabel l))
                    | Error e -> Error e

    /// What the engine would reject in a query, in its words (`arguments`, then the selector);
    /// None when it would take it.
    let problem (width: TimeSpan) (metricName: ValueOption<string>) (labelName: ValueOption<string>) (selectorText: string | null) =
        match arguments width metricName labelName with
        | Error e -> Some e
        | Ok _ ->
            match selector selectorText with
            | Error e -> Some e
            | Ok _ -> None

/// The window keys this thread handed out last, by width, label code, selector text (the same
/// string object: a rule's literal) and metric code: searched by reference before `WindowKeys`
/// hashes the selector's text into its dictionary, which a rule's every query did every second.
[<Sealed>]
type private RecentKeys() =
    [<ThreadStatic; DefaultValue>]
    static val mutable private entries: struct (int64 * int * string * int * string)[] | null
    [<ThreadStatic; DefaultValue>]
    static val mutable private next: int

    /// How many keys a thread remembers: more than the queries of a few rules.
    static member Size = 16

    /// The key remembered for these arguments, or null.
    static member Find(width: int64, labelCode: int, selector: string, metricCode: int) : string | null =
        match RecentKeys.entries with
        | null -> null
        | entries ->
            let mutable found: string | null = null
            let mutable i = 0
            // An empty slot's selector is null, and a query's never is ("" for none).
            while isNull found && i < entries.Length do
                let struct (w, l, s, m, key) = entries[i]
                if obj.ReferenceEquals(s, selector) && w = width && l = labelCode && m = metricCode then
                    found <- key
                i <- i + 1
            found

    /// Remembers `key` for these arguments, in place of the oldest.
    static member Add(width: int64, labelCode: int, selector: string, metricCode: int, key: string) =
        let entries =
            match RecentKeys.entries with
            | null ->
                let e = Array.zeroCreate RecentKeys.Size
                RecentKeys.entries <- e
                e
            | e -> e
        entries[RecentKeys.next] <- struct (width, labelCode, selector, metricCode, key)
        RecentKeys.next <- (RecentKeys.next + 1) % entries.Length

/// The key of each window a rule asks for, by its width, label, selector and summed metric: the same
/// query every second finds its string here instead of joining it again.
[<RequireQualifiedAccess>]
module internal WindowKeys =
    let private keys = System.Collections.Concurrent.ConcurrentDictionary<struct (int64 * int * string * int), string>()

    let private make width (groupBy: Label option) (selectorText: string) (summed: Metric) =
        let key = String.Join('\u001f', string width, (match groupBy with Some l -> Label.name l | None -> ""), selectorText)
        match summed with
        | Bytes | Requests -> key
        | _ -> key + "\u001f" + Metric.name summed

    /// The key of the window of `width` seconds grouped by `groupBy` over `selector`, summing
    /// `Metric.summed metric`.
    let get width (groupBy: Label option) (selector: string | null) (metric: Metric) =
        let selectorText = match selector with null -> "" | s -> s
        let summed = Metric.summed metric
        let labelCode =
            match groupBy with
            | None -> 0
            | Some Section -> 1
            | Some Method -> 2
            | Some Status -> 3
            | Some StatusClass -> 4
            | Some Host -> 5
            | Some User -> 6
            | Some VirtualHost -> 7
            | Some Referer -> 8
            | Some UserAgent -> 9
        let metricCode = match summed with Requests | Bytes -> 0 | RequestTime -> 1 | UpstreamTime -> 2
        match RecentKeys.Find(width, labelCode, selectorText, metricCode) with
        | null ->
            let id = struct (width, labelCode, selectorText, metricCode)
            let key =
                match keys.TryGetValue id with
                | true, key -> key
                | _ ->
                    // Rules that build selectors from data would make a new key every second: bounded.
                    if keys.Count > 4096 then keys.Clear()
                    let key = make width groupBy selectorText summed
                    keys[id] <- key
                    key
            RecentKeys.Add(width, labelCode, selectorText, metricCode, key)
            key
        | key -> key

/// The query a rule sees at one closed second: windows are moved to `now` on first use and
/// remembered, so that the next second moves them by one second instead of rebuilding them.
/// Lives for one evaluation second inside the engine; its cache is how the engine learns the
/// moved windows (`Windows`) and whether any window saw a record (`SawData`).
[<Sealed>]
type internal QueryView(store: Store, windows: KeyValuePair<string, Window>[], now: int64, unread: string list) =
    // The windows read at this second. A rule usually reads a few, by keys `WindowKeys` hands out
    // (the same string each second): a short list searched by reference first costs less than a
    // dictionary made and hashed into every second. A rule that reads many (selectors built from
    // data) gets the dictionary once it passes `ListedWindows`, so its look-ups stay constant.
    let used = List<KeyValuePair<string, Window>>(4)
    let mutable index: Dictionary<string, int> | null = null
    let find (key: string) =
        match index with
        | null -> QueryView.IndexOf(CollectionsMarshal.AsSpan used, key)
        | d ->
            match d.TryGetValue key with
            | true, i -> i
            | _ -> -1
    let add key w =
        used.Add(KeyValuePair(key, w))
        match index with
        | null when used.Count > QueryView.ListedWindows ->
            let d = Dictionary<string, int>(used.Count * 2)
            for i in 0 .. used.Count - 1 do
                d[used[i].Key] <- i
            index <- d
        | null -> ()
        | d -> d[key] <- used.Count - 1
    let remember key w =
        match find key with
        | -1 -> add key w
        | i -> used[i] <- KeyValuePair(key, w)
    // The window of `key` as the state has it: searched like `used` (a few, by reference first),
    // through a dictionary made once a second when there are many.
    let mutable previousIndex: Dictionary<string, Window> | null = null
    let previous (key: string) =
        if windows.Length <= QueryView.ListedWindows then
            match QueryView.IndexOf(windows.AsSpan(), key) with
            | -1 -> ValueNone
            | i -> ValueSome windows[i].Value
        else
            let index =
                match previousIndex with
                | null ->
                    let d = Dictionary<string, Window>(windows.Length * 2)
                    for kv in windows do
                        d[kv.Key] <- kv.Value
                    previousIndex <- d
                    d
                | d -> d
            match index.TryGetValue key with
            | true, w -> ValueSome w
            | _ -> ValueNone
    // What wrappers of the rule being evaluated left to do once its result is evaluated.
    let mutable leaves: List<Action> | null = null
    let mutable describe: Func<exn, exn> | null = null
    // Selectors are parsed only when a window is built, not every second: made on first use.
    let mutable selectors: Dictionary<string, Selector> | null = null
    let mutable sawData = false
    // Set once the rules of this second are evaluated (`Close`): a rule that kept `q` and asks it
    // later is told so, and switched off, instead of reading another second's windows.
    let mutable closed = false
    let live () = if closed then raise (QueryException QueryException.KeptPastItsCall)

    // Every query's arguments go through `QueryCheck`, in its order: a rule host's load-time
    // probe checks them with the same code and so gives the same message. A closed view refuses
    // here first, for every query.
    let check width metric label =
        live ()
        match QueryCheck.arguments width metric label with
        | Ok checkedArgs -> checkedArgs
        | Error e -> raise (QueryException e)

    let seconds width =
        match QueryCheck.seconds width with
        | Ok w -> w
        | Error e -> raise (QueryException e)

    let selectorOf (text: string) =
        let cache =
            match selectors with
            | null ->
                let d = Dictionary<string, Selector>()
                selectors <- d
                d
            | d -> d
        match cache.TryGetValue text with
        | true, s -> s
        | _ ->
            match QueryCheck.selector text with
            | Ok s ->
                cache[text] <- s
                s
            | Error e -> raise (QueryException e)

    // A window is built once and then moved: a field is checked when the first window that reads
    // it is built. A rule that asks for a field only in a branch its load-time call did not take
    // (`if (n == 0) return 0;`) told nothing of it, so the reader left it out of every record:
    // its sum would read 0 and its label `-`, silently.
    let readable (metric: Metric) (groupBy: Label option) (selector: Selector) =
        let names =
            Metric.name metric :: (groupBy |> Option.map Label.name |> Option.toList)
            @ (Selector.labels selector |> List.map Label.name)
        match names |> List.tryFind (fun n -> List.contains n unread) with
        | Some name ->
            raise (QueryException
                $"{name} is not read from the log: no rule asked for it when the rules were loaded (ask every query on every call: rules/README.md)")
        | None -> ()

    // Requests and bytes share a window, as they share a series (`Metric.summed`).
    let windowKey width (groupBy: Label option) (selector: string | null) (metric: Metric) =
        WindowKeys.get width groupBy selector metric

    let window width (groupBy: Label option) (selector: string | null) (metric: Metric) =
        let selectorText = match selector with null -> "" | s -> s
        let key = windowKey width groupBy selector metric
        let w =
            match find key with
            | -1 ->
                let w =
                    match previous key with
                    | ValueSome w -> Window.advanceTo now store w
                    | ValueNone ->
                        let selector = selectorOf selectorText
                        if not unread.IsEmpty then readable metric groupBy selector
                        Window.build width groupBy selector metric now store
                add key w
                w
            | i -> used[i].Value
        if not (Window.isEmpty w) then sawData <- true
        w

    // `SumBy`, and `RateBy` (`rate`) as the sums divided by the width in seconds: one result, not a
    // result of sums and another of their quotients, made every second of a grouped rule.
    let sumBy metric width label selector (rate: bool) =
        let struct (w, m, groupBy) = check width (ValueSome metric) (ValueSome label)
        let m, l = m.Value, groupBy.Value
        let win = window w groupBy selector m
        let groups = win.Groups
        let divisor = float w
        let entries () =
            let entries =
                groups.ToArray()
                |> Array.map (fun kv -> KeyValuePair(Label.nameOf l kv.Key, (let v = kv.Value.Of m in if rate then v / divisor else v)))
            Array.sortInPlaceWith (fun (a: KeyValuePair<string, float>) b -> String.CompareOrdinal(a.Key, b.Key)) entries
            entries
        let source =
            { Key = windowKey w groupBy selector m; Built = win.Built; Moves = win.Moves
              Label = l; Table = groups; Metric = m; Ops = (if rate then [ Scale(true, divisor) ] else [])
              Changed = win.Changed }
        Grouped.Following(Label.name l, entries, source)

    /// Ends the evaluation second: every query asked of this view from now on throws.
    member _.Close() = closed <- true

    /// The windows this evaluation moved or built, by key.
    member _.Windows = used
    /// Whether this evaluation read the window of `key`.
    member _.Reads(key: string) = find key >= 0
    /// Whether any window asked for held a record.
    member _.SawData = sawData
    /// How many windows a second's reads are searched in a list before a dictionary indexes them.
    static member ListedWindows = 8

    /// Ends the evaluation of one rule: calls what its wrappers registered, last first, each even
    /// if one before it threw.
    member _.Evaluated() =
        describe <- null
        match leaves with
        | null -> ()
        | l ->
            let rec leave i =
                if i >= 0 then
                    try
                        l[i].Invoke()
                    finally
                        leave (i - 1)
            try
                leave (l.Count - 1)
            finally
                l.Clear()

    /// The index of `key` among `windows`, -1 when absent: by reference first (a rule's queries get
    /// the same key string from `WindowKeys` every second), then by value.
    static member private IndexOf(windows: Span<KeyValuePair<string, Window>>, key: string) =
        let mutable i = 0
        while i < windows.Length && not (obj.ReferenceEquals(windows[i].Key, key)) do
            i <- i + 1
        if i = windows.Length then
            i <- 0
            while i < windows.Length && not (String.Equals(windows[i].Key, key)) do
                i <- i + 1
        if i = windows.Length then -1 else i

    /// `e` as the rule's wrapper describes it (`IEvaluationScope.OnFailure`), or as it is.
    member _.Describe(e: exn) =
        match describe with
        | null -> e
        | d -> d.Invoke e

    interface IEvaluationScope with
        member _.OnFailure(d) = describe <- d
        member _.OnEvaluated(leave) =
            match leaves with
            | null ->
                let l = List<Action>(2) // a rule's watchdog and console, one rule at a time
                l.Add leave
                leaves <- l
            | l -> l.Add leave

    interface IQuery with
        member _.Now =
            live ()
            DateTimeOffset.FromUnixTimeSeconds now
        member _.Sum(metric, width, selector) =
            let struct (w, m, _) = check width (ValueSome metric) ValueNone
            (window w None selector m.Value).Total.Of m.Value
        member this.Rate(metric, width, selector) =
            (this :> IQuery).Sum(metric, width, selector) / float (seconds width)
        member _.SumBy(metric, width, label, selector) = sumBy metric width label selector false
        member _.RateBy(metric, width, label, selector) = sumBy metric width label selector true
        member _.TopK(k, metric, width, label, selector) =
            let struct (w, m, groupBy) = check width (ValueSome metric) (ValueSome label)
            // No group for k < 1, as Prometheus' topk(0, ...) gives none: a k computed from the data
            // (a tenth of Distinct(host, w)) is 0 when the window is empty, and failing the rule
            // there switched it off for the rest of a live run at the first quiet minute. The window
            // is still asked for, so it keeps its history for the seconds when k is 1 or more.
            let win = window w groupBy selector m.Value
            if k < 1 then Grouped(Label.name groupBy.Value, [||]) else
            let best, remembered = Window.top k m.Value win
            remember (windowKey w groupBy selector m.Value) remembered
            Grouped(Label.name groupBy.Value, best) // a new array, owned by the result
        member _.Distinct(label, width, selector) =
            let struct (w, _, groupBy) = check width ValueNone (ValueSome label)
            float (window w groupBy selector Requests).Groups.Count
