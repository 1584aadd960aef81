using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Cocona;
using LogAlert.Cli.Input;
using LogAlert.Cli.Input.Formats;
using LogAlert.Cli.Output;
using LogAlert.Cli.Rules;
using LogAlert.Core;
using LogAlert.Core.Interop;

namespace LogAlert.Cli;

/// <summary>What every command shares.</summary>
public static class Commands
{
    /// <summary>Set once a command body runs, so Cocona's own parse errors can be told apart.</summary>
    public static bool Started { get; set; }

    /// <summary>The host's options, whose shutdown timeout a command may lengthen (set by Program).</summary>
    public static Microsoft.Extensions.Hosting.HostOptions? HostOptions { get; set; }

    /// <summary>
    /// A repeatable option given last with no value arrives as a null element (Cocona's binder says
    /// "needs a value" only for single-valued ones), which was a NullReferenceException and exit 1:
    /// the usage error the others give instead.
    /// </summary>
    public static void NeedValues(params (string Name, string?[]? Values)[] options)
    {
        foreach (var (name, values) in options)
            if (values is not null && values.Any(v => v is null))
                throw new UsageException($"--{name}: needs a value (see 'logalert {(CommandLineConsole.Subcommand is { } sub ? sub + " " : "")}--help')");
    }

    public static int Fail(int code, string message)
    {
        Console.Error.WriteLine($"logalert: {message}");
        return code;
    }

    /// <summary>
    /// A file an option names that could not be written or made, said as <c>--output out.csv: No
    /// space left on device</c>: the runtime's message ends with <c> : 'out.csv'</c>, and the file
    /// is named once, in front.
    /// </summary>
    public static string FileFailure(string option, string path, Exception e)
    {
        // The path as given, or made absolute (FileStream names a relative one so).
        var message = e.Message;
        foreach (var named in new[] { path, Path.GetFullPath(path) })
            if (message.EndsWith($" : '{named}'", StringComparison.Ordinal))
                message = message[..^$" : '{named}'".Length];
        return $"{option} {path}: {message}";
    }
}

/// <summary><c>logalert [FILES...]</c>: the main command.</summary>
public sealed class RunCommand
{
    private static int Fail(int code, string message) => Commands.Fail(code, message);

