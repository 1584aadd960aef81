using System.Globalization;
using LogAlert.Core;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Rules;

/// <summary>What a loaded rule is, for <c>logalert check</c> and for what the engine keeps.</summary>
public sealed class RuleDescription
{
    internal RuleDescription(Rule rule, string file, int line, IReadOnlyList<WindowUse> windows, string? groupLabel, string? probeError,
        bool monotonic = false, bool bare = true)
    {
        Monotonic = monotonic;
        Bare = bare;
        Rule = rule;
        File = file;
        Line = line;
        Windows = windows;
        GroupLabel = groupLabel;
        ProbeError = probeError;
    }

    /// <summary>The core rule.</summary>
    public Rule Rule { get; }

    /// <summary>The rule's name.</summary>
    public string Name => Rule.RuleName;

    /// <summary>The rule file, as given.</summary>
    public string File { get; }

    /// <summary>The line of the <c>Alert(...)</c> call (0 when unknown).</summary>
    public int Line { get; }

    /// <summary>The queries the rule asked for when called once at load time, in order, without repeats.</summary>
    public IReadOnlyList<WindowUse> Windows { get; }

    /// <summary>For <c>WhenEach</c> rules: the label the groups are keyed by, when the load-time call told.</summary>
    public string? GroupLabel { get; }

    /// <summary>Whether the rule declared <c>.Monotonic()</c>: its value never decreases when records are added.</summary>
    public bool Monotonic { get; }

    /// <summary>What the load-time call threw, if anything (a rule may need data; this is not an error).</summary>
    public string? ProbeError { get; }

    /// <summary>
    /// What the load-time call told about the windows the rule reads: all of them, unless it threw
    /// (<see cref="ProbeError"/>). From these facts the engine decides how much history it keeps.
    /// </summary>
    public RuleWindows Told => new(Name, Windows.Select(w => w.Window), complete: ProbeError is null);

    /// <summary>Whether the value is the one query's value as it is (not <c>Rate(...) * 60</c>).</summary>
    public bool Bare { get; }

    /// <summary>
    /// What the value is made of: the one query, <c>f(A)</c> for a function of it, <c>f(A, B)</c> for
    /// several, <c>?</c> when unknown.
    /// </summary>
    public string Expression => Windows.Count switch
    {
        0 => ProbeError is null ? "constant" : "?",
        1 => Bare ? Windows[0].ToString() : $"f({Windows[0]})",
        _ => $"f({string.Join(", ", Windows)})",
    };

    /// <summary><c>&gt; 0.5, resolves &lt; 0.2, for 30s</c>, and <c>per section</c> for per-group rules.</summary>
    public string Condition
    {
        get
        {
            var parts = new List<string> { $"> {Number(Rule.Threshold)}" };
            if (Rule.Recover != Rule.Threshold) parts.Add($"resolves < {Number(Rule.Recover)}");
            if (Rule.For > 0) parts.Add($"for {Durations.Format(TimeSpan.FromSeconds(Rule.For))}");
            if (Rule.IsPerGroup) parts.Add(GroupLabel is null ? "per group" : $"per {GroupLabel}");
            if (Monotonic) parts.Add("monotonic");
            return string.Join(", ", parts);
        }
    }

    private static string Number(double value) => LogAlert.Core.NumberText.show(value);

    /// <summary><c>Rate(requests, 1m, status_class="5xx") &gt; 0.5, resolves &lt; 0.2, for 30s</c>.</summary>
    public override string ToString() => $"{Expression} {Condition}";
}

/// <summary>What loading rule files gave: the rules, or the errors to print before exiting with 2.</summary>
public sealed class RuleLoadResult
{
    internal RuleLoadResult(IReadOnlyList<RuleDescription> descriptions, IReadOnlyList<string> errors, IReadOnlyList<string> warnings)
    {
        Descriptions = descriptions;
        Errors = errors;
        Warnings = warnings;
        Rules = errors.Count > 0 ? [] : descriptions.Select(d => d.Rule).ToArray();
    }

    /// <summary>The rules in file order, then registration order. Empty when there are errors.</summary>
    public IReadOnlyList<Rule> Rules { get; }

    /// <summary>A description per rule, in the same order.</summary>
    public IReadOnlyList<RuleDescription> Descriptions { get; }

    /// <summary>Error lines, <c>file:line:col: error ...</c>, in file order. Any error means exit code 2.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>
    /// Warning and note lines, <c>file:line: warning ...</c>, that <c>logalert check</c> prints: what may
    /// be a mistake but may also be the load-time call's empty data (a <c>TopK</c> k below 1 there, a throw).
    /// </summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Whether there are no errors.</summary>
    public bool Ok => Errors.Count == 0;

    /// <summary>What each rule told at load time about the windows it reads, in the same order.</summary>
    public IEnumerable<RuleWindows> Told => Descriptions.Select(d => d.Told);
}
