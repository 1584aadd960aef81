namespace LogAlert.Core

open System
open System.Collections.Generic

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
      Series: Series list }

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
      Value: float }

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
type Input =
    /// Records in input order. The store keeps slices of the array: it must not be written afterwards.
    | Records of Record[]
    /// Live mode: log time has reached this second without records (the wall clock moved); a
    /// second past `Bounds.MaxTime` is taken as `Bounds.MaxTime`.
    | Tick of int64
    | EndOfInput

/// Everything the engine knows. Immutable: a kept state keeps its meaning.
[<Sealed>]
type State =
    /// The newest accepted timestamp.
    member NewestTime: int64 option
    /// The next second to be evaluated, once evaluation has started.
    member NextSecond: int64 option
    /// Accepted records (late ones included).
    member RecordCount: int64
    /// Skewed records.
    member SkewedCount: int64
    /// Late records.
    member LateCount: int64
    /// Seconds evaluated so far (quiet stretches are skipped, not evaluated).
    member EvaluatedSeconds: int64
    /// Seconds held in the store (closed and open).
    member StoredSeconds: int
    /// Seconds held with their records (the others keep totals only).
    member StoredRecordSeconds: int
    /// Series each closing second is tallied for.
    member TalliedSeries: int

/// The engine: a pure step function folded over the input.
[<RequireQualifiedAccess>]
module Engine =

    /// The state before any input.
    val init: config: EngineConfig -> State

    /// One step of the fold: the new state and the events it emits, in output order. Records are taken
    /// in the order given; a step on records `a @ b` equals a step on `a` then one on `b`.
    val step: input: Input -> state: State -> State * Event list

    /// `step`, with the events appended to `events` as they are computed, so that a shell can
    /// still write those computed before a rule that never returns (or ends the process).
    val stepInto: events: List<Event> -> input: Input -> state: State -> State

    /// The report of `state` as it stands, without closing any second: what a run that cannot go
    /// on (a rule stuck in a loop) reports.
    val report: state: State -> Report

    /// Whether the symbol tables hold enough ids that no state may hold any more for `reclaimIds` to pay.
    val reclaimDue: unit -> bool

    /// Gives every label value id that `state` does not hold back to the symbol tables, to be handed
    /// out again for new texts; returns how many. Impure and only right when `state` is all that
    /// holds ids (the shell's reader paused between two batches, no other state kept): a state kept
    /// from before may then read other texts for its ids.
    val reclaimIds: state: State -> int

    /// Folds the engine over `inputs` from the initial state: all events, in order.
    val run: config: EngineConfig -> inputs: Input seq -> Event list
