using LogAlert.Core.Interop;

namespace LogAlert.Cli.Tests;

/// <summary>What several test classes share: the log header, and driving the core fold directly.</summary>
public static class TestLogs
{
    /// <summary>The header line of the seed project's CSV format.</summary>
    public const string Header = "\"remotehost\",\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\"";

    /// <summary>Folds <paramref name="records"/> through the engine in batches of <paramref name="chunk"/>: every event.</summary>
    public static List<Notice> Fold(EngineSettings settings, LogAlert.Core.Record[] records, int chunk = 97)
    {
        var state = LogAlert.Core.Interop.Fold.Start(settings);
        var events = new List<Notice>();
        foreach (var c in records.Chunk(chunk))
        {
            var step = LogAlert.Core.Interop.Fold.Push(state, [.. c]);
            events.AddRange(step.Events);
            state = step.State;
        }
        events.AddRange(LogAlert.Core.Interop.Fold.End(state).Events);
        return events;
    }
}