    [PrimaryCommand]
    [UsageLine]
    [Command(Description = "Stream access logs, print 10-second summaries and alerts. Other commands: 'logalert check RULES...', 'logalert test [CASES...]', 'logalert generate'.")]
    public async Task<int> Run(
        [Argument(Description = "Access log files (CSV, nginx/Apache common or combined, a server's own format, JSON lines), read in order as one stream; '-' or none for stdin. *.csx arguments are rule files.")] string[]? files = null,
        [Option("rules", Description = "Rule file (.csx) or quoted glob; repeatable. Without it the built-in high_traffic rule runs. Rules are C# code that runs with your rights (it can read and write your files and start programs): use only rule files you trust.")] string[]? rules = null,
        [Option("format", Description = "Output format: text or jsonl.")] string format = "text",
        [Option("follow", new[] { 'f' }, Description = "Live mode: keep reading what is appended to the file, like tail -F (or a pipe, with '-'); when no line comes for --idle-timeout, log time follows the clock.")] bool follow = false,
        [Option("threshold", Description = "high_traffic: fire above this many requests per second (default 10; the built-in rule only).")] string? thresholdText = null,
        [Option("window", Description = "high_traffic: the rate's window (default 2m; the built-in rule only).")] string? window = null,
        [Option("lateness", Description = "How late (log time) a record may arrive and still count as if sorted.")] string lateness = "5s",
        [Option("max-skew", Description = "A record further ahead of the newest one than this is skewed (reported, not counted) unless the next record confirms it.")] string maxSkew = "1h",
        [Option("summary-interval", Description = "Summary every this much log time, or 'off'.")] string summaryInterval = "10s",
        [Option("idle-timeout", Description = "Live mode: wall time without input after which log time follows the clock (default 10s; giving it turns live mode on).")] string? idleTimeout = null,
        [Option("max-line-length", Description = "A line longer than this many bytes (e.g. 65536, 64k, 1m; its LF or CRLF not counted) is one bad line; its bytes are not kept.")] string maxLineLength = "64k",
        [Option("disable", Description = "Switch a rule (or 'summary') off; repeatable.")] string[]? disable = null,
        [Option("only", Description = "Run only these rules (and 'summary' if named); repeatable.")] string[]? only = null,
        [Option("fail-on-alert", Description = "Exit 3 when any alert fired.")] bool failOnAlert = false,
        [Option("color", Description = "Colour text output: auto, always or never (NO_COLOR is honoured).")] string color = "auto",
        [Option("rule-timeout", Description = "A rule evaluation running longer than this is reported and logalert exits (2); 0: no limit.")] string ruleTimeout = "5s",
        [Option("input-format", Description = "Input format: auto (found from each input's first lines), csv (the seed's CSV), common or combined (nginx's and Apache's), vhost_combined (Apache's, virtual host first), jsonl (one JSON object a line, nginx-style keys).")] string inputFormat = "auto",
        [Option("log-format", Description = "The server's own log format, pasted from its config: an nginx log_format ('$remote_addr - $remote_user [$time_local] \"$request\" ...') or an Apache LogFormat ('%h %l %u %t \\\"%r\\\" %>s %b'); the whole log_format directive or LogFormat line works too.")] string? logFormat = null,
        [Option("verbose", new[] { 'v' }, Description = "Say on stderr what logalert found out, e.g. each input's format.")] bool verbose = false,
        [Option("alertmanager", Description = "Send alerts to this Alertmanager (its base URL, e.g. http://127.0.0.1:9093), as Prometheus does; repeatable (an HA pair).")] string[]? alertmanager = null,
        [Option("alertmanager-replay", Description = "What a replay (no --follow), or a live run's events over 5 minutes behind the clock, send to Alertmanager: skip (default: they are past) or send (with their log times).")] string? alertmanagerReplay = null,
        [Option("webhook", Description = "POST each alert event, as the JSON object --format jsonl prints, to this URL; repeatable.")] string[]? webhook = null,
        [Option("webhook-header", Description = "A header for every webhook request, 'Name: value' (e.g. a token); repeatable.")] string[]? webhookHeader = null,
        [Option("delivery-timeout", Description = "At the end of input or on SIGINT/SIGTERM, how long pending deliveries may take before they are counted as not delivered.")] string deliveryTimeout = "10s")
    {
        Commands.Started = true;
        try
        {
            Commands.NeedValues(("rules", rules), ("disable", disable), ("only", only), ("alertmanager", alertmanager),
                ("webhook", webhook), ("webhook-header", webhookHeader));
            var inputs = new List<string>();
            var ruleFiles = new List<string>(rules ?? []);
            foreach (var f in files ?? [])
            {
                // `logalert --rules rules/*.csx log.csv`: the shell expands the glob into several words,
                // only the first of which follows --rules; the others arrive here.
                if (f.EndsWith(".csx", StringComparison.OrdinalIgnoreCase)) ruleFiles.Add(f);
                else inputs.Add(f);
            }
            if (inputs.Count == 0) inputs.Add("-");
            // `logalert chek rules/*.csx` said "chek: no such file", exit 1, after compiling the rules.
            if (!follow && files is [var first, ..] && Mistyped(first) is { } command) // --follow waits for a file
                throw new UsageException($"\"{Terminal.Escape(first)}\" is neither a command nor a file: did you mean 'logalert {command}'?");
            if (follow && inputs.Count != 1)
                throw new UsageException("--follow takes one input: a file, or - for stdin");
            // Read here, not by the parser: it took an empty value for none (the default 10 ran), and
            // would read the number in the machine's culture ("2,5" in some).
            double? threshold = null;
            if (thresholdText is not null)
            {
                if (!double.TryParse(thresholdText, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) || string.IsNullOrWhiteSpace(thresholdText))
                    throw new UsageException($"--threshold: \"{thresholdText}\" is not a number");
                if (!double.IsFinite(t)) throw new UsageException($"--threshold: \"{thresholdText}\" is not a finite number");
                threshold = t;
            }
            // They set the built-in rule, which rule files replace: said, not silently ignored.
            if (ruleFiles.Count > 0 && (threshold is not null || window is not null))
                Console.Error.WriteLine("logalert: " + (threshold is null ? "--window is" : window is null ? "--threshold is" : "--threshold and --window are")
                                        + " for the built-in rule, which does not run with rule files; ignored");
            // Live mode is asked for, never guessed from what stdin or stdout is: without it, time is
            // log time only, and the same input gives the same output on a terminal too.
            var live = follow || idleTimeout is not null;
            var idle = Durations.Parse("--idle-timeout", idleTimeout ?? "10s");

            var jsonl = format switch
            {
                "text" => false,
                "jsonl" or "json" => true,
                _ => throw new UsageException($"--format: \"{format}\" is not text or jsonl"),
            };
            // "off" is what the option's help offers: a wrong word ("none", "no") is told about it.
            // Trimmed, as durations are read: " off " was told "nor off".
            var summaryWord = summaryInterval.Trim();
            var interval = summaryWord.Equals("off", StringComparison.OrdinalIgnoreCase) || summaryWord == "0" ? TimeSpan.Zero
                : Durations.TryParse(summaryInterval, out var every, out var notDuration) ? every
                : throw new UsageException($"--summary-interval: \"{summaryInterval}\" {notDuration}{(notDuration == Durations.NotADuration ? ", nor off" : "")}");
            var settings = new EngineSettings
            {
                Lateness = Durations.Parse("--lateness", lateness),
                MaxSkew = Durations.Parse("--max-skew", maxSkew),
                SummaryInterval = interval,
            };
            var maxLine = Sizes.Parse("--max-line-length", maxLineLength, 1, AccessLogReader.MaxLineLengthLimit);
            var inputsFormat = InputFormat.TryCreate(inputFormat, logFormat, out var formatError) ?? throw new UsageException(formatError!);
            var windowSpan = Durations.Parse("--window", window ?? "2m");
            if (windowSpan < TimeSpan.FromSeconds(1)) throw new UsageException($"--window: \"{window}\" is shorter than 1s");

            var switches = new RuleSwitches(only ?? [], disable ?? []);
            // The host lives for the whole run: its watchdog stops a rule stuck in a loop.
            using var host = new RuleHost { RuleTimeout = Durations.Parse("--rule-timeout", ruleTimeout) };
            List<Rule> ruleList;
            if (ruleFiles.Count == 0)
            {
                var highTraffic = LogAlert.Core.Interop.Rules.HighTraffic(threshold ?? 10, windowSpan);
                ruleList = [highTraffic];
                // Rate(requests, window): it counts every request, so totals suffice.
                settings.Windows.Add(new RuleWindows(highTraffic.RuleName, [new QueryWindow(windowSpan)], complete: true));
            }
            else
            {
                // Every problem, the arguments' and the files' found, before exiting (rules/README.md).
                var problems = new List<string>();
                var ruleFilesFound = RuleHost.ExpandRuleArguments(ruleFiles, problems);
                foreach (var problem in problems) Console.Error.WriteLine($"logalert: {problem}");
                if (ruleFilesFound.Count == 0) return ExitCodes.Usage;
                var loaded = host.Load(ruleFilesFound);
                foreach (var e in loaded.Errors) Console.Error.WriteLine(e);
                if (!loaded.Ok || problems.Count > 0) return ExitCodes.Usage; // nothing processed
                ruleList = loaded.Rules.ToList();
                // The facts; the engine decides from them what it keeps (EngineSettings.Retention...).
                settings.Windows.AddRange(loaded.Told);
            }
            switches.CheckKnown(ruleList.Select(r => r.RuleName));
            settings.Rules = ruleList.Where(r => switches.IsOn(r.RuleName)).ToList();
            if (!switches.IsOn("summary")) settings.SummaryInterval = TimeSpan.Zero;

            if (inputs.Count > Bounds.MaxSource + 1)
                throw new UsageException($"{inputs.Count} inputs: at most {Bounds.MaxSource + 1} can be read in one run");
            // A followed file that does not exist yet is waited for, as `tail -F` does (the reader says so).
            foreach (var input in inputs)
                if (input != "-" && !File.Exists(input) && (Directory.Exists(input) || !follow))
                    return Fail(ExitCodes.IoFailure, $"{Terminal.Escape(input)}: {(Directory.Exists(input) ? "is a directory" : "no such file")}");

            var piped = inputs.Any(IsPipe);
            // A notice is one line that may name a file: escaped, so that a line feed in its name does
            // not split it (a rotated file's arrival, a line cut short, a gzip warning).
            Action<string> notice = line => Console.Error.WriteLine($"logalert: {Terminal.Escape(line)}");
            var hub = new Delivery.DeliveryHub(Destinations(alertmanager, alertmanagerReplay, webhook, webhookHeader, live, piped,
                rule => host.DeliveryOf(rule)), live: live, notice: notice);
            await using var deliveries = hub;
            // At most a day: timers take at most 49.7 days (a deadline of 50d aborted the process at
            // its end; 10000y overflowed the clock), and a day drains a full queue (10,000 requests,
            // each done within about two minutes and a half of attempts and retries) many times over.
            var deliveryDeadline = Durations.Parse("--delivery-timeout", deliveryTimeout);
            if (deliveryDeadline > TimeSpan.FromDays(1)) deliveryDeadline = TimeSpan.FromDays(1);
            // On SIGINT or SIGTERM the host waited 5 s for the run and then ended the process: with a
            // destination down, the deliveries' deadline (10 s by default) was never reached and the
            // final report never written. The run bounds its own stop: the deadline, and some time
            // for the report.
            if (Commands.HostOptions is { } hostOptions)
                hostOptions.ShutdownTimeout = deliveryDeadline + TimeSpan.FromSeconds(15) > hostOptions.ShutdownTimeout
                    ? deliveryDeadline + TimeSpan.FromSeconds(15) : hostOptions.ShutdownTimeout;

            var stdout = StandardOutput.Open();
            var buffered = new BufferedStream(stdout, 1 << 16);
            IEventWriter writer = jsonl
                ? new JsonlEventWriter(buffered)
                : new TextEventWriter(new StreamWriter(buffered, new UTF8Encoding(false), 1 << 16) { AutoFlush = false },
                    UseColor(color), settings.SummaryInterval);

            // The fewest texts a label table holds before ids are given back (default 2^19): for tests
            // and experiments, which want it to happen on small logs.
            if (int.TryParse(Environment.GetEnvironmentVariable("LOGALERT_RECLAIM_FROM"), out var reclaimFrom))
                Fold.ReclaimFrom = reclaimFrom;
            var sweep = new SweepPoint();
            var runner = new Runner(settings, writer, Console.Error, inputs)
            {
                Sweep = sweep,
                FollowClock = live,
                IdleTimeout = idle,
                // Events go out as they happen when someone may be watching: live, a pipe (stdin, a
                // FIFO, `<(command)`: read as its lines come), a terminal.
                Prompt = live || piped || !Console.IsOutputRedirected,
                OutputClosed = StandardOutput.IsClosed,
                Running = () => host.Watchdog.Running,
                OnAlert = hub.Any ? hub.Publish : null,
                OnProgress = hub.Any && live ? hub.Refresh : null,
                FinishDelivery = hub.Any ? () => { hub.Flush(deliveryDeadline); return hub.Counts; } : null,
            };
            // A rule stuck in a loop cannot be stopped: what it interrupted is written, then logalert exits 2.
            host.Watchdog.OnRunaway = () =>
            {
                runner.Abort(host.Watchdog.RunawayMessage ?? "a rule did not finish");
                Environment.Exit(ExitCodes.Usage);
            };

            using var cancel = new CancellationTokenSource();
            // Signals, not Console.CancelKeyPress: subscribing to that sets up the terminal for
            // reading keys, which wrote ESC [?1h ESC = (keypad mode) to a terminal before any output.
            void Stop(PosixSignalContext c)
            {
                c.Cancel = true;
                runner.Signal ??= c.Signal switch
                {
                    PosixSignal.SIGQUIT => "SIGQUIT", PosixSignal.SIGTERM => "SIGTERM", PosixSignal.SIGHUP => "SIGHUP", _ => "SIGINT",
                };
                cancel.Cancel();
            }
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Stop);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            // A terminal or ssh session that closes sends SIGHUP, which ended the process on the spot:
            // no report, open seconds not closed, deliveries not drained. It stops the run as SIGTERM
            // does (under nohup it stays ignored).
            using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
            // A signal that came before these handlers (while the rules compiled, a second or more)
            // reached only the host's: live, the run went on until the host gave up on it 5 s later,
            // with no final report; not live, the whole input was read. It stops the run now, as
            // the same signal does later (SIGHUP ended the process while the host ran it).
            if (Signals.Received is { } early and ("SIGINT" or "SIGTERM" or "SIGQUIT" or "SIGHUP"))
            {
                runner.Signal ??= early;
                cancel.Cancel();
            }

            var reader = new AccessLogReader(inputs, follow, notice: notice,
                maxLineLength: maxLine, sweep: sweep)
            {
                Format = inputsFormat,
                Live = live,
                WaitNoticeAfter = live ? idle : null,
                // Durations and the texts only some formats log are read for the rules that read them.
                Extras = AccessExtrasNames.Read(settings.Reads),
                FormatFound = verbose ? (path, name) => Console.Error.WriteLine($"logalert: {Terminal.Escape(path)}: format {name}") : null,
            };
            runner.Formats = () => reader.Formats;
            // `logalert ... | head`: the reader left, quietly, as cat and grep do; or stdout failed (a
            // full disk, a closed descriptor). The alerts found by then are still sent: dropped at
            // once, they were lost with a line that blamed the deadline; what became of them is said
            // on stderr, stdout being gone.
            void FlushWithoutStdout(string why)
            {
                if (!hub.Any) return;
                hub.Flush(deliveryDeadline);
                foreach (var c in hub.Counts)
                    Console.Error.WriteLine($"logalert: {c.Kind} {c.Destination}: {c.Delivered} delivered, {c.Failed} failed, {c.Dropped} dropped ({why})");
            }
            RunOutcome outcome;
            try { outcome = await runner.RunAsync(reader.ReadBatches(cancel.Token), cancel.Token); }
            catch (IOException e) when (e.Message.StartsWith("stdout: ", StringComparison.Ordinal))
            {
                Fail(ExitCodes.IoFailure, e.Message);
                FlushWithoutStdout("stdout failed");
                return ExitCodes.IoFailure;
            }
            if (outcome == RunOutcome.OutputClosed)
            {
                FlushWithoutStdout("stdout closed");
                return StandardOutput.ClosedExitCode;
            }
            return failOnAlert && runner.AnyFired ? ExitCodes.AlertFired : ExitCodes.Ok;
        }
        catch (UsageException e)
        {
            return Fail(ExitCodes.Usage, e.Message);
        }
        catch (InputFormatException e)
        {
            return Fail(ExitCodes.Usage, e.Message); // the bytes were read; they are not the format
        }
        catch (InputException e)
        {
            return Fail(ExitCodes.IoFailure, e.Message);
        }
        catch (IOException e) when (StandardOutput.IsBrokenPipe(e))
        {
            return StandardOutput.ClosedExitCode;
        }
        catch (IOException e)
        {
            return Fail(ExitCodes.IoFailure, e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(ExitCodes.IoFailure, e.Message);
        }
    }

