namespace LogAlert.Core

open System.Collections.Generic

/// A node of a `SecondMap`: immutable, shared between the versions of the map.
[<Sealed; AllowNullLiteral>]
type internal SecondNode<'T>(key: int64, value: 'T, left: SecondNode<'T>, right: SecondNode<'T>, height: int) =
    member _.Key = key
    member _.Value = value
    member _.Left = left
    member _.Right = right
    member _.Height = height

/// A persistent map from seconds to values, in time order: an AVL tree. The store's buckets live in
/// one. F#'s `Map` did the same job, but through a comparer call per step and with no way to ask
/// for the first second at or after another, which is how evaluation finds the next second a
/// window changes (`ceiling`) and how a window moved across a gap finds the seconds that enter and
/// leave it (`range`) without visiting the seconds between.
[<Struct; NoEquality; NoComparison>]
type internal SecondMap<'T> =
    { Root: SecondNode<'T>
      Count: int }

/// Reading and writing `SecondMap`s.
[<RequireQualifiedAccess>]
module internal SecondMap =

    let empty<'T> : SecondMap<'T> = { Root = null; Count = 0 }

    let inline private height (n: SecondNode<'T>) = if isNull n then 0 else n.Height

    let private make key value (l: SecondNode<'T>) (r: SecondNode<'T>) =
        SecondNode(key, value, l, r, 1 + max (height l) (height r))

    // The node with its subtrees' heights at most 2 apart, rebalanced to at most 1 apart.
    let private balance key value (l: SecondNode<'T>) (r: SecondNode<'T>) =
        let hl, hr = height l, height r
        if hl > hr + 1 then
            if height l.Left >= height l.Right then make l.Key l.Value l.Left (make key value l.Right r)
            else make l.Right.Key l.Right.Value (make l.Key l.Value l.Left l.Right.Left) (make key value l.Right.Right r)
        elif hr > hl + 1 then
            if height r.Right >= height r.Left then make r.Key r.Value (make key value l r.Left) r.Right
            else make r.Left.Key r.Left.Value (make key value l r.Left.Left) (make r.Key r.Value r.Left.Right r.Right)
        else make key value l r

    let isEmpty (map: SecondMap<'T>) = map.Count = 0

    /// The value at `key`, if any.
    let tryFind key (map: SecondMap<'T>) =
        let mutable n = map.Root
        let mutable found = ValueNone
        while not (isNull n) do
            if key < n.Key then n <- n.Left
            elif key > n.Key then n <- n.Right
            else
                found <- ValueSome n.Value
                n <- null
        found

    let rec private insert key value (n: SecondNode<'T>) (added: byref<bool>) =
        if isNull n then
            added <- true
            SecondNode(key, value, null, null, 1)
        elif key < n.Key then balance n.Key n.Value (insert key value n.Left &added) n.Right
        elif key > n.Key then balance n.Key n.Value n.Left (insert key value n.Right &added)
        else SecondNode(key, value, n.Left, n.Right, n.Height)

    /// The map with `value` at `key` (replacing what was there).
    let add key value (map: SecondMap<'T>) =
        let mutable added = false
        let root = insert key value map.Root &added
        { Root = root; Count = if added then map.Count + 1 else map.Count }

    let rec private removeMin (n: SecondNode<'T>) =
        if isNull n.Left then n.Right else balance n.Key n.Value (removeMin n.Left) n.Right

    let rec private minNode (n: SecondNode<'T>) = if isNull n.Left then n else minNode n.Left

    let rec private delete key (n: SecondNode<'T>) (removed: byref<bool>) =
        if isNull n then n
        elif key < n.Key then
            let l = delete key n.Left &removed
            if removed then balance n.Key n.Value l n.Right else n
        elif key > n.Key then
            let r = delete key n.Right &removed
            if removed then balance n.Key n.Value n.Left r else n
        else
            removed <- true
            if isNull n.Left then n.Right
            elif isNull n.Right then n.Left
            else
                let m = minNode n.Right
                balance m.Key m.Value n.Left (removeMin n.Right)

    /// The map without `key` (the same map when it has none).
    let remove key (map: SecondMap<'T>) =
        let mutable removed = false
        let root = delete key map.Root &removed
        if removed then { Root = root; Count = map.Count - 1 } else map

    /// The earliest key and its value, if any.
    let tryMin (map: SecondMap<'T>) =
        if isNull map.Root then ValueNone
        else
            let m = minNode map.Root
            ValueSome(KeyValuePair(m.Key, m.Value))

    /// The map without its earliest key.
    let removeFirst (map: SecondMap<'T>) =
        if isNull map.Root then map else { Root = removeMin map.Root; Count = map.Count - 1 }

    /// The earliest key at or after `key`, if any.
    let ceiling key (map: SecondMap<'T>) =
        let mutable n = map.Root
        let mutable best = ValueNone
        while not (isNull n) do
            if n.Key < key then n <- n.Right
            else
                best <- ValueSome n.Key
                n <- if n.Key = key then null else n.Left
        best

    /// Calls `action` with every key in `[first, last]` and its value, in order: costs the depth of
    /// the tree and the keys in the range, not the seconds in it.
    let iterRange first last (action: int64 -> 'T -> unit) (map: SecondMap<'T>) =
        let rec go (n: SecondNode<'T>) =
            if not (isNull n) then
                if n.Key > first then go n.Left
                if n.Key >= first && n.Key <= last then action n.Key n.Value
                if n.Key < last then go n.Right
        if first <= last then go map.Root

    /// Calls `action` with every key and its value, in order.
    let iter (action: int64 -> 'T -> unit) (map: SecondMap<'T>) =
        let rec go (n: SecondNode<'T>) =
            if not (isNull n) then
                go n.Left
                action n.Key n.Value
                go n.Right
        go map.Root
