namespace LogAlert.Core

/// A remembered `TopK` answer of a grouped window, kept so that the next second can start from it.
/// Invariant: every group not in `Entries` ranks at or below `Bound` and `BoundName` in `TopK`'s
/// order: a value below `Bound`, or equal to it with a name not ordinally before `BoundName`
/// (`Bound` -infinity: there is no such group). The name matters when many groups tie there.
type internal TopCache =
    {
      K: int
      Metric: Metric

      /// The window move (`Window.Moves`) the entries are for.
      Moves: int64

      /// The best groups, best first (one more than `K` when there are that many).
      Entries: System.Collections.Generic.KeyValuePair<int,float> array
      Bound: float
      BoundName: string
    }

/// Running totals over the window `(At − Width, At]` of the records a selector picks, optionally
/// grouped by a label. Moving it one second costs the tallies of two seconds, whatever the width.
type internal Window =
    {
      Width: int64

      /// The label it groups by and the selector: which tally of each second it reads.
      Series: Series

      /// The second the totals are for.
      At: int64

      /// The second it was built at: with `Moves`, which version of which window it is (a window
      /// built again, after a jump of its width or more, starts its moves again).
      Built: int64
      Total: Totals

      /// Totals per label value id (`Label.idOf`), for grouped windows; a value is present while it
      /// has records.
      Groups: Table<Totals>

      /// How many times the window moved (or took late records): versions its top-k caches.
      Moves: int64

      /// The tallies the last move added (sign 1) or took away (sign -1), as it gave them to the
      /// group table: their keys (`Label.idOf`) are the groups it touched (a key may be in more
      /// than one).
      Changed: struct (int * int array * Totals array) array
      TopCaches: TopCache list
    }

    /// The label the window groups by, if any.
    member GroupBy: Label option

    /// The records it counts.
    member Selector: Selector

/// Building and moving windows.
[<RequireQualifiedAccess>]
module internal Window =

    /// Whether a window reads more than its seconds' totals: one that selects, groups or sums a
    /// duration reads their records, or their tallies for its series; one that counts the requests
    /// and bytes of everything reads the totals only.
    val needsRecords: groupBy: Label option -> selector: Selector -> summed: Metric -> bool

    /// `needsRecords` for a query as a rule writes it: the label it groups by (null: none), its
    /// selector's text (null or empty: every record) and its metric (null: `requests`). A selector
    /// that does not parse counts as one that selects.
    [<CompiledName ("QueryNeedsRecords")>]
    val queryNeedsRecords:
      label: (string | null) -> selector: (string | null) -> metric: (string | null) -> bool

    
    /// A window of `width` seconds at second `at`, summing `Metric.summed summed`, computed from the store.
    val build:
      width: int64 ->
        groupBy: Label option ->
        selector: Selector -> summed: Metric -> at: int64 -> store: Store -> Window

    /// The window moved forward to second `at` (never backwards).
    val advanceTo: at: int64 -> store: Store -> window: Window -> Window

    /// The window with late `records` (of one second, already closed) counted, if it covers them.
    val addLate:
      second: int64 -> records: Record array -> window: Window -> Window

    
    /// The `k` groups with the largest totals of `metric` (ties by key, ordinal), best first, and the
    /// window remembering them. A scan of every group costs the number of groups (100k hosts); when
    /// the window moved once since the last answer, only the remembered groups and the groups that
    /// move touched can have overtaken, unless a remembered one fell to the bound of the rest.
    val top:
      k: int ->
        metric: Metric ->
        window: Window ->
        System.Collections.Generic.KeyValuePair<string,float> array * Window

    /// Whether the window holds no record.
    val isEmpty: window: Window -> bool
