using System.Globalization;
using LogAlert.Core;

namespace LogAlert.Cli.Input;

/// <summary>A stretch of the generated log with a rate of its own (0 makes an outage).</summary>
/// <param name="AtSecond">Start, in seconds from the start of the log.</param>
/// <param name="DurationSeconds">Length in seconds.</param>
/// <param name="Rate">Mean requests per second during the burst; it replaces the base rate (a later
/// burst wins where bursts overlap).</param>
public sealed record Burst(int AtSecond, int DurationSeconds, double Rate);

/// <summary>What <see cref="SampleGenerator.Write"/> generates.</summary>
/// <param name="Seed">Same seed and options, same bytes, on any machine and .NET version.</param>
/// <param name="Start">The first second, Unix epoch.</param>
/// <param name="DurationSeconds">How many seconds of log.</param>
/// <param name="BaseRate">Mean requests per second outside bursts.</param>
/// <param name="Bursts">Stretches at other rates.</param>
public sealed record GeneratorOptions(int Seed, long Start, int DurationSeconds, double BaseRate, IReadOnlyList<Burst> Bursts)
{
    /// <summary>Distinct client hosts (1 to 16,646,144), picked with a skewed (Zipf) popularity.</summary>
    public int Hosts { get; init; } = 40;

    /// <summary>
    /// Every host equally likely instead of Zipf: with as many hosts as half the records, each is
    /// seen about twice, anywhere in the log (a public site's crawlers and one-off visitors).
    /// </summary>
    public bool UniformHosts { get; init; }

    /// <summary>Distinct request paths, spread over sections, picked with a skewed popularity.</summary>
    public int Paths { get; init; } = 60;

    /// <summary>Share of records written late, up to <see cref="MaxDisorderSeconds"/> behind.</summary>
    public double DisorderFraction { get; init; } = 0.02;

    /// <summary>How far behind the newest timestamp a late record may be (default 2 s).</summary>
    public int MaxDisorderSeconds { get; init; } = 2;

    /// <summary>The format the lines are written in; the traffic is the same in each.</summary>
    public GeneratorFormat Format { get; init; } = GeneratorFormat.Csv;

    /// <summary>
    /// With <see cref="GeneratorFormat.LogFormat"/>: an nginx <c>log_format</c> string to write the lines
    /// in, e.g. nginx's combined followed by <c>$request_time</c>. Variables it does not know are written as <c>-</c>.
    /// </summary>
    public string? LogFormat { get; init; }
}

/// <summary>
/// The formats <c>logalert generate</c> writes. The requests are the same in each (the same times,
/// hosts, users, requests, statuses and bytes, in the same order); the server formats add what a
/// server logs besides, drawn from a generator of their own so that the requests do not change.
/// </summary>
public enum GeneratorFormat
{
    /// <summary>The seed project's CSV, header first (docs/semantics.md §1).</summary>
    Csv,
    /// <summary>Common Log Format, as nginx and Apache write it: <c>host - user [time] "request" status bytes</c>.</summary>
    Common,
    /// <summary>Combined Log Format: common, then <c>"referer" "user agent"</c>.</summary>
    Combined,
    /// <summary>One JSON object a line with nginx's variable names, request and upstream times included.</summary>
    Jsonl,
    /// <summary>A server's own format: nginx's <c>log_format</c> syntax (<see cref="GeneratorOptions.LogFormat"/>).</summary>
    LogFormat,
}

/// <summary>
/// Writes a deterministic, realistic access log, in the CSV format of docs/semantics.md §1 or in a
/// web server's format (<see cref="GeneratorFormat"/>), for trials, tests and benchmarks
/// (<c>logalert generate</c>).
/// </summary>
/// <remarks>
/// Every random choice comes from SplitMix64 and every number is made with integer arithmetic or
/// IEEE-exact double operations (+, −, ×, ÷), never <c>System.Random</c> (whose seeded sequence .NET does
/// not promise to keep) nor <c>Math.Exp</c>/<c>Log</c> (whose last bit may differ between C runtimes):
/// the same options write the same bytes everywhere. Requests per second are Poisson distributed
/// (Knuth's method over slices of at most 16 of the mean), lines end with <c>\n</c>.
/// </remarks>
public static class SampleGenerator
{
    /// <summary>Most distinct hosts: the addresses 10.a.b.c with c from 1 to 254.</summary>
    public const int MaxHosts = 254 << 16;

