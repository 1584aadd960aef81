namespace LogAlert.Cli.Input.Formats;

/// <summary>
/// The fields of <see cref="AccessFields"/> that only some formats log and only some rules read:
/// which of them a run puts into its records. A field no rule reads is left out, so that reading it
/// (interning a user agent, converting a duration) costs nothing: a template told which are wanted
/// (<see cref="LineTemplate.Wanting"/>) leaves the others at their "not logged" value (NaN, an empty
/// text). It still checks them, so which lines are bad does not depend on what is wanted.
/// </summary>
[Flags]
public enum AccessExtras
{
    /// <summary>None: records hold 0 for the durations and <c>-</c> for the texts.</summary>
    None = 0,

    /// <summary><c>request_time</c>: <see cref="AccessFields.RequestTime"/>.</summary>
    RequestTime = 1,

    /// <summary><c>upstream_response_time</c>: <see cref="AccessFields.UpstreamResponseTime"/>.</summary>
    UpstreamTime = 2,

    /// <summary><c>vhost</c>: <see cref="AccessFields.VirtualHost"/>.</summary>
    VirtualHost = 4,

    /// <summary><c>referer</c>: <see cref="AccessFields.Referer"/>.</summary>
    Referer = 8,

    /// <summary><c>user_agent</c>: <see cref="AccessFields.UserAgent"/>.</summary>
    UserAgent = 16,

    /// <summary>Every one.</summary>
    All = RequestTime | UpstreamTime | VirtualHost | Referer | UserAgent,
}

/// <summary>Naming <see cref="AccessExtras"/> as rules do.</summary>
public static class AccessExtrasNames
{
    /// <summary>Each extra with the metric or label name a rule reads it by.</summary>
    public static IReadOnlyList<(AccessExtras Extra, string Name)> All { get; } =
    [
        (AccessExtras.RequestTime, "request_time"),
        (AccessExtras.UpstreamTime, "upstream_response_time"),
        (AccessExtras.VirtualHost, "vhost"),
        (AccessExtras.Referer, "referer"),
        (AccessExtras.UserAgent, "user_agent"),
    ];

    /// <summary>The extras whose names <paramref name="reads"/> says yes to.</summary>
    public static AccessExtras Read(Func<string, bool> reads) =>
        All.Where(e => reads(e.Name)).Aggregate(AccessExtras.None, (set, e) => set | e.Extra);
}
