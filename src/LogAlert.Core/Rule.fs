namespace LogAlert.Core

open System
open System.Globalization

/// What a rule computes at each closed second.
type RuleValue =
    /// One value: one alert.
    | Scalar of (IQuery -> float)
    /// A value per label value: one alert per group (`WhenEach`).
    | PerGroup of (IQuery -> Grouped)

/// Why a rule definition is not valid.
type RuleError =
    | EmptyName
    | NoCondition of rule: string
    | BadThreshold of rule: string * reason: string
    | NegativeFor of rule: string

/// Helpers for `RuleError`.
[<RequireQualifiedAccess>]
module RuleError =
    /// A one-line, human-readable reason.
    let describe error =
        match error with
        | EmptyName -> "a rule needs a non-empty name"
        | NoCondition rule -> sprintf "rule \"%s\" has no When/WhenEach" rule
        | BadThreshold(rule, reason) -> sprintf "rule \"%s\": %s" rule reason
        | NegativeFor rule -> sprintf "rule \"%s\": For must not be negative" rule

/// An alert rule: fires at the first second where `value > Above` (after `For` seconds of
/// pending), resolves at the first later second where `value < RecoverBelow`.
type Rule =
    private
        { Name: string
          Value: RuleValue
          Above: float
          RecoverBelow: float
          ForSeconds: int64
          FiringMessage: string option
          ResolvedMessage: string option }

    /// The rule's name, unique among the rules of a run.
    member this.RuleName = this.Name
    /// The firing threshold `T`.
    member this.Threshold = this.Above
    /// The resolving threshold `R` (defaults to `T`).
    member this.Recover = this.RecoverBelow
    /// Seconds the condition must hold before firing.
    member this.For = this.ForSeconds
    /// Whether the rule alerts per label value.
    member this.IsPerGroup = match this.Value with PerGroup _ -> true | Scalar _ -> false
    /// The firing message template, if any.
    member this.Message = this.FiringMessage
    /// The resolved message template, if any.
    member this.RecoveryMessage = this.ResolvedMessage

/// Building rules and rendering their messages.
[<RequireQualifiedAccess>]
module Rule =

    /// Validates a rule definition.
    let create name value above (recoverBelow: float option) forSeconds firingMessage resolvedMessage =
        let recover = defaultArg recoverBelow above
        if String.IsNullOrWhiteSpace name then Error EmptyName
        elif Double.IsNaN above then Error(BadThreshold(name, "Above must be a number"))
        elif Double.IsNaN recover then Error(BadThreshold(name, "RecoverBelow must be a number"))
        elif recover > above then
            Error(BadThreshold(name, sprintf "RecoverBelow (%g) must not be above the firing threshold (%g)" recover above))
        elif forSeconds < 0L then Error(NegativeFor name)
        else
            Ok
                { Name = name
                  Value = value
                  Above = above
                  RecoverBelow = recover
                  ForSeconds = forSeconds
                  FiringMessage = firingMessage
                  ResolvedMessage = resolvedMessage }

    /// The value function.
    let value (rule: Rule) = rule.Value

    // The proleptic Gregorian date of a day count from 1970-01-01, for any day (H. Hinnant's
    // `civil_from_days`, http://howardhinnant.github.io/date_algorithms.html).
    let private civil (days: int64) =
        let z = days + 719468L
        let era = (if z >= 0L then z else z - 146096L) / 146097L
        let doe = z - era * 146097L
        let yoe = (doe - doe / 1460L + doe / 36524L - doe / 146096L) / 365L
        let doy = doe - (365L * yoe + yoe / 4L - yoe / 100L)
        let mp = (5L * doy + 2L) / 153L
        let day = doy - (153L * mp + 2L) / 5L + 1L
        let month = if mp < 10L then mp + 3L else mp - 9L
        let year = yoe + era * 400L + (if month <= 2L then 1L else 0L)
        year, month, day

    /// ISO-8601 UTC, second resolution: `2019-02-07T21:12:36Z`. Total: a second outside what
    /// `DateTimeOffset` holds (the end of a summary interval at the last valid second is the
    /// first second of the year 10000) is written the same way, with the year as it is.
    let isoTime (second: int64) =
        if second >= -62135596800L && second <= Bounds.MaxTime then
            DateTimeOffset.FromUnixTimeSeconds(second).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        else
            let days = (if second >= 0L then second else second - 86399L) / 86400L
            let inDay = second - days * 86400L
            let year, month, day = civil days
            String.Format(CultureInfo.InvariantCulture, "{0:0000}-{1:00}-{2:00}T{3:00}:{4:00}:{5:00}Z",
                          year, month, day, inDay / 3600L, inDay / 60L % 60L, inDay % 60L)

    /// `value` with 2 decimals, rounded half away from zero as the events' `value` is (semantics
    /// §13): "F2" alone rounds an exact half to even, and 1/8 read 0.12 in a message whose event
    /// said 0.13.
    /// Not finite, `+Inf`, `-Inf` or `NaN`, as Prometheus renders `{{ $value }}` and as the value sent
    /// to Alertmanager reads.
    let private valueText (value: float) =
        if Double.IsFinite value && abs value < 7.9e27 then
            Math.Round(decimal value, 2, MidpointRounding.AwayFromZero).ToString("F2", CultureInfo.InvariantCulture)
        // Past a decimal's range, as the final report writes it (1E+300), not 301 digits and ".00".
        else NumberText.show value

    /// Fills `{value}` (2 decimals), `{time}`, `{threshold}`, `{rule}`, `{since}` and `{label}` /
    /// `{<label name>}` (the group's label value) in a message template, in one pass: what a
    /// placeholder is replaced by is not read again, so a label value a client chose (a section
    /// `/{label}`) or a rule name holding braces appears as it is. Anything else in braces stays.
    let render (template: string) (rule: Rule) (labels: (string * string) list) (second: int64) (since: int64) (value: float) =
        let fill (name: string) =
            match name with
            | "value" -> ValueSome(valueText value)
            | "time" -> ValueSome(isoTime second)
            | "since" -> ValueSome(isoTime since)
            | "threshold" -> ValueSome(NumberText.show rule.Above)
            | "rule" -> ValueSome rule.Name
            | "label" -> (match labels with (_, v) :: _ -> ValueSome v | [] -> ValueNone)
            | _ -> labels |> List.tryFind (fun (n, _) -> n = name) |> Option.map snd |> ValueOption.ofOption
        let sb = Text.StringBuilder(template.Length + 32)
        let mutable i = 0
        while i < template.Length do
            let opening = template.IndexOf('{', i)
            let closing = if opening < 0 then -1 else template.IndexOf('}', opening + 1)
            if closing < 0 then
                sb.Append(template, i, template.Length - i) |> ignore
                i <- template.Length
            else
                // The innermost `{`: in `{{value}`, the second one opens the placeholder.
                let opening = template.LastIndexOf('{', closing)
                sb.Append(template, i, opening - i) |> ignore
                match fill (template.Substring(opening + 1, closing - opening - 1)) with
                | ValueSome text -> sb.Append(text) |> ignore
                | ValueNone -> sb.Append(template, opening, closing - opening + 1) |> ignore
                i <- closing + 1
        sb.ToString()