    /// <summary>
    /// Whether <paramref name="input"/> is a pipe: stdin, or a path that names one (a named pipe, the
    /// <c>/dev/fd/63</c> of the shell's <c>&lt;(tail -F log)</c>), which to .NET's File calls looks like
    /// any file (a device, <c>/dev/null</c>, is not one). Told without opening it: opening a
    /// named pipe waits for its writer.
    /// </summary>
    private static bool IsPipe(string input) => input == "-" || UnixFileStatus.Of(input) is { IsPipe: true };

    private static bool UseColor(string color) => color switch
    {
        "always" => true,
        "never" => false,
        "auto" => !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
                  && Environment.GetEnvironmentVariable("TERM") != "dumb",
        _ => throw new UsageException($"--color: \"{color}\" is not auto, always or never"),
    };


    /// <summary>
    /// The command <paramref name="word"/> is a slip for (one or two letters off), when it names no file
    /// or folder and looks like no path; null otherwise.
    /// </summary>
    private static string? Mistyped(string word)
    {
        if (word.Length < 3 || word.IndexOfAny(['/', '.', '\\']) >= 0 || File.Exists(word) || Directory.Exists(word)) return null;
        foreach (var command in new[] { "check", "test", "generate", "run" })
            if (Distance(word.ToLowerInvariant(), command) is var d && d > 0 && d <= (command.Length > 4 ? 2 : 1)) return command;
        return null;
    }

