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
    // Live, an alert event more than Staleness behind the clock is past, as a replay's are: a restart
    // of `logalert --follow` read the day's log again and sent each of its alerts as news, old firings
    // paged (QA). Past firings are held here (not sent); a resolution of one drops it (its firing was
    // never sent); those still firing once the log's newest record is current are sent then.
    private readonly bool _live;
    private readonly Func<DateTimeOffset> _clock;
    private readonly Action<string> _notice;
    private readonly OrderedDictionary<string, AlertNotice> _held = new(StringComparer.Ordinal);
    private int _heldCount; // _held.Count, read without the lock on every batch
    private bool _said;

    /// <summary>
    /// How far behind the clock an alert event's log time may be and still be news: Prometheus's
    /// queries see no sample older than 5 minutes either.
    /// </summary>
    public static readonly TimeSpan Staleness = TimeSpan.FromMinutes(5);

    /// <param name="destinations">Where alerts go.</param>
    /// <param name="live">
    /// A live run: events more than <see cref="Staleness"/> behind the clock are past, and go only to
    /// the destinations that send the backlog (<see cref="Destination.SendsBacklog"/>).
    /// </param>
    /// <param name="notice">Where the first past event is said.</param>
    /// <param name="clock">The wall clock (tests set their own).</param>
    public DeliveryHub(IEnumerable<Destination> destinations, bool live = false, Action<string>? notice = null, Func<DateTimeOffset>? clock = null)
    {
        _destinations = [.. destinations];
        _live = live && _destinations.Any(d => !d.SendsBacklog);
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        _notice = notice ?? (_ => { });
        foreach (var d in _destinations) d.Start();
        if (_destinations.Count > 0)
            _timer = new Timer(_ => { foreach (var d in _destinations) d.Tick(DateTimeOffset.UtcNow); }, null,
                TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Whether there is anywhere to send.</summary>
    public bool Any => _destinations.Count > 0;

    private bool IsPast(long time) => _clock() - DateTimeOffset.FromUnixTimeSeconds(time) > Staleness;

    /// <summary>Hands the event to every destination (a past one to those that send the backlog); never blocks.</summary>
    public void Publish(AlertNotice alert)
    {
        var send = true;
        if (_live)
        {
            var say = false;
            lock (_gate)
            {
                var key = Destination.AlertKey(alert);
                if (alert.Transition == AlertTransition.Fired)
                {
                    if (IsPast(alert.Time))
                    {
                        _held[key] = alert;
                        _heldCount = _held.Count;
                        send = false;
                        say = !_said;
                        _said = true;
                    }
                }
                else if (_held.Remove(key))
                {
                    _heldCount = _held.Count;
                    send = false;
                }
            }
            if (say)
                _notice($"deliveries: alert events more than {Staleness.TotalMinutes:0} minutes behind the clock are past (the log before now) and not sent, "
                        + "nor their resolutions; an alert still firing once the newest record is within that of the clock is sent then"
                        + (_destinations.Any(d => d is AlertmanagerDestination && !d.SendsBacklog) ? " (--alertmanager-replay send sends them to Alertmanager)" : ""));
        }
        foreach (var d in _destinations)
            if (send || d.SendsBacklog) d.Publish(alert);
    }

    /// <summary>
    /// The log has been read up to <paramref name="newest"/> (log time): once that is within
    /// <see cref="Staleness"/> of the clock, the past alerts still firing are sent. Cheap when none is held.
    /// </summary>
    public void Refresh(long? newest)
    {
        if (Volatile.Read(ref _heldCount) == 0 || newest is not { } n || IsPast(n)) return;
        List<AlertNotice> firing;
        lock (_gate)
        {
            firing = [.. _held.Values];
            _held.Clear();
            _heldCount = 0;
        }
        foreach (var alert in firing)
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
