namespace LogAlert.Core

open System
open System.Collections.Generic

/// The state of one alert (one rule, or one group of a `WhenEach` rule). Inactive alerts are absent.
type internal AlertPhase =
    | Pending of since: int64
    | Firing of since: int64 * value: float

/// A rule with the state of its alerts, keyed by group label value ("" for single rules).
type internal RuleState =
    { Rule: Rule
      Alerts: Map<string, AlertPhase>
      /// The label a `WhenEach` rule groups by, once known.
      GroupLabel: string
      /// What the last result of a `WhenEach` rule followed (`GroupedSource.Follow`: window key,
      /// metric, arithmetic, built, moves).
      Follows: Followed voption
      Failed: bool }

/// The alert state machine (docs/semantics.md §9): per rule, and per group of a `WhenEach` rule, an
/// alert is inactive, pending (above the threshold for less than `For`) or firing, and each
/// evaluated second moves it by `transition`.
[<RequireQualifiedAccess>]
module internal Alerts =

    /// The labels of an alert: the group's, for a `WhenEach` rule.
    let labelsOf (rule: Rule) (grouped: string) key =
        if rule.IsPerGroup then [ grouped, key ] else []

    /// The message of a transition: the rule's template, or the default one.
    let message (rule: Rule) labels transition second since value =
        let template =
            match transition, rule.Message, rule.RecoveryMessage with
            | Fired, Some m, _ -> m
            | Fired, None, _ -> "{rule} is firing - value = {value} > {threshold}, triggered at {time}"
            | Resolved, _, Some m -> m
            | Resolved, _, None -> "{rule} resolved - value = {value}, recovered at {time}"
        Rule.render template rule labels second since value

    /// One alert's transition at `second` with value `v`: its new phase and its event. A struct
    /// pair: every rule makes one every second.
    let transition (rule: Rule) labels second v (phase: AlertPhase option) =
        let fired () =
            let e =
                { Rule = rule.RuleName; Labels = labels; Transition = Fired; Time = second; Value = v
                  Threshold = rule.Threshold; FiringSince = second
                  Message = message rule labels Fired second second v }
            struct (Some(Firing(second, v)), Some e)
        match phase with
        | None when v > rule.Threshold -> if rule.For = 0L then fired () else struct (Some(Pending second), None)
        | None -> struct (None, None)
        | Some(Pending since) when v > rule.Threshold ->
            if second - since >= rule.For then fired () else struct (phase, None)
        | Some(Pending _) -> struct (None, None)
        | Some(Firing(since, _)) when v < rule.Recover ->
            let e =
                { Rule = rule.RuleName; Labels = labels; Transition = Resolved; Time = second; Value = v
                  Threshold = rule.Threshold; FiringSince = since
                  Message = message rule labels Resolved second since v }
            struct (None, Some e)
        | Some(Firing(since, _)) -> struct (Some(Firing(since, v)), None)

    /// One group of a `WhenEach` rule moved at `second` by value `v` from `phase`, its event
    /// appended: `alerts` with the group's new phase.
    let private moveGroup (rule: Rule) label key second v (phase: AlertPhase option) (events: List<Event>) alerts =
        let struct (next, e) = transition rule (labelsOf rule label key) second v phase
        e |> Option.iter (Alert >> events.Add)
        match next, phase with
        | Some p, _ -> Map.add key p alerts
        | None, Some _ -> Map.remove key alerts
        | None, None -> alerts

    /// A `WhenEach` result's values, by group in ordinal order, each group once (the last value
    /// given for it counts): the entries as they are when they are in that order already, as
    /// `SumBy` and `RateBy` give them.
    let private ordered (grouped: Grouped) =
        let entries = grouped.Entries
        let mutable sorted = true
        for i in 1 .. entries.Count - 1 do
            if sorted && String.CompareOrdinal(entries[i - 1].Key, entries[i].Key) >= 0 then sorted <- false
        if sorted then entries
        else
            let values = Dictionary<string, float>(StringComparer.Ordinal)
            for kv in entries do
                values[kv.Key] <- kv.Value
            let pairs = Array.ofSeq values
            Array.sortInPlaceWith (fun (a: KeyValuePair<string, float>) b -> String.CompareOrdinal(a.Key, b.Key)) pairs
            pairs :> IReadOnlyList<_>

    /// The alerts of a `WhenEach` rule moved by its result at `second`, their events appended in
    /// group order. The groups are those of the result and those alerting (absent: 0); an inactive
    /// group at or below the threshold stays inactive, so only the others are looked at: one pass
    /// over the result merged with the alerting groups, both in ordinal order.
    let private evaluateGroups (rule: Rule) (grouped: Grouped) second (events: List<Event>) (alerts: Map<string, AlertPhase>) =
        let entries = ordered grouped
        let label = grouped.Label
        // The alerting groups, in ordinal order (a `Map` of strings is), read before any changes.
        let alerting = if alerts.IsEmpty then [||] else Array.ofSeq alerts
        // By index, and without a closure over `alerts`: a rule returning a `TopK` result (no
        // window to follow) comes here every second.
        let mutable alerts = alerts
        let mutable a = 0
        for i in 0 .. entries.Count - 1 do
            let kv = entries[i]
            while a < alerting.Length && String.CompareOrdinal(alerting[a].Key, kv.Key) < 0 do
                alerts <- moveGroup rule label alerting[a].Key second 0.0 (Some alerting[a].Value) events alerts
                a <- a + 1
            if a < alerting.Length && alerting[a].Key = kv.Key then
                alerts <- moveGroup rule label kv.Key second kv.Value (Some alerting[a].Value) events alerts
                a <- a + 1
            elif kv.Value > rule.Threshold then alerts <- moveGroup rule label kv.Key second kv.Value None events alerts
        while a < alerting.Length do
            alerts <- moveGroup rule label alerting[a].Key second 0.0 (Some alerting[a].Value) events alerts
            a <- a + 1
        alerts

    /// The symbol table of a label whose values are texts: the id of an alerting group's name.
    let private symbolsOf label =
        match label with
        | Host -> ValueSome Symbols.Hosts
        | User -> ValueSome Symbols.Users
        | Method -> ValueSome Symbols.Methods
        | Section -> ValueSome Symbols.Sections
        | VirtualHost -> ValueSome Symbols.VirtualHosts
        | Referer -> ValueSome Symbols.Referers
        | UserAgent -> ValueSome Symbols.UserAgents
        | Status | StatusClass -> ValueNone

    /// `evaluateGroups` for a result that follows the same window as the rule's last result did, at
    /// most one move on (`GroupedSource`): a group the move did not touch has the value it had, so
    /// an inactive one stays inactive, and only the groups the move touched and the alerting ones
    /// are looked at, in ordinal order. On a window of 300k hosts, 1000 new a second, that is some
    /// 2000 groups a second instead of 300k.
    let private evaluateChanged (rule: Rule) (source: GroupedSource) (symbols: Symbols) (moved: bool) second
                                (events: List<Event>) (alerts: Map<string, AlertPhase>) =
        // No alert, and no group the move touched above the threshold (most seconds of most
        // rules): nothing can change, and nothing is made to find out.
        let anyAbove () =
            let mutable found = false
            let mutable i = 0
            while not found && i < source.Changed.Length do
                let struct (_, keys, _) = source.Changed[i]
                let mutable j = 0
                while not found && j < keys.Length do
                    match source.ValueOf keys[j] with
                    | ValueSome v when v > rule.Threshold -> found <- true
                    | _ -> ()
                    j <- j + 1
                i <- i + 1
            found
        if alerts.IsEmpty && not (moved && anyAbove ()) then alerts else
        // The groups to look at, by id: the alerting ones (their ids from their names), and those the
        // move touched whose value is now above the threshold. A touched group that is inactive and
        // at or below it stays inactive: not named, not sorted.
        let ids = Dictionary<string, int>(StringComparer.Ordinal)
        let alerting = HashSet<int>()
        for KeyValue(name, _) in alerts do
            let id = symbols.Intern name
            ids[name] <- id
            alerting.Add id |> ignore
        if moved then
            for struct (_, keys, _) in source.Changed do
                for id in keys do
                    if not (alerting.Contains id) then
                        match source.ValueOf id with
                        | ValueSome v when v > rule.Threshold -> ids.TryAdd(Label.nameOf source.Label id, id) |> ignore
                        | _ -> ()
        let names = Array.ofSeq ids.Keys
        Array.sortInPlaceWith (fun (a: string) b -> String.CompareOrdinal(a, b)) names
        let label = Label.name source.Label
        let mutable alerts = alerts
        for name in names do
            let value = source.ValueOf ids[name]
            let phase = Map.tryFind name alerts
            match phase, value with
            | None, ValueNone -> ()
            | None, ValueSome v when not (v > rule.Threshold) -> ()
            | _ ->
                let v = match value with ValueSome v -> v | ValueNone -> 0.0
                alerts <- moveGroup rule label name second v phase events alerts
        alerts

    /// `evaluate` for a rule that is on.
    let private evaluateIn (query: IQuery) second (events: List<Event>) (rs: RuleState) =
        try
            match Rule.value rs.Rule with
            | Scalar f ->
                let v = f query
                let before = Map.tryFind "" rs.Alerts
                let struct (phase, e) = transition rs.Rule [] second v before
                e |> Option.iter (Alert >> events.Add)
                // Most seconds leave the alert as it was: the same state, not a copy.
                match phase, before with
                | None, None -> rs
                | Some p, Some b when p = b -> rs
                | Some p, _ -> { rs with Alerts = Map.add "" p rs.Alerts }
                | None, Some _ -> { rs with Alerts = Map.remove "" rs.Alerts }
            | PerGroup f ->
                let grouped = f query
                if isNull grouped then raise (NullReferenceException "WhenEach returned null")
                // Whether this result computes like the last one: then only the groups the
                // moves between touched can have changed.
                let alike =
                    match grouped.Source, rs.Follows with
                    | ValueSome source, ValueSome followed -> source.ComputesLike followed
                    | _ -> false
                let alerts =
                    match grouped.Source, rs.Follows with
                    | ValueSome source, ValueSome followed when
                        alike
                        && (followed.Moves = source.Moves || followed.Moves = source.Moves - 1L)
                        && rs.GroupLabel = grouped.Label ->
                        match symbolsOf source.Label with
                        | ValueSome symbols ->
                            evaluateChanged rs.Rule source symbols (followed.Moves <> source.Moves) second events rs.Alerts
                        | ValueNone -> evaluateGroups rs.Rule grouped second events rs.Alerts
                    | _ -> evaluateGroups rs.Rule grouped second events rs.Alerts
                let same =
                    match grouped.Source, rs.Follows with
                    | ValueSome source, ValueSome followed -> alike && followed.Moves = source.Moves
                    | ValueNone, ValueNone -> true
                    | _ -> false
                if obj.ReferenceEquals(alerts, rs.Alerts) && rs.GroupLabel = grouped.Label && same then rs
                else
                    let follows = grouped.Source |> ValueOption.map (fun s -> s.Follow)
                    { rs with Alerts = alerts; GroupLabel = grouped.Label; Follows = follows }
        with e ->
            let e = match query with :? QueryView as view -> view.Describe e | _ -> e
            events.Add(RuleFailed(rs.Rule.RuleName, second, e.Message))
            { rs with Failed = true }

    /// Evaluates one rule at `second` and moves each of its alerts, appending their events. A rule
    /// that throws is switched off from this second on. A group that is alerting but absent from a
    /// `WhenEach` result reads as 0.
    let evaluate (query: IQuery) second (events: List<Event>) (rs: RuleState) =
        if rs.Failed then rs
        else
            match query with
            | :? QueryView as view ->
                // The rule's wrappers stay in force while its result is read (`IEvaluationScope`).
                try
                    evaluateIn query second events rs
                finally
                    view.Evaluated()
            | _ -> evaluateIn query second events rs

    /// The alerts firing, rule by rule in rule order, groups in ordinal order.
    let firing (rules: RuleState list) =
        [ for rs in rules do
              for KeyValue(key, phase) in rs.Alerts |> Seq.sortWith (fun a b -> String.CompareOrdinal(a.Key, b.Key)) do
                  match phase with
                  | Firing(since, v) ->
                      let labels = labelsOf rs.Rule rs.GroupLabel key
                      yield { Rule = rs.Rule.RuleName; Labels = labels; Since = since; Value = v; RuleFailed = rs.Failed }
                  | Pending _ -> () ]
