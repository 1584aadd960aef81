namespace LogAlert.Cli.Input;

/// <summary>
/// Where the reader waits, between two chunks, while the fold gives back the label ids its state no
/// longer holds (<c>Fold.ReclaimIds</c>). The reader interns texts as it parses, ahead of the fold;
/// an id given back while a parsed batch still held it would later name another text. So the fold
/// asks (<see cref="Request"/>), the reader hands out everything it has parsed, then
/// <c>InputBatch.SweepMarker</c>, and waits; the fold, once it has taken in every batch
/// before the marker, holds every id in use, gives the others back and lets the reader go on
/// (<see cref="Resume"/>), which first forgets its own caches of ids.
/// </summary>
public sealed class SweepPoint
{
    private readonly SemaphoreSlim _resume = new(0);
    private volatile bool _requested;
    private volatile bool _abandoned;

    /// <summary>Whether the fold has asked for a sweep that has not happened yet.</summary>
    public bool Requested => _requested;

    /// <summary>Fold: asks the reader to stop at its next chunk boundary.</summary>
    public void Request() => _requested = true;

    /// <summary>Fold: the sweep is done; the reader goes on.</summary>
    public void Resume()
    {
        _requested = false;
        _resume.Release();
    }

    /// <summary>Fold: no marker will be taken any more (the run is over); a waiting reader goes on.</summary>
    public void Abandon()
    {
        _abandoned = true;
        _requested = false;
        _resume.Release();
    }

    /// <summary>Reader: waits after handing out the marker, until <see cref="Resume"/> or <see cref="Abandon"/>.</summary>
    internal void WaitForResume(CancellationToken cancel)
    {
        if (_abandoned) return;
        try
        {
            _resume.Wait(cancel);
        }
        catch (OperationCanceledException)
        {
            // Reading was cancelled: the enumeration ends at its next step.
        }
    }
}
