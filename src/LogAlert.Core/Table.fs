namespace LogAlert.Core

// CollectionsMarshal.GetValueRefOrAddDefault is annotated as returning a nullable reference; the
// tables here hold structs (Totals, and ints in tests), so there is no null to handle.
#nowarn "3261"

open System
open System.Collections.Generic

/// How one version of a table differs from the next one towards the current version.
type private TableData<'V> =
    | Current of Dictionary<int, 'V>
    /// Applying `changes` to `next` gives this version.
    | Diff of changes: struct (int * 'V voption)[] * next: TableNode<'V>

and [<Sealed; AllowNullLiteral>] private TableNode<'V>(data: TableData<'V>) =
    member val Data = data with get, set

/// A persistent int-keyed table (keys are label value ids, `Label.idOf`) with O(1) access to its newest version (Baker's trick, as in
/// Conchon & Filliâtre, "A persistent union-find data structure", 2007): the newest version owns a
/// mutable Dictionary and every older version is a chain of diffs leading to it. Reading an older
/// version first rewinds the dictionary to it and turns the chain around, so every version keeps its
/// meaning — an engine state kept from an hour ago still reads what it read then. A window with 100k
/// hosts moves by one second in the cost of that second's changes, where an immutable Map paid
/// O(log n) allocations per change. Not thread-safe: use one version from one thread at a time.
[<Sealed>]
type Table<'V> private (node: TableNode<'V>) =

    static let apply (dict: Dictionary<int, 'V>) (changes: struct (int * 'V voption)[]) =
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
    static member Empty = Table<'V>(TableNode(Current(Dictionary<int, 'V>())))

    /// Number of entries.
    member _.Count = (reroot node).Count

    /// The value of `key`, if any.
    member _.TryFind(key: int) =
        match (reroot node).TryGetValue key with
        | true, v -> ValueSome v
        | _ -> ValueNone

    /// The `k` entries with the largest `score`, ties by `name` of the key (ordinal), best first. One
    /// pass over the entries; most are rejected by one comparison with the current k-th best.
    member _.Top(k: int, score: 'V -> float, name: int -> string) =
        let top = List<KeyValuePair<int, float>>(max k 0 + 1)
        if k > 0 then
            let dict = reroot node
            let mutable e = dict.GetEnumerator()
            while e.MoveNext() do
                let kv = e.Current
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
    member _.Accumulate(keys: int[], deltas: 'V[], count: int, zero: 'V, add: 'V -> 'V -> 'V, isZero: 'V -> bool, after: 'V[]) =
        if count = 0 then Table<'V>(node)
        else
            let dict = reroot node
            // Every touch records the value before it, newest first: undone in that order they restore
            // this version, removals included (a removed key was touched, and its first touch, undone
            // last, puts its old value back). One array of the exact size, no list to copy out of.
            let inverse = Array.zeroCreate count
            let mutable emptied = 0
            for i in 0 .. count - 1 do
                let key = keys[i]
                let mutable exists = false
                let value = &System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(dict, key, &exists)
                inverse[count - 1 - i] <- struct (key, (if exists then ValueSome value else ValueNone))
                value <- add (if exists then value else zero) deltas[i]
                after[i] <- value
                if isZero value then emptied <- emptied + 1
            if emptied > 0 then
                for i in 0 .. count - 1 do
                    // Taken out when its last delta left it at zero (a later delta may have revived it).
                    if isZero after[i] then
                        let mutable v = Unchecked.defaultof<'V>
                        if dict.Remove(keys[i], &v) && not (isZero v) then dict[keys[i]] <- v
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
