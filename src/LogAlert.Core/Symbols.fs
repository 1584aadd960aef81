namespace LogAlert.Core

// Symbols.Prefetch takes the address of an index slot or a text for a cache hint.
#nowarn "9"

open System
open System.Collections.Generic

/// A number of a dotted-quad IPv4 text, for `Symbols`.
module internal Ipv4 =
    /// The number at `first .. past - 1` of the text at `start` of the bytes from `at` (the 4 bytes
    /// before `start + past` must be there, and the number's bytes digits): 1 to 3 digits, no
    /// leading zero, at most 255; else -1. Read at once from those 4 bytes.
    let inline octet (at: byref<byte>) (start: int) (first: int) (past: int) =
        let n = past - first
        // The 3 bytes before `past`, the digits the last n of them; the others masked off, so
        // there is no borrow (every byte kept is a digit).
        let w = Runtime.CompilerServices.Unsafe.ReadUnaligned<uint32>(&Runtime.CompilerServices.Unsafe.Add(&at, start + past - 4)) >>> 8
        let shift = 8 * (3 - n)
        let mask = (0xFFFFFFu <<< shift) &&& 0xFFFFFFu
        let d = (w &&& mask) - (0x303030u &&& mask)
        let value = int (d &&& 0xFFu) * 100 + int ((d >>> 8) &&& 0xFFu) * 10 + int (d >>> 16)
        if uint (n - 1) > 2u || (n > 1 && (d >>> shift) &&& 0xFFu = 0u) || value > 255 then -1 else value

/// A set of ids, as bits: the ids of one label that the engine's state holds, for `Symbols.Retain`.
[<Sealed>]
type IdSet() =
    let mutable words: uint64[] = Array.zeroCreate 64

    /// Adds `id` (non-negative).
    member _.Add(id: int) =
        let w = id >>> 6
        if w >= words.Length then
            let grown = Array.zeroCreate (max (w + 1) (words.Length * 2))
            Array.blit words 0 grown 0 words.Length
            words <- grown
        words[w] <- words[w] ||| (1UL <<< (id &&& 63))

    /// Whether `id` was added.
    [<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)>]
    member _.Contains(id: int) =
        let w = id >>> 6
        w < words.Length && words[w] &&& (1UL <<< (id &&& 63)) <> 0UL

