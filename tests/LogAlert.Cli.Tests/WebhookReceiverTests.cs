using System.Diagnostics;
using System.Net;
using System.Text;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>The fixture on its own, with HttpClient as the client (no logalert code).</summary>
public sealed class WebhookReceiverTests
{
    private static HttpRequestMessage Request(HttpMethod method, string url, string? body, params (string, string)[] headers)
    {
        var m = new HttpRequestMessage(method, url);
        if (body is not null) m.Content = new StringContent(body, Encoding.UTF8, "application/json");
        foreach (var (name, value) in headers) m.Headers.TryAddWithoutValidation(name, value);
        return m;
    }

    [Fact]
    public async Task Requests_are_recorded_in_order_with_method_path_headers_and_body()
    {
        using var hook = new WebhookReceiver();
        using var http = new HttpClient();
        Assert.StartsWith("http://127.0.0.1:", hook.Url);
        for (var i = 0; i < 3; i++)
        {
            using var r = await http.SendAsync(Request(HttpMethod.Post, $"{hook.Url}/hook?n={i}", $"{{\"n\":{i}}}",
                ("Authorization", "Bearer s3cret"), ("X-Request", $"{i}")));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        using (var get = await http.SendAsync(Request(HttpMethod.Get, $"{hook.Url}/", null))) Assert.Equal(HttpStatusCode.OK, get.StatusCode);

        var requests = hook.WaitForRequests(4, TimeSpan.FromSeconds(2));
        Assert.Equal([0, 1, 2, 3], requests.Select(r => r.Index));
        Assert.Equal(["/hook?n=0", "/hook?n=1", "/hook?n=2", "/"], requests.Select(r => r.Path));
        Assert.Equal(["POST", "POST", "POST", "GET"], requests.Select(r => r.Method));
        Assert.Equal(["{\"n\":0}", "{\"n\":1}", "{\"n\":2}", ""], requests.Select(r => r.Body));
        Assert.Equal(["0", "1", "2", null], requests.Select(r => r.Header("x-request")));
        Assert.All(requests.Take(3), r =>
        {
            Assert.Equal("Bearer s3cret", r.Header("Authorization"));
            Assert.Equal("application/json; charset=utf-8", r.Header("Content-Type"));
            Assert.Equal(200, r.Status);
        });
        Assert.Equal(4, hook.Requests.Count);
    }

    [Fact]
    public async Task A_chunked_body_is_read_whole()
    {
        // JsonContent and streams have no length up front: HttpClient sends them chunked.
        using var hook = new WebhookReceiver();
        using var http = new HttpClient();
        var body = new string('x', 100_000);
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        using var m = new HttpRequestMessage(HttpMethod.Post, $"{hook.Url}/big") { Content = content };
        m.Headers.TransferEncodingChunked = true;
        using var r = await http.SendAsync(m);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var got = Assert.Single(hook.Requests);
        Assert.Equal("chunked", got.Header("Transfer-Encoding"));
        Assert.Equal(body, got.Body);
    }

    [Fact]
    public async Task Fail_twice_then_accept_answers_500_500_200()
    {
        using var hook = new WebhookReceiver();
        hook.FailThenAccept(2);
        using var http = new HttpClient();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var r = await http.PostAsync($"{hook.Url}/hook", new StringContent($"try {i}"));
            statuses.Add(r.StatusCode);
        }
        Assert.Equal([HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.OK], statuses);
        Assert.Equal([500, 500, 200], hook.Requests.Select(r => r.Status));
        Assert.Equal(["try 0", "try 1", "try 2"], hook.Requests.Select(r => r.Body));

        hook.AnswerWith(503);
        using var after = await http.PostAsync($"{hook.Url}/hook", new StringContent("later"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, after.StatusCode);
    }

    [Fact]
    public async Task A_receiver_that_never_answers_makes_a_client_time_out()
    {
        var hook = new WebhookReceiver();
        hook.NeverAnswer();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TaskCanceledException>(() => http.PostAsync($"{hook.Url}/hook", new StringContent("hello")));
        sw.Stop();
        Assert.IsType<TimeoutException>(e.InnerException);
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3));
        var held = Assert.Single(hook.Requests); // it did arrive, whole
        Assert.Equal("hello", held.Body);
        Assert.Null(held.Status);

        // Dispose releases a held request: a client without a timeout is not left waiting.
        using var patient = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var waiting = patient.PostAsync($"{hook.Url}/hook", new StringContent("again"));
        hook.WaitForRequests(2, TimeSpan.FromSeconds(2));
        sw.Restart();
        hook.Dispose();
        await Assert.ThrowsAsync<HttpRequestException>(() => waiting);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"released after {sw.Elapsed}");
    }

    [Fact]
    public void Waiting_for_more_requests_than_arrive_times_out_saying_how_many_came()
    {
        using var hook = new WebhookReceiver();
        var e = Assert.Throws<TimeoutException>(() => hook.WaitForRequests(1, TimeSpan.FromMilliseconds(200)));
        Assert.Contains("0 of 1", e.Message);
    }
}
