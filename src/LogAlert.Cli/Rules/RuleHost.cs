using System.Runtime.CompilerServices;
using LogAlert.Core;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Rules;

/// <summary>
/// Turns rule files (<c>.csx</c>) into core rules: each file is compiled once (or taken from the disk
/// cache), run once with a fresh <see cref="RuleGlobals"/> to collect what it registers, and each rule
/// is called once against a recording query to learn its windows. Rule delegates are wrapped so that
/// the <see cref="Watchdog"/> can name a rule stuck in a loop.
/// </summary>
/// <remarks>
/// <c>#r</c> is refused. <c>#load "helpers.csx"</c> is allowed for files in the folder of the file that
/// holds the directive, or below it: rule folders can share helpers without reaching elsewhere.
/// </remarks>
public sealed class RuleHost : IDisposable
{
    private readonly RuleCache _cache;
    private int _cacheHits;
    private int _compilations;
    private bool _warned;

    /// <summary>A host with the default cache folder (<see cref="DefaultCacheDirectory"/>).</summary>
    public RuleHost()
    {
        _cache = RuleCache.Default();
    }

    /// <summary>A host caching compiled rules in <paramref name="cacheDirectory"/>; null turns the cache off.</summary>
    public RuleHost(string? cacheDirectory)
    {
        _cache = new RuleCache(cacheDirectory);
    }

    /// <summary>The line a rule file gets when running it registered no rule.</summary>
    internal const string DefinesNoRule = "defines no rule (register one with Alert(\"name\").When(q => ...).Above(threshold))";

    /// <summary>Where warnings go (a cache folder that is not used, and why); stderr by default.</summary>
    public TextWriter Warnings { get; set; } = Console.Error;

    /// <summary><c>$XDG_CACHE_HOME/logalert/rules</c>, else <c>~/.cache/logalert/rules</c>; null without a home folder.</summary>
    public static string? DefaultCacheDirectory() => RuleCache.DefaultFolder();

    /// <summary>Where compiled rules are cached; null when caching is off (none asked for, or the folder is not trusted).</summary>
    public string? CacheDirectory => _cache.Folder;

    /// <summary>Watches every rule evaluation (and each file's top-level code) for runaways.</summary>
    public RuleWatchdog Watchdog { get; } = new();

    /// <summary>How long one rule evaluation may run before the process is ended (<c>--rule-timeout</c>, default 5s).</summary>
    public TimeSpan RuleTimeout
    {
        get => Watchdog.Timeout;
        set => Watchdog.Timeout = value;
    }

    /// <summary>Rule files taken from the cache by this host.</summary>
    public int CacheHits => _cacheHits;

    /// <summary>Rule files compiled by this host (cache misses, including rebuilt corrupt entries).</summary>
    public int Compilations => _compilations;

    private sealed class Unit(string displayPath)
    {
        public string DisplayPath { get; } = displayPath;
        public RuleSource? Source { get; set; }
        public string? Key { get; set; }
        public Func<RuleGlobals, Task<object>>? Entry { get; set; }
        public bool FromCache { get; set; }
        public List<string> Errors { get; } = [];
    }

    private readonly Dictionary<string, Delivery.RuleDelivery> _delivery = new(StringComparer.Ordinal);

    /// <summary>The labels and annotations a loaded rule declares for Alertmanager (<c>.Labels</c>, <c>.Annotations</c>).</summary>
    public Delivery.RuleDelivery DeliveryOf(string rule) =>
        _delivery.TryGetValue(rule, out var d) ? d : Delivery.RuleDelivery.None;

    /// <summary>
    /// Compiles (or takes from the cache), runs and probes the rule files (paths, not patterns: see
    /// <see cref="ExpandRuleArguments(IEnumerable{string})"/>). Rules come in file order, then registration order; errors
    /// are lines to print before exiting with code 2. Compiler warnings are not reported.
    /// </summary>
    public RuleLoadResult Load(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        RuleConsole.Install();
        AppDomain.CurrentDomain.ProcessExit += OnExitWhileLoading;
        try
        {
            return LoadFiles(files);
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= OnExitWhileLoading;
        }
    }

