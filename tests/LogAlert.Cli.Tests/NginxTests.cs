using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// A test that needs a real nginx (Debian's <c>nginx-light</c>, which <c>.ci/run</c> installs):
/// skipped, with the reason in the test output, where it is not installed.
/// </summary>
public sealed class NginxFactAttribute : FactAttribute
{
    public NginxFactAttribute()
    {
        if (NginxServer.Binary is null) Skip = "nginx is not installed (Debian package nginx-light; .ci/run installs it)";
    }
}

/// <summary>
/// A real nginx on a loopback port with a configuration of its own in a temporary folder, writing its
/// access log with a custom <c>log_format</c>; stopped (and its folder deleted) on dispose.
/// </summary>
public sealed class NginxServer : IDisposable
{
    /// <summary>The nginx binary, or null when not installed.</summary>
    public static string? Binary => new[] { "/usr/sbin/nginx", "/usr/local/sbin/nginx" }.FirstOrDefault(File.Exists);

    /// <summary>The format the server logs with: nginx's <c>combined</c>, then the request and upstream times.</summary>
    public const string LogFormat =
        "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time $upstream_response_time";

    private readonly string _dir = Directory.CreateTempSubdirectory("logalert-nginx-").FullName;
    private readonly Process _nginx;

    public int Port { get; }

    public string AccessLog => Path.Combine(_dir, "access.log");

    public NginxServer()
    {
        Port = Loopback.FreePort();
        foreach (var d in new[] { "logs", "body", "proxy", "fastcgi", "uwsgi", "scgi" }) Directory.CreateDirectory(Path.Combine(_dir, d));
        // The log_format exactly as a user pastes it into logalert, with nginx's own quoting around it.
        var config = $$"""
            worker_processes 1;
            error_log {{_dir}}/logs/error.log;
            pid {{_dir}}/nginx.pid;
            events { worker_connections 64; }
            http {
                log_format timed '{{LogFormat}}';
                access_log {{AccessLog}} timed;
                client_body_temp_path {{_dir}}/body;
                proxy_temp_path {{_dir}}/proxy;
                fastcgi_temp_path {{_dir}}/fastcgi;
                uwsgi_temp_path {{_dir}}/uwsgi;
                scgi_temp_path {{_dir}}/scgi;
                server {
                    listen 127.0.0.1:{{Port}};
                    location / { return 200 "home\n"; }
                    location /api/ { return 200 "api\n"; }
                    location /static/ { return 200 "static\n"; }
                    location /gone { return 404; }
                    location /broken/ { return 503; }
                }
            }
            """;
        var conf = Path.Combine(_dir, "nginx.conf");
        File.WriteAllText(conf, config);
        _nginx = Process.Start(new ProcessStartInfo(Binary!, ["-p", _dir, "-c", conf, "-g", "daemon off;"])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        WaitUntilListening();
    }

    private void WaitUntilListening()
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (_nginx.HasExited) throw new InvalidOperationException($"nginx exited: {_nginx.StandardError.ReadToEnd()}");
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new TimeoutException("nginx did not start listening");
    }

    /// <summary>Sends <paramref name="request"/> as raw bytes on a connection of its own and reads the answer's status line.</summary>
    public string Send(string request)
    {
        using var c = new TcpClient();
        c.Connect(IPAddress.Loopback, Port);
        var stream = c.GetStream();
        stream.Write(Encoding.Latin1.GetBytes(request));
        var buffer = new byte[4096];
        var n = stream.Read(buffer);
        var answer = Encoding.Latin1.GetString(buffer, 0, n);
        return answer.Split("\r\n")[0];
    }

    /// <summary>A GET of <paramref name="target"/> with a user agent and referer, as a browser would send it.</summary>
    public string Get(string target) =>
        Send($"GET {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test \"agent\"\r\nReferer: http://example.com/\r\nConnection: close\r\n\r\n");

    /// <summary>Stops nginx gracefully (SIGQUIT): every request answered is in the log when it returns.</summary>
    public void Stop()
    {
        if (_nginx.HasExited) return;
        Process.Start("kill", ["-QUIT", _nginx.Id.ToString()])!.WaitForExit();
        if (!_nginx.WaitForExit(20_000)) _nginx.Kill(true);
    }

