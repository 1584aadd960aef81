using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace LogAlert.Cli.Tests;

/// <summary>The fixture against the real Alertmanager, alerts posted by hand (no logalert code).</summary>
public sealed class AlertmanagerServerTests(ITestOutputHelper output)
{
    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static object Alert(string severity, DateTimeOffset startsAt, DateTimeOffset endsAt) => new
    {
        labels = new Dictionary<string, string> { ["alertname"] = "HighErrorRate", ["severity"] = severity },
        annotations = new Dictionary<string, string> { ["summary"] = "5xx above 10%", ["rule"] = "errors" },
        startsAt = Time(startsAt),
        endsAt = Time(endsAt),
    };

    private static (HttpStatusCode, string) Post(AlertmanagerServer am, params object[] alerts)
    {
        using var http = new HttpClient();
        using var content = new StringContent(JsonSerializer.Serialize(alerts), Encoding.UTF8, "application/json");
        using var r = http.PostAsync($"{am.Url}/api/v2/alerts", content).GetAwaiter().GetResult();
        return (r.StatusCode, r.Content.ReadAsStringAsync().GetAwaiter().GetResult());
    }

    /// <summary>A time as Alertmanager keeps it: to the millisecond.</summary>
    private static DateTimeOffset Ms(DateTimeOffset t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerMillisecond, t.Offset);

    [AlertmanagerFact]
    public void An_alert_posted_is_listed_active_and_drops_out_once_resolved()
    {
        using var am = new AlertmanagerServer();
        output.WriteLine($"Alertmanager ready after {am.StartupTime.TotalMilliseconds:F0} ms on {am.Url}");
        Assert.StartsWith("http://127.0.0.1:", am.Url);
        Assert.Empty(am.GetAlerts());

        var start = Ms(DateTimeOffset.UtcNow);
        Assert.Equal((HttpStatusCode.OK, ""), Post(am, Alert("critical", start, start.AddMinutes(5))));
        var a = Assert.Single(am.GetAlerts());
        Assert.Equal(new Dictionary<string, string> { ["alertname"] = "HighErrorRate", ["severity"] = "critical" }, a.Labels);
        Assert.Equal(new Dictionary<string, string> { ["summary"] = "5xx above 10%", ["rule"] = "errors" }, a.Annotations);
        Assert.Equal("active", a.State);
        Assert.Equal(start, a.StartsAt);
        Assert.Equal(start.AddMinutes(5), a.EndsAt);

        // Another value of one label: another alert, with a fingerprint of its own.
        Assert.Equal(HttpStatusCode.OK, Post(am, Alert("warning", start, start.AddMinutes(5))).Item1);
        var two = am.GetAlerts();
        Assert.Equal(2, two.Count);
        Assert.Equal(["critical", "warning"], two.Select(x => x.Labels["severity"]).Order());
        Assert.NotEqual(two[0].Fingerprint, two[1].Fingerprint);
        Assert.All(two, x => Assert.Equal("active", x.State));

        // Resolved: the same labels and startsAt, endsAt in the past. Gone from the list at once, whatever
        // the filters; the counter shows it arrived.
        Thread.Sleep(20);
        var end = Ms(DateTimeOffset.UtcNow.AddMilliseconds(-5));
        Assert.Equal(HttpStatusCode.OK, Post(am, Alert("critical", start, end)).Item1);
        var left = Assert.Single(am.GetAlerts());
        Assert.Equal("warning", left.Labels["severity"]);
        Assert.Equal("active", left.State);
        Assert.Single(am.GetAlerts("?active=true&silenced=true&inhibited=true&unprocessed=true"));
        Assert.Empty(am.GetAlerts("?active=false"));
        Assert.Equal(2, am.ReceivedAlerts("firing"));
        Assert.Equal(1, am.ReceivedAlerts("resolved"));
        Assert.Equal(0, am.InvalidAlerts());

        var sw = Stopwatch.StartNew();
        am.Stop();
        output.WriteLine($"stopped (SIGTERM) in {sw.Elapsed.TotalMilliseconds:F0} ms");
    }

    [AlertmanagerFact]
    public void A_resolve_that_ends_before_the_alert_started_is_refused()
    {
        using var am = new AlertmanagerServer();
        var start = Ms(DateTimeOffset.UtcNow);
        Assert.Equal(HttpStatusCode.OK, Post(am, Alert("critical", start, start.AddMinutes(5))).Item1);

        // endsAt in the past, but before startsAt: the whole post is refused and the alert stays active.
        var (status, body) = Post(am, Alert("critical", start, start.AddMinutes(-1)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("start time must be before end time", body);
        Assert.Equal("active", Assert.Single(am.GetAlerts()).State);
        Assert.Equal(1, am.InvalidAlerts());
    }

    [AlertmanagerFact]
    public void With_a_notify_url_alertmanager_sends_firing_then_resolved_to_it()
    {
        using var hook = new WebhookReceiver();
        using var am = new AlertmanagerServer($"{hook.Url}/alertmanager");
        var start = Ms(DateTimeOffset.UtcNow);
        Post(am, Alert("critical", start, start.AddMinutes(5)));
        var firing = Assert.Single(hook.WaitForRequests(1, TimeSpan.FromSeconds(5)));
        Thread.Sleep(20);
        Post(am, Alert("critical", start, Ms(DateTimeOffset.UtcNow.AddMilliseconds(-5))));
        var resolved = hook.WaitForRequests(2, TimeSpan.FromSeconds(5))[1];
        output.WriteLine($"firing after {(firing.ReceivedAt - start).TotalMilliseconds:F0} ms, resolved after {(resolved.ReceivedAt - start).TotalMilliseconds:F0} ms");
        output.WriteLine(resolved.Body);

        Assert.Equal(("POST", "/alertmanager"), (firing.Method, firing.Path));
        using var f = JsonDocument.Parse(firing.Body);
        Assert.Equal("firing", f.RootElement.GetProperty("status").GetString());
        using var r = JsonDocument.Parse(resolved.Body);
        Assert.Equal("resolved", r.RootElement.GetProperty("status").GetString());
        var alert = Assert.Single(r.RootElement.GetProperty("alerts").EnumerateArray());
        Assert.Equal("resolved", alert.GetProperty("status").GetString());
        Assert.Equal("critical", alert.GetProperty("labels").GetProperty("severity").GetString());
    }
}
