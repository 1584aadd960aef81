namespace LogAlert.Core

/// What becomes of one record as it arrives (docs/semantics.md §4, §7), given the newest accepted
/// timestamp and the suspect held, if any. A record more than the maximum skew ahead of the newest
/// one is held as a suspect, and the next record decides: one that agrees with it (also too far
/// ahead, and not more than the skew before it) shows that the log really jumped: the suspect is
/// accepted and the next record judged against it (taken, or held in turn); any other shows that
/// the suspect was one corrupt timestamp, and it is skewed.
[<Struct>]
type internal Admission =
    /// Accepted: in order, or late when its second is already closed (`Admission.isLate`).
    | Accept
    /// Too far ahead: held as the new suspect. The suspect it replaces, if any, did not agree with it
    /// and is skewed.
    | Hold of disproved: Record voption
    /// Agrees with the suspect: the suspect is accepted, then this record is judged against it (held
    /// in turn when it is more than the skew past it: time went on again).
    | Confirm of suspect: Record
    /// Not too far ahead, so the suspect was a corrupt timestamp: it is skewed, this record accepted.
    | Disprove of skewed: Record

/// Admission of records: pure functions of the record's time and what the engine has seen.
[<RequireQualifiedAccess>]
module internal Admission =

    /// Whether a record at `time` is simply accepted in order: nothing suspect, not too far ahead of
    /// `newest`, and not before `cursor` (the next second to evaluate). Nearly every record is; the
    /// engine asks this first and decides the rest with `decide`.
    let inline isPlain (newest: int64 option) (cursor: int64 option) (suspect: Record voption) maxSkew (time: int64) =
        match newest, cursor with
        | Some n, Some c -> suspect.IsNone && time <= n + maxSkew && time >= c
        | _ -> false

    /// What becomes of a record at `time`, once a record has been accepted (before that, the engine
    /// holds the first records until one more decides, §4).
    let decide (newest: int64 option) (suspect: Record voption) maxSkew (time: int64) =
        match newest with
        | Some n when time > n + maxSkew ->
            match suspect with
            // Near the suspect or later still: time went on. Only a record that falls back (more
            // than the skew before it) shows the suspect was a corrupt timestamp. Requiring it to be
            // near the suspect skewed every record but the first of a log whose requests are hours
            // apart (0, 2h, 4h, ... with the default 1h).
            | ValueSome s when time >= s.Time - maxSkew -> Confirm s
            | held -> Hold held
        | _ ->
            match suspect with
            | ValueSome s -> Disprove s
            | ValueNone -> Accept

    /// Whether an accepted record at `time` is late: its second is closed (before `cursor`, the next
    /// second to evaluate). It is counted all the same, and joins every window that covers it.
    let isLate (cursor: int64 option) (time: int64) =
        match cursor with
        | Some c -> time < c
        | None -> false