    // A rule file's top-level code, or a rule called once at load time, that calls
    // Environment.Exit ends the process before anything is read: that is said, and it is a rule
    // error (exit 2), not whatever status the rule chose. (During a run, Runner reports it.)
    private void OnExitWhileLoading(object? sender, EventArgs e)
    {
        // A rule stuck past --rule-timeout is ended by the watchdog, which said so already; so did
        // logalert when it ends the process itself.
        if (Watchdog.RunawayMessage is not null || DeliberateExit.Explained) return;
        if (Watchdog.Running is not { } what) return;
        if (Signals.Received is { } signal)
        {
            Console.Error.WriteLine($"logalert: {signal} while {what} was loaded; nothing was read");
            Environment.ExitCode = Signals.ExitCode;
            return;
        }
        Console.Error.WriteLine($"logalert: {what} ended the process (Environment.Exit) while the rules were loaded; nothing was read");
        Environment.ExitCode = ExitCodes.Usage;
    }

    private RuleLoadResult LoadFiles(IReadOnlyList<string> files)
    {
        var units = files.Select(f => new Unit(f)).ToArray();
        foreach (var unit in units)
        {
            try
            {
                unit.Source = RuleSource.Read(unit.DisplayPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                unit.Errors.Add(e is FileNotFoundException or DirectoryNotFoundException
                    ? $"{unit.DisplayPath}: no such file"
                    : e is RuleSource.NotUtf8Exception ? e.Message
                    : $"{unit.DisplayPath}: {e.Message}");
                continue;
            }
            unit.Key = RuleCache.Key(unit.Source);
            if (_cache.TryRead(unit.Key) is { } image)
            {
                try
                {
                    unit.Entry = RuleCache.EntryPoint(image);
                    unit.FromCache = true;
                    Interlocked.Increment(ref _cacheHits);
                }
                catch (Exception e) when (IsStale(e))
                {
                    // A corrupt or foreign entry: compiled afresh below and overwritten.
                }
            }
        }

        var misses = units.Where(u => u.Source is not null && u.Entry is null).ToArray();
        if (misses.Length > 0) CompileAll(misses);
        if (_cache.Warning is { } warning && !_warned)
        {
            _warned = true;
            Warnings.WriteLine(warning);
        }

        var descriptions = new List<RuleDescription>();
        var errors = new List<string>();
        var warnings = new List<string>();
        var names = new Dictionary<string, (string Where, string By, string Unit)>(StringComparer.Ordinal);
        foreach (var unit in units)
        {
            errors.AddRange(unit.Errors);
            if (unit.Entry is null || unit.Source is null) continue;
            var globals = RunFile(unit, errors);
            if (globals is null) continue;
            if (globals.Alerts.Count == 0) errors.Add($"{unit.DisplayPath}: error: {DefinesNoRule}");
            foreach (var alert in globals.Alerts)
            {
                var file = unit.Source.Display(alert.File);
                var where = alert.Line > 0 ? $"{file}:{alert.Line}" : file;
                var description = Define(alert, file, where, errors, warnings);
                if (description is null) continue;
                // A rule in a #load-ed file is defined by every rule file that loads it (and by the
                // file itself when a glob names it too): said as "lib/shared.csx:2 ... already defined
                // at lib/shared.csx:2", neither loader was named.
                var by = file == unit.DisplayPath ? "" : $" (loaded by {unit.DisplayPath})";
                if (names.TryGetValue(description.Name, out var first))
                {
                    var why = first.Where != where ? ""
                        : first.Unit == unit.DisplayPath
                            ? ": the same Alert call ran twice (in a loop, a helper called twice, or a file that #loads itself)"
                            : ": a file that defines rules runs in each rule file that #loads it, and on its own when it is named too; "
                              + "load it from one, or keep rules out of shared files";
                    errors.Add($"{where}: error: rule \"{description.Name}\"{by} is already defined at {first.Where}{first.By}{why}");
                    continue;
                }
                names[description.Name] = (where, by, unit.DisplayPath);
                descriptions.Add(description);
                _delivery[description.Name] = new Delivery.RuleDelivery([.. alert.DeliveryLabels], [.. alert.DeliveryAnnotations]);
            }
        }
        _cache.PruneIfDue();
        // One line per error, whatever a rule's exception or selector held (a line feed in a message
        // made the rest of it look like another error).
        return new RuleLoadResult(descriptions, errors.Select(Output.Terminal.Escape).ToList(), warnings.Select(Output.Terminal.Escape).ToList());
    }

    // Kept out of Load so that a warm start never JIT-compiles a call into Roslyn.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CompileAll(Unit[] misses)
    {
        // Files compile independently; Roslyn is thread-safe per compilation.
        Parallel.ForEach(misses, unit => Compile(unit));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Compile(Unit unit)
    {
        unit.Entry = null;
        unit.FromCache = false;
        Interlocked.Increment(ref _compilations);
        CompileOutcome outcome;
        try
        {
            outcome = RuleCompiler.Compile(unit.Source!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A #load-ed file that vanished or cannot be read while checking directives.
            unit.Errors.Add($"{unit.DisplayPath}: error: {e.Message}");
            return;
        }
        if (outcome.Image is null)
        {
            unit.Errors.AddRange(outcome.Errors);
            return;
        }
        _cache.Write(unit.Key!, outcome.Image);
        unit.Entry = RuleCache.EntryPoint(outcome.Image);
    }

    /// <summary>What a load or run of a cached image throws when the image no longer fits this build.</summary>
    private static bool IsStale(Exception e) =>
        e is BadImageFormatException or TypeLoadException or MissingMemberException or FileLoadException
            or FileNotFoundException;

    private RuleGlobals? RunFile(Unit unit, List<string> errors)
    {
        var source = unit.Source!;
        while (true)
        {
            var globals = new RuleGlobals();
            try
            {
                var prefix = RuleConsole.FilePrefix(source.DisplayPath);
                Watchdog.Run(source.DisplayPath, () => RuleConsole.Run(prefix, () => unit.Entry!(globals).GetAwaiter().GetResult()));
                globals.Seal();
                return globals;
            }
            catch (Exception e) when (unit.FromCache && IsStale(e))
            {
                Compile(unit);
                errors.AddRange(unit.Errors);
                if (unit.Entry is null) return null;
            }
            catch (Exception e)
            {
                errors.Add($"{ThrownAt(e, source)}: error: the rule file threw {e.GetType().Name}: {e.Message}");
                return null;
            }
        }
    }

    /// <summary>
    /// The rule's value, whose exceptions say what they are and where in the rule files they came
    /// from: the engine reports only the message, and "Object reference not set to an instance of an
    /// object" alone does not tell a rule's author which line to fix. A query's own refusal is said
    /// as it is. The same goes for a WhenEach result's Select and Where functions, which the engine
    /// calls after the rule returned.
    /// </summary>
    private static Func<IQuery, T> Located<T>(Func<IQuery, T> value) => q =>
    {
        T result;
        try
        {
            result = value(q);
        }
        catch (Exception e) when (e is not (QueryException or RuleCodeException))
        {
            throw Describe(e);
        }
        if (result is Grouped { CallsRuleCode: true } && q is IEvaluationScope scope) scope.OnFailure(DescribeOnce);
        return result;
    };

    private static readonly Func<Exception, Exception> DescribeOnce = Describe;

    /// <summary>
    /// <paramref name="e"/> from a rule's code with its type and the first line of a rule file on
    /// its stack in the message; a query's refusal, or one described already, as it is.
    /// </summary>
    private static Exception Describe(Exception e)
    {
        if (e is QueryException or RuleCodeException) return e;
        var at = RuleFrame(e) is { } f ? $" at {RuleSource.ShownAs(f.Path)}:{f.Line}" : "";
        return new RuleCodeException($"{e.GetType().Name}{at}: {e.Message}", e);
    }

    /// <summary>
    /// The file and line of the innermost frame of <paramref name="e"/> in a rule file (the rule image
    /// carries its debug information); null when no frame is in one.
    /// </summary>
    private static (string Path, int Line)? RuleFrame(Exception e)
    {
        foreach (var frame in new System.Diagnostics.StackTrace(e, fNeedFileInfo: true).GetFrames())
            if (frame.GetFileName() is { } path && path.EndsWith(".csx", StringComparison.Ordinal) && frame.GetFileLineNumber() > 0)
                return (path, frame.GetFileLineNumber());
        return null;
    }

    /// <summary>
    /// <c>file:line</c> of the innermost frame of <paramref name="e"/> in a rule file, as messages show
    /// it; null when no frame is in one (not rule code's exception).
    /// </summary>
    internal static string? RuleCodeAt(Exception e) => RuleFrame(e) is { } f ? $"{RuleSource.ShownAs(f.Path)}:{f.Line}" : null;

    /// <summary>An exception from a rule's code, with its type and place in the message.</summary>
    private sealed class RuleCodeException(string message, Exception? inner) : Exception(message, inner);

    /// <summary>
    /// <c>file:line</c> of the innermost frame of <paramref name="e"/> in a rule file (the rule image
    /// carries its debug information): the file run, or one it <c>#load</c>s; the file run alone
    /// when no frame is in one.
    /// </summary>
    private static string ThrownAt(Exception e, RuleSource source) =>
        RuleFrame(e) is { } f
            ? $"{(f.Path == source.FullPath ? source.DisplayPath : RuleSource.ShownAs(f.Path))}:{f.Line}"
            : source.DisplayPath;

    /// <summary>Validates one registration, builds the core rule around watched delegates and probes it.</summary>
    private RuleDescription? Define(AlertBuilder alert, string file, string where, List<string> errors, List<string> warnings)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(alert.Name)) problems.Add("a rule needs a non-empty name");
        else
        {
            problems.AddRange(alert.Problems);
            // Not said again after When(null), which is the same mistake.
            if (alert.ScalarValue is null && alert.GroupedValue is null && !alert.GivenNullValue)
                problems.Add($"rule \"{alert.Name}\" has no When/WhenEach");
            if (alert.Threshold is null) problems.Add($"rule \"{alert.Name}\" has no Above(threshold)");
        }
        if (problems.Count > 0)
        {
            errors.AddRange(problems.Distinct().Select(p => $"{where}: error: {p}"));
            return null;
        }

        // What the rule prints goes to stderr under its name, never into the events on stdout.
        var prefix = RuleConsole.RulePrefix(alert.Name);
        Func<IQuery, double>? scalar = alert.ScalarValue is { } s ? Watchdog.Watch(alert.Name, RuleConsole.Attribute(prefix, Located(s)), where) : null;
        var labelLock = new LabelLock(alert.FiringMessage, alert.ResolvedMessage);
        Func<IQuery, Grouped>? grouped = alert.GroupedValue is { } g
            ? Watchdog.Watch(alert.Name, RuleConsole.Attribute(prefix, labelLock.Wrap(Located(g))), where)
            : null;
        Rule rule;
        try
        {
            var recover = alert.Recover is { } r ? new double?(r) : null;
            rule = scalar is not null
                ? Core.Interop.Rules.Scalar(alert.Name, scalar, alert.Threshold!.Value, recover, alert.ForTime, alert.FiringMessage, alert.ResolvedMessage)
                : Core.Interop.Rules.PerGroup(alert.Name, grouped!, alert.Threshold!.Value, recover, alert.ForTime, alert.FiringMessage, alert.ResolvedMessage);
        }
        catch (RuleDefinitionException e)
        {
            var message = e.Message.StartsWith("rule \"", StringComparison.Ordinal) ? e.Message : $"rule \"{alert.Name}\": {e.Message}";
            errors.Add($"{where}: error: {message}");
            return null;
        }

        // One call against a recording query: which windows the rule reads. Rules must not keep state
        // between calls (their value is a function of what the queries return), so this is harmless.
        var probe = new ProbeQuery();
        string? label = null;
        string? probeError = null;
        Grouped? groups = null;
        double? atZero = null;
        try
        {
            if (scalar is not null) atZero = scalar(probe);
            else label = (groups = grouped!(probe))?.Label;
        }
        catch (QueryException e) when (probe.Rejected is null)
        {
            // Refused by a result, not by a query's arguments (a / b of two labels): the same at
            // every second, so a load error as a refused query is.
            errors.Add($"{where}: error: rule \"{alert.Name}\": {e.Message}");
            return null;
        }
        catch (Exception e) when ((e as RuleGlobals.AlertInRuleException ?? e.InnerException as RuleGlobals.AlertInRuleException) is { })
        {
            // Whatever the data, the rule would define one at its first second: a load error.
            errors.Add($"{where}: error: rule \"{alert.Name}\": {e.Message}");
            return null;
        }
        catch (Exception e)
        {
            probeError = e is RuleCodeException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        }
        finally
        {
            probe.Close();
        }
        if (probe.Rejected is { } rejected)
        {
            errors.Add($"{where}: error: rule \"{alert.Name}\": {rejected}");
            return null;
        }
        // The call threw (a `?` in check's listing when it read nothing before): no error, a rule
        // may need data, but one that throws on every call passed check in silence.
        if (probeError is not null)
            warnings.Add($"{where}: note: rule \"{alert.Name}\": its call on empty data threw ({probeError}): "
                         + "listed is what it read before that; on data, a throw switches the rule off");
        // Said, not refused: the k may be a tenth of Distinct(host, w), 0 here only because the data is (ProbeQuery.TopK).
        if (probe.KBelowOne is { } k)
            warnings.Add($"{where}: warning: rule \"{alert.Name}\": TopK({k}, ...) on the load-time call's empty data: "
                         + "a k below 1 answers no groups (as Prometheus' topk does), so the rule fires for none while it is");
        // The label of the result itself, when the call returned one, is the rule's from now on.
        labelLock.Arm(label);
        label ??= grouped is not null ? probe.Uses.FirstOrDefault(u => u.Function is "SumBy" or "RateBy" or "TopK")?.Label : null;
        if (PlaceholderProblem([alert.FiringMessage, alert.ResolvedMessage], grouped is not null, label) is { } placeholder)
        {
            errors.Add($"{where}: error: rule \"{alert.Name}\": {placeholder}");
            return null;
        }
        if (grouped is not null && GroupLabelProblem(alert.DeliveryLabels, label) is { } relabel)
        {
            errors.Add($"{where}: error: rule \"{alert.Name}\": {relabel}");
            return null;
        }
        // Whether the value is the one query as it is (for check's line): a grouped rule returns the
        // very result the probe gave; a scalar one gave the probe's 0 back, and is called again,
        // muted, with other answers.
        var bare = probeError is null && probe.Uses.Count == 1
                   && (grouped is not null
                       ? ReferenceEquals(groups, probe.LastGroups)
                       : atZero == 0 && ProbeQuery.ValueIsTheQuery(Watchdog.Watch(alert.Name, RuleConsole.Attribute(RuleConsole.Mute, alert.ScalarValue!), where)));
        return new RuleDescription(rule, file, alert.Line, probe.Uses, label, probeError, alert.IsMonotonic, bare);
    }

    /// <summary>
    /// Holds a WhenEach rule to one label. Its alerts are kept by label value and carry the label's
    /// name, and its messages were checked against it: a rule that grouped by status and then by
    /// section resolved status "500" as <c>{section="500"}</c> and printed <c>{status}</c> as it is.
    /// A result grouped by another label is the rule's failure. The label is the one the load-time
    /// call returned, or, when that call returned none (it threw), the first one returned after,
    /// whose message placeholders are checked then.
    /// </summary>
    private sealed class LabelLock(string? firing, string? resolved)
    {
        private string? _label;
        private bool _armed; // not during the load-time call, whose label and placeholders the load checks

        public void Arm(string? label) => (_label, _armed) = (label, true);

        public Func<IQuery, Grouped> Wrap(Func<IQuery, Grouped> value) => q =>
        {
            var result = value(q);
            if (!_armed || result is null) return result!; // the engine reports a null result
            if (_label is null)
            {
                if (PlaceholderProblem([firing, resolved], true, result.Label) is { } problem)
                    throw new RuleCodeException($"WhenEach returned groups by {result.Label}, and {problem}", null);
                _label = result.Label;
            }
            else if (!string.Equals(result.Label, _label, StringComparison.Ordinal))
                throw new RuleCodeException($"WhenEach returned groups by {result.Label}, not by {_label} as before: a rule's groups are of one label", null);
            return result;
        };
    }

    private static readonly string[] Placeholders = ["value", "time", "threshold", "rule", "since"];

    private static readonly string[] LabelNames =
        ["section", "method", "status", "status_class", "host", "user", "vhost", "referer", "user_agent"];

    /// <summary>
    /// A <c>.Labels</c> name that is the per-group rule's own label, which each group's alert already
    /// carries with its own value: one fixed value would make every group's alert the same alert in
    /// Alertmanager (Prometheus refuses such a rule at evaluation). When the load-time call could not
    /// tell the label, any record label's name is refused, as it may be the one.
    /// </summary>
    internal static string? GroupLabelProblem(IEnumerable<(string Name, string Value)> labels, string? groupLabel)
    {
        foreach (var (name, _) in labels)
            if (groupLabel is null ? LabelNames.Contains(name) : name == groupLabel)
                return $"label \"{name}\" is {(groupLabel is null ? "a label this rule may group by" : "the label this rule groups by")}: each group's alert carries its own value; give the label another name";
        return null;
    }

    /// <summary>
    /// The <c>{name}</c>s in the message templates that nothing fills, which would be printed as they are
    /// (a typo, or a group's label in a rule without groups), all of them in one message (one at a time
    /// made a user fix and load again for each); null when every one is filled. A per-group rule may
    /// name its label (any label when the load-time call could not tell which).
    /// </summary>
    internal static string? PlaceholderProblem(IEnumerable<string?> templates, bool perGroup, string? label)
    {
        var unfilled = new List<string>();
        var formatted = new List<string>();
        bool Fills(string name) => Placeholders.Contains(name) || (perGroup && (name == "label" || (label is null ? LabelNames.Contains(name) : name == label)));
        foreach (var template in templates)
        {
            if (template is null) continue;
            // A C# author's format ({value:F3}, {time:HH:mm}) stayed as it was written, in silence;
            // other text in braces ({key: x}) stays as it is.
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(template, @"\{([A-Za-z_][A-Za-z0-9_]*)(?:[:,][^{}]*)?\}"))
            {
                var name = m.Groups[1].Value;
                var hasFormat = m.Value.Length > name.Length + 2;
                if (hasFormat && !Placeholders.Contains(name) && name != "label" && !LabelNames.Contains(name)) continue;
                if (!Fills(name)) { if (!unfilled.Contains($"{{{name}}}")) unfilled.Add($"{{{name}}}"); }
                else if (hasFormat && !formatted.Contains(m.Value)) formatted.Add(m.Value);
            }
        }
        var problems = new List<string>();
        if (unfilled.Count > 0)
        {
            var known = string.Join(", ", Placeholders.Select(p => $"{{{p}}}"))
                        + (perGroup ? $", {{label}}, {(label is null ? "a label's name" : $"{{{label}}}")}" : "");
            problems.Add(unfilled.Count == 1 ? $"message placeholder {unfilled[0]} is not one of {known}"
                : $"message placeholders {string.Join(", ", unfilled)} are not among {known}");
        }
        if (formatted.Count > 0)
            problems.Add($"message placeholder{(formatted.Count == 1 ? "" : "s")} {string.Join(", ", formatted)} "
                         + $"{(formatted.Count == 1 ? "has a format, which placeholders do not take" : "have formats, which placeholders do not take")} "
                         + "({value} is written with 2 decimals, {time} in ISO 8601)");
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    /// <summary>
    /// <c>logalert check RULES...</c>: compiles the rule files (quoted globs expanded) and prints one line
    /// per rule, <c>name  windows condition</c>, on <paramref name="stdout"/>; errors go to
    /// <paramref name="stderr"/>. Returns 0, or 2 on any error.
    /// </summary>
    public static int Check(IReadOnlyList<string> files, TextWriter stdout, TextWriter stderr, TimeSpan? ruleTimeout = null)
    {
        using var host = new RuleHost();
        if (ruleTimeout is { } timeout) host.RuleTimeout = timeout;
        return host.Check(files, stdout, stderr, expand: true);
    }

    /// <summary><see cref="Check(IReadOnlyList{string}, TextWriter, TextWriter, TimeSpan?)"/> with this host's cache and timeout.</summary>
    public int Check(IReadOnlyList<string> files, TextWriter stdout, TextWriter stderr, bool expand)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        Warnings = stderr;
        // Every problem, the arguments' and the files' found, before exiting (rules/README.md).
        var problems = new List<string>();
        var paths = expand ? ExpandRuleArguments(files, problems) : files;
        foreach (var problem in problems) stderr.WriteLine($"logalert: {problem}");
        if (paths.Count == 0)
        {
            if (problems.Count == 0) stderr.WriteLine("logalert: check: no rule files given");
            return ExitCodes.Usage;
        }
        var result = Load(paths);
        foreach (var error in result.Errors) stderr.WriteLine(error);
        foreach (var warning in result.Warnings) stderr.WriteLine(warning);
        if (!result.Ok || problems.Count > 0) return ExitCodes.Usage;
        var width = result.Descriptions.Count == 0 ? 0 : result.Descriptions.Max(d => d.Name.Length);
        foreach (var d in result.Descriptions) stdout.WriteLine($"{d.Name.PadRight(width)}  {d}");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Expands rule arguments the shell left alone (quoted, or from a config): <c>*</c> and <c>?</c> in any
    /// path segment, <c>**</c> for any depth of folders. Each pattern's matches come in ordinal order;
    /// otherwise the order given is kept, and a file named twice is kept once. A missing file or a
    /// pattern that matches nothing throws <see cref="UsageException"/> (<c>rules/nope.csx: no such file</c>).
    /// </summary>
    public static IReadOnlyList<string> ExpandRuleArguments(IEnumerable<string> args)
    {
        var problems = new List<string>();
        var found = ExpandRuleArguments(args, problems);
        return problems.Count > 0 ? throw new UsageException(problems[0]) : found;
    }

    /// <summary>
    /// <see cref="ExpandRuleArguments(IEnumerable{string})"/>, with every argument's problem added to
    /// <paramref name="problems"/> (without <c>logalert: </c>) and the files of the others returned:
    /// so that the files found can be loaded and their errors shown with these.
    /// </summary>
    public static IReadOnlyList<string> ExpandRuleArguments(IEnumerable<string> args, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(problems);
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var arg in args)
        {
            try { AddMatches(arg); }
            catch (UsageException e) { problems.Add(e.Message); }
        }
        return result;

        void AddMatches(string arg)
        {
            IEnumerable<string> matches;
            if (arg.Length == 0) throw new UsageException("a rule file argument is empty ('')");
            if (File.Exists(arg)) matches = [arg];
            else if (Directory.Exists(arg)) throw new UsageException($"{arg}: is a directory (try {arg.TrimEnd('/')}/*.csx)");
            else if (RuleGlob.IsPattern(arg))
                // A glob picks rule files: 'rules/*' compiled rules/README.md as C# (a hundred
                // compiler errors). A file named as it is is taken whatever its name.
                matches = RuleGlob.ExpandTo(arg, ".csx", ".csx", StringComparison.OrdinalIgnoreCase);
            else throw new UsageException($"{arg}: no such file");
            foreach (var m in matches)
                if (seen.Add(Path.GetFullPath(m))) result.Add(m);
        }
    }

    /// <summary>Stops the watchdog thread. Rules loaded by this host keep working, unwatched.</summary>
    public void Dispose()
    {
        Watchdog.Dispose();
        RuleConsole.FlushStray();
    }
}
