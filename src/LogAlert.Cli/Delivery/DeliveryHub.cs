using LogAlert.Core.Interop;

namespace LogAlert.Cli.Delivery;

/// <summary>
/// Every destination of a run (<c>--alertmanager</c>, <c>--webhook</c>): hands each alert event to
/// each without waiting, ticks the ones that re-send, and at the end flushes them all within one
/// deadline (<c>--delivery-timeout</c>).
/// </summary>
public sealed class DeliveryHub : IAsyncDisposable
{
    private readonly List<Destination> _destinations;
    private readonly Timer? _timer;
    private readonly Lock _gate = new();
    // Following a file, the alerts of its lines from before logalert caught up with it are past, as a
    // replay's are: a restart of `logalert --follow` sent every alert of the day's log again, old
    // firings paged (QA). They are held until it catches up; those still firing then are sent.
    private bool _caughtUp;
    private readonly OrderedDictionary<string, AlertNotice> _held = new(StringComparer.Ordinal);
    // Alerts that fired before the catch-up and were not sent: their resolutions are not sent either.
    private readonly HashSet<string> _unsent = new(StringComparer.Ordinal);

    /// <summary>
    /// How recent the newest record must be, at the catch-up, for the alerts firing then to be sent:
    /// older data is stale, as Prometheus's queries see no sample older than 5 minutes.
    /// </summary>
    public static readonly TimeSpan Staleness = TimeSpan.FromMinutes(5);

    /// <param name="destinations">Where alerts go.</param>
    /// <param name="untilCaughtUp">
    /// Following a file: the alerts of its lines before <see cref="CaughtUp"/> are held from the
    /// destinations that do not send the backlog (<see cref="Destination.SendsBacklog"/>).
    /// </param>
    /// <param name="notice">Where the catch-up says what it held back.</param>
    public DeliveryHub(IEnumerable<Destination> destinations, bool untilCaughtUp = false, Action<string>? notice = null)
    {
        _caughtUp = !untilCaughtUp;
        _notice = notice ?? (_ => { });
        _destinations = [.. destinations];
        foreach (var d in _destinations) d.Start();
        if (_destinations.Count > 0)
            _timer = new Timer(_ => { foreach (var d in _destinations) d.Tick(DateTimeOffset.UtcNow); }, null,
                TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Whether there is anywhere to send.</summary>
    public bool Any => _destinations.Count > 0;

    private readonly Action<string> _notice;
    private long _heldEvents;

    private static string Key(AlertNotice a) => a.Rule + "\u001f" + string.Join("\u001f", a.Labels.Select(l => l.Name + "=" + l.Value));

    /// <summary>Hands the event to every destination (before the catch-up, to those that send the backlog); never blocks.</summary>
    public void Publish(AlertNotice alert)
    {
        bool all;
        lock (_gate)
        {
            var key = Key(alert);
            var fired = alert.Transition == AlertTransition.Fired;
            if (!_caughtUp)
            {
                _heldEvents++;
                if (fired) _held[key] = alert;
                else _held.Remove(key);
                all = false;
            }
            else all = fired || !_unsent.Remove(key);
        }
        foreach (var d in _destinations)
            if (all || d.SendsBacklog) d.Publish(alert);
    }

    /// <summary>
    /// The followed file's lines from before now were all read: the alerts still firing are sent to
    /// the destinations that held them, when the newest record (<paramref name="newest"/>, log time)
    /// is within <see cref="Staleness"/> of <paramref name="now"/>; else they are past, and so are
    /// their resolutions. Once; nothing is held after it.
    /// </summary>
    public void CaughtUp(long? newest, DateTimeOffset now)
    {
        List<AlertNotice> send = [];
        lock (_gate)
        {
            if (_caughtUp) return;
            _caughtUp = true;
            var current = newest is { } n && now - DateTimeOffset.FromUnixTimeSeconds(n) <= Staleness;
            foreach (var (key, alert) in _held)
                if (current) send.Add(alert);
                else _unsent.Add(key);
            _held.Clear();
        }
        if (_heldEvents > 0 && _destinations.Any(d => !d.SendsBacklog))
        {
            var firing = send.Count > 0 ? $"; the {send.Count} firing now sent"
                : _unsent.Count > 0 ? $"; the {_unsent.Count} still firing not sent either, the newest record being over {Staleness.TotalMinutes:0} minutes old"
                : "";
            var hint = _destinations.Any(d => d is AlertmanagerDestination && !d.SendsBacklog) ? " (--alertmanager-replay send sends them to Alertmanager)" : "";
            _notice($"deliveries: {_heldEvents - send.Count} alert event(s) of the lines before logalert caught up with the followed file not sent, as they are past{firing}{hint}");
        }
        foreach (var alert in send)
            foreach (var d in _destinations)
                if (!d.SendsBacklog) d.Publish(alert);
    }

    /// <summary>Sends what is pending, all destinations at once, for at most <paramref name="timeout"/>.</summary>
    public void Flush(TimeSpan timeout)
    {
        _timer?.Dispose();
        var deadline = DateTimeOffset.UtcNow + timeout;
        // A signal during the wait (a second Ctrl-C live, where the first began it) gives up at once.
        using var interrupted = new SignalToken();
        Task.WhenAll(_destinations.Select(d => d.FlushAsync(deadline, interrupted))).GetAwaiter().GetResult();
    }

    /// <summary>Each destination's counts, in the order given.</summary>
    public IReadOnlyList<DeliveryCount> Counts => [.. _destinations.Select(d => d.Count)];

    public async ValueTask DisposeAsync()
    {
        if (_timer is not null) await _timer.DisposeAsync();
        foreach (var d in _destinations) await d.DisposeAsync();
    }
}