    /// <summary>
    /// What <c>generate --log-format</c> writes for <paramref name="logFormat"/>, a format the reader
    /// takes (checked first): pasted as the server's config writes it (a whole <c>log_format</c>
    /// directive, its quoted pieces: both were written into every line as they stood), unwrapped, with
    /// the config's escapes undone as the reader undoes them. Null, with <paramref name="preset"/>, for
    /// <c>common</c> or <c>combined</c>, which <c>--output-format</c> writes.
    /// </summary>
    /// <exception cref="UsageException">An Apache format or <c>vhost_combined</c>: the generator writes nginx variables only (an Apache format was written as it stood, <c>%h %l …</c> on every line).</exception>
    public static string? LineFormat(string logFormat, out string? preset)
    {
        var unwrapped = Formats.ConfigFormat.Unwrap(logFormat, out _) ?? logFormat;
        // Preset names as the reader takes them, in any case.
        var name = unwrapped.Trim().ToLowerInvariant();
        preset = name is "common" or "combined" ? name : null;
        if (preset is not null) return null;
        if (name == "vhost_combined" || !WritesVariables.IsMatch(unwrapped))
            throw new UsageException("--log-format: generate writes an nginx log_format ($remote_addr, $time_local, $request, ...), "
                                     + "not an Apache LogFormat or vhost_combined; for Apache's common or combined use --output-format");
        return Unescaped(unwrapped);
    }

