using System.Globalization;
using System.Text.Json;
using LogAlert.Cli.Output;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Delivery;

/// <summary>
/// <c>--alertmanager URL</c>: alerts go to Alertmanager's API v2 (<c>POST /api/v2/alerts</c>) the way
/// Prometheus sends them. Labels: <c>alertname</c> (the rule), the group's labels, and the labels the
/// rule declares; annotations: the message, the value, the threshold, and the rule's own. A firing
/// alert has its <c>startsAt</c> and an <c>endsAt</c> <see cref="Lifetime"/> ahead, and is sent again
/// every <see cref="ResendInterval"/> while it fires, so that Alertmanager neither drops a live alert
/// nor keeps a dead one; a resolved one is sent with <c>endsAt</c> at its resolution, and again every
/// <see cref="ResendInterval"/> for <see cref="ResolvedRetention"/>, so that a resolution lost while
/// Alertmanager was unreachable still arrives.
/// </summary>
/// <remarks>Times are the events' log times, which in <c>--follow</c> mode follow the wall clock.</remarks>
public sealed class AlertmanagerDestination : Destination
{
    private readonly Dictionary<string, Firing> _firing = new(StringComparer.Ordinal);
    // Resolved alerts still sent again, and when (by Clock) each resolved.
    private readonly Dictionary<string, (Firing Alert, DateTimeOffset EndsAt, DateTimeOffset ResolvedAt)> _resolved = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Func<string, RuleDelivery> _rules;
    /// <summary>An alert firing, and when (by <see cref="Clock"/>) it was last sent.</summary>
    private sealed record Firing(AlertNotice Alert, DateTimeOffset StartsAt, DateTimeOffset LastSent);

    /// <param name="url">Alertmanager's base URL (<c>http://127.0.0.1:9093</c>); <c>/api/v2/alerts</c> is added.</param>
    /// <param name="http">The client.</param>
    /// <param name="log">Where failures are told.</param>
    /// <param name="rules">The labels and annotations each rule declares.</param>
    /// <param name="retry">Retries, for tests.</param>
    public AlertmanagerDestination(Uri url, HttpClient http, DeliveryLog log, Func<string, RuleDelivery> rules,
        Polly.Retry.RetryStrategyOptions<HttpResponseMessage>? retry = null)
        : base(ApiUrl(url), http, log, retry)
    {
        BaseUrl = url;
        _rules = rules;
    }

    /// <summary>
    /// <c>/api/v2/alerts</c> under <paramref name="url"/>'s path, its query kept, on its host: a path
    /// resolved against the URL as a relative one read a path starting <c>//</c> (a doubled slash
    /// typed, <c>http://am:9093//x</c>) as another host, where the alerts went and were counted delivered.
    /// </summary>
    public static Uri ApiUrl(Uri url) => new UriBuilder(url) { Path = url.AbsolutePath.TrimEnd('/') + "/api/v2/alerts", Fragment = "" }.Uri;

    /// <summary>The URL as given.</summary>
    public Uri BaseUrl { get; }

    /// <inheritdoc/>
    public override string Name => Redacted(BaseUrl);

    /// <summary>How often a firing alert is sent again (Prometheus: 1m).</summary>
    public TimeSpan ResendInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a resolved alert is sent again, every <see cref="ResendInterval"/> (Prometheus: 15m).</summary>
    public TimeSpan ResolvedRetention { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How far ahead of its last sending a firing alert ends unless sent again: four re-sends, as Prometheus.</summary>
    public TimeSpan Lifetime => 4 * ResendInterval;

    /// <summary>Whether firing alerts are sent again as wall time passes (live runs; a replay's times are past).</summary>
    public bool Resend { get; init; } = true;

    /// <inheritdoc/>
    public override string Kind => "alertmanager";


    /// <inheritdoc/>
    public override void Publish(AlertNotice alert)
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(alert.Time);
        // Queued under the lock, as a re-send is: a re-send copied before a resolution and queued
        // after it would open the resolved alert again in Alertmanager for its lifetime.
        lock (_gate)
        {
            Firing entry;
            var key = AlertKey(alert);
            var firing = alert.Transition == AlertTransition.Fired;
            if (firing)
            {
                entry = new Firing(alert, StartsAt(at), Clock());
                _firing[key] = entry;
                _resolved.Remove(key);
            }
            else
            {
                _firing.Remove(key, out var was);
                entry = new Firing(alert, was?.StartsAt ?? StartsAt(DateTimeOffset.FromUnixTimeSeconds(alert.FiringSince)), Clock());
            }
            var endsAt = EndsAt(entry.StartsAt, at, firing);
            if (!firing && Resend) _resolved[key] = (entry, endsAt, entry.LastSent);
            Enqueue(new Payload(Body([(entry, endsAt)]), WebhookDestination.About(alert)));
        }
    }

