namespace LogAlert.Core

/// The arrays behind `SecondLog`s: keys ascending, values beside them. A slot is written once, when
/// a version whose last slot is `Used - 1` appends; it is never written again, so every version
/// that covers it reads the same value for good.
[<Sealed; AllowNullLiteral>]
type internal LogBuffer<'T>(capacity: int) =
    member val Keys: int64[] = Array.zeroCreate capacity
    member val Values: 'T[] = Array.zeroCreate capacity
    /// Slots written: `[0, Used)`.
    member val Used = 0 with get, set

/// A persistent sequence of seconds and values in ascending order, for the store's seconds: each
/// new second is appended at the end (records come in time order, and seconds close in order), and
/// the oldest are dropped from the front. Both cost no copy: a version is a window
/// `[Start, Start + Count)` of a shared buffer, an append writes the next slot in place when this
/// version ends where the buffer does (the usual case: the newest state appends), and a drop moves
/// `Start`. A version that appends after another
/// already did (an older state used again) copies its window to a new buffer first. A balanced tree
/// paid a path copy (eight nodes for two minutes) for each of those steps.
[<Struct; NoEquality; NoComparison>]
type internal SecondLog<'T> =
    { Buffer: LogBuffer<'T>
      Start: int
      Count: int }

/// Reading and writing `SecondLog`s.
[<RequireQualifiedAccess>]
module internal SecondLog =

    let empty<'T> : SecondLog<'T> = { Buffer = null; Start = 0; Count = 0 }

    /// The index in the buffer of the first key at or after `key` (`Start + Count` when none).
    /// The store asks mostly for its first or last second (the second closing, the one entering a
    /// window, the one leaving it): those are checked before the search. Keys are distinct.
    let private lowerBound key (log: SecondLog<'T>) =
        let mutable lo = log.Start
        let mutable hi = log.Start + log.Count
        if lo < hi then
            let keys = log.Buffer.Keys
            if key <= keys[lo] then hi <- lo
            elif key > keys[hi - 1] then lo <- hi
            elif key = keys[hi - 1] then
                lo <- hi - 1
                hi <- lo
            while lo < hi do
                let mid = lo + (hi - lo) / 2
                if keys[mid] < key then lo <- mid + 1 else hi <- mid
        lo

    /// A new buffer holding `keys` and `values` (`count` of each, from `from`), with room to grow.
    let private copied (log: SecondLog<'T>) (extra: int) =
        let buffer = LogBuffer<'T>(max 16 (2 * (log.Count + extra)))
        if log.Count > 0 then
            System.Array.Copy(log.Buffer.Keys, log.Start, buffer.Keys, 0, log.Count)
            System.Array.Copy(log.Buffer.Values, log.Start, buffer.Values, 0, log.Count)
        buffer.Used <- log.Count
        { Buffer = buffer; Start = 0; Count = log.Count }

    /// The value of `key`, if present.
    let tryFind key (log: SecondLog<'T>) =
        if log.Count = 0 then ValueNone
        else
            let i = lowerBound key log
            if i < log.Start + log.Count && log.Buffer.Keys[i] = key then ValueSome log.Buffer.Values[i] else ValueNone

    /// The earliest key at or after `key`, if any.
    let ceiling key (log: SecondLog<'T>) =
        if log.Count = 0 then ValueNone
        else
            let i = lowerBound key log
            if i < log.Start + log.Count then ValueSome log.Buffer.Keys[i] else ValueNone

    /// The earliest key, if any.
    let tryFirst (log: SecondLog<'T>) =
        if log.Count = 0 then ValueNone else ValueSome log.Buffer.Keys[log.Start]

    /// The earliest key and its value, if any.
    let tryFirstEntry (log: SecondLog<'T>) =
        if log.Count = 0 then ValueNone else ValueSome(struct (log.Buffer.Keys[log.Start], log.Buffer.Values[log.Start]))

    /// The latest key, if any.
    let tryLast (log: SecondLog<'T>) =
        if log.Count = 0 then ValueNone else ValueSome log.Buffer.Keys[log.Start + log.Count - 1]

    /// The log with `key` and `value` after its last key, which must be below `key`.
    let append key (value: 'T) (log: SecondLog<'T>) =
        let stop = log.Start + log.Count
        let log =
            if not (isNull log.Buffer) && stop = log.Buffer.Used && stop < log.Buffer.Keys.Length
               // Half the buffer dead in front (dropped seconds still referenced): moved instead.
               && log.Start <= max 16 log.Count then log
            else copied log 1
        let at = log.Start + log.Count
        log.Buffer.Keys[at] <- key
        log.Buffer.Values[at] <- value
        log.Buffer.Used <- at + 1
        { log with Count = log.Count + 1 }

    /// The log with `key` set to `update` of its value (`ValueNone` when absent): a copy of the
    /// log, unless `key` is after its last key (then an `append`). For late records in seconds
    /// whose records are gone, which are rare.
    let upsert key (update: 'T voption -> 'T) (log: SecondLog<'T>) =
        match tryLast log with
        | ValueSome last when last >= key ->
            let copy = copied log 1
            let i = lowerBound key copy
            if copy.Buffer.Keys[i] = key then
                copy.Buffer.Values[i] <- update (ValueSome copy.Buffer.Values[i])
                copy
            else
                let n = copy.Count - i
                System.Array.Copy(copy.Buffer.Keys, i, copy.Buffer.Keys, i + 1, n)
                System.Array.Copy(copy.Buffer.Values, i, copy.Buffer.Values, i + 1, n)
                copy.Buffer.Keys[i] <- key
                copy.Buffer.Values[i] <- update ValueNone
                copy.Buffer.Used <- copy.Count + 1
                { copy with Count = copy.Count + 1 }
        | _ -> append key (update ValueNone) log

    /// The log without `key`: the first key goes by moving `Start` (the open seconds close from
    /// the front), any other by a copy.
    let remove key (log: SecondLog<'T>) =
        match tryFind key log with
        | ValueNone -> log
        | ValueSome _ when log.Buffer.Keys[log.Start] = key -> { log with Start = log.Start + 1; Count = log.Count - 1 }
        | ValueSome _ ->
            let copy = copied log 0
            let i = lowerBound key copy
            let n = copy.Count - i - 1
            System.Array.Copy(copy.Buffer.Keys, i + 1, copy.Buffer.Keys, i, n)
            System.Array.Copy(copy.Buffer.Values, i + 1, copy.Buffer.Values, i, n)
            copy.Buffer.Values[copy.Count - 1] <- Unchecked.defaultof<'T>
            copy.Buffer.Used <- copy.Count - 1
            { copy with Count = copy.Count - 1 }

    /// The log without the keys before `key`.
    let dropBefore key (log: SecondLog<'T>) =
        if log.Count = 0 || log.Buffer.Keys[log.Start] >= key then log
        else
            let i = lowerBound key log
            { log with Start = i; Count = log.Start + log.Count - i }

    /// Calls `action` with every key in `[first, last]` and its value, in order.
    let iterRange first last (action: int64 -> 'T -> unit) (log: SecondLog<'T>) =
        if log.Count > 0 && first <= last then
            let stop = log.Start + log.Count
            let mutable i = lowerBound first log
            while i < stop && log.Buffer.Keys[i] <= last do
                action log.Buffer.Keys[i] log.Buffer.Values[i]
                i <- i + 1

    /// Calls `action` with every key and its value, in order.
    let iter (action: int64 -> 'T -> unit) (log: SecondLog<'T>) =
        for i in log.Start .. log.Start + log.Count - 1 do
            action log.Buffer.Keys[i] log.Buffer.Values[i]
