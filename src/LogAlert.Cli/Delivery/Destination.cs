using System.Net;
using System.Threading.Channels;
using Polly;
using Polly.Retry;

namespace LogAlert.Cli.Delivery;

/// <summary>What one destination did with the alerts given to it, for the final <c>stats</c>.</summary>
/// <param name="Destination">The URL, as given.</param>
/// <param name="Kind"><c>alertmanager</c> or <c>webhook</c>.</param>
/// <param name="Delivered">Requests the destination accepted (2xx).</param>
/// <param name="Failed">Requests given up on: refused (4xx) or redirected (3xx, not followed), or still failing when the retries or the deadline ran out.</param>
/// <param name="Dropped">Requests never sent: the queue was full, or they were still waiting at the deadline.</param>
public sealed record DeliveryCount(string Destination, string Kind, long Delivered, long Failed, long Dropped);

/// <summary>One request a destination is to make: a JSON body and what it is about (for messages).</summary>
public sealed record Payload(byte[] Body, string About);

/// <summary>
/// A receiver of alerts over HTTP: a bounded queue that the fold only ever writes to without waiting,
/// and a worker that posts what is in it, in order, retrying network errors and 5xx answers with
/// backoff (Polly), never a 4xx. The fold is never held up by a slow or dead receiver: a full queue
/// drops, and counts what it dropped.
/// </summary>
public abstract class Destination : IAsyncDisposable
{
    /// <summary>Requests waiting, at most: a receiver that is down for long loses the oldest news, not the run.</summary>
    public const int QueueCapacity = 10_000;

    // Full, it drops its oldest request: the newest news is what a receiver that comes back needs (a
    // resolution after its firing), and a webhook is never sent anything again. Dropping the newest
    // left 1,999 of 6,000 alerts firing forever at a receiver that was down (QA).
    private readonly Channel<Payload> _queue;
    private readonly HttpClient _http;
    private readonly ResiliencePipeline<HttpResponseMessage> _retry;
    private readonly DeliveryLog _log;
    private readonly CancellationTokenSource _stop = new();
    private Task? _worker;
    private long _delivered, _failed, _dropped;
    // What the last attempt at the request being sent got, when it failed: said if the deadline cuts it short.
    private volatile string? _lastTry;
    // Why the flush was cut short, for messages: the deadline, or a signal during it.
    private string _stopReason = "by the delivery deadline";

