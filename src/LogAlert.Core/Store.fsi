namespace LogAlert.Core

/// What a window counts: each record adds 1 to `requests`, its bytes to `bytes`, and its durations
/// to `request_time` and `upstream_response_time` (read in seconds, summed in microseconds).
type Metric =
    | Requests
    | Bytes
    | RequestTime
    | UpstreamTime

/// Helpers for `Metric`.
[<RequireQualifiedAccess>]
module Metric =

    /// The metric for a name as written in a query.
    val create: name: string -> Result<Metric,string>

    /// The name as written in queries.
    val name: metric: Metric -> string

    /// The metric whose sum a series keeps beside the count of requests: `Bytes` for `requests` and
    /// `bytes` (one series serves both), the duration itself for a duration.
    val summed: metric: Metric -> Metric

    /// The value `record` adds to a sum of `metric` (`summed`): bytes, or microseconds.
    val internal valueOf: metric: Metric -> record: inref<Record> -> int64

/// A sum of bytes that no input can make wrap: 128 bits, as two words. A record holds at most
/// `Bounds.MaxBytes` (2^50), so an `int64` sum wraps after 8192 such records, and a window of them
/// read as negative; 2^63 records of 2^50 bytes fit in 2^113. Not `Int128`, whose 16-byte alignment
/// made `Totals` 32 bytes: as two 8-byte words it is 24, and the tables of a window grouped by host
/// hold one per host.
[<CustomEquality; NoComparison; Struct>]
type ByteSum =

    new: low: uint64 * high: int64 -> ByteSum

    val Low: uint64

    val High: int64

    static member (+) : a: ByteSum * b: ByteSum -> ByteSum

    static member (-) : a: ByteSum * b: ByteSum -> ByteSum

    static member (~-) : a: ByteSum -> ByteSum

    /// The sum of one record's bytes.
    static member Of: bytes: int64 -> ByteSum

    override Equals: other: obj | null -> bool

    override GetHashCode: unit -> int

    /// The sum as a rule reads it.
    member ToFloat: unit -> float

    /// The sum as an `Int128`.
    member ToInt128: unit -> System.Int128

    /// Whether the sum is zero.
    member IsZero: bool

    /// No bytes.
    static member Zero: ByteSum

/// Requests and the sum of one more metric: bytes, or (for a series of a duration,
/// `Metric.summed`) its microseconds.
[<NoComparison; Struct>]
type internal Totals =
    {
      Requests: int64
      Sum: ByteSum
    }

    /// The sum of two totals.
    static member Add: a: Totals -> b: Totals -> Totals

    /// The total of `metric`, as a rule reads it: of totals that sum `Metric.summed metric`.
    member Of: metric: Metric -> float

    /// No requests, nothing summed.
    static member Zero: Totals

/// Totals as a window's groups sum them: a group whose totals are zero has no records and leaves
/// the table.
[<Struct>]
type internal TotalsGroup =
    interface IGroup<Totals>

/// What a grouped or selecting window (or one summing a duration) reads from each second: the
/// records a selector picks, grouped by a label or not, counted and summed by one metric. Windows
/// with the same label, selector and summed metric share one series.
type Series =
    {

      /// `Series.key`: the label's name, the selector's and the summed metric's, one string.
      Key: string
      GroupBy: Label option
      Selector: Selector

      /// What `Totals.Sum` sums (`Metric.summed`): `Bytes`, or a duration.
      Summed: Metric
    }

/// The totals of one second's records that a series picks: per label value id (`Label.idOf`),
/// each id once, for a grouped series, and all together.
[<Struct>]
type internal SecondTally =
    {
      Series: Series
      Keys: int array
      Totals: Totals array
      Total: Totals
    }

/// Building series and their per-second tallies.
[<RequireQualifiedAccess>]
module Series =

    /// The key of the series of a window grouped by `groupBy` over the records `selector` picks,
    /// summing `summed` (`Metric.summed`).
    val key: groupBy: Label option -> selector: Selector -> summed: Metric -> string

    /// The series of a window grouped by `groupBy` over the records `selector` picks, summing
    /// `Metric.summed metric`.
    val create: groupBy: Label option -> selector: Selector -> metric: Metric -> Series

    /// The tally of `records` (one second's) for `series`, added to `existing` if any.
    val internal tally:
      series: Series ->
        chunks: System.ReadOnlyMemory<Record> list ->
        existing: SecondTally voption -> SecondTally

/// The records of one second of log time, with their totals and, once the second is closed, a tally
/// for each series the windows read. Immutable: adding records makes a new bucket that shares the
/// old chunks (and adds them to its tallies). Windows read a second's tally of their series when
/// there is one, its records when not. Once no window or summary needs the records of its second any
/// more, a bucket keeps only its totals and tallies (see `Store.stripBefore`).
[<Sealed>]
type internal Bucket =

    

    /// Sum of bytes.
    member Bytes: ByteSum

    /// Record chunks, newest first: slices of arrays that nobody writes once they are in a bucket.
    member Chunks: System.ReadOnlyMemory<Record> list

    /// Number of records.
    member Requests: int64

    /// The tally of each series made for this second, with every record in it.
    member Tallies: SecondTally array

    /// The tally of the series with key `key` (`Series.key`), if the bucket has one.
    member TryTally: key: string * tally: outref<SecondTally> -> bool

