namespace LogAlert.Core.Interop

open System
open System.Collections.Generic
open System.Collections.Immutable
open System.Runtime.InteropServices
open LogAlert.Core

/// A window a rule reads, as the rule told when it was called once at load time (a rule host's
/// probe): the query's width, the label it groups by or counts (null: none), its selector
/// (null or empty: every record) and the metric it sums (null: `requests`, or none).
[<Sealed>]
type QueryWindow(width: TimeSpan,
                 [<Optional; DefaultParameterValue(null: string | null)>] label: string | null,
                 [<Optional; DefaultParameterValue(null: string | null)>] selector: string | null,
                 [<Optional; DefaultParameterValue(null: string | null)>] metric: string | null) =
    member _.Width = width
    member _.Label = label
    member _.Selector = selector
    member _.Metric = metric
    /// Whether the window reads more than each second's totals (it groups, selects or sums a
    /// duration): its series is tallied per second, or its records kept.
    member _.NeedsRecords = Window.queryNeedsRecords label selector metric
    /// Whether the query reads `field`, a metric or label name (`request_time`, `referer`): its
    /// metric, the label it groups by or counts, or a label its selector matches. A selector that
    /// does not parse reads nothing (the query fails before it reads).
    member _.Reads(field: string) =
        metric = field
        || label = field
        || (match Selector.create selector with
            | Ok s -> Selector.labels s |> List.exists (fun l -> Label.name l = field)
            | Error _ -> false)

/// What a rule told, when called once at load time, about the windows it reads.
[<Sealed>]
type RuleWindows(rule: string, windows: IEnumerable<QueryWindow>, complete: bool) =
    let windows = Array.ofSeq windows
    /// The rule's name.
    member _.Rule = rule
    /// The windows, in the order asked.
    member _.Windows: IReadOnlyList<QueryWindow> = windows
    /// Whether the call returned, so that the windows are all it reads; false when it threw part
    /// way (it had no data to work with), and may read other windows later.
    member _.Complete = complete
    /// The widest of the windows; zero when none.
    member _.Widest = if windows.Length = 0 then TimeSpan.Zero else windows |> Array.map (fun w -> w.Width) |> Array.max

/// Engine settings as C# builds them.
[<Sealed; AllowNullLiteral>]
type EngineSettings() =
    let told = List<RuleWindows>()
    /// `--lateness` (default 5s).
    member val Lateness = TimeSpan.FromSeconds 5.0 with get, set
    /// `--max-skew` (default 1h).
    member val MaxSkew = TimeSpan.FromHours 1.0 with get, set
    /// `--summary-interval` (default 10s); `TimeSpan.Zero` disables summaries.
    member val SummaryInterval = TimeSpan.FromSeconds 10.0 with get, set
    /// Rules in output order.
    member val Rules: IReadOnlyList<Rule> = [||] with get, set
    /// What the rules told at load time about the windows they read, one entry per loaded rule
    /// (whether it runs or not): from these facts the engine decides how much it keeps
    /// (`Retention`, `RecordRetention`, `Series`). A rule without an entry tells nothing: the
    /// windows it asks for still keep their history once asked for.
    member _.Windows = told
    /// Seconds of history kept at least: the widest window told, at least 1s. (The windows the
    /// rules ask for extend it as they run.)
    member _.Retention =
        told |> Seq.map (fun r -> r.Widest) |> Seq.fold max (TimeSpan.FromSeconds 1.0)
    /// Seconds of records kept at least (`EngineConfig.RecordRetention`; the summaries extend it
    /// to their interval): the widest window of a rule that did not tell all it reads, which may
    /// ask for a series nobody tallied. Zero when every rule told: each window that groups or
    /// selects reads its series' per-second tallies (`Series`), the others the totals.
    member _.RecordRetention =
        told |> Seq.filter (fun r -> not r.Complete) |> Seq.map (fun r -> r.Widest) |> Seq.fold max TimeSpan.Zero
    /// Whether any rule may read `field`, a metric or label name (`request_time`, `referer`): one of
    /// the windows told reads it (`QueryWindow.Reads`), or a rule did not tell all it reads. The
    /// reader fills the fields only some formats log (durations, virtual host, referer, agent) only
    /// for a rule that reads them, so that a field nobody reads costs nothing.
    member _.Reads(field: string) =
        told |> Seq.exists (fun r -> not r.Complete || r.Windows |> Seq.exists (fun w -> w.Reads field))
    /// The fields only some formats log, which a run reads only when a rule reads them (`Reads`):
    /// by the metric or label name a query reads them by.
    static member Optional: IReadOnlyList<string> = [| "request_time"; "upstream_response_time"; "vhost"; "referer"; "user_agent" |]
    /// The windows that group or select, told by the rules of `Rules`: their series are tallied
    /// from the start (`EngineConfig.Series`), so that one first asked for later still reads its
    /// whole width.
    member this.Series: IReadOnlyList<QueryWindow> =
        let running = HashSet<string>(this.Rules |> Seq.map (fun r -> r.RuleName), StringComparer.Ordinal)
        [| for r in told do
               if running.Contains r.Rule then
                   for w in r.Windows do
                       if w.NeedsRecords then yield w |]

