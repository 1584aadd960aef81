namespace LogAlert.Core

// The interning of label texts to ids: a process-wide, mutable, lock-free structure the reader's hot
// path calls directly. Internal to the core, the shell (which parses lines) and the tests
// (InternalsVisibleTo in the project file); the engine's public surface speaks of records and texts.

/// A set of ids, as bits: the ids of one label that the engine's state holds, for `Symbols.Retain`.
[<Sealed>]
type internal IdSet =
    
    new: unit -> IdSet
    
    /// Adds `id` (non-negative).
    member Add: id: int -> unit
    
    /// Whether `id` was added.
    member Contains: id: int -> bool

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
type internal Symbols =
    
    new: unit -> Symbols
    
    /// Where `Intern` files `utf8`, for `Prefetch`, `PrefetchText` and `Intern(utf8, key)`.
    static member Key: utf8: System.ReadOnlySpan<byte> -> int64
    
    /// `Key` of `line.Slice(start, length)`, faster for an IPv4 text with bytes of `line` around it
    /// (a field inside a chunk of lines): 16 bytes from `start`, and the 3 before it.
    static member
      Key: line: System.ReadOnlySpan<byte> * start: int * length: int ->
             int64
    
    /// The id of `text`, added if new. A string with a lone surrogate is the text it encodes to
    /// (U+FFFD in its place), as it would be read from a log.
    member Intern: text: string -> int
    
    /// The id of the UTF-8 text `utf8`, added if new. A known text takes no lock and makes nothing.
    member Intern: utf8: System.ReadOnlySpan<byte> -> int
    
    /// `Intern` of `utf8` whose `Key` is `key` (another key would file the text twice).
    member Intern: utf8: System.ReadOnlySpan<byte> * key: int64 -> int
    
    /// The text of an id `Intern` returned: one string per id, made on first use.
    member Name: id: int -> string
    
    /// The id of `text`, kept whatever `Retain` is told: for constants the shell looks up once.
    member Pin: text: string -> int
    
    /// A hint that a text of `key` will be looked up soon: its first index slot is asked for. With
    /// many distinct values (the hosts of a busy site) a look-up is a cache miss or two (slot, then
    /// text); hinted for a run of texts at a time, they are in flight together instead of in turn.
    member Prefetch: key: int64 -> unit
    
    /// After `Prefetch`: reads the slot and asks for the text it points at, if it is a text of the
    /// same hash (an address needs no text).
    member PrefetchText: key: int64 -> unit
    
    /// `Retain` of the ids in `keep`.
    member Retain: keep: IdSet -> int
    
    /// Keeps the texts of the ids `keep` says yes to (and the pinned ones), and gives every other
    /// id back, to be handed out again for a new text; returns how many it gave back. Only for a
    /// caller that knows nobody holds any other id and nobody interns meanwhile: the engine's state
    /// is all that holds ids while the reader waits at a sweep point (`Engine.reclaimIds`). Memos
    /// keyed by id must be dropped after it (`Symbols.Epoch`).
    member Retain: keep: (int -> bool) -> int
    
    /// How many distinct texts are held.
    member Count: int
    
    /// One past the largest id handed out: what a table indexed by id needs.
    member IdLimit: int
    
    /// Whether the table holds enough texts that were not held at the last `Retain` (as many again,
    /// and at least `RetainFrom`) for another to pay.
    member RetainDue: bool
    
    /// How many times ids were given back (`Retain`) so far: a memo keyed by id that was made in
    /// another epoch is to be dropped.
    static member Epoch: int
    
    /// The hosts (`remotehost`).
    static member Hosts: Symbols
    
    /// The request methods.
    static member Methods: Symbols
    
    /// The fewest texts a table holds before `RetainDue` says yes: 2^19 (about 20 MB of hosts; the
    /// tables indexed by id grow to about this many ids, 12 MB a window of `Totals`),
    /// below which memory is small and a pause of the reader would not pay. Lower for tests.
    static member RetainFrom: int with get, set
    
    /// The sections.
    static member Sections: Symbols
    
    /// The users (`authuser`).
    static member Users: Symbols

    /// The virtual hosts (`$host`, `%v`); `-` (id 0) when not logged.
    static member VirtualHosts: Symbols

    /// The Referer headers; `-` (id 0) when not logged.
    static member Referers: Symbols

    /// The User-Agent headers; `-` (id 0) when not logged.
    static member UserAgents: Symbols
