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

    /// One alert's transition at `second` with value `v`.
    let transition (rule: Rule) labels second v (phase: AlertPhase option) =
        let fired () =
            let e =
                { Rule = rule.RuleName; Labels = labels; Transition = Fired; Time = second; Value = v
                  Threshold = rule.Threshold; FiringSince = second
                  Message = message rule labels Fired second second v }
            Some(Firing(second, v)), Some e
        match phase with
        | None when v > rule.Threshold -> if rule.For = 0L then fired () else Some(Pending second), None
        | None -> None, None
        | Some(Pending since) when v > rule.Threshold ->
            if second - since >= rule.For then fired () else phase, None
        | Some(Pending _) -> None, None
        | Some(Firing(since, _)) when v < rule.Recover ->
            let e =
                { Rule = rule.RuleName; Labels = labels; Transition = Resolved; Time = second; Value = v
                  Threshold = rule.Threshold; FiringSince = since
                  Message = message rule labels Resolved second since v }
            None, Some e
        | Some(Firing(since, _)) -> Some(Firing(since, v)), None

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
        let mutable alerts = alerts
        let step key v (phase: AlertPhase option) =
            let next, e = transition rule (labelsOf rule grouped.Label key) second v phase
            e |> Option.iter (Alert >> events.Add)
            alerts <-
                match next, phase with
                | Some p, _ -> Map.add key p alerts
                | None, Some _ -> Map.remove key alerts
                | None, None -> alerts
        // The alerting groups, in ordinal order (a `Map` of strings is), read before any changes.
        let alerting = Array.ofSeq alerts
        let mutable a = 0
        for kv in entries do
            while a < alerting.Length && String.CompareOrdinal(alerting[a].Key, kv.Key) < 0 do
                step alerting[a].Key 0.0 (Some alerting[a].Value)
                a <- a + 1
            if a < alerting.Length && alerting[a].Key = kv.Key then
                step kv.Key kv.Value (Some alerting[a].Value)
                a <- a + 1
            elif kv.Value > rule.Threshold then step kv.Key kv.Value None
        while a < alerting.Length do
            step alerting[a].Key 0.0 (Some alerting[a].Value)
            a <- a + 1
        alerts

    /// Evaluates one rule at `second` and moves each of its alerts, appending their events. A rule
    /// that throws is switched off from this second on. A group that is alerting but absent from a
    /// `WhenEach` result reads as 0.
    let evaluate (query: IQuery) second (events: List<Event>) (rs: RuleState) =
        if rs.Failed then rs
        else
            try
                match Rule.value rs.Rule with
                | Scalar f ->
                    let v = f query
                    let phase, e = transition rs.Rule [] second v (Map.tryFind "" rs.Alerts)
                    e |> Option.iter (Alert >> events.Add)
                    let alerts = match phase with Some p -> Map.add "" p rs.Alerts | None -> Map.remove "" rs.Alerts
                    if obj.ReferenceEquals(alerts, rs.Alerts) then rs else { rs with Alerts = alerts }
                | PerGroup f ->
                    let grouped = f query
                    if isNull grouped then raise (NullReferenceException "WhenEach returned null")
                    let alerts = evaluateGroups rs.Rule grouped second events rs.Alerts
                    if obj.ReferenceEquals(alerts, rs.Alerts) && rs.GroupLabel = grouped.Label then rs
                    else { rs with Alerts = alerts; GroupLabel = grouped.Label }
            with e ->
                events.Add(RuleFailed(rs.Rule.RuleName, second, e.Message))
                { rs with Failed = true }

    /// The alerts firing, rule by rule in rule order, groups in ordinal order.
    let firing (rules: RuleState list) =
        [ for rs in rules do
              for KeyValue(key, phase) in rs.Alerts |> Seq.sortWith (fun a b -> String.CompareOrdinal(a.Key, b.Key)) do
                  match phase with
                  | Firing(since, v) ->
                      let labels = labelsOf rs.Rule rs.GroupLabel key
                      yield { Rule = rs.Rule.RuleName; Labels = labels; Since = since; Value = v }
                  | Pending _ -> () ]
