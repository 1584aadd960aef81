using System.Globalization;
using LogAlert.Core;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Rules;

/// <summary>One query a rule asks for: function, metric, window width, label and selector.</summary>
public sealed record WindowUse(string Function, string? Metric, TimeSpan Width, string? Label, string? Selector, int? K = null)
{
    /// <summary><c>Rate(requests, 1m, status_class="5xx")</c>, <c>TopK(1, requests, 2m, host)</c>, <c>Distinct(host, 2m)</c>.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (K is { } k) parts.Add(k.ToString(CultureInfo.InvariantCulture));
        if (Function == "Distinct")
        {
            parts.Add(Label ?? "");
            parts.Add(Durations.Format(Width));
        }
        else
        {
            parts.Add(Metric ?? "");
            parts.Add(Durations.Format(Width));
            if (Label is not null) parts.Add(Label);
        }
        if (!string.IsNullOrEmpty(Selector)) parts.Add(Selector);
        return $"{Function}({string.Join(", ", parts)})";
    }

    /// <summary>The window the query reads, as the engine is told it (<see cref="RuleWindows"/>).</summary>
    public QueryWindow Window => new(Width, Label, Selector, Metric);

}

/// <summary>
/// The <see cref="IQuery"/> a rule is called with once at load time: it records what the rule asks for
/// (so <c>logalert check</c> can list it and the engine knows how much history to keep), answers 0
/// (or, for <see cref="ValueIsTheQuery"/>, another number) and empty groups, and rejects what the
/// engine would reject (unknown metric or label, bad selector, a window that is not a whole number
/// of seconds) with the engine's message. A <c>TopK</c> k below 1 is recorded, not rejected
/// (<see cref="KBelowOne"/>).
/// </summary>
internal sealed class ProbeQuery(double answer = 0) : IQuery
{
    private readonly List<WindowUse> _uses = [];

    /// <summary>The last group result handed out: a grouped rule whose value is its query returns it as it is.</summary>
    public Grouped? LastGroups { get; private set; }

    private Grouped Groups(string? label) => LastGroups = new Grouped(label ?? "", []);

    /// <summary>
    /// Whether a scalar rule's value is its one query's value, as it is: called with every query
    /// answering an odd number (its output muted), it gives that number back; the load-time call,
    /// whose queries answer 0, must have given 0 too (the caller knows). <c>Rate(...) * 60</c> does
    /// not, nor does <c>r == 0 ? 100 : r</c>, and <c>logalert check</c> then shows
    /// <c>f(Rate(requests, 1m))</c>, not a condition the rule does not test. The answer stays small:
    /// a rule that loops or exits above some rate would do so here, at load time.
    /// </summary>
    public static bool ValueIsTheQuery(Func<IQuery, double> scalar)
    {
        const double Odd = 7.3125; // exact in binary, and no threshold anyone writes
        try
        {
            var probe = new ProbeQuery(Odd);
            try { return scalar(probe) == Odd && probe.Rejected is null; }
            finally { probe.Close(); }
        }
        catch (Exception)
        {
            return false; // it needs data to say more: not shown as the bare query
        }
    }

    /// <summary>The queries asked for, in order, without repeats.</summary>
    public IReadOnlyList<WindowUse> Uses => _uses;

    public DateTimeOffset Now
    {
        get
        {
            ThrowIfClosed();
            return DateTimeOffset.UnixEpoch;
        }
    }

    /// <summary>
    /// Ends the call it was given to: a rule that kept it and asks it later (on data) is told so, and
    /// switched off, instead of reading this query's made-up answers as the traffic's.
    /// </summary>
    public void Close() => _closed = true;

    private bool _closed;

    private void ThrowIfClosed()
    {
        if (_closed) throw new QueryException(QueryException.KeptPastItsCall);
    }

    private void Record(WindowUse use)
    {
        ThrowIfClosed();
        // The engine's own check (QueryCheck in Query.fs): the same message now as at run time.
        if (Queries.Problem(use.Function, use.Metric, use.Width, use.Label, use.Selector) is { } problem)
            throw Reject(problem);
        if (!_uses.Contains(use)) _uses.Add(use);
    }

    private QueryException Reject(string message)
    {
        Rejected ??= message;
        return new QueryException(message);
    }

    /// <summary>The first query the engine would reject, if any: a mistake in the rule, not missing data.</summary>
    public string? Rejected { get; private set; }

    /// <summary>The first k below 1 a <c>TopK</c> was asked with: a mistake, or a k the data will raise.</summary>
    public int? KBelowOne { get; private set; }

    public double Sum(string metric, TimeSpan width, string? selector = null)
    {
        Record(new WindowUse("Sum", metric, width, null, selector));
        return answer;
    }

    public double Rate(string metric, TimeSpan width, string? selector = null)
    {
        Record(new WindowUse("Rate", metric, width, null, selector));
        return answer;
    }

    public Grouped SumBy(string metric, TimeSpan width, string label, string? selector = null)
    {
        Record(new WindowUse("SumBy", metric, width, label ?? "", selector));
        return Groups(label);
    }

    public Grouped RateBy(string metric, TimeSpan width, string label, string? selector = null)
    {
        Record(new WindowUse("RateBy", metric, width, label ?? "", selector));
        return Groups(label);
    }

    public Grouped TopK(int k, string metric, TimeSpan width, string label, string? selector = null)
    {
        Record(new WindowUse("TopK", metric, width, label ?? "", selector, k));
        // Not a rejection, unlike a bad width or label: here every query answers 0, so a k computed
        // from the data (a tenth of Distinct(host, w)) is 0 too, and refusing it refused every such
        // rule. The probe cannot tell that k from a literal TopK(0, ...); the engine answers no
        // groups for a k below 1 (Query.fs), and logalert check warns of it (KBelowOne).
        if (k < 1) KBelowOne ??= k;
        return Groups(label);
    }

    public double Distinct(string label, TimeSpan width, string? selector = null)
    {
        Record(new WindowUse("Distinct", null, width, label ?? "", selector));
        return answer;
    }
}
