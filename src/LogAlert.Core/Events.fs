namespace LogAlert.Core

// What the engine takes and what it tells: its settings, its input and its events. The fold that
// turns one into the other is in the files after this one: Admission, Alerts, State, Evaluation, Engine.

open System.Collections.Immutable

/// Engine settings, fixed for a run.
type EngineConfig =
    { /// `L`: second `s` closes when the newest timestamp is past `s + L`.
      Lateness: int64
      /// A record more than this ahead of the newest accepted timestamp is skewed.
      MaxSkew: int64
      /// Summary interval in seconds; 0 disables summaries.
      SummaryInterval: int64
      /// Rules in evaluation (and output) order.
      Rules: Rule list
      /// Seconds of history kept at least (windows that rules use extend it).
      Retention: int64
      /// Seconds of records kept at least (the summaries extend it to their interval); older
      /// seconds keep their totals, and a tally for each series a window reads. A rule that could
      /// not say at load time what it asks for needs records for its widest window instead.
      RecordRetention: int64
      /// The series (label and selector) of the grouped and selecting windows the rules will ask
      /// for: their tallies are kept from the start, so that a window first asked for later still
      /// reads its whole width. Windows the rules use add theirs.
      Series: Series list
      /// The metric and label names the reader leaves out of records (`request_time`, `referer`):
      /// no rule told at load time that it reads them. A query that reads one fails, since what it
      /// would read (0, `-`) is not what the log says.
      Unread: string list }

/// Whether an alert event fires or resolves.
type Transition =
    | Fired
    | Resolved

/// One alert transition.
type AlertEvent =
    { Rule: string
      /// The group's label for `WhenEach` rules, e.g. `["section", "/api"]`; empty otherwise.
      Labels: (string * string) list
      Transition: Transition
      Time: int64
      Value: float
      Threshold: float
      /// When the alert fired (equals `Time` for `Fired`).
      FiringSince: int64
      Message: string }

/// An alert still firing.
type FiringAlert =
    { Rule: string
      Labels: (string * string) list
      Since: int64
      Value: float
      /// Its rule threw and was switched off: the alert is as the rule left it, not evaluated since.
      RuleFailed: bool }

/// The end-of-input report.
type Report =
    { Records: int64
      Skewed: int64
      Late: int64
      Firing: FiringAlert list }

/// What the engine tells the shell.
type Event =
    | Alert of AlertEvent
    | SummaryReady of Summary
    /// A rule threw; it is switched off from this second on.
    | RuleFailed of rule: string * time: int64 * message: string
    /// A record too far ahead of the newest accepted one; not counted.
    | Skewed of record: Record * newest: int64
    | Finished of Report

/// What the engine folds over.
[<NoComparison; NoEquality>]
type Input =
    /// Records in input order. Immutable, because the store keeps slices of them, not copies.
    | Records of ImmutableArray<Record>
    /// Live mode: log time has reached this second without records (the wall clock moved); a
    /// second past `Bounds.MaxTime` is taken as `Bounds.MaxTime`.
    | Tick of int64
    | EndOfInput

/// Building inputs.
[<RequireQualifiedAccess>]
module Input =
    /// Records in input order, copied into an input of their own.
    let ofSeq (records: Record seq) = Records(ImmutableArray.CreateRange records)