/// A rule definition was rejected.
type RuleDefinitionException(message: string) =
    inherit ArgumentException(message)

/// A label of an alert's group, as in `section="/api"`.
[<Struct>]
type LabelPair = { Name: string; Value: string }

/// Hits of one section in a summary.
[<Struct>]
type SectionHits = { Section: string; Hits: int64 }

/// Requests of one status class (`2xx`...) in a summary.
[<Struct>]
type StatusCount = { StatusClass: string; Requests: int64 }

/// Whether an alert fires or resolves.
type AlertTransition =
    | Fired = 0
    | Resolved = 1

/// Conversions from the core's F# values.
module internal Convert =
    let labels (labels: (string * string) list) : IReadOnlyList<LabelPair> =
        if labels.IsEmpty then Array.Empty<LabelPair>()
        else [| for name, value in labels -> { Name = name; Value = value } |]

/// An alert still firing when a run stopped.
[<Sealed>]
type StillFiring internal (alert: FiringAlert) =
    let labels = Convert.labels alert.Labels
    /// The rule's name.
    member _.Rule = alert.Rule
    /// The group's labels for a per-group rule; empty otherwise.
    member _.Labels = labels
    /// When it fired.
    member _.Since = alert.Since
    /// Its value at the last evaluated second.
    member _.Value = alert.Value
    /// Whether its rule threw and was switched off: the alert is as the rule left it (as Prometheus
    /// keeps an alert whose rule fails to evaluate), not evaluated since.
    member _.RuleFailed = alert.RuleFailed

/// What the engine reports at the end of a run (or of a run that stopped part way).
[<Sealed>]
type RunReport internal (report: Report) =
    let firing: IReadOnlyList<StillFiring> = [| for f in report.Firing -> StillFiring f |]
    /// Accepted records (late ones included).
    member _.Records = report.Records
    /// Records too far ahead of the newest accepted one: reported, not counted.
    member _.Skewed = report.Skewed
    /// Records that came after their second closed.
    member _.Late = report.Late
    /// The alerts still firing, in rule order.
    member _.Firing = firing

/// What the engine tells the shell, in output order: an `AlertNotice`, a `SummaryNotice`, a
/// `RuleFailedNotice`, a `SkewedNotice`, and last a `FinishedNotice`. Two notices are equal when
/// they say the same.
[<AbstractClass>]
type Notice internal (event: Event) =
    /// The core's event.
    member internal _.Event = event
    override _.Equals(other: obj) =
        match other with
        | :? Notice as n -> event.Equals n.Event
        | _ -> false
    override _.GetHashCode() = event.GetHashCode()
    override _.ToString() = sprintf "%A" event

/// An alert fired or resolved.
[<Sealed>]
type AlertNotice internal (event: Event, alert: AlertEvent) =
    inherit Notice(event)
    let labels = Convert.labels alert.Labels
    /// The rule's name.
    member _.Rule = alert.Rule
    /// The group's labels for a per-group rule (`section="/api"`); empty otherwise.
    member _.Labels = labels
    /// Whether it fired or resolved.
    member _.Transition =
        match alert.Transition with
        | Fired -> AlertTransition.Fired
        | Resolved -> AlertTransition.Resolved
    /// The evaluated second.
    member _.Time = alert.Time
    /// The rule's value at that second.
    member _.Value = alert.Value
    /// The firing threshold.
    member _.Threshold = alert.Threshold
    /// When the alert fired (`Time` when it fires now).
    member _.FiringSince = alert.FiringSince
    /// The rendered message.
    member _.Message = alert.Message

