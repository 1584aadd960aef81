using System.Globalization;
using System.Text.Json;
using LogAlert.Cli.Input;

namespace LogAlert.Cli.Testing;

/// <summary>A case file, a transition file or a case's option that cannot be used: <c>file:line: reason</c>, exit 2.</summary>
public sealed class CaseException(string message) : Exception(message);

/// <summary>
/// One test case of rules: the rule files, the input (a recorded log, or traffic that
/// <c>logalert generate</c> describes), the options of the run, and the file of the alert transitions
/// the replay must produce (rules/README.md, "Testing rules").
/// </summary>
/// <remarks>
/// A case is a <c>NAME.case.json</c> file (comments and trailing commas allowed); its transitions are in
/// <c>NAME.expect.jsonl</c> beside it unless it names another file. Paths in it are relative to it.
/// </remarks>
public sealed class TestCase
{
    /// <summary>The case's name as the report shows it: its path as given or found.</summary>
    public required string Name { get; init; }

    /// <summary>The rule files, as paths from the current folder.</summary>
    public required IReadOnlyList<string> Rules { get; init; }

    /// <summary>The recorded log, as a path from the current folder; null when the case generates its input.</summary>
    public string? Log { get; init; }

    /// <summary>The generated input, when the case has no recorded log.</summary>
    public GeneratorOptions? Generate { get; init; }

    /// <summary>The generate options as written, for the report.</summary>
    public string? GenerateText { get; init; }

    /// <summary><c>--input-format</c> of the recorded log.</summary>
    public string InputFormat { get; init; } = "auto";

    /// <summary><c>--log-format</c> of the recorded log.</summary>
    public string? LogFormat { get; init; }

