using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// A test that needs a real Alertmanager (Debian's <c>prometheus-alertmanager</c>, which <c>.ci/run</c>
/// installs): skipped, with the reason in the test output, where it is not installed.
/// </summary>
public sealed class AlertmanagerFactAttribute : FactAttribute
{
    public AlertmanagerFactAttribute()
    {
        if (AlertmanagerServer.Binary is null)
            Skip = "Alertmanager is not installed (Debian package prometheus-alertmanager; .ci/run installs it)";
    }
}

/// <summary>One alert as <c>GET /api/v2/alerts</c> shows it.</summary>
public sealed record AlertmanagerAlert(
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    DateTimeOffset StartsAt,
    DateTimeOffset EndsAt,
    string State,
    string Fingerprint);

/// <summary>
/// A real Alertmanager (0.25, Debian's build) on a loopback port, with a configuration and storage of its
/// own in a temporary folder and clustering off; stopped (and its folder deleted) on dispose.
/// </summary>
/// <remarks>
/// What a test can see, measured against 0.25 (see AlertmanagerServerTests):
/// <list type="bullet">
/// <item>An alert posted with <c>endsAt</c> in the future is listed by <see cref="GetAlerts"/> with state
/// <c>active</c> (after <c>group_wait</c> or not: the API lists it at once).</item>
/// <item>Posting the same labels again with <c>endsAt</c> in the past resolves it, and it drops out of the list
/// at once: no filter of <c>GET /api/v2/alerts</c> shows a resolved alert (the defaults, and
/// <c>?active=true&amp;silenced=true&amp;inhibited=true&amp;unprocessed=true</c>, and <c>active=false</c>
/// all leave it out; <c>/api/v2/alerts/groups</c> too). A test sees "resolved" as "gone from the list", and can
/// tell it from "never arrived" with <see cref="ReceivedAlerts"/>("resolved"), Alertmanager's own counter, or
/// by passing a <c>notifyUrl</c> (a <see cref="WebhookReceiver"/>): Alertmanager then sends it a
/// notification with <c>"status":"resolved"</c>.</item>
/// <item>A post whose <c>endsAt</c> is before the alert's <c>startsAt</c> is refused whole: 400,
/// <c>"start time must be before end time"</c>. A resolve must carry the alert's original <c>startsAt</c>
/// (or none) and an <c>endsAt</c> after it, not an arbitrary time in the past.</item>
/// <item>The identity of an alert is its label set: annotations may change between posts of one alert, and
/// another value of any label makes another alert.</item>
/// </list>
/// </remarks>
public sealed class AlertmanagerServer : IDisposable
{
    /// <summary>The Alertmanager binary, or null when not installed.</summary>
    public static string? Binary =>
        new[] { "/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager", "/usr/bin/alertmanager" }.FirstOrDefault(File.Exists);

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-alertmanager-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly StringBuilder _log = new();
    private Process _process = null!;

    public int Port { get; private set; }

    /// <summary>The base address, <c>http://127.0.0.1:PORT</c>, without a trailing slash.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>From the start of the process to the first 200 from <c>/-/ready</c>.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>What Alertmanager wrote to stderr (its log) so far.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <param name="notifyUrl">
    /// Null: every alert goes to a receiver with no integrations (nothing is sent anywhere). Otherwise a webhook
    /// to this URL, with <c>send_resolved</c>, so a test can see Alertmanager's notifications, resolved ones too.
    /// </param>
    public AlertmanagerServer(string? notifyUrl = null)
    {
        var receiver = notifyUrl is null
            ? "  - name: test"
            : $"""
                - name: test
                  webhook_configs:
                    - url: '{notifyUrl}'
                      send_resolved: true
              """;
        // group_by '...': each alert a group of its own. Short waits, so a notification is sent within about a
        // second of a change; repeat_interval long, so a test sees no repeats.
        var config = $"""
            route:
              receiver: test
              group_by: ['...']
              group_wait: 100ms
              group_interval: 1s
              repeat_interval: 1h
            receivers:
            {receiver}
            """;
        var configFile = Path.Combine(_dir, "alertmanager.yml");
        File.WriteAllText(configFile, config);

        // The port is free when picked and may be taken before Alertmanager binds it: then try another.
        for (var attempt = 1; ; attempt++)
        {
            Port = Loopback.FreePort();
            var data = Path.Combine(_dir, $"data-{attempt}");
            var sw = Stopwatch.StartNew();
            _process = Start(configFile, data);
            if (WaitUntilReady())
            {
                StartupTime = sw.Elapsed;
                return;
            }
            _process.Dispose();
            if (attempt == 3 || !Log.Contains("address already in use"))
            {
                Directory.Delete(_dir, recursive: true);
                throw new InvalidOperationException($"Alertmanager exited:\n{Log}");
            }
        }
    }

