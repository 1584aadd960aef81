using System.Diagnostics;
using LogAlert.Cli.Output;

namespace LogAlert.Cli.Testing;

/// <summary>How one case ended, for the summary line and the JUnit report.</summary>
public sealed record CaseResult(string Name, bool Passed, bool Broken, string Detail, TimeSpan Elapsed, bool Skipped = false);

/// <summary>
/// Runs cases one after another and reports each as a test runner does: <c>ok</c>, or <c>FAIL</c> with
/// the first differing transitions side by side (times in ISO and as offsets from the input's first
/// second), then <c>N passed, M failed</c>. With <c>--update</c> it writes each case's transitions
/// from its replay instead, and prints what changed.
/// </summary>
public sealed class TestRun(CaseRunner runner, TextWriter output, bool update)
{
    private readonly List<CaseResult> _results = [];
    private readonly HashSet<string> _rules = new(StringComparer.Ordinal);
    private readonly HashSet<string> _fired = new(StringComparer.Ordinal);

    /// <summary>Every case's result, in order.</summary>
    public IReadOnlyList<CaseResult> Results => _results;

    /// <summary>The case being run, for a message about a rule stuck in it.</summary>
    public string Current { get; private set; } = "";

    /// <summary>The rule files some case loaded, as full paths.</summary>
    public IReadOnlySet<string> RuleFiles => _ruleFiles;

    private readonly HashSet<string> _ruleFiles = new(StringComparer.Ordinal);

    /// <summary>The rules that ran in some case and fired in none (rule coverage), in name order.</summary>
    public IEnumerable<string> NeverFired() => _rules.Except(_fired).Order(StringComparer.Ordinal);

    private IReadOnlyList<(string Name, Func<TestCase> Load)> _cases = [];
    private int _stopped;
    private long _caseStarted;

    /// <summary>
    /// Runs every case; the exit code: 0 all passed, 1 some failed, 2 some could not be loaded, or
    /// 128 + the signal's number when <paramref name="stop"/> was signalled: the run stops in the case
    /// it is in, which is skipped with the cases after it.
    /// </summary>
    public int RunAll(IReadOnlyList<(string Name, Func<TestCase> Load)> cases, SignalStop? stop = null)
    {
        _cases = cases;
        var cancel = stop?.Token ?? CancellationToken.None;
        foreach (var (name, load) in cases)
        {
            if (cancel.IsCancellationRequested) break;
            RunOne(name, load, cancel);
        }
        lock (_results)
        {
            // A forced stop (a rule held the run past the grace) claimed the report and is ending the process.
            if (Interlocked.Exchange(ref _stopped, 1) == 1) Monitor.Wait(_results);
            if (stop?.Signal is { } signal)
            {
                SkipRest(signal);
                Finish(signal);
                return stop.ExitCode;
            }
        }
        return Finish();
    }