    /// <summary><c>--lateness</c>.</summary>
    public TimeSpan Lateness { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>--max-skew</c>.</summary>
    public TimeSpan MaxSkew { get; init; } = TimeSpan.FromHours(1);

    /// <summary><c>--threshold</c> of the built-in rule (a case without rule files).</summary>
    public double Threshold { get; init; } = 10;

    /// <summary><c>--window</c> of the built-in rule.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary><c>--rule-timeout</c>.</summary>
    public TimeSpan RuleTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The file of expected transitions.</summary>
    public required string ExpectFile { get; init; }

    /// <summary>
    /// The line of each key of the case file (<c>options.lateness</c> for an option) and of each rule
    /// file it names (<c>rules[1]</c>); empty for a one-off case.
    /// </summary>
    public IReadOnlyDictionary<string, int> KeyLines { get; init; } = new Dictionary<string, int>();

    /// <summary><c>file:line</c> of a key of the case file; for a one-off case (no file), its name.</summary>
    public string At(string key) => KeyLines.TryGetValue(key, out var line) ? $"{Name}:{line}" : Name;

    /// <summary><c>file:line</c> of the entry of <c>"rules"</c> that names <see cref="Rules"/>[<paramref name="index"/>]; for a one-off case, its name.</summary>
    public string AtRule(int index) => KeyLines.ContainsKey(RuleKey(index)) ? At(RuleKey(index)) : At("rules");

    private static string RuleKey(int index) => $"rules[{index}]";

    /// <summary>How the user wrote a setting: <c>"input_format"</c> in a case file, <c>--input-format</c> for a one-off case.</summary>
    public string Key(string key) => KeyLines.Count > 0 ? $"\"{key}\"" : "--" + key.Replace('_', '-');

    /// <summary>Where the case names <see cref="ExpectFile"/>: <c>file:line</c> of its <c>"expect"</c>, or the case's name when it names none.</summary>
    public string ExpectWhere { get; init; } = "";

    private static readonly JsonDocumentOptions Lenient = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Reads a case file; a mistake in it is a <see cref="CaseException"/> naming the line.</summary>
    public static TestCase Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaseException($"{path}: {e.Message}");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, Lenient);
        }
        catch (JsonException e)
        {
            throw new CaseException($"{path}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: not valid JSON: {FirstSentence(e.Message)}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new CaseException($"{path}:1: a case is a JSON object");
            var keyLines = KeyLinesOf(text);
            int LineOf(string key) => keyLines.TryGetValue(key, out var line) ? line : 1;
            var folder = Path.GetDirectoryName(path) ?? "";
            // At the line of `at` when given: an entry of "rules" on a line of its own.
            CaseException Bad(string key, string reason, string? at = null) => new($"{path}:{LineOf(at ?? key)}: \"{key}\" {reason}");
            // An empty name is no file: it ended as the case's own folder, or a stack trace.
            string Relative(string key, string p, string? at = null) =>
                string.IsNullOrWhiteSpace(p) ? throw Bad(key, "names no file (an empty name)", at)
                : Path.IsPathRooted(p) ? p : Path.Combine(folder, p);

            var known = new HashSet<string>(StringComparer.Ordinal)
                { "description", "rules", "input", "generate", "input_format", "log_format", "options", "expect" };
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in root.EnumerateObject())
            {
                if (!known.Contains(p.Name))
                    throw new CaseException($"{path}:{LineOf(p.Name)}: unknown key \"{p.Name}\" (keys: {string.Join(", ", known)})");
                // JSON takes the last of two, silently: a case edited by hand may keep an old one.
                if (!seen.Add(p.Name)) throw Bad(p.Name, "is given twice");
            }

            var rules = new List<string>();
            if (root.TryGetProperty("rules", out var r))
            {
                if (r.ValueKind == JsonValueKind.String) rules.Add(Relative("rules", r.GetString()!, RuleKey(0)));
                else if (r.ValueKind == JsonValueKind.Array && r.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
                    rules.AddRange(r.EnumerateArray().Select((e, i) => Relative("rules", e.GetString()!, RuleKey(i))));
                else throw Bad("rules", "is not a rule file or a list of them");
            }
            string? log = null;
            GeneratorOptions? generate = null;
            string? generateText = null;
            var hasInput = root.TryGetProperty("input", out var input);
            var hasGenerate = root.TryGetProperty("generate", out var gen);
            if (hasInput == hasGenerate)
                throw new CaseException($"{path}:1: a case needs one input: \"input\" (a recorded log) or \"generate\" (traffic as logalert generate's options)");
            if (hasInput)
            {
                if (input.ValueKind != JsonValueKind.String) throw Bad("input", "is not a file name");
                log = Relative("input", input.GetString()!);
            }
            else
            {
                if (gen.ValueKind != JsonValueKind.String) throw Bad("generate", "is not logalert generate's options, e.g. \"--rate 5 --burst 5m:3m:20 --duration 15m\"");
                generateText = gen.GetString()!;
                try
                {
                    generate = GeneratorArgs.Parse(generateText);
                }
                catch (UsageException mistake)
                {
                    throw Bad("generate", $"has a mistake: {mistake.Message}");
                }
            }
            string? Text(string key)
            {
                if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad(key, "is not a string");
            }
            // Generated input is always CSV: a format given with it was applied to the CSV, every line
            // was bad, and the case passed with no transition.
            foreach (var key in new[] { "input_format", "log_format" })
                if (hasGenerate && root.TryGetProperty(key, out _))
                    throw Bad(key, "is the format of a recorded \"input\"; \"generate\" makes CSV, which is read as such");
            var expect = Text("expect") is { } e ? Relative("expect", e) : DefaultExpectFile(path);
            var expectWhere = root.TryGetProperty("expect", out _) ? $"{path}:{LineOf("expect")}" : path;
            var testCase = new TestCase
            {
                Name = path,
                Rules = rules,
                Log = log,
                Generate = generate,
                GenerateText = generateText,
                InputFormat = Text("input_format") ?? "auto",
                LogFormat = Text("log_format"),
                ExpectFile = expect,
                ExpectWhere = expectWhere,
                KeyLines = keyLines,
            };
            if (root.TryGetProperty("options", out var options))
            {
                if (options.ValueKind != JsonValueKind.Object) throw Bad("options", "is not an object");
                var given = new HashSet<string>(StringComparer.Ordinal);
                foreach (var o in options.EnumerateObject())
                {
                    CaseException BadOption(string reason) => new($"{path}:{LineOf("options." + o.Name)}: option \"{o.Name}\" {reason}");
                    if (!given.Add(o.Name)) throw BadOption("is given twice");
                    TimeSpan Duration()
                    {
                        var s = o.Value.ValueKind == JsonValueKind.String ? o.Value.GetString()! : o.Value.ToString();
                        return Durations.TryParse(s, out var d, out var why) ? d : throw BadOption(why);
                    }
                    if (o.Name is "threshold" or "window" && rules.Count > 0)
                        throw BadOption("sets the built-in rule, which a case with rules does not run");
                    testCase = o.Name switch
                    {
                        "lateness" => testCase.With(lateness: Duration()),
                        "max_skew" => testCase.With(maxSkew: Duration()),
                        "window" => testCase.With(window: Duration()),
                        "rule_timeout" => testCase.With(ruleTimeout: Duration()),
                        "threshold" => o.Value.ValueKind == JsonValueKind.Number ? testCase.With(threshold: o.Value.GetDouble()) : throw BadOption("is not a number"),
                        _ => throw BadOption("is not one of lateness, max_skew, threshold, window, rule_timeout"),
                    };
                }
            }
            return testCase;
        }
    }

    private TestCase With(TimeSpan? lateness = null, TimeSpan? maxSkew = null, TimeSpan? window = null, TimeSpan? ruleTimeout = null,
        double? threshold = null) => new()
    {
        Name = Name, Rules = Rules, Log = Log, Generate = Generate, GenerateText = GenerateText, InputFormat = InputFormat,
        LogFormat = LogFormat, ExpectFile = ExpectFile, ExpectWhere = ExpectWhere, KeyLines = KeyLines,
        Lateness = lateness ?? Lateness, MaxSkew = maxSkew ?? MaxSkew, Window = window ?? Window,
        RuleTimeout = ruleTimeout ?? RuleTimeout, Threshold = threshold ?? Threshold,
    };

    /// <summary><c>NAME.expect.jsonl</c> beside <c>NAME.case.json</c>.</summary>
    public static string DefaultExpectFile(string casePath)
    {
        var name = Path.GetFileName(casePath);
        var stem = name.EndsWith(".case.json", StringComparison.OrdinalIgnoreCase) ? name[..^".case.json".Length] : Path.GetFileNameWithoutExtension(name);
        return Path.Combine(Path.GetDirectoryName(casePath) ?? "", stem + ".expect.jsonl");
    }

    /// <summary>
    /// The 1-based line of each key of the case (<c>options.NAME</c> for an option) and of each
    /// rule file of <c>"rules"</c> (<c>rules[0]</c>, …; a single name is <c>rules[0]</c>), read as
    /// JSON: a search for <c>"key"</c> in the text found it in a comment or a string before the key.
    /// </summary>
    private static Dictionary<string, int> KeyLinesOf(string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        string? top = null;
        int line = 1;
        long counted = 0;
        var rule = 0;
        while (reader.Read())
        {
            string key;
            if (reader.TokenType == JsonTokenType.String && top == "rules" && reader.CurrentDepth is 1 or 2)
                key = RuleKey(rule++); // the value of "rules", or an entry of its list
            else if (reader.TokenType != JsonTokenType.PropertyName) continue;
            else if (reader.CurrentDepth == 1) key = top = reader.GetString()!;
            else if (reader.CurrentDepth == 2 && top == "options") key = "options." + reader.GetString()!;
            else continue;
            for (; counted < reader.TokenStartIndex; counted++)
                if (bytes[counted] == (byte)'\n') line++;
            lines.TryAdd(key, line);
        }
        return lines;
    }

    private static string FirstSentence(string message)
    {
        // System.Text.Json ends its message with where, 0-based (" LineNumber: 2 | BytePositionInLine: 2."
        // or " Path: $ | LineNumber: ..."): the case's message says it once, 1-based, as file:line:column.
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }
}