    /// <param name="url">Where to post.</param>
    /// <param name="http">The client (shared; its timeout bounds one attempt).</param>
    /// <param name="log">Where failures are told, rate-limited.</param>
    /// <param name="retry">Retries; <see cref="DefaultRetry"/> unless a test wants faster ones.</param>
    protected Destination(Uri url, HttpClient http, DeliveryLog log, RetryStrategyOptions<HttpResponseMessage>? retry = null)
    {
        Url = url;
        _http = http;
        _log = log;
        _queue = Channel.CreateBounded<Payload>(
            new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest },
            dropped =>
            {
                Interlocked.Increment(ref _dropped);
                _log.Tell(this, $"queue full ({QueueCapacity} waiting): the oldest, {dropped.About}, dropped");
            });
        _retry = new ResiliencePipelineBuilder<HttpResponseMessage>().AddRetry(retry ?? DefaultRetry()).Build();
    }

    /// <summary>The URL posted to.</summary>
    public Uri Url { get; }

    /// <summary>Which alert an event is of: its rule and its group's labels, one string.</summary>
    internal static string AlertKey(LogAlert.Core.Interop.AlertNotice a) =>
        a.Rule + "\u001f" + string.Join("\u001f", a.Labels.Select(l => l.Name + "=" + l.Value));

    /// <summary>
    /// Whether a live run sends it the alert events more than <see cref="DeliveryHub.Staleness"/>
    /// behind the clock (a followed log's backlog) as they come: <c>--alertmanager-replay send</c>.
    /// Otherwise they are past, as a replay's are.
    /// </summary>
    public bool SendsBacklog { get; init; }

    /// <summary>The destination as the user named it, for messages and the final counts (a password hidden).</summary>
    public virtual string Name => Redacted(Url);

    /// <summary>
    /// <paramref name="url"/> as given, with the password of its user information shown as
    /// <c>xxxxx</c> (as Go's <c>url.Redacted</c> does): stderr and the final report are no place for it.
    /// </summary>
    public static string Redacted(Uri url) => Redacted(url.OriginalString);

    /// <summary>
    /// <paramref name="text"/>, a URL as typed (a malformed one too), with its password shown as
    /// <c>xxxxx</c>. Read from the text, not from <see cref="Uri.UserInfo"/>, which normalises
    /// escapes (<c>%7E</c> as <c>~</c>) and so no longer matched what was typed, which then showed in full.
    /// </summary>
    public static string Redacted(string text)
    {
        // From the first ':' after the scheme (and its slashes, which .NET also takes as '\') to the
        // last '@': the whole password, however it is written. An accepted URL has no '@' after its
        // host (Commands refuses it), so this hides exactly the password there; in a URL refused as
        // malformed it may hide more, never less.
        var at = text.LastIndexOf('@');
        if (at < 0) return text;
        // A scheme and its slashes, or what is left of them in a URL typed without its "://"
        // (http//user:pass@host): the first ':' after them starts the password. Without, the
        // first ':' of user:pass@host was taken for the scheme's, and the password shown.
        var start = SchemeEnd(text);
        var colon = at > start ? text.IndexOf(':', start, at - start) : -1;
        return colon < 0 ? text : text[..(colon + 1)] + "xxxxx" + text[at..];
    }

    /// <summary>
    /// Where a URL's text after <c>http</c> or <c>https</c> and its slashes starts (<c>http://</c>,
    /// <c>http:\\</c>, <c>http//</c>); 0 without them. Only those schemes: <c>admin:/s3cret@host</c>
    /// read as scheme <c>admin</c> left its password shown (another scheme is refused anyway, and
    /// hiding from its first ':' hides more, never less).
    /// </summary>
    private static int SchemeEnd(string text)
    {
        var i = text.StartsWith("https", StringComparison.OrdinalIgnoreCase) ? 5 : text.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? 4 : 0;
        if (i == 0) return 0;
        var colon = i < text.Length && text[i] == ':';
        var j = colon ? i + 1 : i;
        var slashes = j;
        while (slashes < text.Length && text[slashes] is '/' or '\\') slashes++;
        // "scheme:" alone is user:pass@host's user; "scheme:/", "scheme//" are a scheme.
        return slashes > j ? slashes : 0;
    }

    /// <summary>
    /// The <c>Authorization</c> header of the URL's user information (<c>http://user:pass@host/</c>),
    /// Basic, as curl sends it; null when it has none. HttpClient sends nothing for it by itself: the
    /// credentials were ignored, and the request went out unauthenticated.
    /// </summary>
    /// A user without a password (<c>http://ops@host/</c>) is <c>ops:</c>, as curl sends it and RFC 7617
    /// asks: <c>ops</c> alone, without the colon, is refused by strict servers.
    private static string? BasicAuth(Uri url)
    {
        if (url.UserInfo.Length == 0) return null;
        var credentials = url.UserInfo.Contains(':') ? url.UserInfo : url.UserInfo + ":";
        return "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Uri.UnescapeDataString(credentials)));
    }

    /// <summary><c>alertmanager</c> or <c>webhook</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>Headers every request carries (<c>--webhook-header</c>).</summary>
    public IReadOnlyList<(string Name, string Value)> Headers { get; init; } = [];

    /// <summary>
    /// Exponential backoff from 250 ms with jitter, at most 5 s apart, 8 retries (about half a minute of
    /// waits, and up to 10 s an attempt: about two minutes for a receiver that never answers):
    /// network errors, timeouts and 5xx answers (and 429) are retried; other answers are final. An
    /// answer's <c>Retry-After</c> (429, 503) is waited instead on the first two retries, up to
    /// <see cref="MaxRetryAfter"/> each: one request holds the queue behind it for about a minute and
    /// a half at most, not 8 minutes of a receiver asking for 60 s every time.
    /// </summary>
    public static RetryStrategyOptions<HttpResponseMessage> DefaultRetry() => new()
    {
        MaxRetryAttempts = 8,
        BackoffType = DelayBackoffType.Exponential,
        Delay = TimeSpan.FromMilliseconds(250),
        MaxDelay = TimeSpan.FromSeconds(5),
        UseJitter = true,
        DelayGenerator = static args =>
            ValueTask.FromResult(args.AttemptNumber < 2 ? RetryAfter(args.Outcome.Result, DateTimeOffset.UtcNow) : null),
        ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            // An attempt's timeout: HttpClient says it as a cancellation whose token is cancelled (its
            // own timer's), with a TimeoutException inside; the test of the token alone let no timed-out
            // attempt be retried. The delivery deadline's cancellation has no TimeoutException.
            .Handle<TaskCanceledException>(e => e.InnerException is TimeoutException || !e.CancellationToken.IsCancellationRequested)
            .HandleResult(r => (int)r.StatusCode >= 500 || r.StatusCode == HttpStatusCode.TooManyRequests),
    };

    /// <summary>The longest <c>Retry-After</c> waited: the queue behind the request waits as long.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long <paramref name="answer"/>'s <c>Retry-After</c> asks to wait (seconds, or a date), at most
    /// <see cref="MaxRetryAfter"/>; null when it asks nothing, or no wait (0, a date past): the backoff
    /// decides, so that retries never go out back to back. A receiver that said "in 10 s" got 7 tries in 9 s.
    /// </summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage? answer, DateTimeOffset now)
    {
        var asked = answer?.Headers.RetryAfter;
        TimeSpan? wait = asked?.Delta ?? (asked?.Date is { } date ? date - now : null);
        return wait is not { } w || w <= TimeSpan.Zero ? null : w > MaxRetryAfter ? MaxRetryAfter : w;
    }

    /// <summary>The counts so far.</summary>
    public DeliveryCount Count => new(Name, Kind, Interlocked.Read(ref _delivered), Interlocked.Read(ref _failed),
        Interlocked.Read(ref _dropped));

    /// <summary>Starts the worker.</summary>
    public void Start() => _worker ??= Task.Run(Work);

    /// <summary>
    /// Queues a request without waiting (a full queue drops its oldest); false (and counted as
    /// dropped) once the delivery has ended.
    /// </summary>
    protected bool Enqueue(Payload payload)
    {
        if (_queue.Writer.TryWrite(payload)) return true;
        Interlocked.Increment(ref _dropped);
        _log.Tell(this, $"delivery over: {payload.About} dropped");
        return false;
    }

    /// <summary>Takes the news of one alert event (what to post is the destination's to decide).</summary>
    public abstract void Publish(LogAlert.Core.Interop.AlertNotice alert);

    /// <summary>A second of wall time passed: a destination that re-sends what is firing may do so now.</summary>
    public virtual void Tick(DateTimeOffset now) { }

    /// <summary>
    /// Stops taking news and sends what is queued, until <paramref name="deadline"/>: what is not
    /// delivered by then is counted (failed if it was being tried, dropped if it was still waiting).
    /// </summary>
    /// <param name="deadline">When to give up on what is left.</param>
    /// <param name="interrupted">Cancelled by a signal during the flush: what is left is given up at once.</param>
    public async Task FlushAsync(DateTimeOffset deadline, SignalToken? interrupted = null)
    {
        _queue.Writer.TryComplete();
        if (_worker is null) Start();
        var left = deadline - DateTimeOffset.UtcNow;
        if (left > TimeSpan.Zero) await Task.WhenAny(_worker!, Task.Delay(left, interrupted?.Token ?? CancellationToken.None));
        if (!_worker!.IsCompleted)
        {
            var droppedBefore = Interlocked.Read(ref _dropped);
            if (interrupted?.Signal is { } signal) _stopReason = $"when {signal} cut the delivery short";
            _stop.Cancel();
            try
            {
                await _worker;
            }
            catch (OperationCanceledException)
            {
            }
            var unsent = Interlocked.Read(ref _dropped) - droppedBefore;
            if (unsent > 0) _log.Tell(this, $"{unsent} more not sent {_stopReason}", always: true);
        }
        var waiting = 0L;
        while (_queue.Reader.TryRead(out _)) waiting++;
        if (waiting > 0)
        {
            Interlocked.Add(ref _dropped, waiting);
            _log.Tell(this, $"{waiting} not sent {_stopReason}", always: true);
        }
        _log.TellUnsaid(this);
    }


    private async Task Work()
    {
        await foreach (var payload in _queue.Reader.ReadAllAsync(CancellationToken.None))
        {
            if (_stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _dropped);
                continue;
            }
            _lastTry = null;
            try
            {
                using var answer = await _retry.ExecuteAsync(async token =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, Url)
                    {
                        Content = new ByteArrayContent(payload.Body) { Headers = { { "Content-Type", "application/json" } } },
                    };
                    if (BasicAuth(Url) is { } auth && !Headers.Any(h => h.Name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)))
                        request.Headers.TryAddWithoutValidation("Authorization", auth);
                    foreach (var (name, value) in Headers)
                        if (!request.Headers.TryAddWithoutValidation(name, value))
                        {
                            // A header of the body's (Content-Type, Content-Encoding): set on the content,
                            // in place of logalert's own; added to the request it was dropped unsaid.
                            request.Content.Headers.Remove(name);
                            request.Content.Headers.TryAddWithoutValidation(name, value);
                        }
                    try
                    {
                        var answer = await _http.SendAsync(request, token);
                        _lastTry = answer.IsSuccessStatusCode ? null : $"HTTP {(int)answer.StatusCode} {answer.ReasonPhrase}";
                        return answer;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !token.IsCancellationRequested)
                    {
                        _lastTry = Describe(e);
                        throw;
                    }
                }, _stop.Token);
                if (answer.IsSuccessStatusCode) Interlocked.Increment(ref _delivered);
                else
                {
                    Interlocked.Increment(ref _failed);
                    // A 404 says which path was posted to: for Alertmanager, /api/v2/alerts is added to the
                    // URL given, and one given with it already was posted to it twice over.
                    var moved = (int)answer.StatusCode is >= 300 and < 400
                        ? $": redirects are not followed; it points to {answer.Headers.Location?.OriginalString ?? "nowhere (no Location)"}"
                        : answer.StatusCode == HttpStatusCode.NotFound ? $" (POST {Url.AbsolutePath})" : "";
                    _log.Tell(this, $"{payload.About}: HTTP {(int)answer.StatusCode} {answer.ReasonPhrase}{moved}");
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failed);
                // Why it was still being tried: with the default deadline (10 s) the retries (about
                // half a minute) never run out, and the cause of a dead receiver went unsaid.
                var why = _lastTry is { } last ? $" (last try: {last})" : "";
                _log.Tell(this, $"{payload.About}: not delivered {_stopReason}{why}", always: true);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Interlocked.Increment(ref _failed);
                _log.Tell(this, $"{payload.About}: {Describe(e)} (gave up after retries)");
            }
        }
    }

    /// <summary>
    /// A failed attempt as a user reads it: what went wrong, once. .NET's own wording pointed at an
    /// inner exception the user cannot see, or said one thing twice ("Connection refused
    /// (127.0.0.1:1) (Connection refused)").
    /// </summary>
    private static string Describe(Exception e)
    {
        if (e is TaskCanceledException) return "no answer in time";
        if (e is not HttpRequestException h) return e.Message;
        var innermost = h.InnerException;
        while (innermost?.InnerException is { } deeper) innermost = deeper;
        var detail = innermost is null || h.Message.Contains(innermost.Message, StringComparison.Ordinal) ? "" : $" ({innermost.Message})";
        return h.HttpRequestError switch
        {
            HttpRequestError.SecureConnectionError => $"TLS failed{detail} (is it an https:// server?)",
            HttpRequestError.ResponseEnded => "the connection closed before an answer",
            HttpRequestError.InvalidResponse => $"the answer was not HTTP{detail}",
            _ => h.Message + detail,
        };
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _queue.Writer.TryComplete();
        if (_worker is not null)
        {
            try
            {
                await _worker;
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Delivery failures on stderr, one line each, at most one a destination every few seconds (with the
/// count of those not shown), so a dead receiver cannot flood the terminal.
/// </summary>
public sealed class DeliveryLog(TextWriter stderr, TimeSpan? every = null)
{
    private readonly TimeSpan _every = every ?? TimeSpan.FromSeconds(5);
    private readonly Dictionary<Destination, (DateTimeOffset Last, int Quiet)> _state = [];
    private readonly Lock _gate = new();

    /// <summary>Tells <paramref name="message"/> about <paramref name="destination"/> unless one was told lately (<paramref name="always"/>: in any case).</summary>
    public void Tell(Destination destination, string message, bool always = false)
    {
        lock (_gate)
        {
            var now = DateTimeOffset.UtcNow;
            _state.TryGetValue(destination, out var s);
            if (!always && s.Last != default && now - s.Last < _every)
            {
                _state[destination] = (s.Last, s.Quiet + 1);
                return;
            }
            // The count held back on a line of its own, before this one: appended to it, "(60710 more
            // not shown)" read as more of this message, where they were others (queue-full drops
            // before a deadline failure).
            if (s.Quiet > 0) stderr.WriteLine($"logalert: {destination.Kind} {destination.Name}: {s.Quiet} more not shown");
            stderr.WriteLine($"logalert: {destination.Kind} {destination.Name}: {message}");
            _state[destination] = (now, 0);
        }
    }

    /// <summary>
    /// Says how many of <paramref name="destination"/>'s messages the limit held back since the last
    /// one told, if any: at the end, when no later line carries the count.
    /// </summary>
    public void TellUnsaid(Destination destination)
    {
        lock (_gate)
        {
            if (!_state.TryGetValue(destination, out var s) || s.Quiet == 0) return;
            stderr.WriteLine($"logalert: {destination.Kind} {destination.Name}: {s.Quiet} more not shown");
            _state[destination] = (s.Last, 0);
        }
    }
}