/// Process-wide interning of the text of one label (hosts, users, methods or sections: one table
/// each, so that each label's ids are dense from 0) to ids, so that a record holds no reference:
/// an array of records is one object the garbage collector never scans, and windows, tallies and
/// summaries key their tables by an int that hashes and compares at once instead of by a string
/// read from a cold cache line. A text keeps its id for as long as anything holds the id: a run
/// that has seen millions of hosts over days keeps only those its windows, tallies and summaries
/// still hold, because the shell, at a moment when nothing else holds ids (the reader paused at a
/// sweep point), gives the others back (`Retain`), and they are handed out again for new texts.
/// Until then an id means the same thing in every state that holds it.
///
/// Each text is kept once in an arena as its id, its length and its UTF-8 bytes, side by side. A
/// canonical IPv4 text (most hosts) is found by an open-addressing index keyed by its address: a
/// look-up of one not in cache costs one cache miss. Any other text is found by an index whose
/// slots hold its hash beside its place in the arena: two misses, the slot and the text. Nothing in
/// it holds a reference; strings are made on first `Name`.
/// Look-ups take no lock; adding takes one (the reader's two parsing threads add while the fold
/// reads): a slot is published after everything it points to, and whoever holds an id got it after
/// that. A text costs about 40 bytes while it is held, plus its string and an entry of about 40
/// bytes once named.
[<Sealed>]
type Symbols() =
    static let hosts = Symbols()
    static let users = Symbols()
    static let methods = Symbols()
    static let sections = Symbols()
    // Bumped by every `Retain`: memos keyed by id (a selector's verdicts, the reader's caches) from
    // an earlier epoch may name texts that have since been given back.
    static let mutable epoch = 0
    // Texts a table holds before `Retain` is worth a pause of the reader: below it, memory is small.
    static let mutable sweepFrom = 1 <<< 19
    // The texts a record has only when its format logs them: `-`, pinned first so that it is id 0
    // and a record that never set them (`default`, a CSV line) reads `-`. Lazy: a table cannot be
    // written while the type's statics are still being initialised.
    static let dashFirst () =
        lazy
            (let table = Symbols()
             if table.Pin "-" <> 0 then invalidOp "the first text of a new table is not id 0"
             table)
    static let virtualHosts = dashFirst ()
    static let referers = dashFirst ()
    static let userAgents = dashFirst ()

    // A Lock, not a Monitor on an object: 756k distinct hosts take it once each.
    let gate = Threading.Lock()
    // Slot: the hash in the high 32 bits, the text's arena offset + 1 in the low ones; 0 is empty.
    // A power of two, at most half full.
    [<VolatileField>]
    let mutable index: int64[] = Array.zeroCreate 4096
    // At each text's offset: its id (4 bytes), its length (4), its bytes.
    [<VolatileField>]
    let mutable arena: byte[] = Array.zeroCreate 65536
    // Per id: the offset of its text in the arena.
    [<VolatileField>]
    let mutable offsets: int[] = Array.zeroCreate 1024
    // The strings of the ids named so far: usually few (the hosts a top-k or an alert names, the
    // sections a summary lists; a top-k names every group tied with its last one), where an array
    // of one reference per id was 8 MB for 756k hosts, nearly all null, written for every new host
    // and scanned by every full collection. A named id costs its string and an entry of about 40
    // bytes here.
    let named = Collections.Concurrent.ConcurrentDictionary<int, string>()
    // Canonical dotted-quad IPv4 texts (`10.1.2.3`: four numbers up to 255, none with a leading
    // zero), most hosts of most logs, are found by their address instead: slot = the address in
    // the high 32 bits, the id + 1 in the low ones; 0 is empty. A look-up reads one slot and no
    // text (756k distinct hosts: one cache miss instead of two, and no compare). Such a text is
    // never in `index`, and any other text never here, so each text has one place. A power of
    // two, at most three quarters full: a slot holds no text to compare, so a longer probe stays
    // in the same cache line or the next, and the smaller table leaves the caches to the rest
    // (docs/performance.md, "Choices in the code and what they bought").
    [<VolatileField>]
    let mutable addresses: int64[] = Array.zeroCreate 1024
    let mutable used = 0 // arena bytes in use
    let mutable count = 0 // one past the largest id handed out
    // Ids `Retain` gave back, handed out again before new ones, the smallest first (taken from the
    // end of an array in descending order), so that tables indexed by id stay as small as what is held.
    let mutable free: int[] = Array.Empty()
    let mutable freeCount = 0
    // Ids kept for the life of the process whatever `Retain` is told (the reader's constants).
    let pinned = HashSet<int>()
    // Texts held after the last `Retain`.
    let mutable keptAtSweep = 0
    let mutable indexed = 0 // texts in `index`
    let mutable addressed = 0 // texts in `addresses`

    static let hash (utf8: ReadOnlySpan<byte>) =
        // Eight bytes a step, multiply and mix: label texts are short.
        let mutable h = 0x9E3779B97F4A7C15UL ^^^ uint64 utf8.Length
        let mutable i = 0
        while i + 8 <= utf8.Length do
            h <- (h ^^^ Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(utf8.Slice i)) * 0xC2B2AE3D27D4EB4FUL
            h <- h ^^^ (h >>> 29)
            i <- i + 8
        let mutable tail = 0UL
        for j in i .. utf8.Length - 1 do
            tail <- (tail <<< 8) ||| uint64 utf8[j]
        h <- (h ^^^ tail) * 0x9E3779B97F4A7C15UL
        int (h >>> 32)

    // The address of a canonical dotted-quad IPv4 text, or -1.
    static let addressOf (utf8: ReadOnlySpan<byte>) =
        if utf8.Length < 7 || utf8.Length > 15 then -1L
        else
            let mutable address = 0L
            let mutable part = 0
            let mutable digits = 0
            let mutable dots = 0
            let mutable ok = true
            let mutable i = 0
            while ok && i < utf8.Length do
                let b = utf8[i]
                if b = '.'B then
                    if digits = 0 || dots = 3 then ok <- false
                    else
                        address <- (address <<< 8) ||| int64 part
                        part <- 0
                        digits <- 0
                        dots <- dots + 1
                else
                    let d = int b - int '0'B
                    // No sign, no space, no leading zero (`01` is not `1`: another text).
                    if d < 0 || d > 9 || (digits = 1 && part = 0) then ok <- false
                    else
                        part <- part * 10 + d
                        digits <- digits + 1
                        if part > 255 then ok <- false
                i <- i + 1
            if ok && dots = 3 && digits > 0 then (address <<< 8) ||| int64 part else -1L

    // `addressOf` of `line.Slice(start, length)` when the 16 bytes from `start` and the 3 before it
    // are in `line` (else -1 without an answer: ask `addressOf`). One compare of 16 bytes finds
    // the dots and the digits, and each number is read at once from the 4 bytes before its end: the
    // loop of `addressOf` mispredicts a branch or two per number.
    static let addressIn (line: ReadOnlySpan<byte>) (start: int) (length: int) =
        let at = &Runtime.InteropServices.MemoryMarshal.GetReference line
        let v = Runtime.Intrinsics.Vector128.LoadUnsafe(&at, unativeint start)
        let inField = (1u <<< length) - 1u
        let dots =
            Runtime.Intrinsics.Vector128.ExtractMostSignificantBits(
                Runtime.Intrinsics.Vector128.Equals(v, Runtime.Intrinsics.Vector128.Create '.'B)) &&& inField
        let digits =
            Runtime.Intrinsics.Vector128.ExtractMostSignificantBits(
                Runtime.Intrinsics.Vector128.LessThanOrEqual(
                    v - Runtime.Intrinsics.Vector128.Create '0'B, Runtime.Intrinsics.Vector128.Create 9uy)) &&& inField
        // A dot first is no address, and would have the first number read from `start - 4`.
        if (dots ||| digits) <> inField || Numerics.BitOperations.PopCount dots <> 3 || dots &&& 1u <> 0u then -1L
        else
            let p1 = Numerics.BitOperations.TrailingZeroCount dots
            let rest = dots &&& (dots - 1u)
            let p2 = Numerics.BitOperations.TrailingZeroCount rest
            let p3 = Numerics.BitOperations.TrailingZeroCount(rest &&& (rest - 1u))
            let o1 = Ipv4.octet &at start 0 p1
            let o2 = Ipv4.octet &at start (p1 + 1) p2
            let o3 = Ipv4.octet &at start (p2 + 1) p3
            let o4 = Ipv4.octet &at start (p3 + 1) length
            if (o1 ||| o2 ||| o3 ||| o4) < 0 then -1L
            else (int64 o1 <<< 24) ||| (int64 o2 <<< 16) ||| (int64 o3 <<< 8) ||| int64 o4

    // Where an address's search starts in a table of `mask` + 1 slots (a multiplicative hash).
    static let addressStart (address: int64) (mask: int) =
        int ((uint64 address * 0x9E3779B97F4A7C15UL) >>> 32) &&& mask

    // The id of `address` in `slots`, or -1.
    static let findAddress (slots: int64[]) (address: int64) =
        let mask = slots.Length - 1
        let mutable i = addressStart address mask
        let mutable result = -2
        while result = -2 do
            let slot = Threading.Volatile.Read(&slots.[i])
            if slot = 0L then result <- -1
            elif (slot >>> 32) &&& 0xFFFFFFFFL = address then result <- int (slot &&& 0xFFFFFFFFL) - 1
            else i <- (i + 1) &&& mask
        result

    static let placeAddress (slots: int64[]) (address: int64) (id: int) =
        let mask = slots.Length - 1
        let mutable i = addressStart address mask
        while slots[i] <> 0L do
            i <- (i + 1) &&& mask
        Threading.Volatile.Write(&slots.[i], (address <<< 32) ||| int64 (uint32 (id + 1)))

    // A key says where `Intern` files a text: an address (bit 32 set, the address below it), or
    // the text's hash (the low 32 bits).
    static let addressBit = 1L <<< 32

    static let keyOf (utf8: ReadOnlySpan<byte>) =
        match addressOf utf8 with
        | -1L -> int64 (uint32 (hash utf8))
        | address -> addressBit ||| address

    static let readInt (bytes: byte[]) (at: int) =
        Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(ReadOnlySpan(bytes, at, 4))

    // The id of `utf8` in `slots`, or -1.
    let find (slots: int64[]) (utf8: ReadOnlySpan<byte>) (h: int) =
        let mask = slots.Length - 1
        let mutable i = h &&& mask
        let mutable result = -2
        while result = -2 do
            let slot = Threading.Volatile.Read(&slots.[i])
            if slot = 0L then result <- -1
            elif int (slot >>> 32) = h then
                let at = int (slot &&& 0xFFFFFFFFL) - 1
                let text = arena
                if readInt text (at + 4) = utf8.Length && utf8.SequenceEqual(ReadOnlySpan(text, at + 8, utf8.Length)) then
                    result <- readInt text at
                else i <- (i + 1) &&& mask
            else i <- (i + 1) &&& mask
        result

    static let place (slots: int64[]) (h: int) (at: int) =
        let mask = slots.Length - 1
        let mutable i = h &&& mask
        while slots[i] <> 0L do
            i <- (i + 1) &&& mask
        Threading.Volatile.Write(&slots.[i], (int64 h <<< 32) ||| int64 (uint32 (at + 1)))

    static let grow (array: 'T[]) (size: int) =
        let grown = Array.zeroCreate size
        Array.blit array 0 grown 0 array.Length
        grown

    // Under `gate`: a new id for `utf8` (one given back, if any), its text stored (not yet findable).
    let append (utf8: ReadOnlySpan<byte>) (text: string | null) =
        let id =
            if freeCount > 0 then
                freeCount <- freeCount - 1
                free[freeCount]
            else count
        let at = used
        let size = 8 + utf8.Length
        if at + size > arena.Length then arena <- grow arena (max (arena.Length * 2) (at + size))
        let place' = Span(arena, at, size)
        Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(place', id)
        Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(place'.Slice 4, utf8.Length)
        utf8.CopyTo(place'.Slice 8)
        if id >= offsets.Length then
            offsets <- grow offsets (max (id + 1) (offsets.Length * 2))
        offsets[id] <- at
        match text with
        | null -> ()
        | t -> named[id] <- t
        used <- at + size
        if id = count then count <- id + 1
        id

    // Under `gate`: the id of the canonical IPv4 text `utf8` of `address`, added if new.
    let addAddress (utf8: ReadOnlySpan<byte>) (address: int64) (text: string | null) =
        match findAddress addresses address with
        | id when id >= 0 -> id
        | _ ->
            let id = append utf8 text
            placeAddress addresses address id
            addressed <- addressed + 1
            if addressed * 4 > addresses.Length * 3 then
                let old = addresses
                let bigger = Array.zeroCreate (old.Length * 2)
                for slot in old do
                    if slot <> 0L then placeAddress bigger ((slot >>> 32) &&& 0xFFFFFFFFL) (int (slot &&& 0xFFFFFFFFL) - 1)
                addresses <- bigger
            id

    // Under `gate`: the id of `utf8` (valid UTF-8, not an IPv4 text), added if new, with `text` as
    // its name when given.
    let addValid (utf8: ReadOnlySpan<byte>) (h: int) (text: string | null) =
        match find index utf8 h with
        | id when id >= 0 -> id
        | _ ->
            let id = append utf8 text
            place index h offsets[id]
            indexed <- indexed + 1
            if indexed * 2 > index.Length then
                // Each slot holds its text's hash: moved over in slot order, with no text read and
                // no hash made again, the writes land in order too (a slot goes to its place or its
                // place plus the old size), instead of a cache miss each for 756k hosts.
                let old = index
                let bigger = Array.zeroCreate (old.Length * 2)
                for slot in old do
                    if slot <> 0L then place bigger (int (slot >>> 32)) (int (slot &&& 0xFFFFFFFFL) - 1)
                index <- bigger
            id

    // Under `gate`: the id of `utf8`, added if new. Ids follow the decoded text, as the strings the
    // reader made before ids did: bytes that are not valid UTF-8 are stored as they decode (each
    // bad sequence as U+FFFD), so `a\xFFb` and `a\xFEb` are one value, `a\uFFFDb`. Such bytes are
    // never in the index as they are, so they come here each time (the reader's caches keep their
    // id, except for hosts past its deferral threshold, which take the lock on every line).
    let add (utf8: ReadOnlySpan<byte>) (h: int) =
        if Text.Unicode.Utf8.IsValid utf8 then addValid utf8 h null
        else
            let canonical = ReadOnlySpan(Text.Encoding.UTF8.GetBytes(Text.Encoding.UTF8.GetString utf8))
            addValid canonical (hash canonical) null

    /// Where `Intern` files `utf8`, for `Prefetch`, `PrefetchText` and `Intern(utf8, key)`.
    static member Key(utf8: ReadOnlySpan<byte>) = keyOf utf8

    /// `Key` of `line.Slice(start, length)`, faster for an IPv4 text with bytes of `line` around it
    /// (a field inside a chunk of lines): 16 bytes from `start`, and the 3 before it.
    static member Key(line: ReadOnlySpan<byte>, start: int, length: int) =
        if length >= 7 && length <= 15 && start >= 3 && line.Length - start >= 16 then
            match addressIn line start length with
            | -1L -> keyOf (line.Slice(start, length))
            | address -> addressBit ||| address
        else keyOf (line.Slice(start, length))

    /// A hint that a text of `key` will be looked up soon: its first index slot is asked for. With
    /// many distinct values (the hosts of a busy site) a look-up is a cache miss or two (slot, then
    /// text); hinted for a run of texts at a time, they are in flight together instead of in turn.
    member _.Prefetch(key: int64) =
        if Runtime.Intrinsics.X86.Sse.IsSupported then
            if key &&& addressBit <> 0L then
                let slots = addresses
                let at = addressStart (key &&& 0xFFFFFFFFL) (slots.Length - 1)
                Runtime.Intrinsics.X86.Sse.Prefetch0(Runtime.CompilerServices.Unsafe.AsPointer(&slots.[at]))
            else
                let slots = index
                Runtime.Intrinsics.X86.Sse.Prefetch0(Runtime.CompilerServices.Unsafe.AsPointer(&slots.[int key &&& (slots.Length - 1)]))

    /// After `Prefetch`: reads the slot and asks for the text it points at, if it is a text of the
    /// same hash (an address needs no text).
    member _.PrefetchText(key: int64) =
        if Runtime.Intrinsics.X86.Sse.IsSupported && key &&& addressBit = 0L then
            let h = int key
            let slots = index
            let slot = Threading.Volatile.Read(&slots.[h &&& (slots.Length - 1)])
            if slot <> 0L && int (slot >>> 32) = h then
                let text = arena
                let at = int (slot &&& 0xFFFFFFFFL) - 1
                Runtime.Intrinsics.X86.Sse.Prefetch0(Runtime.CompilerServices.Unsafe.AsPointer(&text.[at]))

    /// `Intern` of `utf8` whose `Key` is `key` (another key would file the text twice).
    member _.Intern(utf8: ReadOnlySpan<byte>, key: int64) =
        Diagnostics.Debug.Assert((key = keyOf utf8), "Symbols.Intern: the key is not the text's")
        if key &&& addressBit <> 0L then
            let address = key &&& 0xFFFFFFFFL
            match findAddress addresses address with
            | id when id >= 0 -> id
            | _ ->
                gate.Enter()
                try addAddress utf8 address null
                finally gate.Exit()
        else
            let h = int key
            match find index utf8 h with
            | id when id >= 0 -> id
            | _ ->
                gate.Enter()
                try add utf8 h
                finally gate.Exit()

    /// The id of the UTF-8 text `utf8`, added if new. A known text takes no lock and makes nothing.
    member this.Intern(utf8: ReadOnlySpan<byte>) = this.Intern(utf8, keyOf utf8)

    /// The id of `text`, added if new. A string with a lone surrogate is the text it encodes to
    /// (U+FFFD in its place), as it would be read from a log.
    member _.Intern(text: string) =
        let bytes = Text.Encoding.UTF8.GetBytes text
        match keyOf (ReadOnlySpan bytes) with
        | key when key &&& addressBit <> 0L ->
            match findAddress addresses (key &&& 0xFFFFFFFFL) with
            | id when id >= 0 -> id
            | _ ->
                gate.Enter()
                try addAddress (ReadOnlySpan bytes) (key &&& 0xFFFFFFFFL) text // ASCII: the string is the text
                finally gate.Exit()
        | key ->
            let h = int key
            match find index (ReadOnlySpan bytes) h with
            | id when id >= 0 -> id
            | _ ->
                // The caller's string names the id only if it is what the bytes decode to.
                let decoded = Text.Encoding.UTF8.GetString bytes
                let name = if String.Equals(decoded, text) then text else decoded
                gate.Enter()
                try addValid (ReadOnlySpan bytes) h name
                finally gate.Exit()

    /// The text of an id `Intern` returned: one string per id, made on first use.
    member _.Name(id: int) =
        match named.TryGetValue id with
        | true, text -> text
        | _ ->
            gate.Enter()
            try
                match named.TryGetValue id with
                | true, text -> text
                | _ ->
                    let at = offsets[id]
                    let text = Text.Encoding.UTF8.GetString(arena, at + 8, readInt arena (at + 4))
                    named[id] <- text
                    text
            finally gate.Exit()

    /// How many distinct texts are held.
    member _.Count = count - freeCount

    /// One past the largest id handed out: what a table indexed by id needs.
    member _.IdLimit = count

    /// The id of `text`, kept whatever `Retain` is told: for constants the shell looks up once.
    member this.Pin(text: string) =
        let id = this.Intern text
        gate.Enter()
        try pinned.Add id |> ignore
        finally gate.Exit()
        id

    /// Whether the table holds enough texts that were not held at the last `Retain` (as many again,
    /// and at least `RetainFrom`) for another to pay.
    member _.RetainDue = count - freeCount >= max sweepFrom (2 * keptAtSweep)

    /// The fewest texts a table holds before `RetainDue` says yes: 2^19 (about 20 MB of hosts; the
    /// tables indexed by id grow to about this many ids, 12 MB a window of `Totals`),
    /// below which memory is small and a pause of the reader would not pay. Lower for tests.
    static member RetainFrom
        with get () = sweepFrom
        and set (value: int) = sweepFrom <- max 1 value

    /// Keeps the texts of the ids `keep` says yes to (and the pinned ones), and gives every other
    /// id back, to be handed out again for a new text; returns how many it gave back. Only for a
    /// caller that knows nobody holds any other id and nobody interns meanwhile: the engine's state
    /// is all that holds ids while the reader waits at a sweep point (`Engine.reclaimIds`). Memos
    /// keyed by id must be dropped after it (`Symbols.Epoch`).
    member this.Retain(keep: int -> bool) =
        let kept = IdSet()
        for id in 0 .. count - 1 do
            if offsets[id] >= 0 && keep id then kept.Add id
        this.Retain kept

    /// `Retain` of the ids in `keep`.
    member _.Retain(keep: IdSet) =
        gate.Enter()
        try
            let pinnedAny = pinned.Count > 0
            let inline alive id = keep.Contains id || (pinnedAny && pinned.Contains id)
            // The arena is walked in order, twice: every text in it is held (`append` adds held texts,
            // and each `Retain` leaves only the kept ones), and a walk reads memory in sequence where
            // following the indexes to 380k texts missed the cache twice a text.
            let mutable bytes = 0
            let mutable keptIndexed = 0
            let mutable keptAddressed = 0
            let mutable from = 0
            let mutable kept = 0
            while from < used do
                let length = readInt arena (from + 4)
                if alive (readInt arena from) then
                    bytes <- bytes + 8 + length
                    kept <- kept + 1
                from <- from + 8 + length
            let newArena: byte[] = Array.zeroCreate (max 65536 (bytes + bytes / 2))
            let newIndex: int64[] =
                Array.zeroCreate (max 4096 (int (Numerics.BitOperations.RoundUpToPowerOf2(uint (2 * min kept indexed + 2)))))
            let newAddresses: int64[] =
                let most = min kept addressed
                Array.zeroCreate (max 1024 (int (Numerics.BitOperations.RoundUpToPowerOf2(uint (most + most / 3 + 2)))))
            let newOffsets: int[] = Array.create offsets.Length -1
            let mutable at = 0
            from <- 0
            while from < used do
                let id = readInt arena from
                let length = readInt arena (from + 4)
                if alive id then
                    let text = ReadOnlySpan(arena, from + 8, length)
                    match addressOf text with
                    | -1L ->
                        place newIndex (hash text) at
                        keptIndexed <- keptIndexed + 1
                    | address ->
                        placeAddress newAddresses address id
                        keptAddressed <- keptAddressed + 1
                    ReadOnlySpan(arena, from, 8 + length).CopyTo(Span(newArena, at, 8 + length))
                    newOffsets[id] <- at
                    at <- at + 8 + length
                from <- from + 8 + length
            // Ids given back: the names made for them go; the largest ones shrink `count`.
            let mutable limit = count
            while limit > 0 && newOffsets[limit - 1] < 0 do
                limit <- limit - 1
            let freed = List<int>()
            let mutable id = limit - 1
            while id >= 0 do
                if newOffsets[id] < 0 then freed.Add id
                id <- id - 1
            // Few ids are named (a top-k's hosts, a summary's sections): their entries are looked
            // over, not one removal tried per id given back (260k removals took 20 ms).
            for KeyValue(id, _) in named do
                if newOffsets[id] < 0 then named.TryRemove id |> ignore
            let given = count - freeCount - (keptIndexed + keptAddressed)
            arena <- newArena
            used <- at
            offsets <- newOffsets
            index <- newIndex
            addresses <- newAddresses
            indexed <- keptIndexed
            addressed <- keptAddressed
            count <- limit
            free <- freed.ToArray()
            freeCount <- free.Length
            keptAtSweep <- keptIndexed + keptAddressed
            Threading.Interlocked.Increment(&epoch) |> ignore
            given
        finally gate.Exit()

    /// How many times ids were given back (`Retain`) so far: a memo keyed by id that was made in
    /// another epoch is to be dropped.
    static member Epoch = Threading.Volatile.Read(&epoch)

    /// The hosts (`remotehost`).
    static member Hosts = hosts
    /// The users (`authuser`).
    static member Users = users
    /// The request methods.
    static member Methods = methods
    /// The sections.
    static member Sections = sections
    /// The virtual hosts (`$host`, `%v`); `-` (id 0) when not logged.
    static member VirtualHosts = virtualHosts.Value
    /// The Referer headers; `-` (id 0) when not logged.
    static member Referers = referers.Value
    /// The User-Agent headers; `-` (id 0) when not logged.
    static member UserAgents = userAgents.Value