/// Traffic over one summary interval `[Start, End)` of log time.
[<Sealed>]
type SummaryNotice internal (event: Event, summary: Summary) =
    inherit Notice(event)
    let sections: IReadOnlyList<SectionHits> = [| for name, hits in summary.Sections -> { Section = name; Hits = hits } |]
    let status: IReadOnlyList<StatusCount> = [| for cls, n in summary.Status -> { StatusClass = cls; Requests = n } |]
    member _.Start = summary.Start
    member _.End = summary.End
    member _.Requests = summary.Requests
    /// Requests per second over the interval.
    member _.Rps = summary.Rps
    /// Bytes of every request: no input makes the sum wrap.
    member _.Bytes = summary.Bytes
    /// The sections with the most hits (top 3, ties by name, ordinal), most first.
    member _.Sections = sections
    /// Requests per status class present, in class order.
    member _.Status = status
    /// Distinct hosts.
    member _.Hosts = summary.Hosts
    /// Whether the interval was cut short by the end of input.
    member _.Partial = summary.Partial

/// A rule threw; it is switched off from this second on.
[<Sealed>]
type RuleFailedNotice internal (event: Event, rule: string, time: int64, message: string) =
    inherit Notice(event)
    member _.Rule = rule
    /// The evaluated second.
    member _.Time = time
    /// What it threw.
    member _.Message = message

/// A record too far ahead of the newest accepted one: not counted.
[<Sealed>]
type SkewedNotice internal (event: Event, record: Record, newest: int64) =
    inherit Notice(event)
    /// The record (its `Source`, `Line` and `Time` say where and when).
    member _.Record = record
    /// The newest accepted timestamp.
    member _.Newest = newest

/// The end of input: every second closed, the partial summary written; the final report.
[<Sealed>]
type FinishedNotice internal (event: Event, report: Report) =
    inherit Notice(event)
    let report = RunReport report
    member _.Report = report

module internal Notices =
    let ofEvent (event: Event) : Notice =
        match event with
        | Alert a -> AlertNotice(event, a)
        | SummaryReady s -> SummaryNotice(event, s)
        | RuleFailed(rule, time, message) -> RuleFailedNotice(event, rule, time, message)
        | Skewed(record, newest) -> SkewedNotice(event, record, newest)
        | Finished report -> FinishedNotice(event, report)

    let ofList (events: Event list) : IReadOnlyList<Notice> =
        if events.IsEmpty then Array.Empty<Notice>() else [| for e in events -> ofEvent e |]

/// Where a step appends what it emits as the engine computes it (`Fold.PushInto`...), so that a
/// shell that has to stop in mid-step (a rule stuck in a loop) can still write what came before.
/// The engine appends its events; each is made a `Notice` when first read. Reused from step to
/// step: `Clear` it once written. Not thread-safe: another thread may read it only while the
/// engine's thread cannot append (it waits, or is stuck in a rule).
[<Sealed>]
type NoticeBuffer() =
    let events = List<Event>()
    let notices = List<Notice>()
    /// Where the engine appends.
    member internal _.Events = events
    /// How many notices the engine has appended.
    member _.Count = events.Count
    /// The `index`th notice.
    member _.Item
        with get (index: int) =
            if index < 0 || index >= events.Count then raise (ArgumentOutOfRangeException(nameof index))
            while notices.Count <= index do
                notices.Add(Notices.ofEvent events[notices.Count])
            notices[index]
    /// Empties the buffer for the next step.
    member _.Clear() =
        events.Clear()
        notices.Clear()
    interface IReadOnlyList<Notice> with
        member this.Item with get index = this[index]
        member this.Count = this.Count
        member this.GetEnumerator() : IEnumerator<Notice> = (seq { for i in 0 .. this.Count - 1 -> this[i] }).GetEnumerator()
        member this.GetEnumerator() : Collections.IEnumerator = (this :> IEnumerable<Notice>).GetEnumerator()

/// The engine's state as the shell keeps it between steps. Immutable: a kept state keeps its
/// meaning (the report of the last whole step, when a step cannot finish). A struct around the
/// core's state, so that a step allocates nothing for it; `default` is no state.
[<Struct; NoEquality; NoComparison>]
type EngineState internal (state: State) =
    /// The core's state.
    member internal _.Core =
        if obj.ReferenceEquals(state, null) then
            invalidArg "state" "not a state of the engine (Fold.Start, or a step), but default"
        state
    /// Whether this is a state of the engine (`Fold.Start`, or a step); false for `default`.
    member _.IsStarted = not (obj.ReferenceEquals(state, null))
    /// The newest accepted timestamp; null before the first.
    member this.NewestTime = Option.toNullable this.Core.NewestTime
    /// The time of a record held until a later one decides whether it is skewed; null when none is.
    member this.HeldTime = Option.toNullable this.Core.HeldTime
    /// The next second to be evaluated, once evaluation has started; null before.
    member this.NextSecond = Option.toNullable this.Core.NextSecond
    /// Accepted records (late ones included).
    member this.RecordCount = this.Core.RecordCount
    /// Skewed records.
    member this.SkewedCount = this.Core.SkewedCount
    /// Late records.
    member this.LateCount = this.Core.LateCount
    /// Seconds evaluated so far (seconds at which no value can change are skipped, not evaluated).
    member this.EvaluatedSeconds = this.Core.EvaluatedSeconds
    /// Seconds held in the store (closed and open).
    member this.StoredSeconds = this.Core.StoredSeconds
    /// Seconds held with their records (the others keep totals only).
    member this.StoredRecordSeconds = this.Core.StoredRecordSeconds
    /// Series each closing second is tallied for.
    member this.TalliedSeries = this.Core.TalliedSeries

