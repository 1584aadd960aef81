using LogAlert.Cli.Output;
using LogAlert.Core.Interop;

namespace LogAlert.Cli.Delivery;

/// <summary>
/// <c>--webhook URL</c>: each alert event is posted as the JSON object <c>--format jsonl</c> prints for
/// it, one request per event, in order.
/// </summary>
public sealed class WebhookDestination(Uri url, HttpClient http, DeliveryLog log, Polly.Retry.RetryStrategyOptions<HttpResponseMessage>? retry = null)
    : Destination(url, http, log, retry)
{
    /// <inheritdoc/>
    public override string Kind => "webhook";

    /// <inheritdoc/>
    public override void Publish(AlertNotice alert)
    {
        using var buffer = new MemoryStream();
        var json = new JsonlEventWriter(buffer);
        json.Alert(alert);
        json.Flush();
        var body = buffer.ToArray();
        if (body.Length > 0 && body[^1] == (byte)'\n') body = body[..^1];
        Enqueue(new Payload(body, About(alert)));
    }

    /// <summary><c>high_traffic firing at 2019-02-07T21:12:36Z</c>, for messages.</summary>
    internal static string About(AlertNotice a) =>
        $"{a.Rule}{(a.Labels.Count == 0 ? "" : "{" + Format.Labels(a.Labels) + "}")} {(a.Transition == AlertTransition.Fired ? "firing" : "resolved")} at {Format.Time(a.Time)}";
}
