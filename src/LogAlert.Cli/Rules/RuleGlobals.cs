using System.Runtime.CompilerServices;
using LogAlert.Core;

namespace LogAlert.Cli.Rules;

/// <summary>
/// What a rule file (<c>.csx</c>) sees as globals. Call <see cref="Alert"/> once per rule:
/// <code>
/// Alert("server_errors")
///     .When(q => q.Rate("requests", TimeSpan.FromMinutes(1), "status_class=\"5xx\""))
///     .Above(0.5)
///     .RecoverBelow(0.2)
///     .For(TimeSpan.FromSeconds(30))
///     .Message("5xx at {value} req/s since {time}");
/// </code>
/// Rules run in the order they are registered, file by file. See <c>rules/README.md</c>.
/// </summary>
public sealed class RuleGlobals
{
    private readonly List<AlertBuilder> _alerts = [];
    private bool _sealed;

    // Built by the rule host only: one fresh instance per rule file.
    internal RuleGlobals()
    {
    }

    /// <summary>The rules this file registered, in call order.</summary>
    internal IReadOnlyList<AlertBuilder> Alerts => _alerts;

    /// <summary>What <see cref="Alert"/> throws once the file's definitions are over.</summary>
    internal sealed class AlertInRuleException() : InvalidOperationException(
        "Alert(...) called while a rule is evaluated: rules are defined by the file's top-level code");

    /// <summary>Ends the file's definitions: its top-level code has run, and <see cref="Alert"/> throws from now on.</summary>
    internal void Seal() => _sealed = true;

    /// <summary>
    /// Starts a rule named <paramref name="name"/> (unique among all rule files of a run; it is what
    /// <c>--only</c>, <c>--disable</c> and every alert event call it). Continue with
    /// <see cref="AlertBuilder.When"/> or <see cref="AlertBuilder.WhenEach"/> and <see cref="AlertBuilder.Above"/>.
    /// </summary>
    /// <param name="name">The rule's name, e.g. <c>server_errors</c>.</param>
    /// <param name="line">Filled in by the compiler: the line of the call, for error messages.</param>
    /// <param name="file">Filled in by the compiler: the file of the call, for error messages.</param>
    public AlertBuilder Alert(string name, [CallerLineNumber] int line = 0, [CallerFilePath] string file = "")
    {
        // Called from a rule's value, it would add to the list the host is reading, or, on a later
        // second, define a rule nothing runs: an error of the rule that called it.
        if (_sealed)
            throw new AlertInRuleException();
        var alert = new AlertBuilder(name, file, line);
        _alerts.Add(alert);
        return alert;
    }
}

/// <summary>
/// One rule being defined: its value (<see cref="When"/> or <see cref="WhenEach"/>), its thresholds
/// (<see cref="Above"/>, <see cref="RecoverBelow"/>), how long it must hold (<see cref="For"/>) and its
/// messages. Every method returns the same builder, so calls chain.
/// </summary>
public sealed class AlertBuilder
{
    private readonly List<string> _problems = [];

    internal AlertBuilder(string? name, string file, int line)
    {
        Name = name ?? "";
        if (name is null) _problems.Add("Alert(null): a rule needs a non-empty name");
        // The name is printed in every event, on a terminal too, and given to --only and --disable.
        else if (name.Any(Output.Terminal.NeedsEscape))
            _problems.Add($"rule \"{Output.Terminal.Escape(name)}\": a rule's name cannot hold a control character");
        else if (name == "summary")
            _problems.Add("rule \"summary\": the name is the summaries' in --only and --disable; give the rule another name");
        File = file;
        Line = line;
    }

    internal string Name { get; }
    internal string File { get; }
    internal int Line { get; }
    internal Func<IQuery, double>? ScalarValue { get; private set; }
    internal Func<IQuery, Grouped>? GroupedValue { get; private set; }
    internal double? Threshold { get; private set; }
    internal double? Recover { get; private set; }
    internal TimeSpan ForTime { get; private set; } = TimeSpan.Zero;
    internal string? FiringMessage { get; private set; }
    internal string? ResolvedMessage { get; private set; }
    internal bool IsMonotonic { get; private set; }
    internal IReadOnlyList<string> Problems => _problems;
    internal List<(string Name, string Value)> DeliveryLabels { get; } = [];
    internal List<(string Name, string Value)> DeliveryAnnotations { get; } = [];

    private bool HasValue => ScalarValue is not null || GroupedValue is not null;

    /// <summary>Whether <c>When</c> or <c>WhenEach</c> was given null (said once, as that).</summary>
    internal bool GivenNullValue { get; private set; }

    private void NullValue(string method, string what)
    {
        GivenNullValue = true;
        _problems.Add($"rule \"{Name}\": {method}(null): give it {what}");
    }

    /// <summary>
    /// The rule's value, computed at every closed second of log time: one alert for the rule.
    /// <c>q</c> answers <c>Sum</c>, <c>Rate</c>, <c>SumBy</c>, <c>RateBy</c>, <c>TopK</c>, <c>Distinct</c> and <c>Now</c>
    /// over the window <c>(now − w, now]</c>. The value must depend only on what the queries return.
    /// </summary>
    /// <example><c>.When(q => q.Rate("requests", TimeSpan.FromMinutes(2)))</c></example>
    public AlertBuilder When(Func<IQuery, double> value)
    {
        if (value is null) NullValue(nameof(When), "the rule's value, e.g. q => q.Rate(...)");
        else if (HasValue) _problems.Add($"rule \"{Name}\" has more than one When/WhenEach");
        else ScalarValue = value;
        return this;
    }

