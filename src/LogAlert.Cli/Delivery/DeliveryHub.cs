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

    public DeliveryHub(IEnumerable<Destination> destinations)
    {
        _destinations = [.. destinations];
        foreach (var d in _destinations) d.Start();
        if (_destinations.Count > 0)
            _timer = new Timer(_ => { foreach (var d in _destinations) d.Tick(DateTimeOffset.UtcNow); }, null,
                TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Whether there is anywhere to send.</summary>
    public bool Any => _destinations.Count > 0;

    /// <summary>Hands the event to every destination; never blocks.</summary>
    public void Publish(AlertNotice alert)
    {
        foreach (var d in _destinations) d.Publish(alert);
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
