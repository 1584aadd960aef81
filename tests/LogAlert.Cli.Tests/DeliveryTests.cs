using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// <c>--webhook</c> and <c>--alertmanager</c>: every event arrives once and in order, failures are
/// retried or counted, a dead receiver costs at most the delivery deadline, stdout does not change,
/// and a real Alertmanager shows the rule's alert while it fires and drops it once resolved.
/// </summary>
public sealed class DeliveryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-delivery-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A log whose burst makes the built-in rule (threshold 10, 2m) fire and resolve: 2 events.</summary>
    private string Log()
    {
        var path = Path.Combine(_dir, "access.csv");
        if (!File.Exists(path))
            Assert.Equal(0, CliRunner.Run("generate", "--rate", "5", "--burst", "2m:3m:20", "--duration", "10m", "-o", path).ExitCode);
        return path;
    }

    private static JsonElement Stats(CliRunner.Result r) => JsonDocument.Parse(r.StdoutLines[^1]).RootElement;

    private static JsonElement Delivery(CliRunner.Result r, int index = 0) => Stats(r).GetProperty("delivery")[index];

    private static (long Delivered, long Failed, long Dropped) Counts(JsonElement d) =>
        (d.GetProperty("delivered").GetInt64(), d.GetProperty("failed").GetInt64(), d.GetProperty("dropped").GetInt64());

    private static string[] AlertLines(CliRunner.Result r) => [.. r.StdoutLines.Where(l => l.Contains("\"type\":\"alert\""))];

    [Fact]
    public void A_webhook_gets_every_event_once_in_order_with_its_headers()
    {
        using var receiver = new WebhookReceiver();

        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url + "/hook", "--webhook-header", "Authorization: Bearer s3cret",
            "--webhook-header", "X-Team: web", Log());

        Assert.True(r.ExitCode == 0, r.Stderr);
        var alerts = AlertLines(r);
        Assert.Equal(2, alerts.Length);
        var requests = receiver.Requests;
        Assert.Equal(alerts, requests.Select(q => q.Body)); // the jsonl objects, in order, once each
        Assert.All(requests, q =>
        {
            Assert.Equal(("POST", "/hook"), (q.Method, q.Path));
            Assert.Equal("Bearer s3cret", q.Header("Authorization"));
            Assert.Equal("web", q.Header("X-Team"));
            Assert.StartsWith("application/json", q.Header("Content-Type"));
        });
        Assert.Equal((2L, 0L, 0L), Counts(Delivery(r)));
        Assert.Equal("webhook", Delivery(r).GetProperty("kind").GetString());
    }

    [Fact]
    public void A_receiver_that_fails_twice_then_accepts_gets_the_event_once()
    {
        using var receiver = new WebhookReceiver();
        receiver.FailThenAccept(2);

        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url, Log());

        Assert.True(r.ExitCode == 0, r.Stderr);
        var requests = receiver.Requests;
        Assert.Equal([500, 500, 200, 200], requests.Select(q => q.Status));
        Assert.Equal(AlertLines(r), requests.Where(q => q.Status == 200).Select(q => q.Body));
        Assert.Equal((2L, 0L, 0L), Counts(Delivery(r)));
    }

    [Fact]
    public void The_count_of_failures_held_back_is_said_on_a_line_of_its_own()
    {
        // Appended to the next line told, "(60710 more not shown)" read as more of that message,
        // where the 60,710 were queue-full drops and the line a deadline failure.
        var stderr = new StringWriter();
        var log = new LogAlert.Cli.Delivery.DeliveryLog(stderr, TimeSpan.FromHours(1));
        using var http = new System.Net.Http.HttpClient();
        var hook = new LogAlert.Cli.Delivery.WebhookDestination(new Uri("http://127.0.0.1:9/"), http, log);

        log.Tell(hook, "queue full: a dropped");
        log.Tell(hook, "queue full: b dropped");
        log.Tell(hook, "queue full: c dropped");
        log.Tell(hook, "d not delivered by the delivery deadline", always: true);
        log.TellUnsaid(hook);

        Assert.Equal(
            [
                "logalert: webhook http://127.0.0.1:9/: queue full: a dropped",
                "logalert: webhook http://127.0.0.1:9/: 2 more not shown",
                "logalert: webhook http://127.0.0.1:9/: d not delivered by the delivery deadline",
            ],
            stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void A_4xx_is_not_retried_and_is_counted_as_failed_with_its_lines_on_stderr_rate_limited()
    {
        using var receiver = new WebhookReceiver();
        receiver.AnswerWith(403);

        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url, Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, receiver.Requests.Count); // one each, no retry
        Assert.Equal((0L, 2L, 0L), Counts(Delivery(r)));
        // Rate-limited: the second failure came within seconds of the first; the count of those held
        // back is said at the end (no later line carried it, and it went unmentioned).
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"logalert: webhook {receiver.Url}: high_traffic firing at 2019-02-07T21:13:42Z: HTTP 403", lines[0]);
        Assert.Equal($"logalert: webhook {receiver.Url}: 1 more not shown", lines[1]);
    }

    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    public void A_redirect_is_not_followed_and_says_where_it_points(int status)
    {
        using var receiver = new WebhookReceiver();
        receiver.RedirectTo(receiver.Url + "/moved", status);

        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url + "/hook", Log());

        Assert.Equal(0, r.ExitCode);
        // One POST an event to the URL given: a 302 followed turned the POST into a GET without the
        // alert, and a receiver that moved is the user's to point at, as curl without -L leaves it.
        Assert.Equal(["/hook", "/hook"], receiver.Requests.Select(q => q.Path));
        Assert.All(receiver.Requests, q => Assert.Equal("POST", q.Method));
        Assert.Equal((0L, 2L, 0L), Counts(Delivery(r)));
        var first = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.Equal($"logalert: webhook {receiver.Url}/hook: high_traffic firing at 2019-02-07T21:13:42Z: HTTP {status} " +
            $"{(status == 302 ? "Found" : "Status")}: redirects are not followed; it points to {receiver.Url}/moved", first);
    }

    [Fact]
    public void A_receiver_that_never_answers_costs_at_most_the_deadline_and_is_counted()
    {
        using var receiver = new WebhookReceiver();
        receiver.NeverAnswer();
        var log = Log();
        var plain = Stopwatch.StartNew();
        Assert.Equal(0, CliRunner.Run("--format", "jsonl", log).ExitCode);
        plain.Stop();

        var clock = Stopwatch.StartNew();
        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url, "--delivery-timeout", "2s", log);
        clock.Stop();

        Assert.Equal(0, r.ExitCode);
        Assert.InRange(clock.Elapsed - plain.Elapsed, TimeSpan.Zero - TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2 + 2.5));
        var (delivered, failed, dropped) = Counts(Delivery(r));
        Assert.Equal(0, delivered);
        Assert.Equal(2, failed + dropped);
        Assert.True(failed >= 1, "the request in flight at the deadline is failed");
        Assert.Contains("not delivered by the delivery deadline", r.Stderr);
    }

    // An attempt gave up after 5 s: a receiver that took 6 s got each event 9 times, and all of them
    // were counted failed (QA). 10 s an attempt, as Prometheus gives Alertmanager.
    [Fact]
    public void A_receiver_slower_than_5_s_gets_each_event_once()
    {
        using var receiver = new WebhookReceiver();
        receiver.AnswerAfter(TimeSpan.FromSeconds(6));

        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url, "--delivery-timeout", "1m", Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Equal((2L, 0L, 0L), Counts(Delivery(r)));
        Assert.Equal(2, receiver.Requests.Count);
    }

    // An attempt that timed out was never retried (HttpClient's timeout is a cancellation whose token
    // is cancelled, which the retry's test took for the deadline's), and it was said "gave up after retries".
    [Fact]
    public async Task An_attempt_that_times_out_is_retried()
    {
        using var receiver = new WebhookReceiver();
        receiver.HangThenAccept(1);
        var said = new StringWriter();
        var destination = new LogAlert.Cli.Delivery.WebhookDestination(new Uri(receiver.Url),
            new HttpClient { Timeout = TimeSpan.FromMilliseconds(500) }, new LogAlert.Cli.Delivery.DeliveryLog(said));
        destination.Start();
        var alert = AlertmanagerDestinationTests.FirstAlert();

        destination.Publish(alert);
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(20));

        Assert.Equal(2, receiver.Requests.Count);
        Assert.Equal((1L, 0L, 0L), (destination.Count.Delivered, destination.Count.Failed, destination.Count.Dropped));
        Assert.Equal("", said.ToString());
        await destination.DisposeAsync();
    }

    // A receiver that answered 429 with "Retry-After: 10" was tried 7 times in 9 s.
    [Theory]
    [InlineData("2")]
    [InlineData("date")]
    public async Task A_retry_waits_what_Retry_After_asks(string retryAfter)
    {
        using var receiver = new WebhookReceiver();
        var alert = AlertmanagerDestinationTests.FirstAlert(); // a run of generate and a fold: before the date is taken
        // A date has whole seconds: 4 s ahead is more than 3 s away when the request arrives.
        receiver.FailThenAccept(1, 429, retryAfter: retryAfter == "date" ? DateTimeOffset.UtcNow.AddSeconds(4).ToString("R") : retryAfter);
        var destination = new LogAlert.Cli.Delivery.WebhookDestination(new Uri(receiver.Url), new HttpClient(),
            new LogAlert.Cli.Delivery.DeliveryLog(TextWriter.Null));
        destination.Start();

        destination.Publish(alert);
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(20));

        var requests = receiver.Requests;
        Assert.Equal([429, 200], requests.Select(q => q.Status));
        // At least what was asked (2 s; a date, 3 s or more), where the backoff's first wait is 250 ms or so.
        Assert.True(requests[1].ReceivedAt - requests[0].ReceivedAt >= TimeSpan.FromSeconds(1.9), $"{requests[1].ReceivedAt - requests[0].ReceivedAt}");
        await destination.DisposeAsync();
    }

    [Fact]
    public void Retry_After_is_read_as_seconds_or_a_date_and_bounded()
    {
        var now = DateTimeOffset.UtcNow;
        TimeSpan? After(string? value)
        {
            using var answer = new HttpResponseMessage(System.Net.HttpStatusCode.TooManyRequests);
            if (value is not null) answer.Headers.TryAddWithoutValidation("Retry-After", value);
            return LogAlert.Cli.Delivery.Destination.RetryAfter(answer, now);
        }
        Assert.Null(After(null));
        Assert.Equal(TimeSpan.FromSeconds(10), After("10"));
        Assert.Equal(TimeSpan.FromSeconds(30), After("3600")); // at most 30 s: the queue waits behind it
        Assert.Null(After(now.AddMinutes(-5).ToString("R"))); // no wait asked: the backoff's, never none
        Assert.Null(After("0"));
        Assert.Null(After("soon"));

        // The first two retries wait what is asked; later ones the backoff's (at most 5 s): a request
        // answered "Retry-After: 60" every time held the queue for 8 minutes.
        var delay = LogAlert.Cli.Delivery.Destination.DefaultRetry().DelayGenerator!;
        using var busy = new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable);
        busy.Headers.TryAddWithoutValidation("Retry-After", "10");
        var context = Polly.ResilienceContextPool.Shared.Get();
        TimeSpan? On(int attempt) => delay(new Polly.Retry.RetryDelayGeneratorArguments<HttpResponseMessage>(
            context, Polly.Outcome.FromResult(busy), attempt)).AsTask().Result;
        Assert.Equal([TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), null, null], new[] { 0, 1, 2, 7 }.Select(On));
        Polly.ResilienceContextPool.Shared.Return(context);
    }

    // Failures were said in .NET's words: "see inner exception", "Connection refused (127.0.0.1:1)
    // (Connection refused)", "An error occurred while sending the request. (The response ended ...)".
    [Fact]
    public void A_failed_attempt_is_said_once_in_plain_words()
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        // A plain-HTTP server that answers a TLS hello as nginx does: 400 in plain text, then closes.
        var plain = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        plain.Start();
        var plainPort = ((System.Net.IPEndPoint)plain.LocalEndpoint).Port;
        var answering = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var client = await plain.AcceptTcpClientAsync();
                    await client.GetStream().WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
                }
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException or IOException) { }
        });

        // A deadline of some seconds, so that a loaded machine has made one try by then: the line says its last.
        var refused = CliRunner.Run("--format", "jsonl", "--webhook", $"http://127.0.0.1:{port}/", "--delivery-timeout", "3s", Log());
        var tls = CliRunner.Run("--format", "jsonl", "--webhook", $"https://127.0.0.1:{plainPort}/", "--delivery-timeout", "3s", Log());
        plain.Stop();

        Assert.Contains($"last try: Connection refused (127.0.0.1:{port}))", refused.Stderr);
        Assert.DoesNotContain("(Connection refused)", refused.Stderr);
        Assert.Contains("last try: TLS failed (", tls.Stderr);
        Assert.Contains("(is it an https:// server?)", tls.Stderr);
        Assert.DoesNotContain("inner exception", tls.Stderr);
    }

    [Fact]
    public void A_404_names_the_path_posted_to()
    {
        using var receiver = new WebhookReceiver();
        receiver.AnswerWith(404);

        var r = CliRunner.Run("--format", "jsonl", "--alertmanager", receiver.Url + "/api/v2/alerts", "--alertmanager-replay", "send", Log());

        Assert.Contains("HTTP 404 Status (POST /api/v2/alerts/api/v2/alerts)", r.Stderr);
    }

    // The user information of a URL was ignored (the request went out without credentials), and
    // its password printed on stderr and in the final report.
    // RFC 7617: user-id ":" password. A user without a password was sent as "ops", which strict
    // servers refuse, and "ops:" to a webhook but "ops" to Alertmanager (QA).
    [Theory]
    [InlineData("ops@")]
    [InlineData("ops:@")]
    public void A_user_without_a_password_is_sent_with_its_colon(string userInfo)
    {
        using var receiver = new WebhookReceiver();
        var url = receiver.Url.Replace("http://", "http://" + userInfo);

        var r = CliRunner.Run("--format", "jsonl", "--webhook", url + "/hook", "--alertmanager", url, "--alertmanager-replay", "send", Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(4, receiver.Requests.Count); // 2 events, to each
        Assert.All(receiver.Requests, q => Assert.Equal("Basic " + Convert.ToBase64String("ops:"u8.ToArray()), q.Header("Authorization")));
    }

    // A full queue dropped the newest request: at a receiver that was away, 1,999 of 6,000 alerts
    // stayed firing for good, their resolutions dropped (QA). It drops the oldest now.
    [Fact]
    public void A_full_queue_drops_its_oldest_request_so_the_newest_news_arrives()
    {
        using var receiver = new WebhookReceiver();
        receiver.HangThenAccept(1); // the first request waits out its 10 s while every other event queues
        var rule = Path.Combine(_dir, "byhost.csx");
        File.WriteAllText(rule, """
            Alert("byhost").WhenEach(q => q.RateBy("requests", TimeSpan.FromSeconds(10), "host")).Above(0.05);
            """);
        var log = Path.Combine(_dir, "hosts.csv");
        var lines = new StringBuilder(TestLogs.Header + "\n");
        for (var i = 0; i < 6000; i++) lines.Append($"\"10.1.{i / 250}.{i % 250}\",\"-\",\"-\",{1000 + i / 200},\"GET /a HTTP/1.1\",200,1\n");
        lines.Append("\"10.9.9.9\",\"-\",\"-\",1100,\"GET /a HTTP/1.1\",200,1\n"); // every host's window empties
        File.WriteAllText(log, lines.ToString());

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "off", "--rules", rule, "--webhook", receiver.Url + "/hook",
            "--delivery-timeout", "2m", log);

        Assert.Equal(0, r.ExitCode);
        var events = r.StdoutLines.Where(l => l.Contains("\"type\":\"alert\"")).ToArray();
        Assert.Equal(12_001, events.Length); // 6,000 hosts fire and resolve, the last line's fires
        Assert.Equal((10_001L, 0L, 2_000L), Counts(Delivery(r))); // the first, then the newest 10,000
        var received = receiver.Requests;
        Assert.Equal(events[^1], received[^1].Body); // the newest event arrived
        Assert.Equal(events[^10_000..], received.Skip(received.Count - 10_000).Select(q => q.Body).ToArray());
        Assert.Contains("queue full (10000 waiting): the oldest, byhost{host=", r.Stderr);
    }

    [Fact]
    public void A_webhook_url_with_credentials_sends_them_as_basic_auth_and_never_prints_the_password()
    {
        using var receiver = new WebhookReceiver();
        receiver.AnswerWith(500);
        var url = receiver.Url.Replace("http://", "http://ops:s%40cret@") + "/hook";

        var r = CliRunner.Run("--format", "jsonl", "--webhook", url, "--delivery-timeout", "2s", Log());

        Assert.Equal(0, r.ExitCode);
        Assert.NotEmpty(receiver.Requests);
        Assert.All(receiver.Requests, q => Assert.Equal("Basic " + Convert.ToBase64String("ops:s@cret"u8.ToArray()), q.Header("Authorization")));
        var shown = receiver.Url.Replace("http://", "http://ops:xxxxx@") + "/hook";
        Assert.Equal(shown, Delivery(r).GetProperty("destination").GetString());
        Assert.Contains($"logalert: webhook {shown}: ", r.Stderr);
        Assert.DoesNotContain("cret", r.Stdout + r.Stderr);
    }

    // The password was found by matching the URL's normalised user information against the text
    // typed, so an escape (%7E, %65) or a character the parser changes showed it in full.
    [Theory]
    [InlineData("http://user:p%7Es@127.0.0.1:18999/", "http://user:xxxxx@127.0.0.1:18999/")]
    [InlineData("http://user:s%65cret@127.0.0.1:18999/x?q=1", "http://user:xxxxx@127.0.0.1:18999/x?q=1")]
    [InlineData("http://user:sec ret@127.0.0.1:18999/", "http://user:xxxxx@127.0.0.1:18999/")]
    [InlineData("http://user:SéCRET@127.0.0.1:18999", "http://user:xxxxx@127.0.0.1:18999")]
    [InlineData("http://user:p@ss@127.0.0.1:18999/a", "http://user:xxxxx@127.0.0.1:18999/a")]
    // .NET reads backslashes as slashes; and a password of digits then '/' parsed as a port.
    [InlineData("http:\\\\admin:SECRET@127.0.0.1:9/", "http:\\\\admin:xxxxx@127.0.0.1:9/")]
    [InlineData("http://admin:1234/SECRET@127.0.0.1:9/", "http://admin:xxxxx@127.0.0.1:9/")]
    [InlineData("http://admin:p@SEC/RET@127.0.0.1:9/", "http://admin:xxxxx@127.0.0.1:9/")]
    // Malformed: a '/', '?' or '#' typed in the password ended the authority before its '@'.
    [InlineData("http://user:se/cret@127.0.0.1:9/hook", "http://user:xxxxx@127.0.0.1:9/hook")]
    [InlineData("http://user:se#cret@127.0.0.1:9/hook", "http://user:xxxxx@127.0.0.1:9/hook")]
    [InlineData("http://user:se?cret@127.0.0.1:9/hook", "http://user:xxxxx@127.0.0.1:9/hook")]
    // Typed without "://": the first ':' was taken for the scheme's, and the password shown.
    [InlineData("admin:s3cret@am.example.com:9093", "admin:xxxxx@am.example.com:9093")]
    [InlineData("http//admin:s3cret@am.example.com/", "http//admin:xxxxx@am.example.com/")]
    [InlineData("http:/admin:s3cret@am.example.com/", "http:/admin:xxxxx@am.example.com/")]
    [InlineData("admin:/s3cret@am.example.com", "admin:xxxxx@am.example.com")] // "admin:/" is no scheme
    [InlineData("http://user@127.0.0.1:18999/", "http://user@127.0.0.1:18999/")]
    [InlineData("http://127.0.0.1:18999/a:b", "http://127.0.0.1:18999/a:b")]
    public void A_password_is_hidden_however_it_is_written(string typed, string shown)
    {
        Assert.Equal(shown, LogAlert.Cli.Delivery.Destination.Redacted(typed));
        if (Uri.TryCreate(typed, UriKind.Absolute, out var uri)) Assert.Equal(shown, LogAlert.Cli.Delivery.Destination.Redacted(uri));
    }

    /// <summary>What a run that is not live says of <c>--alertmanager http://127.0.0.1:9/</c>.</summary>
    private const string NotLive = "logalert: --alertmanager http://127.0.0.1:9/: not live (no --follow): nothing is sent, as the alerts of a replayed log are past; "
                                   + "--alertmanager-replay send sends them with their log times";

    private const string PipeHint = "; a live pipe (tail -F log | logalert -) needs --follow";

    // `tail -F access.log | logalert --alertmanager …` sent nothing, and the line on stderr pointed
    // at --alertmanager-replay, which sends past alerts once, not at --follow.
    [Fact]
    public void A_piped_run_without_follow_is_told_that_a_live_pipe_needs_it()
    {
        var r = CliRunner.Run(["--alertmanager", "http://127.0.0.1:9/", "-"], stdin: File.ReadAllText(Log()));

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(NotLive + PipeHint, r.Stderr.Trim());
    }

    // A pipe named as a file is as live as stdin (docs/semantics.md §12), and was not told so.
    [Theory]
    [InlineData("a named pipe")]                  // mkfifo access.fifo; logalert … access.fifo
    [InlineData("a process substitution")]        // logalert … <(tail -F access.log): /dev/fd/63
    public async Task A_run_on_a_pipe_named_as_a_file_without_follow_is_told_that_a_live_pipe_needs_it(string pipe)
    {
        var r = pipe == "a named pipe" ? await RunOnNamedPipe(Log()) : RunOnProcessSubstitution(Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(NotLive + PipeHint, r.Stderr.Trim());
        Assert.Equal(File.ReadLines(Log()).Count(), Stats(r).GetProperty("lines").GetInt64()); // the pipe was read whole
    }

    // A device (/dev/null) is not a regular file either, and was told a live pipe needs --follow.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_run_on_a_file_without_follow_is_not_told_about_pipes(bool device)
    {
        var r = CliRunner.Run("--format", "jsonl", "--alertmanager", "http://127.0.0.1:9/", device ? "/dev/null" : Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(NotLive, r.Stderr.Trim());
    }

    /// <summary>logalert, not live, reading <paramref name="log"/> through a named pipe made with mkfifo.</summary>
    private async Task<CliRunner.Result> RunOnNamedPipe(string log)
    {
        var fifo = Path.Combine(_dir, "access.fifo");
        using (var mkfifo = Process.Start("mkfifo", [fifo])!)
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        var writer = Task.Run(() => File.WriteAllText(fifo, File.ReadAllText(log))); // opens when the reader does
        var r = CliRunner.Run("--format", "jsonl", "--alertmanager", "http://127.0.0.1:9/", fifo);
        await writer.WaitAsync(TimeSpan.FromSeconds(10));
        return r;
    }

    /// <summary>logalert, not live, reading <paramref name="log"/> through bash's <c>&lt;(cat log)</c>.</summary>
    private static CliRunner.Result RunOnProcessSubstitution(string log)
    {
        var command = CliRunner.ShellCommand(["--format", "jsonl", "--alertmanager", "http://127.0.0.1:9/"]);
        var bash = new ProcessStartInfo("bash", ["-c", $"exec {command} <(cat '{log}')"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        bash.Environment["NO_COLOR"] = "1";
        using var p = Process.Start(bash)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "did not finish");
        return new CliRunner.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    // A replay skips Alertmanager with a line on stderr, which printed the URL as typed, password and all.
    [Fact]
    public void The_line_saying_a_replay_skips_Alertmanager_hides_the_password()
    {
        var r = CliRunner.Run("--format", "jsonl", "--alertmanager", "http://admin:hunter2@127.0.0.1:9/", Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("logalert: --alertmanager http://admin:xxxxx@127.0.0.1:9/: not live", r.Stderr);
        Assert.DoesNotContain("hunter2", r.Stderr + r.Stdout);
    }

    // --webhook-header Content-Type was dropped without a word: it is a header of the body, which
    // the request's own headers refuse.
    [Fact]
    public void A_content_type_header_replaces_logalerts_own()
    {
        using var receiver = new WebhookReceiver();
        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url, "--webhook-header", "Content-Type: application/vnd.example+json", Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, receiver.Requests.Count);
        Assert.All(receiver.Requests, q => Assert.Equal("application/vnd.example+json", q.Header("Content-Type")));
    }

    // With the default deadline (10 s) the retries (about half a minute) never ran out, and a
    // receiver answering 503 was only ever "not delivered by the delivery deadline".
    [Fact]
    public void A_request_cut_short_by_the_deadline_says_what_its_last_try_got()
    {
        using var receiver = new WebhookReceiver();
        receiver.AnswerWith(503);

        var r = CliRunner.Run("--format", "jsonl", "--webhook", receiver.Url, "--delivery-timeout", "2s", Log());

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("high_traffic firing at 2019-02-07T21:13:42Z: not delivered by the delivery deadline (last try: HTTP 503 ", r.Stderr);
    }

    // A signal during the flush at the end of input was ignored: a receiver that never answers,
    // with a long --delivery-timeout, held the run until the deadline (kill -9 was the only way out).
    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    [InlineData("QUIT")] // Ctrl-\ stops a run as Ctrl-C does; it waited out the whole deadline here
    public async Task A_signal_while_deliveries_are_flushed_cuts_the_flush_short(string signal)
    {
        using var receiver = new WebhookReceiver();
        receiver.NeverAnswer();
        var psi = CliRunner.StartInfo(["--format", "jsonl", "--webhook", receiver.Url, "--delivery-timeout", "1h", Log()]);
        using var run = Process.Start(psi)!;
        var stdout = run.StandardOutput.ReadToEndAsync();
        var stderr = run.StandardError.ReadToEndAsync();
        try
        {
            // The first request is in flight: the input (2 events) is read, the flush has begun.
            receiver.WaitForRequests(1, TimeSpan.FromSeconds(30));
            Thread.Sleep(500);
            var clock = Stopwatch.StartNew();
            Process.Start("kill", [$"-{signal}", run.Id.ToString()])!.WaitForExit();
            Assert.True(run.WaitForExit(15_000), $"still flushing 15 s after SIG{signal}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        }
        finally
        {
            if (!run.HasExited) run.Kill(true);
        }
        var said = await stderr;
        Assert.Contains($"not delivered when SIG{signal} cut the delivery short", said);
        var last = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        var delivery = JsonDocument.Parse(last).RootElement.GetProperty("delivery")[0];
        Assert.Equal(2, delivery.GetProperty("failed").GetInt64() + delivery.GetProperty("dropped").GetInt64());
    }

    // `logalert … | head -1`: the alerts found before stdout closed were dropped at once, none sent,
    // and the one line on stderr blamed the delivery deadline.
    [Fact]
    public async Task Alerts_found_before_stdout_closed_are_still_delivered_and_counted_on_stderr()
    {
        using var receiver = new WebhookReceiver();
        var rule = Path.Combine(_dir, "flap.csx");
        File.WriteAllText(rule, "Alert(\"flap\").WhenEach(q => q.SumBy(\"requests\", TimeSpan.FromSeconds(1), \"host\")).Above(0.5);");
        var log = Path.Combine(_dir, "many.csv");
        Assert.Equal(0, CliRunner.Run("generate", "--seed", "7", "--duration", "5m", "--rate", "50", "--hosts", "5000", "-o", log).ExitCode);
        using var run = Process.Start(CliRunner.StartInfo(["--rules", rule, "--format", "jsonl", "--summary-interval", "off", "--webhook", receiver.Url, log]))!;
        var stderr = run.StandardError.ReadToEndAsync();
        Assert.Contains("\"type\":\"alert\"", await run.StandardOutput.ReadLineAsync());
        run.StandardOutput.Close();
        Assert.True(run.WaitForExit(60_000), "did not exit after stdout closed");

        Assert.Equal(141, run.ExitCode);
        var said = await stderr;
        var line = Assert.Single(said.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"logalert: webhook {receiver.Url}: {receiver.Requests.Count} delivered, 0 failed, 0 dropped (stdout closed)", line);
        Assert.True(receiver.Requests.Count > 0);
    }

    // stdout on a full disk (or closed): the run ended at the first write, and the alerts found by
    // then were dropped unsent, one of them said as "not delivered by the delivery deadline".
    [Theory]
    [InlineData("> /dev/full", "stdout: No space left on device")]
    [InlineData(">&-", "stdout: not open for writing (closed, or opened for reading)")]
    public async Task Alerts_found_before_stdout_failed_are_still_delivered_and_counted_on_stderr(string redirect, string error)
    {
        using var receiver = new WebhookReceiver();
        var command = CliRunner.ShellCommand(["--format", "jsonl", "--summary-interval", "off", "--webhook", receiver.Url, Log()]);
        var shell = new ProcessStartInfo("sh", ["-c", $"exec {command} {redirect}"]) { RedirectStandardError = true, UseShellExecute = false };
        shell.Environment["NO_COLOR"] = "1";
        using var run = Process.Start(shell)!;
        var stderr = run.StandardError.ReadToEndAsync();
        Assert.True(run.WaitForExit(60_000), "did not exit");

        Assert.Equal(1, run.ExitCode);
        var said = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([$"logalert: {error}", $"logalert: webhook {receiver.Url}: 2 delivered, 0 failed, 0 dropped (stdout failed)"], said);
        Assert.Equal(2, receiver.Requests.Count); // the burst's firing and resolved events
    }

    [Fact]
    public void A_destination_down_at_the_start_is_not_an_error_and_stdout_does_not_change()
    {
        var log = Log();
        var plain = CliRunner.Run("--format", "jsonl", log);
        using var receiver = new WebhookReceiver();
        var dead = $"http://127.0.0.1:{Loopback.FreePort()}/";

        var r = CliRunner.Run("--format", "jsonl", "--webhook", dead, "--webhook", receiver.Url, "--delivery-timeout", "3s", log);

        Assert.Equal(0, r.ExitCode);
        // Every event and summary byte-identical; only the final stats say what delivery did.
        Assert.Equal(plain.StdoutLines[..^1], r.StdoutLines[..^1]);
        Assert.Equal(plain.StdoutLines[^1], r.StdoutLines[^1].Replace(
            r.StdoutLines[^1][r.StdoutLines[^1].IndexOf(",\"delivery\":", StringComparison.Ordinal)..r.StdoutLines[^1].IndexOf(",\"stopped\":", StringComparison.Ordinal)], ""));
        Assert.Equal(0, Counts(Delivery(r, 0)).Delivered);
        Assert.Equal((2L, 0L, 0L), Counts(Delivery(r, 1)));
        // Text output says it too.
        var text = CliRunner.Run("--webhook", receiver.Url, log);
        Assert.Contains($"-- webhook {receiver.Url}: 2 delivered, 0 failed, 0 dropped", text.Stdout);
    }

    [Theory]
    [InlineData("--webhook", "ftp://example.com/x", "--webhook: \"ftp://example.com/x\" is not an http:// or https:// URL")]
    [InlineData("--alertmanager", "localhost:9093", "--alertmanager: \"localhost:9093\" is not an http:// or https:// URL")]
    // Not echoed: a token typed without its colon went to the terminal and CI logs.
    [InlineData("--webhook-header", "Authorization Bearer s3cr3t-T0KEN", "--webhook-header: a header is 'Name: value'; its text is not shown here, as it may hold a secret")]
    [InlineData("--webhook-header", "X-Api-Key=s3cr3t extra", "--webhook-header: a header is 'Name: value'; its text is not shown here, as it may hold a secret")]
    [InlineData("--webhook-header", "Bad/Name: s3cr3t", "--webhook-header: a header is 'Name: value'; its text is not shown here, as it may hold a secret")]
    // The value was accepted, then every request failed in the client, retried for half a minute.
    [InlineData("--webhook-header", "X-Team: équipe", "--webhook-header: the value of X-Team has a character HTTP cannot send (a line break, a control or non-ASCII character)")]
    // A line break wrote a header of its own (X-Admin) into every request.
    [InlineData("--webhook-header", "X-Token: abc\r\nX-Admin: yes", "--webhook-header: the value of X-Token has a character HTTP cannot send (a line break, a control or non-ASCII character)")]
    [InlineData("--webhook-header", "Content-Length: 5", "--webhook-header: Content-Length is the body's, set by logalert")]
    // An unescaped '@' in the password made the URL malformed, and the message printed it.
    [InlineData("--webhook", "http://user:p@ss@127.0.0.1:18999/", "--webhook: \"http://user:xxxxx@127.0.0.1:18999/\" is not a valid URL: escape a '@', '/', '?' or '#' in its user name or password (%40, %2F, %3F, %23)")]
    // Port "pa": said to be no http:// URL, the password hidden, so that what was shown looked right.
    [InlineData("--alertmanager", "http://alice:pa/ss@127.0.0.1:5001/", "--alertmanager: \"http://alice:xxxxx@127.0.0.1:5001/\" is not a valid URL: escape a '@', '/', '?' or '#' in its user name or password (%40, %2F, %3F, %23)")]
    // Host "admin", port 1234: the request went there, and the password was shown in full.
    [InlineData("--webhook", "http://admin:1234/SECRET@127.0.0.1:9/", "--webhook: \"http://admin:xxxxx@127.0.0.1:9/\" has an '@' after its host: escape it as %40 (and a '/', '?' or '#' in a password as %2F, %3F, %23)")]
    // An http:// URL said to be none: the host, the port or the bracket was what was wrong.
    [InlineData("--webhook", "http://", "--webhook: \"http://\" has no host")]
    [InlineData("--webhook", "http://:80/x", "--webhook: \"http://:80/x\" has no host")]
    [InlineData("--webhook", "http://127.0.0.1:99999/", "--webhook: \"http://127.0.0.1:99999/\" has a port 99999 above 65535")]
    [InlineData("--webhook", "http://[::1/", "--webhook: \"http://[::1/\" has an IPv6 address whose '[' is not closed by ']'")]
    [InlineData("--alertmanager", "http://admin:pw@am.example.com:99999/", "--alertmanager: \"http://admin:xxxxx@am.example.com:99999/\" has a port 99999 above 65535")]
    [InlineData("--webhook", "http://host:9x/", "--webhook: \"http://host:9x/\" has a port \"9x\" that is not a number")]
    [InlineData("--alertmanager", "admin:s3cret@am.example.com:9093", "--alertmanager: \"admin:xxxxx@am.example.com:9093\" is not an http:// or https:// URL")]
    [InlineData("--alertmanager-replay", "maybe", "--alertmanager-replay: \"maybe\" is not skip or send")]
    // Only a --webhook: it did nothing, without a word.
    [InlineData("--alertmanager-replay", "send", "--alertmanager-replay needs an --alertmanager")]
    public void A_malformed_destination_is_a_usage_error(string option, string value, string message)
    {
        var r = CliRunner.Run(option, value, "--webhook", "http://127.0.0.1:9/", Log());

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"logalert: {message}", r.Stderr.Trim());
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void A_malformed_webhook_header_among_several_is_named_by_its_place()
    {
        var r = CliRunner.Run("--webhook", "http://127.0.0.1:9/", "--webhook-header", "X-A: 1", "--webhook-header", "Authorization Bearer s3cr3t", Log());

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("logalert: --webhook-header (the 2nd): a header is 'Name: value'; its text is not shown here, as it may hold a secret", r.Stderr.Trim());
    }

    // ---- Alertmanager ----

    /// <summary>A rule with a short window, so that a live run fires and resolves within seconds.</summary>
    private string BusyRule()
    {
        var path = Path.Combine(_dir, "busy.csx");
        File.WriteAllText(path, """
            Alert("busy5")
                .When(q => q.Rate("requests", TimeSpan.FromSeconds(5)))
                .Above(3)
                .Labels(("severity", "page"), ("team", "web"))
                .Annotations(("runbook", "https://wiki.example/busy"))
                .Message("busy at {value} req/s");
            Alert("per_section")
                .WhenEach(q => q.RateBy("requests", TimeSpan.FromSeconds(5), "section"))
                .Above(0.5)
                .Message("{section} busy");
            """);
        return path;
    }

    /// <summary>Lines of the seed's CSV with timestamps of the last <paramref name="seconds"/> seconds of wall time, 10 a second.</summary>
    private static string RecentLines(int seconds)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var sb = new StringBuilder();
        for (var s = now - seconds; s <= now; s++)
            for (var i = 0; i < 10; i++)
                sb.Append($"\"10.0.0.{i}\",\"-\",\"-\",{s},\"GET /{(i % 2 == 0 ? "api" : "web")}/x HTTP/1.1\",200,100\n");
        return sb.ToString();
    }

    private static async Task<T> Eventually<T>(Func<T> read, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = read();
            if (done(value)) return value;
            if (clock.Elapsed > timeout) throw new TimeoutException($"{what} within {timeout.TotalSeconds}s");
            await Task.Delay(100);
        }
    }

    /// <summary>Ten requests a second over <c>[from, to]</c> (Unix seconds).</summary>
    private static string Lines(long from, long to)
    {
        var sb = new StringBuilder();
        for (var s = from; s <= to; s++)
            for (var i = 0; i < 10; i++)
                sb.Append($"\"10.0.0.{i}\",\"-\",\"-\",{s},\"GET /api/x HTTP/1.1\",200,100\n");
        return sb.ToString();
    }

    /// <summary>Follows <paramref name="log"/> with the built-in rule (above 5/s over 10s) and a webhook; stdout collected.</summary>
    private static (Process Run, StringBuilder Stdout, Task<string> Stderr) FollowWithWebhook(string log, WebhookReceiver receiver, params string[] more)
    {
        var run = Process.Start(CliRunner.StartInfo(["--follow", log, "--format", "jsonl", "--summary-interval", "off", "--threshold", "5",
            "--window", "10s", "--webhook", receiver.Url + "/hook", .. more.Length > 0 ? more : ["--idle-timeout", "1h", "--lateness", "0s"]]))!;
        var stdout = new StringBuilder();
        run.OutputDataReceived += (_, e) => { lock (stdout) stdout.AppendLine(e.Data); };
        run.BeginOutputReadLine();
        return (run, stdout, run.StandardError.ReadToEndAsync());
    }

    private const string PastNotice = "logalert: deliveries: alert events more than 5 minutes behind the clock are past (the log before now) and not sent, "
        + "nor their resolutions; an alert still firing once the newest record is within that of the clock is sent then";

    // A restart of `logalert --follow` read the day's log again and sent every alert in it as news:
    // old firings paged (QA). Live, an event more than 5 minutes behind the clock is past, as a
    // replay's are (Prometheus sees no sample older than that); what is news is sent as ever.
    [Fact]
    public async Task Following_sends_no_alert_more_than_5_minutes_behind_the_clock()
    {
        using var receiver = new WebhookReceiver();
        var log = Path.Combine(_dir, "backlog.csv");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // Fires and resolves 10 minutes ago, fires again in the last 30 s and is firing at the end.
        File.WriteAllText(log, TestLogs.Header + "\n" + Lines(now - 600, now - 570) + Lines(now - 30, now));
        var (run, stdout, stderr) = FollowWithWebhook(log, receiver, "--lateness", "0s", "--idle-timeout", "1h");
        try
        {
            var sent = receiver.WaitForRequests(1, TimeSpan.FromSeconds(60));
            var body = JsonDocument.Parse(Assert.Single(sent).Body).RootElement;
            Assert.Equal(("firing", true), (body.GetProperty("state").GetString(), body.GetProperty("ts").GetInt64() >= now - 30));
            await Task.Delay(1500); // nothing else comes
            Assert.Single(receiver.Requests);
        }
        finally
        {
            Process.Start("kill", ["-TERM", run.Id.ToString()])!.WaitForExit();
            Assert.True(run.WaitForExit(30_000), "did not exit on SIGTERM");
        }
        var errors = await stderr;
        Assert.Equal(0, run.ExitCode);
        string output;
        lock (stdout) output = stdout.ToString();
        Assert.Equal(3, output.Split('\n').Count(l => l.Contains("\"type\":\"alert\""))); // stdout has them all
        Assert.Contains(PastNotice, errors);
        Assert.Single(receiver.Requests);
    }

    // An alert that fired in the past and still fires once the log is current is sent then, as
    // Prometheus sends what fires after a restart; one of a log hours old stays past, and so does its
    // resolution, whenever it comes: at the next line (lateness 0), or when the last seconds close
    // and the quiet resolves it on the live clock (the defaults, where a burst in the log's last
    // seconds fired after the first read found nothing more, and was sent).
    [Theory]
    [InlineData("0s", "1h")]
    [InlineData("5s", "1s")]
    public async Task Following_an_old_log_sends_nothing_of_it_and_what_fires_on_new_lines(string lateness, string idle)
    {
        using var receiver = new WebhookReceiver();
        var log = Path.Combine(_dir, "old.csv");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        File.WriteAllText(log, TestLogs.Header + "\n" + Lines(now - 10_800, now - 10_790));
        var (run, stdout, stderr) = FollowWithWebhook(log, receiver, "--lateness", lateness, "--idle-timeout", idle);
        try
        {
            string Out() { lock (stdout) return stdout.ToString(); }
            await Eventually(Out, o => o.Contains("\"state\":\"firing\""), TimeSpan.FromSeconds(60), "the old firing on stdout");
            if (idle == "1s") await Eventually(Out, o => o.Contains("\"state\":\"resolved\""), TimeSpan.FromSeconds(60), "the old resolution on stdout");
            await Task.Delay(1500);
            Assert.Empty(receiver.Requests);

            now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            File.AppendAllText(log, Lines(now - 20, now));
            var sent = receiver.WaitForRequests(1, TimeSpan.FromSeconds(60));
            var body = JsonDocument.Parse(Assert.Single(sent).Body).RootElement;
            Assert.Equal(("firing", true), (body.GetProperty("state").GetString(), body.GetProperty("ts").GetInt64() >= now - 20));
            await Task.Delay(1500);
            Assert.Single(receiver.Requests); // not the old alert's resolution
        }
        finally
        {
            Process.Start("kill", ["-TERM", run.Id.ToString()])!.WaitForExit();
            Assert.True(run.WaitForExit(30_000), "did not exit on SIGTERM");
        }
        var errors = await stderr;
        Assert.Equal(0, run.ExitCode);
        Assert.Contains(PastNotice, errors);
        string output;
        lock (stdout) output = stdout.ToString();
        Assert.Contains("\"state\":\"resolved\"", output); // resolved on stdout, not sent
    }

    // A pipe's lines come as they come: a first read that found nothing more said "caught up" before
    // the log's first line, and its hours-old alerts were sent (review). Judged by their log time,
    // they are past however they come.
    [Fact]
    public void Following_a_pipe_of_an_old_log_sends_none_of_its_alerts()
    {
        using var receiver = new WebhookReceiver();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var r = CliRunner.Run(["--follow", "-", "--format", "jsonl", "--summary-interval", "off", "--threshold", "5", "--window", "10s",
            "--webhook", receiver.Url + "/hook"], stdin: TestLogs.Header + "\n" + Lines(now - 10_800, now - 10_770));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(1, r.StdoutLines.Count(l => l.Contains("\"state\":\"firing\""))); // firing at the end
        Assert.Empty(receiver.Requests);
        Assert.Contains(PastNotice, r.Stderr);
    }

    [AlertmanagerFact]
    public async Task A_live_alert_is_in_Alertmanager_while_it_fires_and_gone_once_resolved()
    {
        using var alertmanager = new AlertmanagerServer();
        var log = Path.Combine(_dir, "live.csv");
        File.WriteAllText(log, TestLogs.Header + "\n");
        using var run = Process.Start(CliRunner.StartInfo(["--follow", log, "--idle-timeout", "1s", "--format", "jsonl",
            "--summary-interval", "off", "--rules", BusyRule(), "--alertmanager", alertmanager.Url]))!;
        var stdout = new StringBuilder();
        run.OutputDataReceived += (_, e) => { lock (stdout) stdout.AppendLine(e.Data); };
        run.BeginOutputReadLine();
        var stderr = run.StandardError.ReadToEndAsync();
        try
        {
            await Task.Delay(1500); // the rule compiles, the file is followed
            File.AppendAllText(log, RecentLines(8));

            // The event on stdout, then the alert in Alertmanager soon after: sent with the event, not
            // with the next re-send a minute later. (Within 5 s, not 1: a fresh process's first
            // request, on a machine busy with the other tests, once took 1.1 s.)
            string Out() { lock (stdout) return stdout.ToString(); }
            await Eventually(Out, o => o.Contains("\"rule\":\"busy5\""), TimeSpan.FromSeconds(30), "the firing event on stdout");
            var seen = Stopwatch.StartNew();
            await Eventually(alertmanager.GetAlerts, a => a.Any(x => x.Labels["alertname"] == "busy5"), TimeSpan.FromSeconds(10), "busy5 in Alertmanager");
            Assert.True(seen.Elapsed < TimeSpan.FromSeconds(5), $"in Alertmanager {seen.Elapsed.TotalMilliseconds:0} ms after the event");

            // Firing: the rule's alert with its labels and annotations, and one alert per section.
            var firing = await Eventually(alertmanager.GetAlerts, a => a.Count >= 3, TimeSpan.FromSeconds(30), "3 alerts in Alertmanager");
            var busy = firing.Single(a => a.Labels["alertname"] == "busy5");
            Assert.Equal(new Dictionary<string, string> { ["alertname"] = "busy5", ["severity"] = "page", ["team"] = "web" }, busy.Labels);
            Assert.Equal("https://wiki.example/busy", busy.Annotations["runbook"]);
            Assert.StartsWith("busy at ", busy.Annotations["message"]);
            Assert.Equal("3", busy.Annotations["threshold"]);
            Assert.Equal("active", busy.State);
            Assert.True(busy.EndsAt > DateTimeOffset.UtcNow, "a firing alert ends in the future");
            var sections = firing.Where(a => a.Labels["alertname"] == "per_section").Select(a => a.Labels["section"]).Order().ToArray();
            Assert.Equal(["/api", "/web"], sections);
            string firedLine;
            lock (stdout) firedLine = stdout.ToString().Split('\n').First(l => l.Contains("\"rule\":\"busy5\""));
            var firedAt = DateTimeOffset.FromUnixTimeSeconds(JsonDocument.Parse(firedLine).RootElement.GetProperty("ts").GetInt64());
            Assert.Equal(firedAt, busy.StartsAt);

            // Traffic stops: log time follows the clock, the 5s windows empty, the alerts resolve.
            await Eventually(alertmanager.GetAlerts, a => a.Count == 0, TimeSpan.FromSeconds(30), "no alert left in Alertmanager");
            Assert.True(alertmanager.ReceivedAlerts("resolved") >= 3);
            Assert.Equal(0, alertmanager.InvalidAlerts());
        }
        finally
        {
            Process.Start("kill", ["-INT", run.Id.ToString()])!.WaitForExit();
            Assert.True(run.WaitForExit(30_000), "did not exit on SIGINT");
        }
        Assert.Equal(0, run.ExitCode);
        string last;
        lock (stdout) last = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        var delivery = JsonDocument.Parse(last).RootElement.GetProperty("delivery")[0];
        Assert.Equal("alertmanager", delivery.GetProperty("kind").GetString());
        Assert.Equal(0, delivery.GetProperty("failed").GetInt64() + delivery.GetProperty("dropped").GetInt64());
        Assert.True(delivery.GetProperty("delivered").GetInt64() >= 6, await stderr); // 3 fired, 3 resolved
    }

    [AlertmanagerFact]
    public void A_replay_sends_nothing_to_Alertmanager_unless_asked()
    {
        using var alertmanager = new AlertmanagerServer();

        var skip = CliRunner.Run("--format", "jsonl", "--alertmanager", alertmanager.Url, Log());

        Assert.Equal(0, skip.ExitCode);
        Assert.Contains("not live (no --follow): nothing is sent", skip.Stderr);
        Assert.DoesNotContain("pipe", skip.Stderr);
        Assert.Equal(0, alertmanager.ReceivedAlerts("firing") + alertmanager.ReceivedAlerts("resolved"));
        Assert.False(Stats(skip).TryGetProperty("delivery", out _)); // not sent to: not listed (semantics §13)

        var send = CliRunner.Run("--format", "jsonl", "--alertmanager", alertmanager.Url, "--alertmanager-replay", "send", Log());

        Assert.True(send.ExitCode == 0, send.Stderr);
        Assert.Equal((2L, 0L, 0L), Counts(Delivery(send)));
        Assert.Equal(0, alertmanager.InvalidAlerts());
        Assert.Empty(alertmanager.GetAlerts()); // they are past: already ended
    }
}

/// <summary>The Alertmanager destination on its own: what it posts, and when it posts a firing alert again.</summary>
public sealed class AlertmanagerDestinationTests
{
    // Live, log time and Alertmanager's clock can differ. A log ahead of the clock made a re-send end
    // (clock + 4 intervals) before it started, which Alertmanager refuses with 400; a log behind it
    // sent a firing alert whose end (its time + 4 intervals) had passed, so it never showed.
    [Theory]
    [InlineData(600)]
    [InlineData(-300)]
    public async Task Live_an_alert_never_ends_before_it_starts_nor_arrives_ended_when_the_log_and_the_clock_differ(int logAhead)
    {
        using var receiver = new WebhookReceiver();
        var (fired, resolved) = (Alerts()[0], Alerts()[1]);
        var clock = DateTimeOffset.FromUnixTimeSeconds(fired.Time - logAhead);
        var destination = new LogAlert.Cli.Delivery.AlertmanagerDestination(new Uri(receiver.Url), new HttpClient(),
            new LogAlert.Cli.Delivery.DeliveryLog(TextWriter.Null), _ => new([], []))
        {
            ResendInterval = TimeSpan.FromSeconds(10),
            Clock = () => clock,
        };
        destination.Start();

        destination.Publish(fired);
        clock = clock.AddSeconds(10); // a re-send interval later
        destination.Tick(clock);
        clock = DateTimeOffset.FromUnixTimeSeconds(resolved.Time - logAhead);
        destination.Publish(resolved);
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(10));

        var sent = receiver.Requests.Select(q => JsonDocument.Parse(q.Body).RootElement[0]).ToArray();
        Assert.Equal(3, sent.Length);
        DateTimeOffset At(JsonElement a, string name) => DateTimeOffset.Parse(a.GetProperty(name).GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.All(sent, a => Assert.True(At(a, "endsAt") >= At(a, "startsAt"), a.ToString()));
        // The firing sends end after the clock they reach; the resolved one not after it.
        Assert.True(At(sent[0], "endsAt") > DateTimeOffset.FromUnixTimeSeconds(fired.Time - logAhead));
        Assert.True(At(sent[1], "endsAt") > DateTimeOffset.FromUnixTimeSeconds(fired.Time - logAhead + 5));
        Assert.True(At(sent[2], "endsAt") <= Max(clock, At(sent[2], "startsAt")));
        // Nor stays active once resolved: with the log ahead, startsAt was the log's time, in the
        // future, and the resolution's endsAt (never before it) kept the alert active until then.
        Assert.All(sent, a => Assert.True(At(a, "startsAt") <= DateTimeOffset.FromUnixTimeSeconds(fired.Time - logAhead + 5), a.ToString()));
        Assert.True(At(sent[2], "endsAt") <= clock, sent[2].ToString());
    }

    // A query on an --alertmanager URL (a token for a proxy) was dropped; a value that is not finite
    // (a ratio over no requests) was sent as "NaN" whatever its sign.
    [Fact]
    public async Task The_url_keeps_its_query_and_an_infinite_value_is_written_as_Prometheus_does()
    {
        using var receiver = new WebhookReceiver();
        var alert = FirstAlert();
        var destination = new LogAlert.Cli.Delivery.AlertmanagerDestination(new Uri(receiver.Url + "/prefix/?token=x"), new HttpClient(),
            new LogAlert.Cli.Delivery.DeliveryLog(TextWriter.Null), _ => new([], [])) { Resend = false };
        destination.Start();

        destination.Publish(alert);
        destination.Publish(Infinite());
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(10));

        Assert.Equal(["/prefix/api/v2/alerts?token=x", "/prefix/api/v2/alerts?token=x"], receiver.Requests.Select(q => q.Path));
        var values = receiver.Requests.Select(q => JsonDocument.Parse(q.Body).RootElement[0].GetProperty("annotations").GetProperty("value").GetString());
        Assert.Equal([Math.Round(alert.Value, 2).ToString(System.Globalization.CultureInfo.InvariantCulture), "+Inf"], values);
        await destination.DisposeAsync();
    }

    // A path typed with a doubled slash was read as another host: the alerts went there, counted delivered.
    [Fact]
    public async Task A_path_with_a_doubled_slash_stays_on_the_host_given()
    {
        using var receiver = new WebhookReceiver();
        var destination = new LogAlert.Cli.Delivery.AlertmanagerDestination(new Uri(receiver.Url.TrimEnd('/') + "//127.0.0.1:9/x?token=y"), new HttpClient(),
            new LogAlert.Cli.Delivery.DeliveryLog(TextWriter.Null), _ => new([], [])) { Resend = false };
        destination.Start();

        destination.Publish(FirstAlert());
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(10));

        Assert.Equal(new Uri(receiver.Url).Authority, destination.Url.Authority);
        Assert.Equal(["//127.0.0.1:9/x/api/v2/alerts?token=y"], receiver.Requests.Select(q => q.Path));
        Assert.Equal(1L, destination.Count.Delivered);
        await destination.DisposeAsync();
    }

    // A resolution whose retries ran out while Alertmanager was unreachable was never sent again:
    // the alert stayed active there until its endsAt. Prometheus sends resolved alerts for 15 minutes.
    [Fact]
    public async Task A_resolved_alert_is_sent_again_each_interval_for_its_retention_then_no_more()
    {
        using var receiver = new WebhookReceiver();
        var (fired, resolved) = (Alerts()[0], Alerts()[1]);
        var clock = fired.Time;
        var destination = new LogAlert.Cli.Delivery.AlertmanagerDestination(new Uri(receiver.Url), new HttpClient(),
            new LogAlert.Cli.Delivery.DeliveryLog(TextWriter.Null), _ => new([], []))
        {
            ResendInterval = TimeSpan.FromSeconds(10),
            ResolvedRetention = TimeSpan.FromSeconds(25),
            Clock = () => DateTimeOffset.FromUnixTimeSeconds(clock),
        };
        destination.Start();
        destination.Publish(fired);
        clock = resolved.Time;
        destination.Publish(resolved);
        var r0 = DateTimeOffset.FromUnixTimeSeconds(resolved.Time);

        destination.Tick(r0.AddSeconds(5));   // within the interval: not again
        destination.Tick(r0.AddSeconds(10));  // again
        destination.Tick(r0.AddSeconds(20));  // again
        destination.Tick(r0.AddSeconds(30));  // past its retention: no more
        destination.Tick(r0.AddSeconds(40));
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(10));

        var sent = receiver.Requests.Select(q => JsonDocument.Parse(q.Body).RootElement[0]).ToArray();
        Assert.Equal(4, sent.Length); // fired, resolved, and the resolution twice again
        string Time(long t) => DateTimeOffset.FromUnixTimeSeconds(t).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        Assert.All(sent.Skip(1), a => Assert.Equal(Time(resolved.Time), a.GetProperty("endsAt").GetString()));
        Assert.All(sent, a => Assert.Equal(Time(fired.Time), a.GetProperty("startsAt").GetString()));
        await destination.DisposeAsync();
    }

    [Fact]
    public async Task An_alert_that_fires_again_is_no_longer_sent_as_resolved()
    {
        using var receiver = new WebhookReceiver();
        var alerts = Alerts("--burst", "2m:3m:20", "--burst", "7m:2m:20", "--duration", "12m");
        Assert.Equal(4, alerts.Count);
        var (fired, resolved, again) = (alerts[0], alerts[1], alerts[2]);
        var clock = fired.Time;
        var destination = new LogAlert.Cli.Delivery.AlertmanagerDestination(new Uri(receiver.Url), new HttpClient(),
            new LogAlert.Cli.Delivery.DeliveryLog(TextWriter.Null), _ => new([], []))
        {
            ResendInterval = TimeSpan.FromSeconds(10),
            Clock = () => DateTimeOffset.FromUnixTimeSeconds(clock),
        };
        destination.Start();
        destination.Publish(fired);
        clock = resolved.Time;
        destination.Publish(resolved);
        clock = again.Time;
        destination.Publish(again); // the same alert fires again

        destination.Tick(DateTimeOffset.FromUnixTimeSeconds(again.Time + 10)); // one re-send: of the firing alert
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(10));

        var sent = receiver.Requests.Select(q => JsonDocument.Parse(q.Body).RootElement).ToArray();
        Assert.Equal(4, sent.Length);
        var last = sent[^1];
        Assert.Equal(1, last.GetArrayLength());
        Assert.True(DateTimeOffset.Parse(last[0].GetProperty("endsAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture)
                    > DateTimeOffset.FromUnixTimeSeconds(again.Time + 10), last.ToString()); // firing: ends ahead
        await destination.DisposeAsync();
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>The firing event of a rule whose value is +Inf from its first record on.</summary>
    private static LogAlert.Core.Interop.AlertNotice Infinite()
    {
        var rule = LogAlert.Core.Interop.Rules.Scalar("inf", q => q.Sum("requests", TimeSpan.FromSeconds(1)) > 0 ? double.PositiveInfinity : 0,
            1, null, TimeSpan.Zero, null, null);
        var dir = Directory.CreateTempSubdirectory("logalert-am-").FullName;
        try
        {
            var log = Path.Combine(dir, "a.csv");
            File.WriteAllLines(log, ["\"remotehost\",\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\"",
                "\"10.0.0.1\",\"-\",\"-\",1549573860,\"GET /a HTTP/1.1\",200,10"]);
            var records = new LogAlert.Cli.Input.AccessLogReader([log]).SelectMany(b => b.Records).ToArray();
            return TestLogs.Fold(new LogAlert.Core.Interop.EngineSettings { Rules = [rule] }, records).OfType<LogAlert.Core.Interop.AlertNotice>().First();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The firing event of a generated burst, for destinations tested on their own.</summary>
    internal static LogAlert.Core.Interop.AlertNotice FirstAlert() => Alerts()[0];

    private static List<LogAlert.Core.Interop.AlertNotice> Alerts(params string[] generate)
    {
        var dir = Directory.CreateTempSubdirectory("logalert-am-").FullName;
        try
        {
            var log = Path.Combine(dir, "a.csv");
            string[] shape = generate.Length > 0 ? generate : ["--burst", "2m:3m:20", "--duration", "10m"];
            Assert.Equal(0, CliRunner.Run(["generate", "--rate", "5", .. shape, "-o", log]).ExitCode);
            var records = new LogAlert.Cli.Input.AccessLogReader([log]).SelectMany(b => b.Records).ToArray();
            var settings = new LogAlert.Core.Interop.EngineSettings { Rules = [LogAlert.Core.Interop.Rules.HighTraffic(10, TimeSpan.FromMinutes(2))] };
            return [.. TestLogs.Fold(settings, records).OfType<LogAlert.Core.Interop.AlertNotice>()];
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_firing_alert_is_sent_again_each_interval_with_endsAt_ahead_and_a_resolved_one_with_its_end()
    {
        using var receiver = new WebhookReceiver();
        var alerts = Alerts();
        Assert.Equal(2, alerts.Count);
        var (fired, resolved) = (alerts[0], alerts[1]);
        var clock = fired.Time; // live: log time follows the clock
        var destination = new LogAlert.Cli.Delivery.AlertmanagerDestination(new Uri(receiver.Url), new HttpClient(),
            new LogAlert.Cli.Delivery.DeliveryLog(TextWriter.Null), _ => new([("severity", "page")], [("runbook", "r")]))
        {
            ResendInterval = TimeSpan.FromSeconds(10),
            Clock = () => DateTimeOffset.FromUnixTimeSeconds(clock),
        };
        destination.Start();
        var t0 = DateTimeOffset.FromUnixTimeSeconds(fired.Time);

        destination.Publish(fired);
        destination.Tick(t0.AddSeconds(1));         // a tick a second after it fired: not sent again (it was)
        destination.Tick(t0.AddSeconds(9));         // within the interval: not
        destination.Tick(t0.AddSeconds(10));        // an interval after it was sent: again
        destination.Tick(t0.AddSeconds(15));        // within the next one: not
        destination.Tick(t0.AddSeconds(20));        // again
        clock = resolved.Time;
        destination.Publish(resolved);
        destination.Tick(t0.AddSeconds(40));        // nothing fires any more: nothing
        await destination.FlushAsync(DateTimeOffset.UtcNow.AddSeconds(10));

        var bodies = receiver.Requests.Select(q => JsonDocument.Parse(q.Body).RootElement).ToArray();
        Assert.All(receiver.Requests, q => Assert.Equal("/api/v2/alerts", q.Path));
        Assert.Equal(4, bodies.Length);
        Assert.All(bodies, b => Assert.Equal(1, b.GetArrayLength()));
        var sent = bodies.Select(b => b[0]).ToArray();
        string Time(long s) => DateTimeOffset.FromUnixTimeSeconds(s).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        Assert.All(sent, a => Assert.Equal(Time(fired.Time), a.GetProperty("startsAt").GetString()));
        Assert.Equal(Time(fired.Time + 40), sent[0].GetProperty("endsAt").GetString());           // 4 intervals after the event
        Assert.Equal(Time(fired.Time + 50), sent[1].GetProperty("endsAt").GetString());           // 4 after each re-send
        Assert.Equal(Time(fired.Time + 60), sent[2].GetProperty("endsAt").GetString());
        Assert.Equal(Time(resolved.Time), sent[3].GetProperty("endsAt").GetString());             // resolved: its end
        var labels = sent[0].GetProperty("labels");
        Assert.Equal(("high_traffic", "page"), (labels.GetProperty("alertname").GetString(), labels.GetProperty("severity").GetString()));
        var annotations = sent[0].GetProperty("annotations");
        Assert.Equal(("10.05", "10", "r"), (annotations.GetProperty("value").GetString(), annotations.GetProperty("threshold").GetString(),
            annotations.GetProperty("runbook").GetString()));
        Assert.Equal(fired.Message, annotations.GetProperty("message").GetString());
        Assert.Equal((4L, 0L, 0L), (destination.Count.Delivered, destination.Count.Failed, destination.Count.Dropped));
    }

    [AlertmanagerFact]
    public void Every_Alertmanager_of_an_HA_pair_gets_the_alerts()
    {
        using var first = new AlertmanagerServer();
        using var second = new AlertmanagerServer();
        var dir = Directory.CreateTempSubdirectory("logalert-am-").FullName;
        try
        {
            var log = Path.Combine(dir, "a.csv");
            Assert.Equal(0, CliRunner.Run("generate", "--rate", "5", "--burst", "2m:3m:20", "--duration", "10m", "-o", log).ExitCode);

            var r = CliRunner.Run("--format", "jsonl", "--alertmanager", first.Url, "--alertmanager", second.Url,
                "--alertmanager-replay", "send", log);

            Assert.True(r.ExitCode == 0, r.Stderr);
            var delivery = JsonDocument.Parse(r.StdoutLines[^1]).RootElement.GetProperty("delivery");
            Assert.Equal([first.Url, second.Url], delivery.EnumerateArray().Select(d => d.GetProperty("destination").GetString()));
            Assert.All(delivery.EnumerateArray(), d => Assert.Equal(2, d.GetProperty("delivered").GetInt64()));
            // A replay's alerts are past: Alertmanager takes both as already resolved.
            Assert.Equal((0L, 2L), (first.ReceivedAlerts("firing"), first.ReceivedAlerts("resolved")));
            Assert.Equal((0L, 2L), (second.ReceivedAlerts("firing"), second.ReceivedAlerts("resolved")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