/// Building and reading buckets.
[<RequireQualifiedAccess>]
module internal Bucket =

    /// A bucket with no records.
    val empty: Bucket

    

    /// The bucket with `records` (all of the same second) added, as they are: a slice of the input
    /// batch is kept, not copied, so the batch must not be written later. Its tallies count them too.
    val addSlice:
      records: System.ReadOnlyMemory<Record> -> bucket: Bucket -> Bucket

    /// The bucket with `records` (all of the same second) added. `records` must not be written later.
    val addAll: records: Record array -> bucket: Bucket -> Bucket

    /// The bucket with a tally, from its records, for each of `series` it has none for.
    val withTallies: series: Series array -> bucket: Bucket -> Bucket

    /// The bucket without its records: its totals, and its tally for each of `series` and every
    /// series it has a tally for already.
    val strip: series: Series array -> bucket: Bucket -> Bucket

    /// The bucket (without records) with the totals of `records` added, and their tally to each of
    /// its tallies and of `series`: late records for a second whose records are gone.
    val addTotals:
      series: Series array ->
        records: System.ReadOnlyMemory<Record> -> bucket: Bucket -> Bucket

/// The time-series store: one bucket per second that has records. Immutable. The buckets of
/// seconds before `RecordsFrom` hold totals, and a tally per series the windows read, only: a
/// window that neither selects nor groups reads nothing else, and one that does reads the tally of
/// its series, so a store keeps as many seconds of records as the summaries (and the windows of a
/// rule that could not say what it asks for) need, and an hour of tallies for an hour-wide window.
type internal Store =
    private
      {
        /// The seconds from `RecordsFrom` on: they hold records, and records still join them.
        Recent: SecondLog<Bucket>

        /// The seconds before `RecordsFrom`, totals and tallies only, appended as they are stripped.
        History: SecondLog<Bucket>
        RecordsFrom: int64

        /// The series whose tallies a bucket keeps when its records go, by key (ordinal).
        Series: Series[]
      }

/// Reading and writing the store.
[<RequireQualifiedAccess>]
module internal Store =

    /// A store with no records.
    val empty: Store

    /// The store keeping tallies for `series` too, from the next second whose records go (seconds
    /// already without records have none for it).
    val withSeries: series: Series -> store: Store -> Store

    /// The series the store keeps tallies for.
    val series:
      store: Store -> System.Collections.Generic.ICollection<Series>

    /// The store tallying only the series `keep` says yes to (by `Series.key`); the tallies already
    /// made stay with their seconds.
    val retainSeries: keep: (string -> bool) -> store: Store -> Store

    /// The bucket of second `second`, if it has records.
    val tryFind: second: int64 -> store: Store -> Bucket voption

    
    /// The store with `records` (all of second `second`) added; the slice is kept, not copied
    /// (before `RecordsFrom`, only its totals and tallies are).
    val addSlice:
      second: int64 ->
        records: System.ReadOnlyMemory<Record> -> store: Store -> Store

    /// The store with `slices` (all of second `second`) added, in order; they are kept, not copied
    /// (before `RecordsFrom`, only their totals and tallies are).
    val addSlices:
      second: int64 ->
        slices: System.ReadOnlyMemory<Record> seq -> store: Store -> Store

    /// The store with `records` (all of second `second`) added. `records` must not be written later.
    val addAll:
      second: int64 -> records: Record array -> store: Store -> Store

    /// The number of seconds that have records.
    val count: store: Store -> int

    /// Calls `action` with every bucket, in time order.
    val iterBuckets: action: (Bucket -> unit) -> store: Store -> unit

    /// Seconds in `[first, last]` that have records, in order, with their buckets.
    val range:
      first: int64 -> last: int64 -> store: Store -> (int64 * Bucket) seq

    /// Calls `action` with every second in `[first, last]` that has records, in order, and its
    /// bucket: `range` without the list.
    val iterRange: first: int64 -> last: int64 -> action: (int64 -> Bucket -> unit) -> store: Store -> unit

    /// The earliest second at or after `second` that has records, if any.
    val tryCeiling: second: int64 -> store: Store -> int64 voption

    /// The store with `bucket` merged into second `second`, tallied for the store's series (before
    /// `RecordsFrom`, its totals and tallies only).
    val addBucket: second: int64 -> bucket: Bucket -> store: Store -> Store

    /// The earliest second with records, if any.
    val tryFirstSecond: store: Store -> int64 voption

    /// The store without second `second`, and that second's bucket.
    val take: second: int64 -> store: Store -> struct (Bucket voption * Store)

    /// The number of seconds that hold records (not only totals and tallies).
    val recordCount: store: Store -> int

    /// The store with only the totals and tallies of the seconds before `second` (they can no
    /// longer be given records either). Never moves back; costs the buckets it strips.
    val stripBefore: second: int64 -> store: Store -> Store

    /// The store without the buckets of seconds before `keepFrom`, and then `stripBefore
    /// stripFrom`, as one new store: a closing second does both.
    val expire: keepFrom: int64 -> stripFrom: int64 -> store: Store -> Store