/// The new state and what it emitted.
[<Sealed>]
type StepResult internal (state: EngineState, events: IReadOnlyList<Notice>) =
    /// The state to pass to the next step.
    member _.State = state
    /// Events in output order.
    member _.Events = events

/// The engine as a C# program drives it: one call per input, the shell keeps the state.
[<AbstractClass; Sealed>]
type Fold =
    static member private Seconds(span: TimeSpan) = int64 (Math.Ceiling span.TotalSeconds)

    static member private Result(state: State, events: Event list) = StepResult(EngineState state, Notices.ofList events)

    /// The state before any input.
    static member Start(settings: EngineSettings) =
        ArgumentNullException.ThrowIfNull settings
        EngineState(Engine.init
            { Lateness = Fold.Seconds settings.Lateness
              MaxSkew = Fold.Seconds settings.MaxSkew
              SummaryInterval = Fold.Seconds settings.SummaryInterval
              Rules = List.ofSeq settings.Rules
              Retention = Fold.Seconds settings.Retention
              RecordRetention = Fold.Seconds settings.RecordRetention
              Series =
                  [ for w in settings.Series do
                        // The rule host checked them at load time; one that does not parse is not a series.
                        let groupBy =
                            match w.Label with
                            | null -> Ok None
                            | l -> Label.create l |> Result.map Some
                        let metric = Metric.create (match w.Metric with null -> "requests" | m -> m)
                        match groupBy, Selector.create w.Selector, metric with
                        | Ok g, Ok sel, Ok m when Window.needsRecords g sel m -> yield Series.create g sel m
                        | _ -> () ]
              Unread = [ for name in EngineSettings.Optional do if not (settings.Reads name) then yield name ] })

    /// Adds records (in input order). Immutable, because the store keeps slices of them.
    static member Push(state: EngineState, records: ImmutableArray<Record>) =
        Fold.Result(Engine.step (Records records) state.Core)

    /// Live mode: log time has reached `second` without records.
    static member Tick(state: EngineState, second: int64) = Fold.Result(Engine.step (Tick second) state.Core)

    /// End of input: closes every second, emits the partial summary and the final report.
    static member End(state: EngineState) = Fold.Result(Engine.step EndOfInput state.Core)

    /// `Push`, with what it emits appended to `notices` as the engine computes it: a shell that has
    /// to stop in mid-step (a rule stuck in a loop) can still write what came before.
    static member PushInto(state: EngineState, records: ImmutableArray<Record>, notices: NoticeBuffer) =
        ArgumentNullException.ThrowIfNull notices
        EngineState(Engine.stepInto notices.Events (Records records) state.Core)

    /// `Tick`, with what it emits appended to `notices` as the engine computes it.
    static member TickInto(state: EngineState, second: int64, notices: NoticeBuffer) =
        ArgumentNullException.ThrowIfNull notices
        EngineState(Engine.stepInto notices.Events (Tick second) state.Core)

    /// `End`, with what it emits appended to `notices` as the engine computes it.
    static member EndInto(state: EngineState, notices: NoticeBuffer) =
        ArgumentNullException.ThrowIfNull notices
        EngineState(Engine.stepInto notices.Events EndOfInput state.Core)

    /// The report of `state` as it stands, without closing any second.
    static member Report(state: EngineState) = RunReport(Engine.report state.Core)

    /// The report of `state` with the alert events of a step that did not return applied (the first
    /// `count` of `notices`, which that step appended): what a run stopped inside a step reports.
    static member Report(state: EngineState, notices: NoticeBuffer, count: int) =
        ArgumentNullException.ThrowIfNull notices
        if count < 0 || count > notices.Count then raise (ArgumentOutOfRangeException(nameof count))
        RunReport(Engine.reportAfter notices.Events count state.Core)

    /// Whether `ReclaimIds` would pay: the label tables hold many ids no state may hold any more.
    static member ReclaimDue = Engine.reclaimDue ()

    /// The fewest texts a label table holds before `ReclaimDue` says yes (`Symbols.RetainFrom`,
    /// 2^19 by default): lower for tests and experiments, which want ids given back on small logs.
    static member ReclaimFrom
        with get () = Symbols.RetainFrom
        and set (value: int) = Symbols.RetainFrom <- value

    /// Gives the label value ids `state` does not hold back, to be handed out again (see
    /// `Engine.reclaimIds`): only while nothing but `state` holds ids. Returns how many.
    static member ReclaimIds(state: EngineState) = Engine.reclaimIds state.Core