    /// <summary>Edit distance with a swap of two letters as one edit ("tset"), for short words.</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    private static string Ordinal(int n) => n + (n % 100 is 11 or 12 or 13 ? "th" : (n % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" });

    /// <summary>The destinations the options name; a malformed URL or header is a usage error (exit 2).</summary>
    private static List<Delivery.Destination> Destinations(string[]? alertmanagers, string? replayGiven, string[]? webhooks, string[]? headers,
        bool live, bool piped, Func<string, Delivery.RuleDelivery> rules)
    {
        var replay = replayGiven ?? "skip";
        if (replay is not ("skip" or "send")) throw new UsageException($"--alertmanager-replay: \"{replay}\" is not skip or send");
        // Said, as --webhook-header without a --webhook is: it was accepted and did nothing.
        if (replayGiven is not null && alertmanagers is not { Length: > 0 }) throw new UsageException("--alertmanager-replay needs an --alertmanager");
        var parsedHeaders = new List<(string, string)>();
        var number = 0;
        foreach (var h in headers ?? [])
        {
            number++;
            var colon = h.IndexOf(':');
            var name = colon > 0 ? h[..colon].Trim() : "";
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
            {
                // Not echoed, not even its first word: it is most often a token typed without its colon
                // ("Authorization Bearer s3cr3t", "X-Api-Key=s3cr3t x"), and the message goes to CI logs.
                var which = (headers ?? []).Length > 1 ? $" (the {Ordinal(number)})" : "";
                throw new UsageException($"--webhook-header{which}: a header is 'Name: value'; its text is not shown here, as it may hold a secret");
            }
            var value = h[(colon + 1)..].Trim();
            // HTTP/1.1 sends header values as ASCII: a value the client cannot send failed every
            // request at the receiver's door, retried for half a minute; a line break would write a
            // header of its own.
            if (!value.All(c => c is '\t' or >= ' ' and <= '~'))
                throw new UsageException($"--webhook-header: the value of {name} has a character HTTP cannot send (a line break, a control or non-ASCII character)");
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                throw new UsageException("--webhook-header: Content-Length is the body's, set by logalert");
            parsedHeaders.Add((name, value));
        }
        if (parsedHeaders.Count > 0 && webhooks is not { Length: > 0 }) throw new UsageException("--webhook-header needs a --webhook");
        var result = new List<Delivery.Destination>();
        if ((alertmanagers?.Length ?? 0) + (webhooks?.Length ?? 0) == 0) return result;
        // One client for all: its timeout bounds one attempt; retries and the deadline bound the rest.
        // Redirects are not followed: a 301/302/303 followed turns the POST into a GET without the
        // alert, and a receiver that moved should be named where it is now (the failure says where).
        // 10 s an attempt, as Prometheus gives Alertmanager: at 5 s, a receiver that took 6 s got each
        // event again with every retry, and every one was counted failed.
        var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };
        var log = new Delivery.DeliveryLog(Console.Error);
        foreach (var url in alertmanagers ?? [])
        {
            var uri = Url("--alertmanager", url);
            if (!live && replay == "skip")
            {
                // `tail -F access.log | logalert --alertmanager …` (or `<(tail -F access.log)`, a named
                // pipe) is live all the same: say what makes it so.
                var hint = piped ? "; a live pipe (tail -F log | logalert -) needs --follow" : "";
                Console.Error.WriteLine($"logalert: --alertmanager {Terminal.Escape(Delivery.Destination.Redacted(url))}: not live (no --follow): nothing is sent, as the alerts of a replayed log are past; --alertmanager-replay send sends them with their log times{hint}");
                continue;
            }
            result.Add(new Delivery.AlertmanagerDestination(uri, http, log, rules) { Resend = live, SendsBacklog = replay == "send" });
        }
        foreach (var url in webhooks ?? [])
            result.Add(new Delivery.WebhookDestination(Url("--webhook", url), http, log) { Headers = parsedHeaders });
        return result;
    }

    /// <summary>
    /// Why <paramref name="text"/>, which starts <c>http://</c> or <c>https://</c>, is no URL: its host
    /// and port (after its last '@'), else a password typed with an '@', '/', '?' or '#'. "Not an
    /// http:// URL" was said of <c>http://</c>, <c>http://h:99999/</c> and <c>http://[::1</c>.
    /// </summary>
    private static string WhyNotUrl(string text)
    {
        var authority = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var at = authority.LastIndexOf('@');
        var hostPort = at >= 0 ? authority[(at + 1)..] : authority;
        var end = hostPort.IndexOfAny(['/', '?', '#', '\\']);
        if (end >= 0) hostPort = hostPort[..end];
        if (hostPort.Length == 0 || hostPort.StartsWith(':')) return "has no host";
        if (hostPort.StartsWith('[') && !hostPort.Contains(']')) return "has an IPv6 address whose '[' is not closed by ']'";
        var portStart = hostPort.StartsWith('[') ? hostPort.IndexOf("]:", StringComparison.Ordinal) + 1 : hostPort.LastIndexOf(':');
        if (portStart > 0 && hostPort[(portStart + 1)..] is var port && port.Length > 0)
        {
            if (!port.All(char.IsAsciiDigit)) return at >= 0 ? EscapeHint : $"has a port \"{port}\" that is not a number";
            if (port.Length > 5 || int.Parse(port, CultureInfo.InvariantCulture) > 65535) return $"has a port {port} above 65535";
        }
        return at >= 0 ? EscapeHint : "is not a valid URL";
    }

    private const string EscapeHint = "is not a valid URL: escape a '@', '/', '?' or '#' in its user name or password (%40, %2F, %3F, %23)";

    private static Uri Url(string option, string text)
    {
        var shown = Terminal.Escape(Delivery.Destination.Redacted(text));
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            // A password with a '/' or an '@' typed as is breaks the URL (http://alice:pa/ss@host is
            // host "alice", port "pa"): saying only that it is not an http:// URL, with the password
            // hidden, showed a URL that looked right.
            var http = text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            throw new UsageException(!http ? $"{option}: \"{shown}\" is not an http:// or https:// URL"
                : $"{option}: \"{shown}\" {WhyNotUrl(text)}");
        }
        // An '@' after the host is most often a password with a '/', '?' or '#' typed as is
        // (http://user:12/ab@host/ is host "user", port 12): the request would go elsewhere, and
        // the password could not be told from the path to hide it.
        if ((uri.AbsolutePath + uri.Query + uri.Fragment).Contains('@'))
            throw new UsageException($"{option}: \"{shown}\" has an '@' after its host: escape it as %40 (and a '/', '?' or '#' in a password as %2F, %3F, %23)");
        return uri;
    }
}