    /// <summary>
    /// When an alert sent at log time <paramref name="at"/> ends. A replay's times are its log's. Live,
    /// log time and Alertmanager's clock can differ (a server's clock, buffered logs): a firing alert
    /// ends a lifetime after the later of the two, so that it is neither over on arrival (a log
    /// behind the clock) nor ending before it starts (one ahead, which Alertmanager refuses with 400);
    /// a resolved one at the earlier, never before it started.
    /// </summary>
    private DateTimeOffset EndsAt(DateTimeOffset startsAt, DateTimeOffset at, bool firing)
    {
        if (!Resend) return firing ? Later(at, Lifetime) : at;
        var now = Clock();
        if (firing) return Later(Max(Max(at, now), startsAt), Lifetime);
        return Max(startsAt, at < now ? at : now);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>
    /// When an alert that fired at log time <paramref name="at"/> starts for Alertmanager. Live, not
    /// after the clock: a log ahead of it (a server's clock) made an alert that starts in the future,
    /// and as a resolution never ends before the start, its resolution kept it active until then.
    /// </summary>
    private DateTimeOffset StartsAt(DateTimeOffset at)
    {
        if (!Resend) return at;
        var now = Clock();
        return at > now ? now : at;
    }

    /// <summary>Alertmanager's clock, as far as logalert can tell: the wall clock (tests set their own).</summary>
    public Func<DateTimeOffset> Clock { get; init; } = () => DateTimeOffset.UtcNow;

    /// <inheritdoc/>
    public override void Tick(DateTimeOffset now)
    {
        if (!Resend) return;
        lock (_gate)
        {
            // Each alert an interval after it was last sent, as Prometheus re-sends: on a schedule of
            // their own, alerts were sent again at the first tick, a second after they fired.
            var due = _firing.Where(f => now - f.Value.LastSent >= ResendInterval).ToList();
            foreach (var (key, f) in due) _firing[key] = f with { LastSent = now };
            // A resolution too: one that failed while Alertmanager was unreachable (its retries last
            // about half a minute) left the alert active there until its endsAt, up to 4 minutes.
            foreach (var key in _resolved.Where(r => now - r.Value.ResolvedAt >= ResolvedRetention).Select(r => r.Key).ToList())
                _resolved.Remove(key);
            var resolved = _resolved.Where(r => now - r.Value.Alert.LastSent >= ResendInterval).ToList();
            foreach (var (key, r) in resolved) _resolved[key] = r with { Alert = r.Alert with { LastSent = now } };
            if (due.Count > 0)
                Enqueue(new Payload(Body([.. due.Select(f => (f.Value, Later(Max(now, f.Value.StartsAt), Lifetime)))]), $"{due.Count} firing alert(s), sent again"));
            if (resolved.Count > 0)
                Enqueue(new Payload(Body([.. resolved.Select(r => (r.Value.Alert, r.Value.EndsAt))]), $"{resolved.Count} resolved alert(s), sent again"));
        }
    }

    // Log time ends in 9999: an alert firing in its last minutes ends with it.
    private static DateTimeOffset Later(DateTimeOffset at, TimeSpan by) =>
        at > DateTimeOffset.MaxValue - by ? DateTimeOffset.MaxValue : at + by;

    private byte[] Body(IReadOnlyList<(Firing Alert, DateTimeOffset EndsAt)> alerts)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var (f, endsAt) in alerts)
            {
                var a = f.Alert;
                var rule = _rules(a.Rule);
                json.WriteStartObject();
                json.WriteStartObject("labels");
                var written = new HashSet<string>(StringComparer.Ordinal) { "alertname" };
                json.WriteString("alertname", a.Rule);
                foreach (var l in a.Labels)
                    if (written.Add(l.Name)) json.WriteString(l.Name, l.Value);
                foreach (var (name, value) in rule.Labels)
                    if (written.Add(name)) json.WriteString(name, value);
                json.WriteEndObject();
                json.WriteStartObject("annotations");
                json.WriteString("message", a.Message);
                // As Prometheus writes a value that is not finite (a ratio over no requests).
                json.WriteString("value", Format.ValueText(a.Value));
                json.WriteString("threshold", LogAlert.Core.NumberText.show(a.Threshold));
                foreach (var (name, value) in rule.Annotations)
                    if (name is not ("message" or "value" or "threshold")) json.WriteString(name, value);
                json.WriteEndObject();
                json.WriteString("startsAt", f.StartsAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                json.WriteString("endsAt", endsAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                json.WriteString("generatorURL", "logalert://" + Uri.EscapeDataString(a.Rule));
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return buffer.ToArray();
    }
}

/// <summary>What a rule declares for delivery: labels (<c>severity="page"</c>) and annotations.</summary>
public sealed record RuleDelivery(IReadOnlyList<(string Name, string Value)> Labels, IReadOnlyList<(string Name, string Value)> Annotations)
{
    /// <summary>None.</summary>
    public static readonly RuleDelivery None = new([], []);
}
