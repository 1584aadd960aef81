namespace LogAlert.Core

// CollectionsMarshal.GetValueRefOrAddDefault is annotated as returning a nullable reference; the
// tables here hold structs (Totals, and ints in tests), so there is no null to handle.
#nowarn "3261"
// Dense.Prefetch takes the address of an array slot for a cache hint.
#nowarn "9"

open System
open System.Collections.Generic

/// A value and where its key stands in `Dense.Keys` (+ 1; 0: absent), side by side so that one
/// cache line holds both.
[<Struct; NoEquality; NoComparison>]
type private DenseSlot<'V> =
    val mutable Value: 'V
    val mutable At: int

/// A map from small non-negative ints (label value ids, dense from 0 per label) to values: an array
/// indexed by the key, and the keys present in a list for counting and walking them. A look-up is
/// one array read and nothing is hashed; `Prefetch` asks for a slot's cache line ahead of its use,
/// so that a batch of updates to a table larger than the caches (100k hosts) waits for many misses
/// at once instead of one after another. When the keys are sparse — a key far beyond eight times
/// the count: few hosts of a busy site, or a long run that has seen many more hosts than the
/// window holds — it turns into a dictionary for good, so memory follows the entries held.
[<Sealed>]
type private Dense<'V>() =
    let mutable slots: DenseSlot<'V>[] = Array.zeroCreate 16
    let keys = List<int>()
    let mutable sparse: Dictionary<int, 'V> | null = null

    /// The keys present, in no particular order.
    member _.Keys: IEnumerable<int> =
        match sparse with
        | null -> keys
        | map -> map.Keys

    member _.Count =
        match sparse with
        | null -> keys.Count
        | map -> map.Count

    member _.TryGetValue(key: int, value: outref<'V>) =
        match sparse with
        | null ->
            if key < slots.Length && slots[key].At <> 0 then
                value <- slots[key].Value
                true
            else false
        | map -> map.TryGetValue(key, &value)

    /// The value of `key`, added as `Unchecked.defaultof` when absent (`exists` says which).
    member _.GetValueRefOrAdd(key: int, exists: outref<bool>) : byref<'V> =
        if isNull sparse && key >= slots.Length then
            if key >= 8 * (keys.Count + 1024) then
                let map = Dictionary<int, 'V>(keys.Count * 2)
                for k in keys do
                    map[k] <- slots[k].Value
                sparse <- map
                slots <- [||]
                keys.Clear()
                keys.TrimExcess()
            else
                let grown = Array.zeroCreate (max (key + 1) (slots.Length * 2))
                Array.blit slots 0 grown 0 slots.Length
                slots <- grown
        match sparse with
        | null ->
            let slot = &slots[key]
            exists <- slot.At <> 0
            if not exists then
                keys.Add key
                slot.At <- keys.Count
            &slot.Value
        | map -> &Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(map, key, &exists)

    member this.Set(key: int, value: 'V) =
        let mutable exists = false
        let v = &this.GetValueRefOrAdd(key, &exists)
        v <- value

    /// Removes `key` if present; in the array, its place in the key list goes to the last key.
    member _.Remove(key: int) =
        match sparse with
        | null ->
            if key < slots.Length && slots[key].At <> 0 then
                let at = slots[key].At - 1
                let last = keys[keys.Count - 1]
                keys[at] <- last
                slots[last].At <- at + 1
                keys.RemoveAt(keys.Count - 1)
                slots[key].At <- 0
                slots[key].Value <- Unchecked.defaultof<'V>
        | map -> map.Remove key |> ignore

    member _.Item(key: int) =
        match sparse with
        | null -> slots[key].Value
        | map -> map[key]

    /// A hint that `key` is about to be read or written. The address only names a cache line: if the
    /// collector moves the array meanwhile, the hint is merely wasted.
    member _.Prefetch(key: int) =
        if Runtime.Intrinsics.X86.Sse.IsSupported && isNull sparse && key < slots.Length then
            Runtime.Intrinsics.X86.Sse.Prefetch0(Runtime.CompilerServices.Unsafe.AsPointer(&slots[key]))

/// How one version of a table differs from the next one towards the current version.
type private TableData<'V> =
    | Current of Dense<'V>
    /// Applying `changes` to `next` gives this version.
    | Diff of changes: struct (int * 'V voption)[] * next: TableNode<'V>

and [<Sealed; AllowNullLiteral>] private TableNode<'V>(data: TableData<'V>) =
    member val Data = data with get, set

/// A persistent table keyed by label value ids (`Label.idOf`, dense from 0) with O(1) access to its
/// newest version (Baker's trick, as in Conchon & Filliâtre, "A persistent union-find data
/// structure", 2007): the newest version owns a mutable array indexed by key (`Dense`) and every
/// older version is a chain of diffs leading to it. Reading an older
/// version first rewinds the dictionary to it and turns the chain around, so every version keeps its
/// meaning — an engine state kept from an hour ago still reads what it read then. A window with 100k
/// hosts moves by one second in the cost of that second's changes, where an immutable Map paid
/// O(log n) allocations per change. Not thread-safe: use one version from one thread at a time.
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

    /// Makes `node` the current version and returns its dictionary.
    static let reroot (node: TableNode<'V>) =
        // Walk to the current version, then apply the diffs back towards `node`, reversing each link.
        let path = Stack<TableNode<'V>>()
        let rec find (at: TableNode<'V>) =
            match at.Data with
            | Current d -> struct (d, at)
            | Diff(_, next) ->
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
            | Current _ -> ()
        dict

    /// A table with no entries.
    static member Empty = Table<'V>(TableNode(Current(Dense<'V>())))

    /// Number of entries.
    member _.Count = (reroot node).Count

    /// The value of `key`, if any.
    member _.TryFind(key: int) =
        let mutable v = Unchecked.defaultof<'V>
        if (reroot node).TryGetValue(key, &v) then ValueSome v else ValueNone

    /// The `k` entries with the largest `score`, ties by `name` of the key (ordinal), best first. One
    /// pass over the entries; most are rejected by one comparison with the current k-th best.
    member _.Top(k: int, score: 'V -> float, name: int -> string) =
        let top = List<KeyValuePair<int, float>>(max k 0 + 1)
        if k > 0 then
            let dict = reroot node
            for key in dict.Keys do
                let kv = KeyValuePair(key, dict[key])
                let v = score kv.Value
                let full = top.Count = k
                if not full || v >= top[k - 1].Value then
                    let before (other: KeyValuePair<int, float>) =
                        v > other.Value
                        || (v = other.Value && System.String.CompareOrdinal(name kv.Key, name other.Key) < 0)
                    if not full || before top[k - 1] then
                        let mutable i = top.Count
                        while i > 0 && before top[i - 1] do
                            i <- i - 1
                        top.Insert(i, KeyValuePair(kv.Key, v))
                        if top.Count > k then top.RemoveAt k
        top.ToArray()

    /// The entries, in no particular order, copied out.
    member _.ToArray() =
        let dict = reroot node
        [| for key in dict.Keys -> KeyValuePair(key, dict[key]) |]

    /// A new version with `deltas[i]` added (`add`) to the value of `keys[i]` for i < `count`, an
    /// absent key counting from `zero`; keys whose value is then `isZero` are removed. Keys may
    /// repeat. `after[i]` gets the value of `keys[i]` right after its delta (with distinct keys: its
    /// value in the new version, `isZero` when removed). One hash lookup per delta: this is the hot
    /// path of a window grouped by host.
    member _.Accumulate(keys: int[], deltas: 'V[], count: int, zero: 'V, add: 'V -> 'V -> 'V, isZero: 'V -> bool, after: 'V[]) =
        if count = 0 then Table<'V>(node)
        else
            let dict = reroot node
            // Every touch records the value before it, newest first: undone in that order they restore
            // this version, removals included (a removed key was touched, and its first touch, undone
            // last, puts its old value back). One array of the exact size, no list to copy out of.
            let inverse = Array.zeroCreate count
            let mutable emptied = 0
            // Slots a few keys ahead are asked for while this one is read: with 100k hosts most are
            // cache misses, and this way several are in flight at once.
            let ahead = 8
            for i in 0 .. min ahead count - 1 do
                dict.Prefetch keys[i]
            for i in 0 .. count - 1 do
                if i + ahead < count then dict.Prefetch keys[i + ahead]
                let key = keys[i]
                let mutable exists = false
                let value = &dict.GetValueRefOrAdd(key, &exists)
                inverse[count - 1 - i] <- struct (key, (if exists then ValueSome value else ValueNone))
                value <- add (if exists then value else zero) deltas[i]
                after[i] <- value
                if isZero value then emptied <- emptied + 1
            if emptied > 0 then
                for i in 0 .. count - 1 do
                    // Taken out when its last delta left it at zero (a later delta may have revived it).
                    if isZero after[i] then
                        let mutable v = Unchecked.defaultof<'V>
                        if dict.TryGetValue(keys[i], &v) && isZero v then dict.Remove keys[i]
            let newer = TableNode(Current dict)
            node.Data <- Diff(inverse, newer)
            Table<'V>(newer)

    /// A new version with `changes` applied (`ValueNone` removes the key); keys must be distinct.
    /// This version stays valid.
    member _.Update(changes: struct (int * 'V voption)[]) =
        if changes.Length = 0 then Table<'V>(node)
        else
            let dict = reroot node
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


/// Dictionary helpers the windows' hot path needs.
module internal Dictionaries =
    /// Adds `delta` to the value of `key` (absent: `zero`) with one hash lookup.
    let inline accumulate (dict: Dictionary<int, 'V>) (key: int) (zero: 'V) (delta: 'V) ([<InlineIfLambda>] add: 'V -> 'V -> 'V) =
        let mutable exists = false
        let value = &System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(dict, key, &exists)
        value <- add (if exists then value else zero) delta