    /// <summary>
    /// A value per label value, computed at every closed second: one alert per group (e.g. per
    /// section), each event carrying its label. A group absent at a second reads as 0.
    /// </summary>
    /// <example><c>.WhenEach(q => q.RateBy("requests", TimeSpan.FromMinutes(2), "section"))</c></example>
    public AlertBuilder WhenEach(Func<IQuery, Grouped> values)
    {
        if (values is null) NullValue(nameof(WhenEach), "the rule's groups, e.g. q => q.RateBy(...)");
        else if (HasValue) _problems.Add($"rule \"{Name}\" has more than one When/WhenEach");
        else GroupedValue = values;
        return this;
    }

    /// <summary>
    /// The firing threshold <c>T</c> (required): the alert fires at the first second where the value is
    /// strictly above it (after <see cref="For"/> of pending). Equality neither fires nor resolves.
    /// </summary>
    public AlertBuilder Above(double threshold)
    {
        Once(nameof(Above));
        Threshold = threshold;
        return this;
    }

    // A second call of a setting replaced the first without a word: a copy-paste slip, refused.
    private readonly HashSet<string> _given = [];

    private void Once(string method)
    {
        if (!_given.Add(method)) _problems.Add($"rule \"{Name}\": {method} is given more than once");
    }

    /// <summary>
    /// The resolving threshold <c>R</c> (optional hysteresis, defaults to <see cref="Above"/>'s value):
    /// a firing alert resolves at the first second where the value is strictly below it. Must not be
    /// above the firing threshold.
    /// </summary>
    public AlertBuilder RecoverBelow(double threshold)
    {
        Once(nameof(RecoverBelow));
        Recover = threshold;
        return this;
    }

    /// <summary>
    /// How long the value must stay above the threshold before the alert fires (default 0: at once);
    /// a whole number of seconds. A second at or below the threshold while pending starts over.
    /// </summary>
    public AlertBuilder For(TimeSpan duration)
    {
        Once(nameof(For));
        ForTime = duration;
        return this;
    }

    /// <summary>
    /// The message of the firing event. Placeholders: <c>{value}</c> (2 decimals), <c>{time}</c>
    /// (ISO-8601 UTC), <c>{threshold}</c>, <c>{rule}</c>, <c>{since}</c>, and for <see cref="WhenEach"/> rules
    /// <c>{label}</c> or <c>{section}</c> (the label's name) for the group's label value.
    /// </summary>
    public AlertBuilder Message(string template)
    {
        Once(nameof(Message));
        FiringMessage = template;
        return this;
    }

    /// <summary>
    /// Declares that the value never decreases when records are added to the log (for a
    /// <see cref="WhenEach"/> rule: no group's value does), as for a count or a rate of requests:
    /// then more traffic never resolves an alert that less traffic fires. It changes no event;
    /// <c>logalert check --properties</c> checks it on generated traffic.
    /// </summary>
    public AlertBuilder Monotonic()
    {
        Once(nameof(Monotonic));
        IsMonotonic = true;
        return this;
    }

    /// <summary>
    /// The message of the resolved event; same placeholders as <see cref="Message"/>, where
    /// <c>{since}</c> is when the alert fired.
    /// </summary>
    public AlertBuilder RecoveryMessage(string template)
    {
        Once(nameof(RecoveryMessage));
        ResolvedMessage = template;
        return this;
    }

    /// <summary>
    /// Labels the alert carries when it is sent to Alertmanager (<c>--alertmanager</c>), beside
    /// <c>alertname</c> and the group's label, for routing, silences and inhibition. Names as in
    /// Prometheus: letters, digits and <c>_</c>, not starting with a digit.
    /// </summary>
    /// <example><c>.Labels(("severity", "page"), ("team", "web"))</c></example>
    public AlertBuilder Labels(params (string Name, string Value)[] labels)
    {
        foreach (var (name, value) in labels ?? [])
        {
            if (!IsLabelName(name)) _problems.Add($"rule \"{Name}\": label name \"{name}\" is not letters, digits and _ (not starting with a digit)");
            else if (name is "alertname") _problems.Add($"rule \"{Name}\": the label alertname is the rule's name");
            else if (DeliveryLabels.Any(l => l.Name == name)) _problems.Add($"rule \"{Name}\": label \"{name}\" is given more than once");
            else DeliveryLabels.Add((name, value ?? ""));
        }
        return this;
    }

    /// <summary>
    /// Annotations the alert carries to Alertmanager, beside <c>message</c>, <c>value</c> and
    /// <c>threshold</c>: text for the people it reaches, e.g. a runbook link.
    /// </summary>
    /// <example><c>.Annotations(("runbook", "https://wiki/runbooks/5xx"))</c></example>
    public AlertBuilder Annotations(params (string Name, string Value)[] annotations)
    {
        foreach (var (name, value) in annotations ?? [])
        {
            if (!IsLabelName(name)) _problems.Add($"rule \"{Name}\": annotation name \"{name}\" is not letters, digits and _ (not starting with a digit)");
            else if (name is "message" or "value" or "threshold")
                _problems.Add($"rule \"{Name}\": annotation \"{name}\" is logalert's own (message, value, threshold); give it another name");
            else if (DeliveryAnnotations.Any(a => a.Name == name)) _problems.Add($"rule \"{Name}\": annotation \"{name}\" is given more than once");
            else DeliveryAnnotations.Add((name, value ?? ""));
        }
        return this;
    }

    private static bool IsLabelName(string? name) =>
        !string.IsNullOrEmpty(name) && !char.IsAsciiDigit(name[0]) && name.All(c => c == '_' || char.IsAsciiLetterOrDigit(c));
}