    private Process Start(string configFile, string storage)
    {
        var psi = new ProcessStartInfo(Binary!,
        [
            $"--config.file={configFile}",
            $"--storage.path={storage}",
            $"--web.listen-address=127.0.0.1:{Port}",
            "--cluster.listen-address=",
        ])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var p = new Process { StartInfo = psi };
        // Read the log as it comes: a pipe nobody reads fills and stops the process.
        DataReceivedEventHandler append = (_, e) =>
        {
            if (e.Data is not null) lock (_log) _log.AppendLine(e.Data);
        };
        p.ErrorDataReceived += append;
        p.OutputDataReceived += append;
        p.Start();
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        return p;
    }

    /// <summary>True once <c>/-/ready</c> answers 200; false when the process exited first.</summary>
    private bool WaitUntilReady()
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // the rest of its log
                return false;
            }
            try
            {
                // A short wait per request: on a loaded machine a request sent while Alertmanager
                // starts can go unanswered, and the next one is answered.
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                using var r = _http.Send(new HttpRequestMessage(HttpMethod.Get, $"{Url}/-/ready"), wait.Token);
                if (r.StatusCode == HttpStatusCode.OK) return true;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
            }
            Thread.Sleep(20);
        }
        throw new TimeoutException($"Alertmanager was not ready after 20 s:\n{Log}");
    }

    /// <summary>The alerts <c>GET /api/v2/alerts</c> lists (its default filters): active ones, never resolved ones.</summary>
    public IReadOnlyList<AlertmanagerAlert> GetAlerts() => GetAlerts("");

    /// <summary>The alerts <c>GET /api/v2/alerts</c> lists with the query <paramref name="query"/> (e.g. <c>"?active=false"</c>).</summary>
    public IReadOnlyList<AlertmanagerAlert> GetAlerts(string query)
    {
        var json = _http.GetStringAsync($"{Url}/api/v2/alerts{query}").GetAwaiter().GetResult();
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.EnumerateArray().Select(Parse).ToArray();
    }

    private static AlertmanagerAlert Parse(JsonElement a)
    {
        static Dictionary<string, string> Map(JsonElement e) =>
            e.ValueKind == JsonValueKind.Object
                ? e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!)
                : [];
        static DateTimeOffset Time(JsonElement e) =>
            DateTimeOffset.Parse(e.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        return new AlertmanagerAlert(
            Map(a.GetProperty("labels")),
            a.TryGetProperty("annotations", out var ann) ? Map(ann) : [],
            Time(a.GetProperty("startsAt")),
            Time(a.GetProperty("endsAt")),
            a.GetProperty("status").GetProperty("state").GetString()!,
            a.GetProperty("fingerprint").GetString()!);
    }

    /// <summary>
    /// How many alerts with <paramref name="status"/> ("firing" or "resolved") were posted to the v2 API, from
    /// Alertmanager's counter <c>alertmanager_alerts_received_total</c>. It counts each alert of each post,
    /// also those of a post refused as invalid (see <see cref="InvalidAlerts"/>).
    /// </summary>
    public long ReceivedAlerts(string status) =>
        Metric($"alertmanager_alerts_received_total{{status=\"{status}\",version=\"v2\"}}");

    /// <summary>How many alerts posted to the v2 API were refused as invalid (<c>alertmanager_alerts_invalid_total</c>).</summary>
    public long InvalidAlerts() => Metric("alertmanager_alerts_invalid_total{version=\"v2\"}");

    private long Metric(string series)
    {
        var text = _http.GetStringAsync($"{Url}/metrics").GetAwaiter().GetResult();
        foreach (var line in text.Split('\n'))
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
                return (long)double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"no {series} in /metrics");
    }

    /// <summary>Stops Alertmanager: SIGTERM, then a kill if it has not exited within 5 s.</summary>
    public void Stop()
    {
        if (_process.HasExited) return;
        Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        if (!_process.WaitForExit(5_000)) _process.Kill(true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