    /// <summary>
    /// Ends the run for a signal while the run's thread is held (a rule stuck in a loop): the case
    /// being run is skipped, as are those after it, and the summary is written. False when the run
    /// already ended by itself (its report is being written).
    /// </summary>
    public bool Interrupt(string signal, string? running)
    {
        lock (_results)
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 1) return false;
            var reason = $"{signal} while {running ?? "the case"} was running";
            output.WriteLine($"stop  {Terminal.Escape(Current)}: {Terminal.Escape(reason)}");
            _results.Add(new CaseResult(Current, false, false, $"not run to its end: {reason}", Stopwatch.GetElapsedTime(_caseStarted), Skipped: true));
            SkipRest(signal);
            Finish(signal);
            return true;
        }
    }

    private void SkipRest(string signal)
    {
        foreach (var (name, _) in _cases.Skip(_results.Count))
            _results.Add(new CaseResult(name, false, false, $"not run: the run was stopped by {signal}", TimeSpan.Zero, Skipped: true));
    }

    /// <summary>
    /// Ends the run in the case being run, for a rule that cannot be resumed (stuck past its timeout,
    /// or ending the process with <c>Environment.Exit</c>): that case is an <c>ERROR</c> with
    /// <paramref name="reason"/>, the summary line counts the cases not run, and the exit code is 2.
    /// Called from another thread while the run's own is held in the rule; once. False when the
    /// report was already written (the run ended, or a signal stopped it): the reason is in no case.
    /// </summary>
    public bool Stop(string reason, bool signalled = false)
    {
        lock (_results)
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 1) return false;
            output.WriteLine($"ERROR {Terminal.Escape(Current)}: {Terminal.Escape(reason)}");
            output.WriteLine(signalled
                ? "      the run stops here: it was asked to stop"
                : "      the run stops here: a rule held in a loop or ending the process cannot be resumed");
            _results.Add(new CaseResult(Current, false, true, reason, Stopwatch.GetElapsedTime(_caseStarted)));
            // The cases after it are in the report as skipped, so that CI shows them as not run.
            foreach (var (name, _) in _cases.Skip(_results.Count))
                _results.Add(new CaseResult(name, false, false, $"not run: the run stopped in {Current}", TimeSpan.Zero, Skipped: true));
            Finish();
            return true;
        }
    }

    private int Finish(string? signal = null)
    {
        var passed = _results.Count(r => r.Passed);
        var notRun = _results.Count(r => r.Skipped);
        var failed = _results.Count - passed - notRun;
        var broken = _results.Count(r => r.Broken);
        var notes = new List<string>();
        if (broken > 0) notes.Add($"{broken} could not be run");
        if (notRun > 0) notes.Add(signal is null ? $"{notRun} not run" : $"{notRun} not run: stopped by {signal}");
        var couldNot = notes.Count > 0 ? $" ({string.Join(", ", notes)})" : "";
        if (update)
        {
            // Only the cases whose file was written count as updated; the others were already right.
            var written = _results.Count(r => r.Detail == Written);
            var same = _results.Count(r => r.Detail == Same);
            output.WriteLine($"{written} updated{(same > 0 ? $", {same} unchanged" : "")}{couldNot}");
        }
        else output.WriteLine($"{passed} passed, {failed} failed{couldNot}");
        output.Flush();
        return _results.Any(r => r.Broken) ? ExitCodes.Usage : failed > 0 ? ExitCodes.Failed : ExitCodes.Ok;
    }

    /// <summary>
    /// Writes a case's lines and keeps its result, unless a forced stop already wrote the report (the
    /// thread is then let go by the process's exit).
    /// </summary>
    private void Report(CaseResult result, params IEnumerable<string> lines)
    {
        lock (_results)
        {
            if (Volatile.Read(ref _stopped) == 1) return;
            foreach (var line in lines) output.WriteLine(line);
            _results.Add(result);
        }
    }

    private void RunOne(string name, Func<TestCase> load, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        _caseStarted = Stopwatch.GetTimestamp();
        TestCase? testCase = null;
        Current = name; // a case that cannot be loaded is reported under its file's name
        try
        {
            testCase = load();
            Current = testCase.Name;
            _ruleFiles.UnionWith(testCase.Rules.Select(Path.GetFullPath));
            var replay = runner.Run(testCase, cancel);
            _rules.UnionWith(replay.Rules);
            _fired.UnionWith(replay.Transitions.Where(t => t.Fired).Select(t => t.Rule));
            // An input that gave no record tests nothing (a recorded log in another format than its
            // "input_format" says: every line bad): not a pass, and nothing to write.
            if (update && replay.Records == 0)
                throw new CaseException($"{testCase.Name}: nothing written: {NoRecord(replay)}");
            if (update)
            {
                var detail = Update(testCase, replay) ? Written : Same;
                Report(new CaseResult(testCase.Name, true, false, detail, clock.Elapsed));
                return;
            }
            if (!File.Exists(testCase.ExpectFile))
                throw new CaseException(Directory.Exists(testCase.ExpectFile)
                    ? $"{testCase.Name}: expected transitions {testCase.ExpectFile}: is a folder, not a file"
                    : $"{testCase.Name}: no expected transitions: {testCase.ExpectFile} does not exist (write it with logalert test --update)");
            IReadOnlyList<Transition> expected;
            try { expected = Transition.Read(testCase.ExpectFile, ReadExpectations(testCase), replay.Origin); }
            catch (CaseException e) when (replay.Records == 0)
            {
                // "at" counts from the input's first record: without one, why there is none.
                throw new CaseException($"{e.Message}; {NoRecord(replay)}");
            }
            var diff = Compare(expected, replay)
                       ?? (replay.Records == 0 ? $"{NoRecord(replay)}: a case that reads nothing tests nothing" : null);
            if (diff is null)
            {
                Report(new CaseResult(testCase.Name, true, false, "", clock.Elapsed),
                    $"ok    {Terminal.Escape(testCase.Name)}  ({Count(replay.Transitions.Count)})");
            }
            else
            {
                Report(new CaseResult(testCase.Name, false, false, diff, clock.Elapsed),
                    [$"FAIL  {Terminal.Escape(testCase.Name)}", .. diff.Split('\n').Select(line => "      " + Terminal.Escape(line))]);
            }
        }
        catch (CaseException e)
        {
            name = testCase?.Name ?? name;
            // A message of several lines (a rule file's compiler errors) is written as FAIL writes a
            // diff: each line escaped on its own, the ones after the first indented.
            var lines = e.Message.Split('\n');
            Report(new CaseResult(name, false, true, e.Message, clock.Elapsed),
                [$"ERROR {Terminal.Escape(lines[0])}", .. lines.Skip(1).Select(line => "      " + Terminal.Escape(line))]);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // A signal: the case is left where it was, not judged on half its input.
            name = testCase?.Name ?? name;
            Report(new CaseResult(name, false, false, "not run to its end: the run was asked to stop", clock.Elapsed, Skipped: true),
                $"stop  {Terminal.Escape(name)}: not run to its end");
        }
    }

    private static string Count(int n) => n == 1 ? "1 transition" : $"{n} transitions";

    /// <summary>
    /// Null when the replay gave exactly the expected transitions; else the report of the earliest
    /// difference. Each alert (rule and labels) is compared on its own, in order: the order of
    /// transitions of different rules at one second, or of an expect file grouped by rule, is no
    /// difference (compared by position, a file listing rule A's transitions then B's failed naming
    /// the wrong rule).
    /// </summary>
    private static string? Compare(IReadOnlyList<Transition> allExpected, Replay replay)
    {
        static string KeyOf(Transition t) => t.Rule + t.LabelText;
        var keys = replay.Transitions.Concat(allExpected).Select(KeyOf).Distinct(StringComparer.Ordinal).ToList();
        var expectedOf = allExpected.ToLookup(KeyOf, StringComparer.Ordinal);
        var gotOf = replay.Transitions.ToLookup(KeyOf, StringComparer.Ordinal);
        var differing = new List<(string Key, List<Transition> Expected, List<Transition> Got, int First, long Time)>();
        foreach (var key in keys)
        {
            List<Transition> e = [.. expectedOf[key]], g = [.. gotOf[key]];
            var i = 0;
            while (i < e.Count && i < g.Count && e[i].Matches(g[i])) i++;
            if (i == e.Count && i == g.Count) continue;
            var time = Math.Min(i < e.Count ? e[i].Time : long.MaxValue, i < g.Count ? g[i].Time : long.MaxValue);
            differing.Add((key, e, g, i, time));
        }
        if (differing.Count == 0) return null;
        var (_, expected, got, first, _) = differing.MinBy(d => d.Time);
        // Offsets are from the input's first record; with none, from the first expected transition
        // (from 1970 they read +17934d21h11m).
        var origin = replay.Origin ?? (allExpected.Count > 0 ? allExpected[0].Time : 0);
        var at = first < got.Count ? got[first] : expected[first];
        var heading = $"rule {at.Rule}{at.LabelText}: transition {first + 1} differs ({Count(expected.Count)} expected, {got.Count} got)";
        var paired = KeyOf(at);
        // An alert only got, and one of the same rule only expected: the labels differ (a section
        // renamed). They are shown against each other; the expected side was never shown at all.
        // Only when there is one such: of two renamed, which is which cannot be told.
        var partners = first != 0 || (expected.Count == 0) == (got.Count == 0) ? []
            : differing.Where(d => d.Key != KeyOf(at) && d.Expected.Count > 0 != (expected.Count > 0) && d.Got.Count > 0 != (got.Count > 0)
                                   && (d.Expected.Count > 0 ? d.Expected[0] : d.Got[0]).Rule == at.Rule).ToList();
        if (partners is [var other])
        {
            var (e, g) = expected.Count == 0 ? (other.Expected, got) : (expected, other.Got);
            // No labels at all is said "{}": it read "the labels differ:  expected".
            static string Shown(Transition t) => t.Labels.Count == 0 ? "{}" : t.LabelText;
            heading = $"rule {at.Rule}: the labels differ: {Shown(e[0])} expected ({Count(e.Count)}), {Shown(g[0])} got ({g.Count})";
            (expected, got, paired) = (e, g, other.Key);
        }
        var rows = new List<(int Number, string Expected, string Got)>();
        for (var i = first; i < Math.Min(first + 3, Math.Max(expected.Count, got.Count)); i++)
            rows.Add((i + 1, i < expected.Count ? Describe(expected[i], origin, asWritten: true) : "(none)", i < got.Count ? Describe(got[i], origin) : "(none)"));
        var width = Math.Max("expected".Length, rows.Max(r => r.Expected.Length));
        var lines = new List<string>
        {
            heading,
            $"   #  {"expected".PadRight(width)}  got",
        };
        lines.AddRange(rows.Select(r => $"{r.Number,4}  {r.Expected.PadRight(width)}  {r.Got}"));
        var others = differing.Select(d => d.Key).Where(k => k != KeyOf(at) && k != paired).ToList();
        if (others.Count > 0) lines.Add($"{(others.Count == 1 ? "another alert differs" : "other alerts differ")} too: {string.Join(", ", others)}");
        // An expected transition of a rule the case does not run (a renamed rule, a typo) can never
        // match: said by name, not left to the table.
        var unknown = allExpected.Select(t => t.Rule).Distinct(StringComparer.Ordinal).Where(r => !replay.Rules.Contains(r)).ToList();
        if (unknown.Count > 0)
            lines.Add($"the case runs no rule named {string.Join(", ", unknown)} (its rules: {string.Join(", ", replay.Rules)})");
        // Bad lines are not reported one by one in a test: an input read in the wrong format (its
        // "input_format" or "log_format") looked like a rule that stopped firing.
        if (replay.Records == 0) lines.Add(NoRecord(replay));
        else if (replay.BadLines > 0) lines.Add($"the input had {BadLines(replay)} besides its {replay.Records} records");
        return string.Join('\n', lines);
    }

    private static string BadLines(Replay replay) => replay.BadLines == 1 ? "1 bad line" : $"{replay.BadLines} bad lines";

    private static string NoRecord(Replay replay) =>
        replay.BadLines == 0 ? "the input gave no record"
        : $"the input gave no record ({BadLines(replay)}): is \"input_format\" or \"log_format\" the input's format?";

    /// <summary>
    /// <c>resolved hot_section{section="/api"} +5m12s 2019-02-07T21:16:12Z 3.98</c>: a value got as the
    /// output shows it, to 2 decimals; one expected as written (<paramref name="asWritten"/>): 9.975
    /// shown as 9.98 looked like the 9.98 that would have passed.
    /// </summary>
    private static string Describe(Transition t, long origin, bool asWritten = false) =>
        $"{(t.Fired ? "firing" : "resolved")} {t.Rule}{t.LabelText} {Transition.Offset(t.Time, origin)} {Format.Time(t.Time)}"
        + (t.Value is not { } v ? ""
           : asWritten && double.IsFinite(v) ? $" {v.ToString(Format.Invariant)}"
           : $" {Format.ValueText(v)}"); // not finite as an expect file writes it: +Inf, -Inf, NaN

    private const string Written = "updated";
    private const string Same = "unchanged";

    /// <summary>The lines of the case's expected transitions; one that cannot be read is an error of the case.</summary>
    private static string[] ReadExpectations(TestCase testCase)
    {
        try { return File.ReadAllLines(testCase.ExpectFile); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaseException($"{testCase.Name}: expected transitions {testCase.ExpectFile}: {e.Message}");
        }
    }

    /// <summary>Writes the case's expected transitions from its replay; false when they were already those.</summary>
    private bool Update(TestCase testCase, Replay replay)
    {
        var origin = replay.Origin ?? 0;
        var lines = replay.Transitions.Select(t => t.ToJsonLine(origin)).ToList();
        if (Directory.Exists(testCase.ExpectFile))
            throw new CaseException($"{testCase.Name}: expected transitions {testCase.ExpectFile}: is a folder, not a file");
        // --update overwrote whatever "expect" named: the input log, the case file itself. It writes
        // only over a file it can read as expectations, and never over the case or its input.
        var target = Path.GetFullPath(testCase.ExpectFile);
        string? Same(string? other, string what) =>
            other is not null && Path.GetFullPath(other) == target ? $"{testCase.ExpectWhere}: \"expect\" names {what} ({testCase.ExpectFile}); --update would overwrite it" : null;
        if ((Same(testCase.Log, "the case's input") ?? Same(testCase.Name, "the case file itself")) is { } clash)
            throw new CaseException(clash);
        var exists = File.Exists(testCase.ExpectFile);
        var raw = exists ? ReadExpectations(testCase) : [];
        // Each line that reads as a transition, with its text. A file none of whose lines even looks
        // like one is not expectations (notes, a log) and is not overwritten; one with a line that
        // does not read (a "time" without a date) still is, and --update is how such a file is
        // mended: its unreadable lines count as removed.
        var old = OldLines(testCase.ExpectFile, raw, origin);
        if (exists)
        {
            string? why = null;
            try { Transition.Read(testCase.ExpectFile, raw, origin); }
            catch (CaseException e) { why = e.Message; }
            if (why is not null && !raw.Any(LooksLikeTransition))
                throw new CaseException($"{why}; {testCase.ExpectWhere}: --update writes only over a file of expected transitions, and this is not one");
        }
        var before = old.Select(x => x.T).ToList();
        // The change is said in transitions, alert by alert: the lines of a saved `--format jsonl`
        // run (summaries, stats, other field orders) or lines of different alerts in another order
        // were listed as removed and added again, and counted in "was N".
        var changes = Changes(old, [.. replay.Transitions.Zip(lines)]);
        foreach (var line in Unreadable(testCase.ExpectFile, raw, origin)) changes.Add("- " + line);
        if (exists && changes.Count == 0)
        {
            output.WriteLine($"same  {Terminal.Escape(testCase.Name)}  ({Count(before.Count)})");
            return false;
        }
        try { File.WriteAllLines(testCase.ExpectFile, lines); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaseException($"{testCase.Name}: cannot write {testCase.ExpectFile}: {e.Message}");
        }
        output.WriteLine($"wrote {Terminal.Escape(testCase.ExpectFile)}  ({Count(lines.Count)}, was {before.Count})");
        foreach (var change in changes) output.WriteLine("      " + Terminal.Escape(change));
        return true;
    }

    /// <summary>Each transition of an expect file with its line as written; lines that do not read are left out.</summary>
    private static List<(Transition T, string Line)> OldLines(string path, string[] raw, long origin) =>
        [.. raw.SelectMany(line => (TryRead(path, line, origin) ?? []).Select(t => (t, line)))];

    /// <summary>The lines of an expect file that do not read (blank ones and other events do).</summary>
    private static IEnumerable<string> Unreadable(string path, string[] raw, long origin) =>
        raw.Where(line => TryRead(path, line, origin) is null);

    /// <summary>The transitions of one line (none for another event), or null when it does not read.</summary>
    private static List<Transition>? TryRead(string path, string line, long origin)
    {
        try { return Transition.Read(path, [line], origin); }
        catch (CaseException) { return null; }
    }

    /// <summary>Whether a line is a JSON object with a <c>rule</c>: a transition, if perhaps a broken one.</summary>
    private static bool LooksLikeTransition(string line)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            return json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && json.RootElement.TryGetProperty("rule", out _);
        }
        catch (System.Text.Json.JsonException) { return false; }
    }

    /// <summary>
    /// The transitions removed (<c>- line</c>) and added (<c>+ line</c>), per alert (rule and labels)
    /// in order: a longest common subsequence of the old and new ones, equal when the old one matches
    /// the new as a test compares them.
    /// </summary>
    private static List<string> Changes(List<(Transition T, string Line)> old, List<(Transition T, string Line)> now)
    {
        static string KeyOf(Transition t) => t.Rule + t.LabelText;
        var changes = new List<string>();
        var keys = now.Concat(old).Select(x => KeyOf(x.T)).Distinct(StringComparer.Ordinal);
        var oldOf = old.ToLookup(x => KeyOf(x.T), StringComparer.Ordinal);
        var nowOf = now.ToLookup(x => KeyOf(x.T), StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var all = oldOf[key].ToArray();
            var allNow = nowOf[key].ToArray();
            // What both start and end with is unchanged: the table below is only for the middle, which
            // is short when a rule changed a little (a table over a whole 8-hour case of 13k
            // transitions took 866 MB). Past a few million cells the middle is listed as it stands.
            int lo = 0, hiA = all.Length, hiB = allNow.Length;
            while (lo < hiA && lo < hiB && all[lo].T.Matches(allNow[lo].T)) lo++;
            while (hiA > lo && hiB > lo && all[hiA - 1].T.Matches(allNow[hiB - 1].T)) { hiA--; hiB--; }
            var a = all[lo..hiA];
            var b = allNow[lo..hiB];
            if ((long)a.Length * b.Length > 4_000_000)
            {
                changes.AddRange(a.Select(x => "- " + x.Line));
                changes.AddRange(b.Select(x => "+ " + x.Line));
                continue;
            }
            // lcs[i, j]: the longest common subsequence of a[i..] and b[j..].
            var lcs = new int[a.Length + 1, b.Length + 1];
            for (var i = a.Length - 1; i >= 0; i--)
                for (var j = b.Length - 1; j >= 0; j--)
                    lcs[i, j] = a[i].T.Matches(b[j].T) ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            int x = 0, y = 0;
            while (x < a.Length || y < b.Length)
            {
                if (x < a.Length && y < b.Length && a[x].T.Matches(b[y].T)) { x++; y++; }
                else if (y == b.Length || (x < a.Length && lcs[x + 1, y] >= lcs[x, y + 1])) changes.Add("- " + a[x++].Line);
                else changes.Add("+ " + b[y++].Line);
            }
        }
        return changes;
    }
}