/// <summary>
/// One alert transition: a rule's alert (for a group, by its labels) fired or resolved at a second of
/// log time, with its value. An expected one may leave the value out.
/// </summary>
public sealed partial record Transition(string Rule, IReadOnlyList<KeyValuePair<string, string>> Labels, bool Fired, long Time, double? Value)
{
    /// <summary><c>{section="/api"}</c>, or empty.</summary>
    public string LabelText => Labels.Count == 0 ? "" : "{" + string.Join(",", Labels.Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";

    /// <summary>
    /// Whether <paramref name="got"/> is this transition: the same rule, labels, state and second, and
    /// when this one has a value, within 0.01 of the value as logalert shows it (2 decimals); a value
    /// that is not finite only equals itself (+Inf, -Inf, NaN).
    /// </summary>
    public bool Matches(Transition got) =>
        Rule == got.Rule && Fired == got.Fired && Time == got.Time
        && Labels.Count == got.Labels.Count && Labels.Zip(got.Labels).All(p => p.First.Key == p.Second.Key && p.First.Value == p.Second.Value)
        && (Value is not { } v || (got.Value is { } g && Near(v, g)));

    /// <summary>
    /// Against the shown value: 11.87 was compared with the raw 11.8833 and failed, though the
    /// report and --update show 11.88, which is within 0.01. The 1e-9 absorbs binary fractions.
    /// </summary>
    private static bool Near(double expected, double got) =>
        double.IsFinite(expected) && double.IsFinite(got)
            ? Math.Abs(expected - (Output.Format.Round2(got) is { } shown ? (double)shown : got)) <= 0.01 + 1e-9
            : expected.Equals(got); // +Inf - +Inf is NaN, and NaN == NaN is false: Equals holds for both

    /// <summary><c>+5m12s</c>: a second as an offset from <paramref name="origin"/>.</summary>
    public static string Offset(long second, long origin)
    {
        var d = second - origin;
        var sign = d < 0 ? "-" : "+";
        d = Math.Abs(d);
        var parts = new List<string>();
        if (d >= 86400) { parts.Add($"{d / 86400}d"); d %= 86400; }
        if (d >= 3600) { parts.Add($"{d / 3600}h"); d %= 3600; }
        if (d >= 60) { parts.Add($"{d / 60}m"); d %= 60; }
        if (d > 0 || parts.Count == 0) parts.Add($"{d}s");
        return sign + string.Concat(parts);
    }

    /// <summary>Reads transitions from <c>--format jsonl</c> lines (lines of other types are skipped), or lines written by <c>--update</c>.</summary>
    /// <param name="path">The file, for messages.</param>
    /// <param name="lines">Its lines.</param>
    /// <param name="origin">The input's first second, for times written as offsets (<c>"at":"+5m12s"</c>); null when it has none.</param>
    public static List<Transition> Read(string path, IEnumerable<string> lines, long? origin)
    {
        var result = new List<Transition>();
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            CaseException Bad(string reason) => new($"{path}:{number}: {reason}");
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                throw Bad("not a JSON object");
            }
            using (doc)
            {
                var e = doc.RootElement;
                if (e.ValueKind != JsonValueKind.Object) throw Bad("not a JSON object");
                // Each field of the type it must have: a number where a string belongs (or the
                // reverse) is the file's mistake, said with its line, not an exception.
                if (e.TryGetProperty("type", out var type))
                {
                    if (type.ValueKind != JsonValueKind.String) throw Bad("\"type\" is not a string");
                    if (type.GetString() != "alert") continue; // summaries, stats
                }
                // A key given twice is refused, as a case file refuses it: JSON reads one of the two silently.
                if (Repeated(e) is { } twice) throw Bad($"\"{twice}\" is given twice");
                // So is a key that is neither read here nor written by --format jsonl: "valeu" or
                // "lables" was skipped, and the case passed without checking what it meant to.
                foreach (var p in e.EnumerateObject())
                    if (Array.IndexOf(TransitionKeys, p.Name) < 0 && Array.IndexOf(PrintedKeys, p.Name) < 0)
                        throw Bad($"unknown key \"{p.Name}\" (keys: {string.Join(", ", TransitionKeys)})");
                if (e.TryGetProperty("labels", out var given) && given.ValueKind == JsonValueKind.Object && Repeated(given) is { } label)
                    throw Bad($"label \"{label}\" is given twice");
                var rule = e.TryGetProperty("rule", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : throw Bad("no \"rule\"");
                var state = e.TryGetProperty("state", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
                var fired = state switch
                {
                    "firing" => true,
                    "resolved" => false,
                    _ => throw Bad("\"state\" is not \"firing\" or \"resolved\""),
                };
                // Each time the line gives; jsonl output gives "ts" and "time" both. They must agree:
                // an "at" edited by hand beside an old "time" passed on the "at" alone.
                var times = new List<(string Key, long Time)>();
                if (e.TryGetProperty("at", out var at))
                {
                    if (at.ValueKind != JsonValueKind.String) throw Bad("\"at\" is not a string such as \"+5m12s\"");
                    var text = at.GetString()!;
                    if (origin is not { } o) throw Bad("\"at\" needs an input with records to count from");
                    // One sign at most: "+-2m56s" read as +2m56s when every sign was trimmed.
                    var negative = text.StartsWith('-');
                    var body = text.StartsWith('+') || negative ? text[1..] : text;
                    if (body.StartsWith('+') || body.StartsWith('-') || !Durations.TryParse(body, out var offset, out var why))
                        throw Bad($"\"at\": \"{text}\" is not an offset such as \"+5m12s\" or \"-3s\"");
                    times.Add(("at", o + (negative ? -1 : 1) * (long)offset.TotalSeconds));
                }
                if (e.TryGetProperty("ts", out var ts))
                    times.Add(("ts", ts.ValueKind == JsonValueKind.Number && ts.TryGetInt64(out var t) ? t
                        : throw Bad("\"ts\" is not a whole number of Unix seconds")));
                if (e.TryGetProperty("time", out var iso))
                {
                    // A date and a time: DateTimeOffset.TryParse alone read "21:13:56" as that time today,
                    // so the case's result depended on the day it ran.
                    var when = iso.ValueKind == JsonValueKind.String && IsoTime().IsMatch(iso.GetString()!)
                        && DateTimeOffset.TryParse(iso.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
                        ? parsed : throw Bad("\"time\" is not an ISO 8601 time such as \"2019-02-07T21:12:49Z\"");
                    // Transitions happen at whole seconds: "…:49.7Z" was cut to :49 and passed, though the
                    // line names no second an event can have.
                    if (when.Ticks % TimeSpan.TicksPerSecond != 0)
                        throw Bad($"\"time\": \"{iso.GetString()}\" is within a second; events happen at whole seconds");
                    times.Add(("time", when.ToUnixTimeSeconds()));
                }
                if (times.Count == 0) throw Bad("no time: \"at\" (+5m12s from the input's first record), \"time\" (ISO 8601) or \"ts\" (Unix seconds)");
                var time = times[0].Time;
                if (times.FirstOrDefault(x => x.Time != time) is { Key: not null } other)
                    throw Bad($"\"{times[0].Key}\" and \"{other.Key}\" name different seconds ({Output.Format.Time(time)}, {Output.Format.Time(other.Time)})");
                // JSON has no number that is not finite: such a value is written as Prometheus writes it.
                double? value = null;
                if (e.TryGetProperty("value", out var v) && v.ValueKind != JsonValueKind.Null)
                    value = v.ValueKind == JsonValueKind.Number ? v.GetDouble()
                        : v.ValueKind == JsonValueKind.String && Output.Format.TryParseNotFinite(v.GetString(), out var special) ? special
                        : throw Bad("\"value\" is not a number, \"+Inf\", \"-Inf\" or \"NaN\"");
                var labels = new List<KeyValuePair<string, string>>();
                if (e.TryGetProperty("labels", out var l))
                {
                    if (l.ValueKind != JsonValueKind.Object) throw Bad("\"labels\" is not an object");
                    foreach (var p in l.EnumerateObject())
                        labels.Add(new(p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()!
                            : throw Bad($"label \"{p.Name}\" is not a string")));
                }
                result.Add(new Transition(rule, labels, fired, time, value));
            }
        }
        return result;
    }

    /// <summary>The keys an expected transition is read from.</summary>
    private static readonly string[] TransitionKeys = ["rule", "state", "at", "time", "ts", "value", "labels"];

    /// <summary>The other keys of an alert line of <c>--format jsonl</c>, taken and not compared.</summary>
    private static readonly string[] PrintedKeys = ["type", "threshold", "message", "firing_since"];

    /// <summary>The first key of <paramref name="o"/> (an object) given more than once, or null.</summary>
    private static string? Repeated(JsonElement o)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in o.EnumerateObject())
            if (!seen.Add(p.Name)) return p.Name;
        return null;
    }

    /// <summary>ISO 8601 with a date and a time of day (seconds, optional fraction), and optionally its offset (else UTC).</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$")]
    private static partial System.Text.RegularExpressions.Regex IsoTime();

    /// <summary>The line <c>--update</c> writes: rule, state, offset, value, labels.</summary>
    public string ToJsonLine(long origin)
    {
        using var buffer = new MemoryStream();
        // Relaxed: an offset reads +5m12s, not \u002B5m12s (control characters are still escaped).
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("rule", Rule);
            json.WriteString("state", Fired ? "firing" : "resolved");
            json.WriteString("at", Offset(Time, origin));
            if (Value is { } v && Output.Format.Round2(v) is { } rounded) json.WriteNumber("value", rounded);
            else if (Value is { } large && double.IsFinite(large)) json.WriteNumber("value", large);
            else if (Value is { } special) json.WriteString("value", Output.Format.NotFinite(special)); // once left out: then any value passed
            json.WriteStartObject("labels");
            foreach (var p in Labels) json.WriteString(p.Key, p.Value);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
