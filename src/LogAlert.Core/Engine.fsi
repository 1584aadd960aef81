namespace LogAlert.Core

open System
open System.Collections.Generic

/// The engine: a pure step function folded over the input.
[<RequireQualifiedAccess>]
module Engine =

    /// The state before any input.
    val init: config: EngineConfig -> State

    /// `init`, with summaries that read tallies when their interval is longer than `talliedAfter`
    /// seconds (`Summary.TalliedAfter`), for tests of both ways.
    val internal initWith: talliedAfter: int64 -> config: EngineConfig -> State

    /// One step of the fold: the new state and the events it emits, in output order. Records are taken
    /// in the order given; a step on records `a @ b` equals a step on `a` then one on `b`.
    val step: input: Input -> state: State -> State * Event list

    /// `step`, with the events appended to `events` as they are computed, so that a shell can
    /// still write those computed before a rule that never returns (or ends the process).
    val stepInto: events: List<Event> -> input: Input -> state: State -> State

    /// The report of `state` as it stands, without closing any second: what a run that cannot go
    /// on (a rule stuck in a loop) reports.
    val report: state: State -> Report

    /// `report state` with the alert events of a step that did not return applied (the first
    /// `count` of `events`): what was firing where a stuck rule stopped the run.
    val reportAfter: events: List<Event> -> count: int -> state: State -> Report

    /// Whether the symbol tables hold enough ids that no state may hold any more for `reclaimIds` to pay.
    val reclaimDue: unit -> bool

    /// Gives every label value id that `state` does not hold back to the symbol tables, to be handed
    /// out again for new texts; returns how many. Impure and only right when `state` is all that
    /// holds ids (the shell's reader paused between two batches, no other state kept): a state kept
    /// from before may then read other texts for its ids.
    val reclaimIds: state: State -> int

    /// Folds the engine over `inputs` from the initial state: all events, in order.
    val run: config: EngineConfig -> inputs: Input seq -> Event list
