namespace LogAlert.Core

// CollectionsMarshal.GetValueRefOrAddDefault is annotated as returning a nullable reference; the
// tables here hold structs (Totals, and ints in tests), so there is no null to handle.
#nowarn "3261"
// Dense.Prefetch takes the address of an array slot for a cache hint.
#nowarn "9"

open System
open System.Collections.Generic

/// A map from small non-negative ints (label value ids, dense from 0 per label) to values: an array
/// of values indexed by the key, and a bit per key saying which are present (100k hosts of 756k
/// ids: 94 KB of bits, which stay in the cache, beside 12 MB of values, which do not). A look-up is
/// a bit test and one array read, nothing is hashed, and adding or removing a key writes its bit
/// and its value only; `Prefetch` asks for a value's cache line ahead of its use, so that a batch
/// of updates to a table larger than the caches waits for many misses at once instead of one after
/// another. When the keys are sparse — a key far beyond eight times the count: few hosts of a busy
/// site, or a long run that has seen many more hosts than the window holds — it turns into a
/// dictionary for good, so memory follows the entries held.
[<Sealed>]
type internal Dense<'V>() =
    let mutable values: 'V[] = Array.zeroCreate 64
    let mutable present: uint64[] = Array.zeroCreate 1
    let mutable live = 0
    let mutable sparse: Dictionary<int, 'V> | null = null
    let emptied = List<int>()

    /// Whether any value was ever set directly (`Table.Update`) rather than summed: such a value may
    /// be a zero that is present, which an undo by negated deltas would not put back.
    member val SetDirectly = false with get, set

    /// How many versions `Table.Accumulate` has chained to this dictionary in a row.
    member val Chained = 0 with get, set

    /// Scratch space for `Table.Accumulate`: keys whose value came to zero in the current batch.
    member _.Emptied = emptied

    /// Calls `action` with each key present and its value, in no particular order (a walk of the
    /// bits: nothing is allocated for 100k keys).
    member _.Iter(action: int -> 'V -> unit) =
        match sparse with
        | null ->
            for w in 0 .. present.Length - 1 do
                let mutable bits = present[w]
                while bits <> 0UL do
                    let key = (w <<< 6) + Numerics.BitOperations.TrailingZeroCount bits
                    action key values[key]
                    bits <- bits &&& (bits - 1UL)
        | map ->
            for KeyValue(key, value) in map do
                action key value

    member _.Count =
        match sparse with
        | null -> live
        | map -> map.Count

    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member _.TryGetValue(key: int, value: outref<'V>) =
        match sparse with
        | null ->
            let w = key >>> 6
            if w < present.Length && present[w] &&& (1UL <<< (key &&& 63)) <> 0UL then
                value <- values[key]
                true
            else false
        | map -> map.TryGetValue(key, &value)

    // The slot of `key` (dense, within the array), its bit set: a bit, and the slot.
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member private _.Claim(key: int, exists: outref<bool>) : byref<'V> =
        let w = key >>> 6
        let bit = 1UL <<< (key &&& 63)
        exists <- present[w] &&& bit <> 0UL
        if not exists then
            present[w] <- present[w] ||| bit
            live <- live + 1
        &values[key]

    /// The value of `key`, added as `Unchecked.defaultof` when absent (`exists` says which).
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member this.GetValueRefOrAdd(key: int, exists: outref<bool>) : byref<'V> =
        // Nearly always: dense, and the key within the array.
        if isNull sparse && key < values.Length then &this.Claim(key, &exists)
        else &this.GetValueRefOrAddSlow(key, &exists)

    // `GetValueRefOrAdd` of a key beyond the array, or of a sparse table.
    member private this.GetValueRefOrAddSlow(key: int, exists: outref<bool>) : byref<'V> =
        if isNull sparse && key >= values.Length then
            if key >= 8 * (live + 1024) then
                let map = Dictionary<int, 'V>(live * 2)
                this.Iter(fun k v -> map[k] <- v)
                sparse <- map
                values <- [||]
                present <- [||]
                live <- 0
            else this.Grow key
        match sparse with
        | null -> &this.Claim(key, &exists)
        | map -> &Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(map, key, &exists)

    /// Makes room, while dense, for keys up to `maxKey` when `incoming` more keys are about to come,
    /// so that the first keys of a batch into a new table do not look sparse against the few keys
    /// already in: a window built afresh 10 s into a busy log gets 30k hosts at once, and judged
    /// one key at a time against an almost empty table it turned into a dictionary for good (twice
    /// the memory of the array, with 350k hosts in a window: 34 MB).
    member this.Reserve(maxKey: int, incoming: int) =
        if isNull sparse && maxKey >= values.Length && maxKey < 8 * (live + incoming + 1024) then this.Grow maxKey

    // The arrays, dense, grown to hold `key` (at least doubled).
    member private _.Grow(key: int) =
        let grown = Array.zeroCreate (max (key + 1) (values.Length * 2))
        Array.blit values 0 grown 0 values.Length
        values <- grown
        let bits = Array.zeroCreate ((grown.Length + 63) >>> 6)
        Array.blit present 0 bits 0 present.Length
        present <- bits

    member this.Set(key: int, value: 'V) =
        let mutable exists = false
        let v = &this.GetValueRefOrAdd(key, &exists)
        v <- value

    /// How many slots a copy costs: the array's length while dense, else the entries.
    member _.Footprint =
        match sparse with
        | null -> values.Length
        | map -> map.Count

    /// A copy that no version shares: same entries, its own arrays.
    member this.Clone() =
        let copy = Dense<'V>()
        copy.Restore(Array.copy values, Array.copy present, live,
                     (match sparse with
                      | null -> null
                      | map -> Dictionary<int, 'V>(map)))
        copy.SetDirectly <- this.SetDirectly
        copy

    member private _.Restore(v: 'V[], p: uint64[], l: int, s: Dictionary<int, 'V> | null) =
        values <- v
        present <- p
        live <- l
        sparse <- s

    /// Removes `key` if present.
    member _.Remove(key: int) =
        match sparse with
        | null ->
            let w = key >>> 6
            let bit = 1UL <<< (key &&& 63)
            if w < present.Length && present[w] &&& bit <> 0UL then
                present[w] <- present[w] &&& ~~~bit
                live <- live - 1
                values[key] <- Unchecked.defaultof<'V>
        | map -> map.Remove key |> ignore

    member _.Item(key: int) =
        match sparse with
        | null -> values[key]
        | map -> map[key]

    /// A hint that `key` is about to be read or written. The address only names a cache line: if the
    /// collector moves the array meanwhile, the hint is merely wasted.
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member _.Prefetch(key: int) =
        if Runtime.Intrinsics.X86.Sse.IsSupported && isNull sparse && key < values.Length then
            Runtime.Intrinsics.X86.Sse.Prefetch0(Runtime.CompilerServices.Unsafe.AsPointer(&values[key]))

/// How the values `Table.Accumulate` sums add up: `Add` with `Zero` and `Negate` must make a
/// commutative group, exactly (integers; not floats), and `IsZero` holds of `Zero` alone.
/// Implemented by a struct, so that the compiled loop calls it directly (closures were three
/// indirect calls per key).
type IGroup<'V> =
    abstract Zero: 'V
    abstract Add: 'V * 'V -> 'V
    abstract Negate: 'V -> 'V
    abstract IsZero: 'V -> bool

/// `Table.Accumulate`'s loop, generic in the group so that a struct's methods are called directly.
[<AbstractClass; Sealed>]
type private Accumulate =
    /// Adds `sign` × `partSign` × `deltas[i]` to the value of `keys[i]` (absent: zero) for each part
    /// `(partSign, keys, deltas)`, and then removes the keys whose value is zero. One look-up per
    /// delta: the hot path of a window grouped by host.
    static member Into<'V, 'G when 'G :> IGroup<'V>>(dict: Dense<'V>, parts: struct (int * int[] * 'V[])[], sign: int, group: 'G) =
        let emptied = dict.Emptied
        emptied.Clear() // empty unless a batch before this one threw
        let mutable maxKey = -1
        let mutable incoming = 0
        for struct (_, keys, _) in parts do
            incoming <- incoming + keys.Length
            for key in keys do
                if key > maxKey then maxKey <- key
        dict.Reserve(maxKey, incoming)
        for struct (partSign, keys, deltas) in parts do
            let negate = sign * partSign < 0
            let count = keys.Length
            // Slots a few keys ahead are asked for while this one is read: with 100k hosts most are
            // cache misses, and this way several are in flight at once.
            let ahead = 8
            for i in 0 .. min ahead count - 1 do
                dict.Prefetch keys[i]
            for i in 0 .. count - 1 do
                if i + ahead < count then dict.Prefetch keys[i + ahead]
                let mutable exists = false
                let value = &dict.GetValueRefOrAdd(keys[i], &exists)
                let delta = if negate then group.Negate deltas[i] else deltas[i]
                value <- group.Add((if exists then value else group.Zero), delta)
                if group.IsZero value then emptied.Add keys[i]
        // Taken out when at zero after the last delta (a later delta may have revived one).
        for key in emptied do
            let mutable v = Unchecked.defaultof<'V>
            if dict.TryGetValue(key, &v) && group.IsZero v then dict.Remove key
        emptied.Clear()

/// Look-ups in one version of a table, as many as wanted for the cost of one `TryFind` (see
/// `Table.Reader`): valid until another version of the table is used or any version is written.
[<Struct>]
type TableReader<'V> internal (dict: Dense<'V>) =
    /// The value of `key`, if present.
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member _.TryGetValue(key: int, value: outref<'V>) = dict.TryGetValue(key, &value)

/// How one version of a table differs from the next one towards the current version.
type private TableData<'V> =
    | Current of Dense<'V>
    /// Applying `changes` to `next` gives this version.
    | Diff of changes: struct (int * 'V voption)[] * next: TableNode<'V>
    /// Adding `sign` × the parts' deltas (see `Table.Accumulate`) to `next` and removing the keys
    /// left at zero gives this version. The parts are the ones `Accumulate` was given.
    | Deltas of parts: struct (int * int[] * 'V[])[] * sign: int * group: IGroup<'V> * next: TableNode<'V>

and [<Sealed; AllowNullLiteral>] private TableNode<'V>(data: TableData<'V>) =
    member val Data = data with get, set

/// A persistent table keyed by label value ids (`Label.idOf`, dense from 0) with O(1) access to its
/// newest version (Baker's trick, as in Conchon & Filliâtre, "A persistent union-find data
/// structure", 2007): the newest version owns a mutable array indexed by key (`Dense`) and every
/// older version is a chain of diffs leading to it. Reading an older
/// version first rewinds the dictionary to it and turns the chain around, so every version keeps its
/// meaning — an engine state kept from an hour ago still reads what it read then. A window with 100k
/// hosts moves by one second in the cost of that second's changes, where an immutable Map paid
/// O(log n) allocations per change. Not thread-safe: the versions of one table share its array, so
/// use them from one thread at a time.
[<Sealed>]
type Table<'V> private (node: TableNode<'V>) =

    static let apply (dict: Dense<'V>) (changes: struct (int * 'V voption)[]) =
        let inverse = Array.zeroCreate changes.Length
        for i in 0 .. changes.Length - 1 do
            let struct (key, value) = changes[i]
            let mutable old = Unchecked.defaultof<'V>
            inverse[changes.Length - 1 - i] <-
                if dict.TryGetValue(key, &old) then struct (key, ValueSome old) else struct (key, ValueNone)
            match value with
            | ValueSome v -> dict.Set(key, v)
            | ValueNone -> dict.Remove key
        inverse

    /// `reroot` of a version that is not the newest.
    static let rerootOlder (node: TableNode<'V>) =
        // Walk to the current version, then apply the diffs back towards `node`, reversing each link.
        let path = Stack<TableNode<'V>>()
        let rec find (at: TableNode<'V>) =
            match at.Data with
            | Current d -> struct (d, at)
            | Diff(_, next)
            | Deltas(_, _, _, next) ->
                path.Push at
                find next
        let struct (dict, head) = find node
        let mutable current = head
        while path.Count > 0 do
            let older = path.Pop()
            match older.Data with
            | Diff(changes, _) ->
                let inverse = apply dict changes
                older.Data <- Current dict
                current.Data <- Diff(inverse, older)
                current <- older
            | Deltas(parts, sign, group, _) ->
                Accumulate.Into(dict, parts, sign, group)
                older.Data <- Current dict
                current.Data <- Deltas(parts, -sign, group, older)
                current <- older
            | Current _ -> ()
        dict

    /// Makes `node` the current version and returns its dictionary.
    static let reroot (node: TableNode<'V>) =
        match node.Data with
        | Current d -> d // the newest version: nothing to walk, nothing to allocate
        | _ -> rerootOlder node

    /// A table with no entries.
    static member Empty = Table<'V>(TableNode(Current(Dense<'V>())))

    /// How many versions in a row `Accumulate` chains before it copies (see there). Settable so
    /// that tests can make chains short; the versions read the same either way.
    static member val ChainAtMost = 64 with get, set

    /// The most slots (`Dense.Footprint`) a table copies to start a new chain: 48 KB of sums every
    /// 64 versions; a larger one always chains.
    static member CopyAtMost = 2048

    /// Number of entries.
    member _.Count = (reroot node).Count

    /// The value of `key`, if any.
    member _.TryFind(key: int) =
        let mutable v = Unchecked.defaultof<'V>
        if (reroot node).TryGetValue(key, &v) then ValueSome v else ValueNone

    /// This version, made current, for look-ups of many keys at once: `TryFind` without the
    /// check per key that the version is current. Valid until another version is used or any
    /// version is written.
    member _.Reader = TableReader<'V>(reroot node)

    /// The `k` entries with the largest `score`, ties by `name` of the key (ordinal), best first. One
    /// pass over the entries; most are rejected by one comparison with the current k-th best.
    member _.Top(k: int, score: 'V -> float, name: int -> string) =
        let top = List<KeyValuePair<int, float>>(max k 0 + 1)
        if k > 0 then
            (reroot node).Iter(fun key value ->
                let v = score value
                let full = top.Count = k
                if not full || v >= top[k - 1].Value then
                    let before (other: KeyValuePair<int, float>) =
                        v > other.Value
                        || (v = other.Value && System.String.CompareOrdinal(name key, name other.Key) < 0)
                    if not full || before top[k - 1] then
                        let mutable i = top.Count
                        while i > 0 && before top[i - 1] do
                            i <- i - 1
                        top.Insert(i, KeyValuePair(key, v))
                        if top.Count > k then top.RemoveAt k)
        top.ToArray()

    /// Calls `action` with each key of this version, in no particular order.
    member _.IterKeys(action: int -> unit) = (reroot node).Iter(fun key _ -> action key)

    /// The entries, in no particular order, copied out.
    member _.ToArray() =
        let entries = List<KeyValuePair<int, 'V>>()
        (reroot node).Iter(fun key value -> entries.Add(KeyValuePair(key, value)))
        entries.ToArray()

    /// A new version with, for each part `(sign, keys, deltas)`, `deltas[i]` added (`group.Add`;
    /// sign -1: its `Negate`) to the value of `keys[i]`, an absent key counting from `group.Zero`;
    /// keys whose value is then zero are removed. Keys may repeat, within a part and across parts.
    /// The table keeps the parts, whose arrays must not be written afterwards: the older version is
    /// the newer one with the deltas negated, so a window move passes the tallies of the seconds
    /// entering and leaving as they are and allocates only the new version's node (an undo array
    /// of old values was a third of everything a 100k-host window allocated, a merged copy of the
    /// tallies another third). A table that `Update` ever wrote, whose values may be zeros that are
    /// present, keeps old values instead.
    member _.Accumulate<'G when 'G :> IGroup<'V>>(parts: struct (int * int[] * 'V[])[], group: 'G) =
        if parts |> Array.forall (fun struct (_, keys, _) -> keys.Length = 0) then Table<'V>(node)
        else
            let dict = reroot node
            // Every `ChainAtMost` versions in a row, a small table starts a new chain: the next
            // version gets a copy of the dictionary instead of a diff from this one. A collection
            // keeps whatever an object that survived an earlier one points to, and a version
            // points to every version made after it: a window moving once a second kept, through
            // one old version, the thousands made since the last collection, 1.2 MB a collection
            // for one window grouped by host. In chains of 64 an old version holds on to 63 at
            // most. The older versions keep their meaning: the last of a chain keeps its own
            // dictionary.
            dict.Chained <- dict.Chained + 1
            if dict.Chained >= Table<'V>.ChainAtMost && dict.Footprint <= Table<'V>.CopyAtMost then
                let copy = dict.Clone()
                Accumulate.Into(copy, parts, 1, group)
                Table<'V>(TableNode(Current copy))
            else
            let undo =
                if dict.SetDirectly then
                    // Each touch records its key's value before the batch (absent: removed again).
                    let inverse = List<struct (int * 'V voption)>()
                    for struct (_, keys, _) in parts do
                        for key in keys do
                            let mutable old = Unchecked.defaultof<'V>
                            inverse.Add(if dict.TryGetValue(key, &old) then struct (key, ValueSome old) else struct (key, ValueNone))
                    inverse.Reverse()
                    ValueSome(inverse.ToArray())
                else ValueNone
            Accumulate.Into(dict, parts, 1, group)
            let newer = TableNode(Current dict)
            node.Data <-
                match undo with
                | ValueSome inverse -> Diff(inverse, newer)
                | ValueNone -> Deltas(parts, -1, group :> IGroup<'V>, newer)
            Table<'V>(newer)

    /// A new version with `changes` applied (`ValueNone` removes the key); keys must be distinct.
    /// This version stays valid.
    member _.Update(changes: struct (int * 'V voption)[]) =
        if changes.Length = 0 then Table<'V>(node)
        else
            let dict = reroot node
            dict.SetDirectly <- true
            let inverse = apply dict changes
            let newer = TableNode(Current dict)
            node.Data <- Diff(inverse, newer)
            Table<'V>(newer)

/// A dictionary each thread reuses as scratch space, one per value type. A tally is filled and
/// emptied every second; a new dictionary each time grew, rehashing as it went, from nothing.
type internal Scratch<'V>() =
    [<System.ThreadStatic; DefaultValue>]
    static val mutable private dict: Dictionary<int, 'V> | null

    /// This thread's dictionary, emptied: valid until the next `Take` of the same type on this thread.
    static member Take() =
        match Scratch<'V>.dict with
        | null ->
            let d = Dictionary<int, 'V>()
            Scratch<'V>.dict <- d
            d
        | d ->
            d.Clear()
            d


/// A set of label value ids (dense from 0) as one bit each, for counting distinct values: the 30k
/// hosts of a busy summary interval were a dictionary of 30k entries, a cache miss or two each,
/// where the bits of a million ids are 128 KB. Each thread reuses one; `Count` empties it by
/// clearing only the words it set, so a use costs the ids added, not the ids ever seen.
/// `Add` does not branch on whether the id was in the set already: that is a coin toss on a quiet
/// site (a third of an interval's hosts are new), and a mispredicted branch a record doubled what
/// counting an interval's records cost (docs/performance.md, 2026-12-08). `Count` counts the bits.
[<Sealed>]
type internal IdBits private () =
    [<System.ThreadStatic; DefaultValue>]
    static val mutable private mine: IdBits | null
    let mutable words: uint64[] = Array.zeroCreate 1024
    let touched = List<int>()

    /// This thread's set, empty (emptied here too, should a use before this one have thrown).
    static member Take() =
        match IdBits.mine with
        | null ->
            let set = IdBits()
            IdBits.mine <- set
            set
        | set ->
            set.Count() |> ignore
            set

    member private _.Grow(w: int) =
        let grown = Array.zeroCreate (max (w + 1) (words.Length * 2))
        Array.blit words 0 grown 0 words.Length
        words <- grown

    /// Adds `id` (non-negative).
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member this.Add(id: int) =
        let w = id >>> 6
        if w >= words.Length then this.Grow w
        let word = words[w]
        // Taken once per word: ids close together share it, and a word's first id is rare.
        if word = 0UL then touched.Add w
        words[w] <- word ||| (1UL <<< (id &&& 63))

    /// How many distinct ids were added; the set is empty again.
    member _.Count() =
        let mutable n = 0
        for w in touched do
            n <- n + Numerics.BitOperations.PopCount words[w]
            words[w] <- 0UL
        touched.Clear()
        n

/// A count for each label value id (dense from 0), for the sections of a summary: an array indexed
/// by id, where a dictionary hashed every record of the interval. Each thread reuses one; `Take`
/// empties it by zeroing only the ids counted, so a use costs the records counted, not the ids
/// ever seen. `Add` notes an id counted for the first time without a branch on it (see `IdBits`).
[<Sealed>]
type internal IdCounts private () =
    [<System.ThreadStatic; DefaultValue>]
    static val mutable private mine: IdCounts | null
    let mutable counts: int64[] = Array.zeroCreate 1024
    // The ids counted, in the order first counted: `[0, used)`. An id is written at `used` on every
    // `Add`, and kept (`used` moves on) only when its count was 0.
    let mutable counted: int[] = Array.zeroCreate 64
    let mutable used = 0

    /// This thread's counts, all zero.
    static member Take() =
        match IdCounts.mine with
        | null ->
            let c = IdCounts()
            IdCounts.mine <- c
            c
        | c ->
            c.Clear()
            c

    member private _.Grow(id: int) =
        let grown = Array.zeroCreate (max (id + 1) (counts.Length * 2))
        Array.blit counts 0 grown 0 counts.Length
        counts <- grown

    member private _.GrowCounted() =
        let grown = Array.zeroCreate (counted.Length * 2)
        Array.blit counted 0 grown 0 counted.Length
        counted <- grown

    member private _.Clear() =
        for i in 0 .. used - 1 do
            counts[counted[i]] <- 0L
        used <- 0

    /// Counts `n` (positive) more of `id` (non-negative).
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member this.AddMany(id: int, n: int64) =
        if id >= counts.Length then this.Grow id
        if used = counted.Length then this.GrowCounted()
        let c = counts[id]
        counted[used] <- id
        used <- used + int (uint64 (c - 1L) >>> 63) // 1 when c = 0 (counts are never negative)
        counts[id] <- c + n

    /// Counts one more of `id` (non-negative).
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member this.Add(id: int) = this.AddMany(id, 1L)

    /// The ids counted at least once, in the order first counted.
    member _.Ids = ReadOnlySpan<int>(counted, 0, used)

    /// The count of `id`, one of `Ids`.
    member _.Item with get (id: int) = counts[id]

/// Dictionary helpers the windows' hot path needs.
module internal Dictionaries =
    /// Adds `delta` to the value of `key` (absent: `zero`) with one hash lookup.
    let inline accumulate (dict: Dictionary<int, 'V>) (key: int) (zero: 'V) (delta: 'V) ([<InlineIfLambda>] add: 'V -> 'V -> 'V) =
        let mutable exists = false
        let value = &System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(dict, key, &exists)
        value <- add (if exists then value else zero) delta