    public void Dispose()
    {
        Stop();
        _nginx.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

public sealed class NginxTests
{
    /// <summary>The requests every test sends: (target or raw request, expected status line start).</summary>
    private static readonly (string Target, int Status)[] Requests =
    [
        ("/", 200), ("/api/users", 200), ("/api/orders?id=3", 200), ("/api/users/7", 200),
        ("/static/app.js", 200), ("/gone", 404), ("/broken/x", 503), ("/broken/y", 503),
    ];

    private static void SendAll(NginxServer nginx)
    {
        foreach (var (target, status) in Requests)
            Assert.StartsWith($"HTTP/1.1 {status}", nginx.Get(target));
        // Not HTTP: nginx answers 400 and logs the line as the request, which is still a request the
        // server answered (method and section "-").
        Assert.StartsWith("HTTP/1.1 400", nginx.Send("HELLO\r\n\r\n"));
    }

    private static JsonElement[] Json(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    [NginxFact]
    public void A_log_nginx_wrote_reads_with_its_own_log_format()
    {
        using var nginx = new NginxServer();
        SendAll(nginx);
        nginx.Stop();
        Assert.Equal(Requests.Length + 1, File.ReadAllLines(nginx.AccessLog).Length);

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "1d", "--log-format", NginxServer.LogFormat, nginx.AccessLog);

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("", r.Stderr);
        var events = Json(r.Stdout);
        var stats = events[^1];
        Assert.Equal(Requests.Length + 1, stats.GetProperty("records").GetInt64());
        Assert.Equal(0, stats.GetProperty("bad").GetInt64());
        var summary = Assert.Single(events, e => e.GetProperty("type").GetString() == "summary");
        Assert.Equal(Requests.Length + 1, summary.GetProperty("requests").GetInt64());
        var status = summary.GetProperty("status");
        Assert.Equal(5, status.GetProperty("2xx").GetInt64());
        Assert.Equal(2, status.GetProperty("4xx").GetInt64()); // the 404 and the 400
        Assert.Equal(2, status.GetProperty("5xx").GetInt64());
        var sections = summary.GetProperty("sections").EnumerateArray()
            .Select(s => (s.GetProperty("section").GetString(), s.GetProperty("hits").GetInt64())).ToArray();
        Assert.Equal([("/api", 3L), ("/broken", 2L), ("-", 1L)], sections);
    }

    [NginxFact]
    public void A_client_that_sends_a_user_with_a_bracket_is_still_counted()
    {
        // nginx logs $remote_user from any client's "Authorization: Basic" header, unescaped, where no
        // auth is configured too: "x [" ended the user at its own " [", and the client's lines were bad.
        using var nginx = new NginxServer();
        foreach (var user in new[] { "x [", "a [b", "x [07/y" })
        {
            var basic = Convert.ToBase64String(Encoding.ASCII.GetBytes(user + ":secret"));
            Assert.StartsWith("HTTP/1.1 200", nginx.Send($"GET /api/a HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {basic}\r\nConnection: close\r\n\r\n"));
        }
        Assert.StartsWith("HTTP/1.1 200", nginx.Get("/"));
        nginx.Stop();
        Assert.Contains(" - x [ [", File.ReadAllText(nginx.AccessLog));

        var r = CliRunner.Run("--format", "jsonl", "--summary-interval", "1d", "--log-format", NginxServer.LogFormat, nginx.AccessLog);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("", r.Stderr);
        var stats = Json(r.Stdout)[^1];
        Assert.Equal((4L, 0L), (stats.GetProperty("records").GetInt64(), stats.GetProperty("bad").GetInt64()));
    }

    [NginxFact]
    public void Auto_detection_does_not_guess_a_format_that_only_starts_like_the_log()
    {
        using var nginx = new NginxServer();
        SendAll(nginx);
        nginx.Stop();
        // The lines start as nginx's combined does, and the times after it are more than combined has:
        // nothing fits whole, so logalert says so, quoting the line, rather than drop the times.
        var r = CliRunner.Run("--format", "jsonl", nginx.AccessLog);
        Assert.Equal(2, r.ExitCode);
        var message = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("access.log:1:", message);
        Assert.Contains("combined", message);
        Assert.Contains("--log-format", message);
        var stats = Assert.Single(Json(r.Stdout)); // the report of a run that read nothing
        Assert.Equal(0, stats.GetProperty("records").GetInt64());
        Assert.Contains("no format logalert knows fits", stats.GetProperty("stopped").GetString());
    }

    [NginxFact]
    public async Task A_log_followed_while_nginx_writes_it_counts_every_request()
    {
        using var nginx = new NginxServer();
        var psi = CliRunner.StartInfo(["--follow", nginx.AccessLog, "--format", "jsonl", "--summary-interval", "off",
            "--log-format", NginxServer.LogFormat]);
        using var follow = Process.Start(psi)!;
        var stdout = follow.StandardOutput.ReadToEndAsync();
        var stderr = follow.StandardError.ReadToEndAsync();
        await Task.Delay(500); // started and reading
        SendAll(nginx);
        SendAll(nginx);
        nginx.Stop();
        await Task.Delay(1000); // a few polls
        Process.Start("kill", ["-TERM", follow.Id.ToString()])!.WaitForExit();
        Assert.True(follow.WaitForExit(30_000), "logalert did not exit on SIGTERM");
        var stats = Json(await stdout)[^1];
        Assert.True(follow.ExitCode == 0, await stderr);
        Assert.Equal(2 * (Requests.Length + 1), stats.GetProperty("records").GetInt64());
        Assert.Equal(0, stats.GetProperty("bad").GetInt64());
    }
}
