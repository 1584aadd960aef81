namespace LogAlert.Core

open System

/// The rules logalert runs when no rule file is given.
[<RequireQualifiedAccess>]
module BuiltIn =

    /// `high_traffic`: `Rate(requests, window) > threshold` (docs/semantics.md §9).
    let highTraffic (threshold: float) (window: TimeSpan) =
        let value (q: IQuery) = q.Rate("requests", window)
        Rule.create
            "high_traffic"
            (Scalar value)
            threshold
            None
            0L
            (Some "High traffic generated an alert - hits = {value}, triggered at {time}")
            (Some "Recovered from high traffic - hits = {value}, recovered at {time}")
