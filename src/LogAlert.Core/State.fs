namespace LogAlert.Core

// The engine's state: what the fold carries from one input to the next. Its fields are the core's
// own; a caller reads the counts below and passes the state back to `Engine.step`.

/// Everything the engine knows. Immutable in meaning: a state kept from before reads what it read
/// then. Not thread-safe, though: states share the tables of their windows, which reading an older
/// state rewinds, so use the states of one run from one thread at a time.
[<NoEquality; NoComparison>]
type State =
    internal
        { Config: EngineConfig
          /// Closed seconds.
          Closed: Store
          /// Seconds not yet closed (>= Cursor).
          Open: Store
          /// The windows the rules read, by key (`WindowKeys`), in the order they were read: a few,
          /// all read every second, so a new array a second (a `Map` made a path of nodes for each).
          Windows: System.Collections.Generic.KeyValuePair<string, Window>[]
          Rules: RuleState list
          Newest: int64 option
          Watermark: int64
          /// The next second to evaluate; None until the first second closes.
          Cursor: int64 option
          Retention: int64
          RecordRetention: int64
          Records: int64
          Skewed: int64
          Late: int64
          /// A record too far ahead, held until the next record tells a jump from a corrupt timestamp.
          /// An option object, not a struct in place: nearly always none, and the state is copied
          /// a few times every second of log.
          Suspect: Record option
          /// Before any record is accepted, the suspect is the first record, and a record more than
          /// the maximum skew before it is held here: the next record decides which of the two is
          /// wrong (§4). None otherwise.
          Challenger: Record option
          Evaluated: int64
          Ended: bool }

    /// The newest accepted timestamp.
    member this.NewestTime = this.Newest
    /// The time of a record held until a later one decides whether it is skewed (docs/semantics.md §4).
    member this.HeldTime = this.Suspect |> Option.map (fun r -> r.Time)
    /// The next second to be evaluated, once evaluation has started.
    member this.NextSecond = this.Cursor
    /// Accepted records (late ones included).
    member this.RecordCount = this.Records
    /// Skewed records.
    member this.SkewedCount = this.Skewed
    /// Late records.
    member this.LateCount = this.Late
    /// Seconds evaluated so far (seconds at which no value can change are skipped, not evaluated).
    member this.EvaluatedSeconds = this.Evaluated
    /// Seconds held in the store (closed and open).
    member this.StoredSeconds = Store.count this.Closed + Store.count this.Open
    /// Seconds held with their records (the others keep totals only).
    member this.StoredRecordSeconds = Store.recordCount this.Closed + Store.recordCount this.Open
    /// Series each closing second is tallied for.
    member this.TalliedSeries = Seq.length (Store.series this.Closed)
