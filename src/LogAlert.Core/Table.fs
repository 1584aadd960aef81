namespace LogAlert.Core

// CollectionsMarshal.GetValueRefOrAddDefault is annotated as returning a nullable reference; the
// tables here hold structs (Totals, and ints in tests), so there is no null to handle.
#nowarn "3261"

open System
open System.Collections.Generic

/// How one version of a table differs from the next one towards the current version.
type private TableData<'V> =
    | Current of Dictionary<string, 'V>
    /// Applying `changes` to `next` gives this version.
    | Diff of changes: struct (string * 'V voption)[] * next: TableNode<'V>

and [<Sealed; AllowNullLiteral>] private TableNode<'V>(data: TableData<'V>) =
    member val Data = data with get, set

/// A persistent string-keyed table with O(1) access to its newest version (Baker's trick, as in
/// Conchon & Filliâtre, "A persistent union-find data structure", 2007): the newest version owns a
/// mutable Dictionary and every older version is a chain of diffs leading to it. Reading an older
/// version first rewinds the dictionary to it and turns the chain around, so every version keeps its
/// meaning — an engine state kept from an hour ago still reads what it read then. A window with 100k
/// hosts moves by one second in the cost of that second's changes, where an immutable Map paid
/// O(log n) allocations per change. Not thread-safe: use one version from one thread at a time.
[<Sealed>]
type Table<'V> private (node: TableNode<'V>) =

    static let apply (dict: Dictionary<string, 'V>) (changes: struct (string * 'V voption)[]) =
        let inverse = Array.zeroCreate changes.Length
        for i in 0 .. changes.Length - 1 do
            let struct (key, value) = changes[i]
            inverse[changes.Length - 1 - i] <-
                match dict.TryGetValue key with
                | true, old -> struct (key, ValueSome old)
                | _ -> struct (key, ValueNone)
            match value with
            | ValueSome v -> dict[key] <- v
            | ValueNone -> dict.Remove key |> ignore
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
    static member Empty = Table<'V>(TableNode(Current(Dictionary<string, 'V>(System.StringComparer.Ordinal))))

    /// Number of entries.
    member _.Count = (reroot node).Count

    /// The value of `key`, if any.
    member _.TryFind(key: string) =
        match (reroot node).TryGetValue key with
        | true, v -> ValueSome v
        | _ -> ValueNone

    /// The `k` entries with the largest `score`, ties by key (ordinal), best first. One pass over
    /// the entries; most are rejected by one comparison with the current k-th best.
    member _.Top(k: int, score: 'V -> float) =
        let top = List<KeyValuePair<string, float>>(max k 0 + 1)
        if k > 0 then
            let dict = reroot node
            let mutable e = dict.GetEnumerator()
            while e.MoveNext() do
                let kv = e.Current
                let v = score kv.Value
                let full = top.Count = k
                if not full || v >= top[k - 1].Value then
                    let before (other: KeyValuePair<string, float>) =
                        v > other.Value || (v = other.Value && System.String.CompareOrdinal(kv.Key, other.Key) < 0)
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
        let result = Array.zeroCreate dict.Count
        let mutable i = 0
        for kv in dict do
            result[i] <- kv
            i <- i + 1
        result

    /// A new version with `deltas[i]` added (`add`) to the value of `keys[i]` for i < `count`, an
    /// absent key counting from `zero`; keys whose value is then `isZero` are removed. Keys may
    /// repeat. `after[i]` gets the value of `keys[i]` right after its delta (with distinct keys: its
    /// value in the new version, `isZero` when removed). One hash lookup per delta: this is the hot
    /// path of a window grouped by host.
    member _.Accumulate(keys: string[], deltas: 'V[], count: int, zero: 'V, add: 'V -> 'V -> 'V, isZero: 'V -> bool, after: 'V[]) =
        if count = 0 then Table<'V>(node)
        else
            let dict = reroot node
            // Every touch records the value before it; undone newest first, they restore this version.
            let inverse = List<struct (string * 'V voption)>(count + 8)
            let emptied = List<string>()
            for i in 0 .. count - 1 do
                let key = keys[i]
                let mutable exists = false
                let value = &System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(dict, key, &exists)
                inverse.Add(struct (key, (if exists then ValueSome value else ValueNone)))
                value <- add (if exists then value else zero) deltas[i]
                after[i] <- value
                if isZero value then emptied.Add key
            for key in emptied do
                // One lookup: taken out, and put back in the rare case a later delta revived it.
                let mutable v = Unchecked.defaultof<'V>
                if dict.Remove(key, &v) then
                    if isZero v then inverse.Add(struct (key, ValueSome v)) else dict[key] <- v
            inverse.Reverse()
            let newer = TableNode(Current dict)
            node.Data <- Diff(inverse.ToArray(), newer)
            Table<'V>(newer)

    /// A new version with `changes` applied (`ValueNone` removes the key); keys must be distinct.
    /// This version stays valid.
    member _.Update(changes: struct (string * 'V voption)[]) =
        if changes.Length = 0 then Table<'V>(node)
        else
            let dict = reroot node
            let inverse = apply dict changes
            let newer = TableNode(Current dict)
            node.Data <- Diff(inverse, newer)
            Table<'V>(newer)

/// Dictionary helpers the windows' hot path needs.
module internal Dictionaries =
    /// Adds `delta` to the value of `key` (absent: `zero`) with one hash lookup.
    let accumulate (dict: Dictionary<string, 'V>) (key: string) (zero: 'V) (delta: 'V) (add: 'V -> 'V -> 'V) =
        let mutable exists = false
        let value = &System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(dict, key, &exists)
        value <- add (if exists then value else zero) delta

/// A dictionary each thread reuses as scratch space, one per value type. A tally is filled and
/// emptied every second; a new dictionary each time grew, rehashing as it went, from nothing.
type internal Scratch<'V>() =
    [<System.ThreadStatic; DefaultValue>]
    static val mutable private dict: Dictionary<string, 'V> | null

    /// This thread's dictionary, emptied: valid until the next `Take` of the same type on this thread.
    static member Take() =
        match Scratch<'V>.dict with
        | null ->
            let d = Dictionary<string, 'V>(StringComparer.Ordinal)
            Scratch<'V>.dict <- d
            d
        | d ->
            d.Clear()
            d

/// Sums per string key that look keys up by reference first. The reader shares one string object
/// per distinct value in each of its two parsing threads (as long as its cache holds it), so a
/// stream of records brings the same few objects again and again, and a reference hit hashes no
/// characters. Exact whatever the objects:
/// a key the reference slots do not hold is summed in a dictionary by value.
[<Sealed>]
type internal RefTally<'V>(zero: 'V, add: 'V -> 'V -> 'V, byValue: Dictionary<string, 'V>) =
    static let size = 256 // a power of two
    // One virtual call per addition instead of F#'s curried InvokeFast (a type test, then the call).
    let add = OptimizedClosures.FSharpFunc<'V, 'V, 'V>.Adapt add
    // Made on the first Add: a window without groups has a tally it never uses.
    let mutable keys: (string | null)[] = [||]
    let mutable values: 'V[] = [||]

    /// A tally into a new dictionary of `capacity`.
    new(zero, add, capacity: int) = RefTally<'V>(zero, add, Dictionary<string, 'V>(capacity, StringComparer.Ordinal))

    /// Adds `delta` to the sum of `key`.
    member _.Add(key: string, delta: 'V) =
        if keys.Length = 0 then
            keys <- Array.zeroCreate size
            values <- Array.zeroCreate size
        let i = System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode key &&& (size - 1)
        match keys[i] with
        | held when obj.ReferenceEquals(held, key) -> values[i] <- add.Invoke(values[i], delta)
        | held ->
            match held with
            | null -> ()
            | k -> Dictionaries.accumulate byValue k zero values[i] add.Invoke
            keys[i] <- key
            values[i] <- delta

    /// The sums by value. The tally is spent: nothing may be added after.
    member _.Sums() =
        for i in 0 .. keys.Length - 1 do
            match keys[i] with
            | null -> ()
            | k ->
                Dictionaries.accumulate byValue k zero values[i] add.Invoke
                keys[i] <- null
        byValue
