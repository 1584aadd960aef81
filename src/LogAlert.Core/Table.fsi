namespace LogAlert.Core

// Everything here is internal: the tables are how windows hold their groups, not something a user of
// the core sees. The dictionary behind a table (`Dense`) and the diff chain that versions it are not
// in this file, so nothing outside Table.fs can reach them.

open System.Collections.Generic

/// How the values `Table.Accumulate` sums add up: `Add` with `Zero` and `Negate` must make a
/// commutative group, exactly (integers; not floats), and `IsZero` holds of `Zero` alone.
type internal IGroup<'V> =
    abstract Zero: 'V
    abstract Add: 'V * 'V -> 'V
    abstract Negate: 'V -> 'V
    abstract IsZero: 'V -> bool

/// Look-ups in one version of a table, as many as wanted for the cost of one `TryFind` (see
/// `Table.Reader`): valid until another version of the table is used or any version is written.
[<NoComparison; Struct>]
type internal TableReader<'V> =
    /// The value of `key`, if present.
    member TryGetValue: key: int * value: outref<'V> -> bool

/// A persistent table keyed by label value ids (`Label.idOf`, dense from 0) with O(1) access to its
/// newest version: every version keeps its meaning, and reading an older one makes it the newest.
/// Not thread-safe: the versions of one table share one array, so use them from one thread at a time.
[<Sealed>]
type internal Table<'V> =
    /// A table with no entries.
    static member Empty: Table<'V>

    /// How many versions in a row `Accumulate` chains before it gives the next one a copy of the
    /// dictionary (a small table only): settable so that tests can make chains short.
    static member ChainAtMost: int with get, set

    /// Number of entries.
    member Count: int

    /// The value of `key`, if any.
    member TryFind: key: int -> 'V voption

    /// This version, made current, for look-ups of many keys at once (see `TableReader`).
    member Reader: TableReader<'V>

    /// The `k` entries with the largest `score`, ties by `name` of the key (ordinal), best first.
    member Top: k: int * score: ('V -> float) * name: (int -> string) -> KeyValuePair<int, float>[]

    /// Calls `action` with each key of this version, in no particular order.
    member IterKeys: action: (int -> unit) -> unit

    /// The entries, in no particular order, copied out.
    member ToArray: unit -> KeyValuePair<int, 'V>[]

    /// A new version with, for each part `(sign, keys, deltas)`, `deltas[i]` added (`group.Add`;
    /// sign -1: its `Negate`) to the value of `keys[i]`, an absent key counting from `group.Zero`;
    /// keys whose value is then zero are removed. Keys may repeat. The table keeps the parts: their
    /// arrays must not be written afterwards.
    member Accumulate<'G when 'G :> IGroup<'V>> : parts: struct (int * int[] * 'V[])[] * group: 'G -> Table<'V>

    /// A new version with `changes` applied (`ValueNone` removes the key); keys must be distinct.
    member Update: changes: struct (int * 'V voption)[] -> Table<'V>

/// A dictionary each thread reuses as scratch space, one per value type.
type internal Scratch<'V> =
    new: unit -> Scratch<'V>
    /// This thread's dictionary, emptied: valid until the next `Take` of the same type on this thread.
    static member Take: unit -> Dictionary<int, 'V>

/// A set of label value ids (dense from 0) as one bit each, for counting distinct values; each
/// thread reuses one.
[<Sealed>]
type internal IdBits =
    /// This thread's set, empty.
    static member Take: unit -> IdBits
    /// Adds `id` (non-negative).
    member Add: id: int -> unit
    /// How many distinct ids were added; the set is empty again.
    member Count: unit -> int

/// A count for each label value id (dense from 0), for the sections of a summary; each thread
/// reuses one.
[<Sealed>]
type internal IdCounts =
    /// This thread's counts, all zero.
    static member Take: unit -> IdCounts
    /// Counts one more of `id` (non-negative).
    member Add: id: int -> unit
    /// Counts `n` (positive) more of `id` (non-negative).
    member AddMany: id: int * n: int64 -> unit
    /// The ids counted at least once, in the order first counted: valid until the next `Add`.
    member Ids: System.ReadOnlySpan<int>
    /// The count of `id`, one of `Ids`.
    member Item: id: int -> int64 with get

/// Dictionary helpers the windows' hot path needs.
module internal Dictionaries =
    /// Adds `delta` to the value of `key` (absent: `zero`) with one hash lookup.
    val inline accumulate:
        dict: Dictionary<int, 'V> -> key: int -> zero: 'V -> delta: 'V -> [<InlineIfLambda>] add: ('V -> 'V -> 'V) -> unit
