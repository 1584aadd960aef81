using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LogAlert.Cli.Tests;

/// <summary>One request a <see cref="WebhookReceiver"/> received, in the order received.</summary>
/// <param name="Index">0 for the first request the receiver got, 1 for the next, ...</param>
/// <param name="Path">The request target as sent: path and query (<c>/hook?x=1</c>).</param>
/// <param name="Headers">Every header line as received, in order, names as sent.</param>
/// <param name="Body">The body (de-chunked when sent chunked), decoded as UTF-8.</param>
/// <param name="Status">What the receiver answered, or null when it held the request unanswered.</param>
public sealed record WebhookRequest(
    int Index,
    string Method,
    string Path,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    string Body,
    int? Status,
    DateTimeOffset ReceivedAt)
{
    /// <summary>The value of header <paramref name="name"/> (any case), repeated ones joined with ", "; null when absent.</summary>
    public string? Header(string name)
    {
        var values = Headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).ToArray();
        return values.Length == 0 ? null : string.Join(", ", values);
    }
}

/// <summary>
/// A minimal HTTP/1.1 server in the test process, on a loopback port (127.0.0.1 only), that records every
/// request and answers as told: a fixed status (200 unless told otherwise), failures first and then success,
/// or not at all. Any method, any path; keep-alive, <c>Content-Length</c> and chunked bodies. Stopped on dispose.
/// </summary>
/// <remarks>
/// Built on <see cref="TcpListener"/> rather than <see cref="HttpListener"/>: aborting an unanswered
/// HttpListener request on Linux sends the client "200" with an empty body, where a receiver that never
/// answered must look like one to the client to the end: here dispose closes the connection, and the client
/// gets an error.
/// A request is recorded, and its answer chosen, once it has arrived whole; requests on several connections at
/// once are recorded in the order they completed.
/// </remarks>
public sealed class WebhookReceiver : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<WebhookRequest> _requests = [];
    private readonly HashSet<TcpClient> _connections = [];
    private readonly List<Thread> _threads = [];
    private readonly Thread _accept;
    private Func<int, int?> _answer = _ => 200;
    private string? _location;
    private string? _retryAfter;
    private TimeSpan _delay;
    private bool _disposed;

    public int Port { get; }

    /// <summary>The base address, <c>http://127.0.0.1:PORT</c>, without a trailing slash: any path under it is received.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    public WebhookReceiver()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        // Threads of its own, not the thread pool's: tests block pool threads (waits, sync-over-async), and a
        // starved pool delays an answer by a second or more.
        _accept = new Thread(Accept) { IsBackground = true, Name = "WebhookReceiver accept" };
        _accept.Start();
    }

    /// <summary>Answers every request from now on with <paramref name="status"/>.</summary>
    public void AnswerWith(int status) => SetAnswer(_ => status);

    /// <summary>Answers every request from now on with <paramref name="status"/> (a 3xx) and a <c>Location</c> header.</summary>
    public void RedirectTo(string location, int status = 302)
    {
        lock (_requests)
        {
            _location = location;
            _answer = _ => status;
        }
    }

    /// <summary>
    /// Answers the next <paramref name="failures"/> requests with <paramref name="failStatus"/>, and every one
    /// after them with <paramref name="okStatus"/>.
    /// </summary>
    /// <param name="retryAfter">A <c>Retry-After</c> header for the failures (<c>2</c>: seconds), or none.</param>
    public void FailThenAccept(int failures, int failStatus = 500, int okStatus = 200, string? retryAfter = null)
    {
        lock (_requests)
        {
            var first = _requests.Count;
            _answer = i => i - first < failures ? failStatus : okStatus;
            _retryAfter = retryAfter;
        }
    }

    /// <summary>Answers each request from now on only after <paramref name="delay"/> (a slow receiver).</summary>
    public void AnswerAfter(TimeSpan delay)
    {
        lock (_requests) _delay = delay;
    }

    /// <summary>Answers no request from now on: each is recorded, and its connection held open until dispose closes it.</summary>
    public void NeverAnswer() => SetAnswer(_ => null);

    /// <summary>Leaves the next <paramref name="hangs"/> requests unanswered (held open), and answers 200 to every one after.</summary>
    public void HangThenAccept(int hangs)
    {
        lock (_requests)
        {
            var first = _requests.Count;
            _answer = i => i - first < hangs ? null : 200;
        }
    }

    private void SetAnswer(Func<int, int?> answer)
    {
        lock (_requests) _answer = answer;
    }

    /// <summary>The requests received so far, in order (a copy).</summary>
    public IReadOnlyList<WebhookRequest> Requests
    {
        get { lock (_requests) return _requests.ToArray(); }
    }

    /// <summary>
    /// Waits until at least <paramref name="count"/> requests have arrived and returns them all; throws
    /// <see cref="TimeoutException"/>, saying how many came, after <paramref name="timeout"/>.
    /// </summary>
    public IReadOnlyList<WebhookRequest> WaitForRequests(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_requests)
        {
            while (_requests.Count < count)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_requests, left) && _requests.Count < count)
                    throw new TimeoutException($"{_requests.Count} of {count} requests arrived within {timeout.TotalSeconds} s");
            }
            return _requests.ToArray();
        }
    }

    private void Accept()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = _listener.AcceptTcpClient();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            lock (_requests)
            {
                if (_disposed)
                {
                    client.Dispose();
                    return;
                }
                _connections.Add(client);
                var t = new Thread(() => Serve(client)) { IsBackground = true, Name = "WebhookReceiver connection" };
                _threads.Add(t);
                t.Start();
            }
        }
    }

    /// <summary>The requests of one connection, one after another, until the client closes it or one is held.</summary>
    private void Serve(TcpClient client)
    {
        try
        {
            var stream = client.GetStream();
            var reader = new Reader(stream);
            while (true)
            {
                var requestLine = reader.Line();
                if (requestLine is null) break; // closed between requests
                if (requestLine.Length == 0) continue; // a stray CRLF before a request
                var parts = requestLine.Split(' ');
                if (parts.Length != 3) break;
                var headers = new List<KeyValuePair<string, string>>();
                for (var line = reader.Line(); !string.IsNullOrEmpty(line); line = reader.Line())
                {
                    var colon = line.IndexOf(':');
                    if (colon > 0) headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
                }
                string? Get(string name) =>
                    headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).LastOrDefault();

                if (Get("Expect") is { } expect && expect.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
                    stream.Write(Encoding.ASCII.GetBytes("HTTP/1.1 100 Continue\r\n\r\n"));
                var body = new MemoryStream();
                if (Get("Transfer-Encoding") is { } te && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                {
                    while (true)
                    {
                        var size = int.Parse((reader.Line() ?? "0").Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                        if (size == 0) break;
                        reader.Bytes(size, body);
                        reader.Line(); // the CRLF after the chunk
                    }
                    while (!string.IsNullOrEmpty(reader.Line())) { } // trailers, then the blank line
                }
                else if (Get("Content-Length") is { } cl)
                {
                    reader.Bytes(int.Parse(cl, CultureInfo.InvariantCulture), body);
                }

                int? status;
                string? location, retryAfter;
                TimeSpan delay;
                lock (_requests)
                {
                    delay = _delay;
                    location = _location;
                    retryAfter = _retryAfter;
                    var index = _requests.Count;
                    status = _answer(index);
                    _requests.Add(new WebhookRequest(index, parts[0], parts[1], headers, Encoding.UTF8.GetString(body.ToArray()), status,
                        DateTimeOffset.UtcNow));
                    Monitor.PulseAll(_requests);
                }
                if (status is not { } s) return; // held: the connection stays open until dispose closes it
                if (delay > TimeSpan.Zero) Thread.Sleep(delay);
                var close = Get("Connection") is { } c && c.Equals("close", StringComparison.OrdinalIgnoreCase);
                var reason = s switch { 200 => "OK", 302 => "Found", 500 => "Internal Server Error", _ => "Status" };
                var redirect = s is >= 300 and < 400 && location is not null ? $"Location: {location}\r\n" : "";
                var wait = s >= 400 && retryAfter is not null ? $"Retry-After: {retryAfter}\r\n" : "";
                stream.Write(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 {s} {reason}\r\nContent-Length: 0\r\n{redirect}{wait}{(close ? "Connection: close\r\n" : "")}\r\n"));
                if (close) break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or FormatException)
        {
            // The client went away mid-request (or sent something this server does not read): a request that
            // never arrived whole is not one.
        }
        lock (_requests) _connections.Remove(client);
        client.Dispose();
    }

    /// <summary>Lines (CRLF or LF, Latin-1) and counted bytes from a connection, with a buffer of its own.</summary>
    private sealed class Reader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[8192];
        private int _start, _end;

        private bool Fill()
        {
            _start = 0;
            _end = stream.Read(_buffer);
            return _end > 0;
        }

        /// <summary>The next line without its line end; null at the end of the stream.</summary>
        public string? Line()
        {
            var line = new List<byte>();
            while (true)
            {
                if (_start == _end && !Fill()) return line.Count == 0 ? null : throw new IOException("connection closed mid-line");
                var b = _buffer[_start++];
                if (b == '\n') break;
                line.Add(b);
            }
            if (line.Count > 0 && line[^1] == '\r') line.RemoveAt(line.Count - 1);
            return Encoding.Latin1.GetString(line.ToArray());
        }

        public void Bytes(int count, Stream into)
        {
            while (count > 0)
            {
                if (_start == _end && !Fill()) throw new IOException("connection closed mid-body");
                var n = Math.Min(count, _end - _start);
                into.Write(_buffer, _start, n);
                _start += n;
                count -= n;
            }
        }
    }

    /// <summary>Stops listening and closes every connection, held ones included: their clients get an error.</summary>
    public void Dispose()
    {
        Thread[] threads;
        lock (_requests)
        {
            if (_disposed) return;
            _disposed = true;
            _listener.Stop();
            foreach (var c in _connections)
            {
                c.Client.Close(0); // a reset at once, no graceful close: a held request gets no answer
                c.Dispose();
            }
            threads = [.. _threads, _accept];
        }
        foreach (var t in threads) t.Join(TimeSpan.FromSeconds(5));
    }
}