/// <summary><c>logalert generate</c>: a deterministic sample log.</summary>
public sealed class GenerateCommand
{
    private static int Fail(int code, string message) => Commands.Fail(code, message);

    /// <summary>The file <c>--output</c> names, created; why not, said with the option.</summary>
    private static FileStream CreateOutput(string path)
    {
        if (Directory.Exists(path)) throw new IOException($"--output {path}: is a folder");
        try { return File.Create(path); }
        catch (DirectoryNotFoundException) { throw new IOException($"--output {path}: no such folder: {Path.GetDirectoryName(Path.GetFullPath(path))}"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new IOException($"--output {path}: {e.Message}", e); }
    }

    [PrimaryCommand]
    [UsageLine("generate")]
    [Command(Description = "Write a deterministic sample access log.")]
    public int Generate(
        [Option("seed", Description = "PRNG seed.")] int seed = 1,
        [Option("start", Description = "First second, Unix epoch."), WholeRange(0, 253402300799)] long start = 1549573860,
        [Option("duration", Description = "Length of the log.")] string duration = "10m",
        [Option("rate", Description = "Base rate, requests per second.")] double rate = 6,
        [Option("burst", Description = "AT:DURATION:RATE, e.g. 3m:2m:25 (repeatable).")] string[]? burst = null,
        [Option("hosts", Description = "Distinct client hosts."), WholeRange(1, SampleGenerator.MaxHosts)] int hosts = 40,
        [Option("host-popularity", Description = "How hosts are picked: zipf (a few busy ones) or uniform (each about as often).")] string hostPopularity = "zipf",
        [Option("paths", Description = "Distinct paths."), WholeRange(1, SampleGenerator.MaxPaths)] int paths = 60,
        [Option("output-format", Description = "csv (the seed's CSV), common or combined (as nginx and Apache write them), or jsonl (nginx-style JSON lines). The same requests in each.")] string outputFormat = "csv",
        [Option("log-format", Description = "Write the lines in this nginx log_format instead (the string, or the directive pasted from the config), e.g. '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent $request_time'.")] string? logFormat = null,
        [Option("output", new[] { 'o' }, Description = "Output file, or - for stdout (the default).")] string? output = null,
        // Hidden: generate takes no file argument, and one given was ignored (the log went to stdout).
        [Argument, Hidden] string[]? rest = null)
    {
        Commands.Started = true;
        try
        {
            if (rest is { Length: > 0 })
                throw new UsageException($"generate takes no argument, but was given \"{rest[0]}\": to write the log to a file, -o {rest[0]}");
            Commands.NeedValues(("burst", burst));
            if (output == "-") output = null;
            // A format the run would refuse is refused here too: a log written in it could not be read.
            if (logFormat is not null && InputFormat.TryCreate("auto", logFormat, out var formatError) is null)
                throw new UsageException(formatError!);
            string? preset = null;
            var lineFormat = logFormat is null ? null : SampleGenerator.LineFormat(logFormat, out preset);
            if (preset is not null) outputFormat = preset; // common or combined, which it writes as they are
            var options = GeneratorArgs.Build(seed, start, duration, rate, burst, hosts, hostPopularity, paths) with
            {
                LogFormat = lineFormat,
                Format = lineFormat is not null ? GeneratorFormat.LogFormat : outputFormat switch
                {
                    "csv" => GeneratorFormat.Csv,
                    "common" => GeneratorFormat.Common,
                    "combined" => GeneratorFormat.Combined,
                    "jsonl" => GeneratorFormat.Jsonl,
                    _ => throw new UsageException($"--output-format: \"{outputFormat}\" is not csv, common, combined or jsonl"),
                },
            };
            // stdout as the run opens it: a failure says "stdout:", and `generate | head` stops at once.
            using var stream = output is null ? StandardOutput.Open() : CreateOutput(output);
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16);
            SampleGenerator.Write(writer, options);
            return ExitCodes.Ok;
        }
        catch (IOException e) when (StandardOutput.IsBrokenPipe(e))
        {
            return StandardOutput.ClosedExitCode;
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(ExitCodes.IoFailure, $"--output {output}: {e.Message}");
        }
        catch (UsageException e)
        {
            return Fail(ExitCodes.Usage, e.Message);
        }
        catch (ArgumentOutOfRangeException e)
        {
            return Fail(ExitCodes.Usage, e.Message);
        }
        catch (IOException e) when (output is not null && !e.Message.StartsWith("--output ", StringComparison.Ordinal))
        {
            return Fail(ExitCodes.IoFailure, Commands.FileFailure("--output", output, e));
        }
        catch (IOException e)
        {
            return Fail(ExitCodes.IoFailure, e.Message);
        }
    }
}

/// <summary><c>--only</c> and <c>--disable</c>: which rules (and <c>summary</c>) run.</summary>
public sealed class RuleSwitches(IReadOnlyCollection<string> only, IReadOnlyCollection<string> disable)
{
    public bool IsOn(string name) =>
        (only.Count == 0 || only.Contains(name, StringComparer.Ordinal)) && !disable.Contains(name, StringComparer.Ordinal);

    /// <summary>A name that matches nothing is a typo: say so rather than silently run everything.</summary>
    public void CheckKnown(IEnumerable<string> ruleNames)
    {
        var known = new HashSet<string>(ruleNames, StringComparer.Ordinal) { "summary" };
        foreach (var (option, names) in new[] { ("--only", only), ("--disable", disable) })
            foreach (var n in names)
                if (!known.Contains(n))
                    throw new UsageException($"{option}: no rule named \"{n}\" (rules: {string.Join(", ", known.Order(StringComparer.Ordinal))})");
    }
}
