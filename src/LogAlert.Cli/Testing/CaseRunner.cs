using System.IO.Pipes;
using System.Text;
using LogAlert.Cli.Input;
using LogAlert.Cli.Input.Formats;
using LogAlert.Cli.Output;
using LogAlert.Cli.Rules;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Testing;

/// <summary>What a case's replay gave: its transitions, the input's first second, and the rules that ran.</summary>
public sealed record Replay(IReadOnlyList<Transition> Transitions, long? Origin, IReadOnlyList<string> Rules, long Records, long BadLines);

/// <summary>
/// Replays a case as <c>logalert --format jsonl</c> would run it (the same reader, rules and fold; no
/// summaries): log time only, so the same case gives the same transitions on every machine.
/// </summary>
public sealed class CaseRunner(RuleHost host)
{
    /// <summary>The case's rules, its input and its options, run to the end of the input.</summary>
    /// <param name="testCase">The case.</param>
    /// <param name="cancel">A signal's stop: checked between batches (<see cref="OperationCanceledException"/>).</param>
    public Replay Run(TestCase testCase, CancellationToken cancel = default)
    {
        var settings = new EngineSettings
        {
            Lateness = testCase.Lateness,
            MaxSkew = testCase.MaxSkew,
            SummaryInterval = TimeSpan.Zero,
        };
        cancel.ThrowIfCancellationRequested(); // the timeout stays off once a signal came (TestCommand)
        host.RuleTimeout = testCase.RuleTimeout;
        if (testCase.Rules.Count == 0)
        {
            var builtIn = LogAlert.Core.Interop.Rules.HighTraffic(testCase.Threshold, testCase.Window);
            settings.Rules = [builtIn];
            settings.Windows.Add(new RuleWindows(builtIn.RuleName, [new QueryWindow(testCase.Window)], complete: true));
        }
        else
        {
            for (var i = 0; i < testCase.Rules.Count; i++)
                if (testCase.Rules[i] is var file && !File.Exists(file))
                    throw new CaseException($"{testCase.AtRule(i)}: {testCase.Key("rules")}: {file}: {(Directory.Exists(file) ? "is a folder" : "no such file")}");
            var loaded = host.Load(testCase.Rules);
            // The case first, then each of its rules' errors on a line of its own (as `check` prints them).
            if (!loaded.Ok)
                throw new CaseException(string.Join('\n', [$"{testCase.Name}: its rules do not load", .. loaded.Errors]));
            settings.Rules = [.. loaded.Rules];
            settings.Windows.AddRange(loaded.Told);
        }
        var format = InputFormat.TryCreate(testCase.InputFormat, testCase.LogFormat, out var formatError)
                     ?? throw FormatError(testCase, formatError ?? "");
        AccessLogReader reader;
        GeneratedInput? generated = null;
        if (testCase.Log is { } log)
        {
            if (!File.Exists(log))
                throw new CaseException($"{testCase.At("input")}: {testCase.Key("input")}: {log}: {(Directory.Exists(log) ? "is a folder" : "no such file")}");
            reader = new AccessLogReader([log]) { Format = format, Extras = AccessExtrasNames.Read(settings.Reads) };
        }
        else
        {
            // Generated as it is read, through a pipe: held in a MemoryStream, --rate 5000 --duration 2h
            // outgrew its 2 GB ("Stream was too long", 4.2 GB of memory) and ended the whole run.
            generated = new GeneratedInput(testCase.Generate!);
            reader = new AccessLogReader(["-"], stdin: () => generated.Stream) { Format = format, Extras = AccessExtrasNames.Read(settings.Reads) };
        }

        var transitions = new List<Transition>();
        var failures = new List<string>();
        long? origin = null;
        long records = 0, bad = 0;
        void Take(IEnumerable<Notice> notices)
        {
            foreach (var n in notices)
                if (n is AlertNotice a)
                    transitions.Add(new Transition(a.Rule, [.. a.Labels.Select(l => new KeyValuePair<string, string>(l.Name, l.Value))],
                        a.Transition == AlertTransition.Fired, a.Time, a.Value));
                else if (n is RuleFailedNotice f)
                    failures.Add($"rule \"{f.Rule}\" threw at {Transition.Offset(f.Time, origin ?? f.Time)} {Format.Time(f.Time)}: {Output.Terminal.Escape(f.Message)}");
        }
        var state = Fold.Start(settings);
        try
        {
            foreach (var batch in reader.ReadBatches())
            {
                cancel.ThrowIfCancellationRequested();
                bad += batch.Bad.Count;
                if (batch.Records.IsEmpty) continue;
                origin ??= batch.Records[0].Time;
                records += batch.Records.Length;
                var step = Fold.Push(state, batch.Records);
                Take(step.Events);
                state = step.State;
            }
        }
        catch (InputException e)
        {
            throw new CaseException($"{testCase.Name}: {e.Message}");
        }
        finally
        {
            generated?.Dispose();
        }
        Take(Fold.End(state).Events);
        // A rule that throws is switched off and the replay goes on, as in a run; but its transitions
        // after that are not the rule's, so the case cannot pass (nor be written with --update).
        if (failures.Count > 0)
            throw new CaseException(string.Join('\n', [$"{testCase.Name}: a rule failed during the replay", .. failures]));
        return new Replay(transitions, origin, [.. settings.Rules.Select(r => r.RuleName)], records, bad);
    }

    /// <summary>
    /// The format's error as the case wrote it: the key and its line in a case file, where the
    /// message named the command-line option (<c>--input-format</c>) the user did not give.
    /// </summary>
    private static CaseException FormatError(TestCase testCase, string error)
    {
        var key = error.StartsWith("--input-format", StringComparison.Ordinal) || testCase.LogFormat is null ? "input_format" : "log_format";
        var said = error.Replace("--input-format", testCase.Key("input_format")).Replace("--log-format", testCase.Key("log_format"));
        return new CaseException($"{testCase.At(key)}: {said}");
    }

    /// <summary>
    /// A case's generated traffic as a stream, written on a thread of its own into an OS pipe, so that
    /// at most the pipe's buffer is held whatever the duration. Disposing it closes the reading end:
    /// the writer then fails (a broken pipe) and stops, if the replay ended early.
    /// </summary>
    private sealed class GeneratedInput : IDisposable
    {
        private readonly AnonymousPipeServerStream _write = new(PipeDirection.Out);
        private readonly Thread _writer;

        public GeneratedInput(GeneratorOptions options)
        {
            Stream = new AnonymousPipeClientStream(PipeDirection.In, _write.ClientSafePipeHandle);
            _writer = new Thread(() =>
            {
                try
                {
                    using var text = new StreamWriter(_write, new UTF8Encoding(false), 1 << 16);
                    SampleGenerator.Write(text, options);
                }
                catch (IOException)
                {
                    // The replay stopped reading (a signal, an error of the case).
                }
            }) { IsBackground = true, Name = "logalert generated input" };
            _writer.Start();
        }

        /// <summary>The reading end.</summary>
        public Stream Stream { get; }

        public void Dispose()
        {
            Stream.Dispose();
            _writer.Join();
        }
    }
}