/// Building rules from C#.
[<AbstractClass; Sealed>]
type Rules =
    static member private Check(result: Result<Rule, RuleError>) =
        match result with
        | Ok rule -> rule
        | Error e -> raise (RuleDefinitionException(RuleError.describe e))

    static member private Seconds(span: TimeSpan) =
        if span < TimeSpan.Zero || span.Ticks % TimeSpan.TicksPerSecond <> 0L then
            raise (RuleDefinitionException(sprintf "For(%s) must be a whole, non-negative number of seconds" (DurationText.show span)))
        span.Ticks / TimeSpan.TicksPerSecond

    static member private Build(name, value, above, recoverBelow: Nullable<float>, forTime, message, recoveryMessage) =
        Rule.create name value above (Option.ofNullable recoverBelow) (Rules.Seconds forTime)
            (Option.ofObj message) (Option.ofObj recoveryMessage)
        |> Rules.Check

    /// A rule with one value per second. Throws `RuleDefinitionException` when invalid.
    static member Scalar(name: string, value: Func<IQuery, float>, above: float, recoverBelow: Nullable<float>,
                         forTime: TimeSpan, message: string | null, recoveryMessage: string | null) =
        ArgumentNullException.ThrowIfNull value
        Rules.Build(name, Scalar value.Invoke, above, recoverBelow, forTime, message, recoveryMessage)

    /// A rule with one value per label value (one alert per group).
    static member PerGroup(name: string, value: Func<IQuery, Grouped>, above: float, recoverBelow: Nullable<float>,
                           forTime: TimeSpan, message: string | null, recoveryMessage: string | null) =
        ArgumentNullException.ThrowIfNull value
        Rules.Build(name, PerGroup value.Invoke, above, recoverBelow, forTime, message, recoveryMessage)

    /// The built-in `high_traffic` rule.
    static member HighTraffic(threshold: float, window: TimeSpan) = BuiltIn.highTraffic threshold window |> Rules.Check

/// Log time as text.
[<AbstractClass; Sealed>]
type LogTime =
    /// ISO-8601 UTC, second resolution: `2019-02-07T21:12:36Z`.
    static member Iso(second: int64) = Rule.isoTime second

    /// The longest duration the engine takes (lateness, skew, windows, `For`): 10000 years of 365
    /// days (`Bounds.MaxDuration`). Every duration added to a time then stays far inside 64 bits.
    static member MaxDuration = TimeSpan.FromSeconds(float Bounds.MaxDuration)

/// Queries as a rule writes them, checked the way the engine checks them (`QueryCheck`).
[<AbstractClass; Sealed>]
type Queries =
    /// What the engine would reject in a call of `IQuery.<function>` (`Sum`, `Rate`, `SumBy`,
    /// `RateBy`, `TopK`, `Distinct`) with these arguments, in the engine's words: the message of the
    /// `QueryException` the rule would get. Null when the engine takes it. `metric` is ignored for
    /// `Distinct`, `label` for `Sum` and `Rate`; a null one reads as empty, as in the engine.
    static member Problem(``function``: string, metric: string | null, width: TimeSpan, label: string | null, selector: string | null) : string | null =
        let text (s: string | null) = match s with null -> "" | s -> s
        let takesMetric, takesLabel =
            match ``function`` with
            | "Sum" | "Rate" -> true, false
            | "SumBy" | "RateBy" | "TopK" -> true, true
            | "Distinct" -> false, true
            | other -> invalidArg (nameof ``function``) (sprintf "\"%s\" is not a function of IQuery" other)
        let metric = if takesMetric then ValueSome(text metric) else ValueNone
        let label = if takesLabel then ValueSome(text label) else ValueNone
        match QueryCheck.problem width metric label selector with
        | Some problem -> problem
        | None -> null