    /// <summary>
    /// <c>\"</c>, <c>\'</c>, <c>\\</c> and <c>\t</c> as the config file means them, as the reader takes
    /// them (<see cref="Formats.LineTemplate"/>); any other backslash stays. A format with <c>\n</c> or
    /// <c>\r</c> was refused by the reader's check before.
    /// </summary>
    private static string Unescaped(string format)
    {
        var text = new System.Text.StringBuilder(format.Length);
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] == '\\' && i + 1 < format.Length && format[i + 1] is '"' or '\'' or '\\' or 't')
            {
                text.Append(format[i + 1] == 't' ? '\t' : format[i + 1]);
                i++;
            }
            else text.Append(format[i]);
        }
        return text.ToString();
    }

    private static readonly System.Text.RegularExpressions.Regex WritesVariables = new(@"\$(?:\{\w+\}|[A-Za-z_]\w*)");

    /// <summary>The most distinct paths <c>--paths</c> takes.</summary>
    public const int MaxPaths = 1 << 24;

    /// <summary>The header line of the format.</summary>
    public const string Header = "\"remotehost\",\"rfc931\",\"authuser\",\"date\",\"request\",\"status\",\"bytes\"";

    /// <summary>Writes the log (CSV: header first) and returns the number of lines written (header included).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (<see cref="Problem"/>).</exception>
    public static long Write(TextWriter output, GeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(options);
        if (Problem(options) is { } problem) throw new ArgumentOutOfRangeException(nameof(options), problem);
        return new Generation(options).Write(output);
    }

    /// <summary>
    /// What is out of range in <paramref name="o"/>, said as the command's option (<c>--hosts: 0 is
    /// not from 1 to …</c>), or null. The command and a test case's <c>"generate"</c> check with it
    /// before writing, so that a bad value is a usage error, not an exception.
    /// </summary>
    public static string? Problem(GeneratorOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        static bool Rate(double r) => double.IsFinite(r) && r >= 0 && r <= 1e8;
        static string Number(double r) => r.ToString("R", CultureInfo.InvariantCulture);
        if (o.DurationSeconds < 0) return "--duration: must not be negative";
        var last = o.Start + Math.Max(0, o.DurationSeconds - 1);
        if (!Bounds.isValidTime(o.Start) || !Bounds.isValidTime(last))
            return $"--start: the log's seconds {o.Start} to {last} are not all from {Bounds.MinTime} to {Bounds.MaxTime} (years 1970 to 9999)";
        if (!Rate(o.BaseRate)) return $"--rate: {Number(o.BaseRate)} is not a number from 0 to 1e8";
        if (o.Bursts is null) return "--burst: bursts must be given (may be empty)";
        foreach (var b in o.Bursts)
        {
            if (b is null || !Rate(b.Rate)) return $"--burst: the rate {(b is null ? "" : Number(b.Rate))} is not a number from 0 to 1e8";
            if (b.DurationSeconds < 0) return "--burst: a duration must not be negative";
        }
        if (o.Hosts is < 1 or > MaxHosts) return $"--hosts: {o.Hosts} is not from 1 to {MaxHosts}";
        if (o.Paths is < 1 or > MaxPaths) return $"--paths: {o.Paths} is not from 1 to {MaxPaths}";
        if (o.DisorderFraction is < 0 or > 1) return "the disorder fraction must be from 0 to 1";
        if (o.MaxDisorderSeconds < 0) return "the disorder must not be negative";
        return null;
    }

    /// <summary>One run of the generator: its PRNG, its host and path tables.</summary>
    private sealed class Generation
    {
        private static readonly string[] Names =
            ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"];

        /// <summary>Sections in the order paths are handed out (after "/"), the common ones more often.</summary>
        private static readonly string[] SectionCycle =
            ["/api", "/report", "/api", "/static", "/help", "/api", "/login", "/static", "/search", "/report", "/admin", "/api", "/static", "/user"];

        private static readonly Dictionary<string, string[]> SubPaths = new()
        {
            ["/api"] = ["user", "help", "orders", "items", "cart", "search"],
            ["/report"] = ["", "daily", "weekly", "monthly", "export"],
            ["/static"] = ["css/site.css", "js/app.js", "img/logo.png", "js/vendor.js", "fonts/inter.woff2"],
            ["/help"] = ["", "faq", "contact", "docs", "terms"],
            ["/login"] = ["", "oauth", "reset", "callback"],
            ["/search"] = ["", "results", "suggest"],
            ["/admin"] = ["", "users", "settings", "audit"],
            ["/user"] = ["profile", "settings", "avatar"],
        };

        private readonly GeneratorOptions _o;
        private ulong _state;

        private readonly Zipf _hostPopularity;
        private readonly string?[] _hostPrefixes; // `"10.a.b.c","-","user",` (CSV) or `10.a.b.c - user` (server formats), made on first use
        private ulong _extra; // what server formats add (referer, user agent, times): never drawn for CSV
        private readonly Zipf _pathPopularity;
        private readonly string[] _paths;
        private readonly string[] _pathSections;
        private readonly int[] _pathSizes;

        private char[] _line = new char[512];
        private double _lastLambda = double.NaN;
        private double _lastLimit;

        public Generation(GeneratorOptions options)
        {
            _o = options;
            _state = 0x5DEECE66DUL ^ ((ulong)(uint)options.Seed * 0x9E3779B97F4A7C15UL);
            _extra = Mix(_state ^ 0xE7037ED1A0B428DBUL);
            // Uniform hosts are seen about twice each: neither an alias table nor a cache of their text pays.
            _hostPopularity = new Zipf(options.UniformHosts ? 1 : options.Hosts);
            _hostPrefixes = new string?[options.UniformHosts ? 1 : options.Hosts];
            _pathPopularity = new Zipf(options.Paths);
            _paths = new string[options.Paths];
            _pathSections = new string[options.Paths];
            _pathSizes = new int[options.Paths];
            var perSection = new Dictionary<string, int>();
            for (var i = 0; i < options.Paths; i++)
            {
                var section = i == 0 ? "/" : SectionCycle[(i - 1) % SectionCycle.Length];
                perSection[section] = perSection.GetValueOrDefault(section) + 1;
                _pathSections[i] = section;
                _paths[i] = i == 0 ? "/" : PathOf(section, perSection[section] - 1);
                // A typical response size per path: static files are large, API answers small.
                var mix = Mix((ulong)i + 0x1234);
                _pathSizes[i] = section == "/static" ? 2_000 + (int)(mix % 60_000) : 200 + (int)(mix % 4_800);
            }
        }

        private static string PathOf(string section, int k)
        {
            var subs = SubPaths[section];
            var sub = subs[k % subs.Length];
            var version = k / subs.Length;
            var path = version > 0 ? $"{section}/v{version + 1}" : section;
            return sub.Length > 0 ? $"{path}/{sub}" : path;
        }


        public long Write(TextWriter output)
        {
            long lines = 0;
            if (_o.Format == GeneratorFormat.Csv)
            {
                output.Write(Header);
                output.Write('\n');
                lines = 1;
            }
            for (var second = 0; second < _o.DurationSeconds; second++)
            {
                var count = Poisson(RateAt(second));
                for (var i = 0; i < count; i++)
                {
                    var time = _o.Start + second;
                    if (_o.DisorderFraction > 0 && _o.MaxDisorderSeconds > 0 && NextDouble() < _o.DisorderFraction)
                        time -= Math.Min(1 + Below(_o.MaxDisorderSeconds), second);
                    WriteLine(output, time);
                    lines++;
                }
            }
            output.Flush();
            return lines;
        }

        private double RateAt(int second)
        {
            var rate = _o.BaseRate;
            foreach (var b in _o.Bursts)
                if (second >= b.AtSecond && second - b.AtSecond < b.DurationSeconds) rate = b.Rate;
            return rate;
        }

        private void WriteLine(TextWriter output, long time)
        {
            var (a, b) = (Next(), Next());
            var host = _o.UniformHosts ? (int)(a % (ulong)_o.Hosts) : _hostPopularity.Pick(a, b);
            var path = _pathPopularity.Pick(Next(), Next());
            var section = _pathSections[path];
            var method = MethodFor(section);
            var status = StatusFor(method);
            var protocol = Below(100) switch { < 80 => "HTTP/1.1", < 95 => "HTTP/1.0", _ => "HTTP/2.0" };

            var n = 0;
            var prefix = _o.UniformHosts ? HostPrefix(host) : _hostPrefixes[host] ??= HostPrefix(host);
            if (_o.Format != GeneratorFormat.Csv)
            {
                WriteServerLine(output, prefix, time, method, path, section, protocol, status);
                return;
            }
            Append(ref n, prefix);
            n += Format(time, n);
            Append(ref n, ",\"");
            Append(ref n, method);
            Append(ref n, " ");
            Append(ref n, _paths[path]);
            if ((section == "/api" || section == "/search") && Below(100) < 15)
            {
                Append(ref n, section == "/api" ? "?id=" : "?q=term");
                n += Format(Below(1000), n);
            }
            Append(ref n, " ");
            Append(ref n, protocol);
            Append(ref n, "\",");
            n += Format(status, n);
            Append(ref n, ",");
            var bytes = BytesFor(method, status, _pathSizes[path]);
            if (bytes < 0) Append(ref n, "-");
            else n += Format(bytes, n);
            Append(ref n, "\n");
            output.Write(_line, 0, n);
        }

        private string HostPrefix(int host)
        {
            // A multiplier prime to MaxHosts (= 2^17·127) permutes 0..MaxHosts-1: distinct ranks get
            // distinct, scattered addresses.
            var index = (ulong)host * 0x9E3779B1UL % MaxHosts;
            var mix = Mix((ulong)host ^ 0xA5A5);
            var user = (mix % 100) switch
            {
                < 60 => "-",
                < 80 => "apache",
                _ => Names[(int)((mix >> 8) % (ulong)Names.Length)],
            };
            var address = string.Create(CultureInfo.InvariantCulture, $"10.{index / 254 >> 8}.{index / 254 & 0xFF}.{index % 254 + 1}");
            return _o.Format switch
            {
                GeneratorFormat.Csv => $"\"{address}\",\"-\",\"{user}\",",
                GeneratorFormat.Jsonl => $"\"remote_addr\":\"{address}\",\"remote_user\":\"{user}\"",
                GeneratorFormat.LogFormat => $"{address} {user}",
                _ => $"{address} - {user}",
            };
        }

        private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

        private static readonly string[] Agents =
        [
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "curl/8.5.0",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            "python-requests/2.31.0",
        ];

        /// <summary>
        /// A request in a server's format. Its status and bytes come from the main generator, as in CSV
        /// (so the same options give the same requests in every format); the referer, user agent and
        /// times come from <c>_extra</c>.
        /// </summary>
        private void WriteServerLine(TextWriter output, string prefix, long time, string method, int path, string section, string protocol, int status)
        {
            var query = (section == "/api" || section == "/search") && Below(100) < 15
                ? (section == "/api" ? "?id=" : "?q=term") + Below(1000).ToString(CultureInfo.InvariantCulture)
                : "";
            var uri = _paths[path] + query;
            var bytes = BytesFor(method, status, _pathSizes[path]);
            var bytesText = bytes < 0 ? "-" : bytes.ToString(CultureInfo.InvariantCulture);
            var x = NextExtra();
            var referer = (x & 3) == 0 ? "-" : "https://example.com" + _paths[(int)((x >> 8) % (ulong)_paths.Length)];
            var agent = Agents[(int)((x >> 32) % (ulong)Agents.Length)];
            // Milliseconds, as nginx logs them: most answers fast, a tail of slow ones.
            var y = NextExtra();
            var millis = (long)(y % 50) + ((y >> 8) % 20 == 0 ? (long)((y >> 16) % 2000) : 0);
            var requestTime = (millis / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
            var upstream = section == "/static" ? "-" : (Math.Max(0, millis - 1) / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
            var request = $"{method} {uri} {protocol}";
            var statusText = status.ToString(CultureInfo.InvariantCulture);
            if (_o.Format == GeneratorFormat.LogFormat)
            {
                output.Write(Render(prefix, time, method, uri, _paths[path], protocol, statusText, bytes, requestTime, upstream, referer, agent));
                return;
            }
            var line = _o.Format switch
            {
                GeneratorFormat.Jsonl =>
                    "{\"time_iso8601\":\"" + DateTimeOffset.FromUnixTimeSeconds(time).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)
                    + "+00:00\"," + prefix + ",\"request\":\"" + request + "\",\"status\":" + statusText
                    + ",\"body_bytes_sent\":" + (bytes < 0 ? "0" : bytesText) + ",\"request_time\":" + requestTime
                    + ",\"upstream_response_time\":\"" + upstream + "\",\"http_referer\":\"" + referer
                    + "\",\"http_user_agent\":\"" + agent + "\",\"host\":\"example.com\"}\n",
                GeneratorFormat.Combined =>
                    prefix + " [" + ClfTime(time) + "] \"" + request + "\" " + statusText + " " + bytesText
                    + " \"" + referer + "\" \"" + agent + "\"\n",
                _ => prefix + " [" + ClfTime(time) + "] \"" + request + "\" " + statusText + " " + bytesText + "\n",
            };
            output.Write(line);
        }

        private static readonly System.Text.RegularExpressions.Regex Variable = new(@"\$(?:\{(\w+)\}|(\w+))");

        /// <summary>A line in <see cref="GeneratorOptions.LogFormat"/>: each nginx variable replaced by its value.</summary>
        private string Render(string prefix, long time, string method, string uri, string path, string protocol, string status,
                              int bytes, string requestTime, string upstream, string referer, string agent)
        {
            var space = prefix.IndexOf(' ');
            var (address, user) = (prefix[..space], prefix[(space + 1)..]);
            var body = bytes < 0 ? "0" : bytes.ToString(CultureInfo.InvariantCulture);
            return Variable.Replace(_o.LogFormat!, m => (m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value) switch
            {
                "remote_addr" => address,
                "remote_user" => user,
                "time_local" => ClfTime(time),
                "time_iso8601" => DateTimeOffset.FromUnixTimeSeconds(time).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "+00:00",
                "msec" => time.ToString(CultureInfo.InvariantCulture) + ".000",
                "request" => $"{method} {uri} {protocol}",
                "request_method" => method,
                "request_uri" => uri,
                "uri" => path,
                "status" => status,
                "body_bytes_sent" => body,
                "bytes_sent" => (Math.Max(bytes, 0) + 180).ToString(CultureInfo.InvariantCulture),
                "request_time" => requestTime,
                "upstream_response_time" => upstream,
                "http_referer" => referer,
                "http_user_agent" => agent,
                "host" => "example.com",
                _ => "-",
            }) + "\n";
        }

        /// <summary><c>07/Feb/2019:21:11:00 +0000</c>: nginx's <c>$time_local</c>, Apache's <c>%t</c>, in UTC.</summary>
        private static string ClfTime(long time)
        {
            var t = DateTimeOffset.FromUnixTimeSeconds(time);
            return t.Day.ToString("00", CultureInfo.InvariantCulture) + "/" + Months[t.Month - 1] + "/"
                   + t.ToString("yyyy':'HH':'mm':'ss", CultureInfo.InvariantCulture) + " +0000";
        }

        private ulong NextExtra()
        {
            _extra += 0x9E3779B97F4A7C15UL;
            return Mix(_extra);
        }

        private string MethodFor(string section)
        {
            var u = Below(100);
            return section switch
            {
                "/login" => u < 55 ? "POST" : "GET",
                "/api" => u switch { < 70 => "GET", < 88 => "POST", < 94 => "PUT", < 98 => "DELETE", _ => "PATCH" },
                _ => u switch { < 96 => "GET", < 98 => "HEAD", _ => "POST" },
            };
        }

        private int StatusFor(string method)
        {
            var u = Below(1000);
            if (method == "POST" && u < 80) return 201;
            return u switch
            {
                < 850 => 200,
                < 880 => 304,
                < 900 => 302,
                < 950 => 404,
                < 960 => 403,
                < 970 => 401,
                < 980 => 400,
                < 992 => 500,
                < 996 => 502,
                _ => 503,
            };
        }

        /// <summary>Response bytes, or −1 for <c>-</c> (no body).</summary>
        private int BytesFor(string method, int status, int size)
        {
            if (status == 304 || method == "HEAD") return -1;
            if (status >= 300) return 150 + Below(550);
            if (Below(100) < 2) return -1;
            return size - size / 10 + Below(size / 5 + 1);
        }

        private void Append(ref int n, string text)
        {
            if (n + text.Length > _line.Length) Array.Resize(ref _line, Math.Max(_line.Length * 2, n + text.Length));
            text.CopyTo(0, _line, n, text.Length);
            n += text.Length;
        }

        private int Format(long value, int at)
        {
            if (_line.Length - at < 24) Array.Resize(ref _line, _line.Length * 2);
            value.TryFormat(_line.AsSpan(at), out var written, default, CultureInfo.InvariantCulture);
            return written;
        }

        /// <summary>Poisson(lambda): the sum of Knuth draws over slices of at most 16 of the mean.</summary>
        private int Poisson(double lambda)
        {
            var count = 0;
            while (lambda > 0)
            {
                var slice = Math.Min(lambda, 16.0);
                lambda -= slice;
                if (slice != _lastLambda)
                {
                    _lastLambda = slice;
                    _lastLimit = ExpNegative(slice);
                }
                var product = NextDouble();
                while (product > _lastLimit)
                {
                    count++;
                    product *= NextDouble();
                }
            }
            return count;
        }

        /// <summary>e^−x for 0 ≤ x ≤ 16 with IEEE-exact operations only: e^(−x/32) by Taylor, squared 5 times.</summary>
        private static double ExpNegative(double x)
        {
            var y = -x / 32;
            double term = 1, sum = 1;
            for (var i = 1; i <= 20; i++)
            {
                term = term * y / i;
                sum += term;
            }
            for (var i = 0; i < 5; i++) sum *= sum;
            return sum;
        }

        private ulong Next()
        {
            _state += 0x9E3779B97F4A7C15UL;
            return Mix(_state);
        }

        /// <summary>The SplitMix64 finalizer.</summary>
        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        private double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

        private int Below(int n) => (int)(((Next() >> 32) * (ulong)n) >> 32);
    }

    /// <summary>
    /// Zipf popularity (weight 2^32/(rank+1), rank 0 the most popular) as a Walker/Vose alias table in
    /// integers: a pick costs two table reads, whatever the number of ranks.
    /// </summary>
    private sealed class Zipf
    {
        private readonly ulong[] _threshold;
        private readonly int[] _alias;
        private readonly ulong _total;

        public Zipf(int count)
        {
            var scaled = new ulong[count];
            for (var i = 0; i < count; i++)
            {
                var weight = (1UL << 32) / (ulong)(i + 1);
                _total += weight;
                scaled[i] = weight * (ulong)count; // < 2^56; the mean of scaled is _total
            }
            _threshold = new ulong[count];
            _alias = new int[count];
            var small = new Stack<int>();
            var large = new Stack<int>();
            for (var i = 0; i < count; i++) (scaled[i] < _total ? small : large).Push(i);
            while (small.Count > 0 && large.Count > 0)
            {
                var s = small.Pop();
                var l = large.Pop();
                _threshold[s] = scaled[s];
                _alias[s] = l;
                scaled[l] -= _total - scaled[s];
                (scaled[l] < _total ? small : large).Push(l);
            }
            foreach (var i in small.Concat(large))
            {
                _threshold[i] = _total;
                _alias[i] = i;
            }
        }

        /// <summary>A rank, from two uniform 64-bit words.</summary>
        public int Pick(ulong column, ulong height)
        {
            var i = (int)(((column >> 32) * (ulong)_alias.Length) >> 32);
            var r = (ulong)(((UInt128)height * _total) >> 64);
            return r < _threshold[i] ? i : _alias[i];
        }
    }
}
