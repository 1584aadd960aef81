using System.Runtime.CompilerServices;
using LogAlert.Cli.Input.Formats;
using LogAlert.Core;

namespace LogAlert.Cli.Input;

/// <summary>
/// What every parser shares: it turns the fields of lines into records and bad lines, and those into
/// batches. It holds the batch being filled (records, bad lines, the lines they took), the batches
/// sealed in the chunk, and the id caches in front of <see cref="Symbols"/>. A parser reads the fields
/// of a format; this makes the records. One per parsing thread, used a chunk at a time.
/// </summary>
internal sealed class BatchBuilder
{
    private const int PoolCapacity = 1 << 16; // slots of each direct-mapped id cache
    private static readonly Symbols Hosts = Symbols.Hosts; // read for every line: not through F#'s static property
    // Pinned: kept whatever the fold gives back, since these fields keep them for the process.
    private static readonly int NoUser = Symbols.Users.Pin("-");
    private static readonly int Get = Symbols.Methods.Pin("GET");
    private static readonly int Post = Symbols.Methods.Pin("POST");

    private readonly int _batchSize;
    private readonly SymbolCache _users = new(Symbols.Users, PoolCapacity);
    private readonly SymbolCache _hosts; // until hosts are deferred
    private readonly SymbolCache _methods = new(Symbols.Methods, PoolCapacity);
    private readonly SymbolCache _sections = new(Symbols.Sections, PoolCapacity);
    private readonly AccessExtras _extras;
    private readonly SymbolCache _virtualHosts = new(Symbols.VirtualHosts, PoolCapacity);
    private readonly SymbolCache _referers = new(Symbols.Referers, PoolCapacity);
    private readonly SymbolCache _userAgents = new(Symbols.UserAgents, PoolCapacity);

    /// <summary>Forgets the ids its caches hold: the fold has given ids back (<see cref="SweepPoint"/>).</summary>
    public void ForgetIds()
    {
        _users.Clear();
        _hosts.Clear();
        _methods.Clear();
        _sections.Clear();
        _virtualHosts.Clear();
        _referers.Clear();
        _userAgents.Clear();
    }
    private readonly Queue<InputBatch> _ready = new();

    private Record[] _records;
    private int _count;
    private List<BadLine>? _bad;
    private long _lines;
    private long _accounted;      // lines of the current input already counted into a batch

    private int _source;
    private string _path = "";

    /// <param name="batchSize">Most records per batch.</param>
    /// <param name="deferHostsFrom">Look hosts up a run of lines at a time once there are more than this many (tests: -1, always).</param>
    /// <param name="extras">The fields only some formats log that records are to hold (<see cref="AddFields(in AccessFields, long)"/>).</param>
    public BatchBuilder(int batchSize, int deferHostsFrom = DeferHostsFrom, AccessExtras extras = AccessExtras.All)
    {
        _batchSize = batchSize;
        _extras = extras;
        _deferHostsFrom = deferHostsFrom;
        _hosts = new SymbolCache(Symbols.Hosts, Math.Clamp(deferHostsFrom, 16, DeferHostsFrom));
        _records = new Record[batchSize];
    }

    /// <summary>Starts a chunk that starts at <paramref name="at"/>: its records and bad lines name that input and lines after it.</summary>
    public void Begin(ChunkStart at)
    {
        (_source, _path, _accounted) = (at.Source, at.Path, at.LineBase);
        _deferHosts = Symbols.Hosts.Count > _deferHostsFrom;
    }

    /// <summary>Seals what is pending and takes the batches of the chunk: the last one holds what is left, and may be short.</summary>
    public InputBatch[] Finish()
    {
        Seal();
        var batches = _ready.ToArray();
        _ready.Clear();
        return batches;
    }

    /// <summary>UTF-8's byte order mark, which an input may start with: every parser skips it.</summary>
    public static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Physical lines in a chunk, as <c>wc -l</c> counts them plus a last line without its newline.</summary>
    public static long CountLines(ReadOnlySpan<byte> chunk) =>
        chunk.IsEmpty ? 0 : chunk.Count((byte)'\n') + (chunk[^1] == (byte)'\n' ? 0 : 1);

    /// <summary>Whether the batch being filled holds the batch size: seal it before the next record.</summary>
    public bool Full => _count == _batchSize;

    /// <summary>
    /// Counts the lines of the input up to and including <paramref name="line"/> (headers and blank
    /// lines too) into the batch being filled.
    /// </summary>
    public void LinesTo(long line)
    {
        _lines += line - _accounted;
        _accounted = line;
    }

    /// <summary>Puts what is pending into a batch of its own (it may be smaller than the batch size).</summary>
    public void Seal()
    {
        if (_count == 0 && _bad is null && _lines == 0) return;
        var records = _count == _records.Length ? _records : _records[.._count];
        _ready.Enqueue(new InputBatch(records, (IReadOnlyList<BadLine>?)_bad ?? [], _lines));
        if (_count == _records.Length) _records = new Record[_batchSize];
        _count = 0;
        _bad = null;
        _lines = 0;
    }

    // Hosts of plain lines waiting for their id: the record (index in _records), where the host
    // stands in the chunk, its Symbols.Key. Looked up HostRun at a time, in three passes (index
    // slots asked for as each line is read, then the texts they point at, then the look-ups), so
    // that the cache misses of a run of cold hosts overlap: 2M distinct hosts miss the caches on
    // most lines. 32 lines: enough misses in flight at once, the measured best (docs/performance.md).
    private const int HostRun = 32;
    // Only once there are more hosts than the caches hold: with a few hundred, every look-up hits
    // and the runs only cost.
    public const int DeferHostsFrom = 16384;
    private readonly int _deferHostsFrom;
    private bool _deferHosts;
    private readonly int[] _pendingRecord = new int[HostRun];
    private readonly int[] _pendingStart = new int[HostRun];
    private readonly int[] _pendingLength = new int[HostRun];
    private readonly long[] _pendingKey = new long[HostRun];
    private int _pending;

    /// <summary>Gives the pending records their host ids. Called before a batch is sealed and before the chunk goes.</summary>
    /// <param name="span">The chunk the hosts stand in, as given to <see cref="TryAdd"/>.</param>
    public void ResolveHosts(ReadOnlySpan<byte> span)
    {
        var hosts = Hosts;
        for (var i = 0; i < _pending; i++) hosts.PrefetchText(_pendingKey[i]);
        for (var i = 0; i < _pending; i++)
        {
            var id = hosts.Intern(span.Slice(_pendingStart[i], _pendingLength[i]), _pendingKey[i]);
            ref var record = ref _records[_pendingRecord[i]];
            record = record.WithHostId(id);
        }
        _pending = 0;
    }

    /// <summary>
    /// Adds the record that the fields of a line standing in <paramref name="span"/> make, when they
    /// make a valid one, and says whether they did; otherwise it adds nothing, and the line is the
    /// parser's to read another way. The host is where it stands in <paramref name="span"/>: with many
    /// distinct hosts its id is looked up later (<see cref="ResolveHosts"/>, with the same span).
    /// </summary>
    /// <param name="time">The date, Unix time in whole seconds.</param>
    /// <param name="span">The chunk the line stands in.</param>
    /// <param name="hostStart">Where the host stands in <paramref name="span"/>.</param>
    /// <param name="hostLength">How many bytes the host has.</param>
    /// <param name="user">The user, <c>-</c> for none.</param>
    /// <param name="request">The request line, e.g. <c>GET /api/user HTTP/1.0</c>.</param>
    /// <param name="status">
    /// The status; a parser that reads it as a longer number checks 100 to 599 before it narrows it,
    /// so that a large number cannot wrap into that range.
    /// </param>
    /// <param name="bytes">The response size; 0 for <c>-</c>.</param>
    /// <param name="line">The line's number in its input.</param>
    // Inlined into the parser's line loop: the fast path keeps the one call per line it had.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAdd(long time, ReadOnlySpan<byte> span, int hostStart, int hostLength, ReadOnlySpan<byte> user,
                       ReadOnlySpan<byte> request, int status, long bytes, long line)
    {
        var (methodLength, pathStart, pathLength) = RecordModule.RequestParts(request);
        if (methodLength < 0) return false;
        var path = request.Slice(pathStart, pathLength);
        // Up to DeferHostsFrom distinct hosts, a host is found in the front cache, as users and
        // sections are. Past that, hosts go to Symbols without it: with hundreds of thousands of
        // distinct hosts it misses most of the time and only adds a cache miss of its own. They are
        // looked up a run of lines at a time (ResolveHosts);
        // the record gets its host id then.
        if (!RecordModule.TryCreateWithSection(
                time,
                _deferHosts ? 0 : _hosts.Intern(span.Slice(hostStart, hostLength)),
                User(user),
                Method(request[..methodLength]),
                _sections.Intern(path[..RecordModule.SectionLength(path)]),
                status, bytes, _source, line, out _records[_count]))
            return false;
        if (!_deferHosts)
        {
            _count++;
            return true;
        }
        var hostKey = Symbols.Key(span, hostStart, hostLength);
        Hosts.Prefetch(hostKey);
        _pendingRecord[_pending] = _count;
        _pendingStart[_pending] = hostStart;
        _pendingLength[_pending] = hostLength;
        _pendingKey[_pending] = hostKey;
        _count++;
        if (++_pending == HostRun) ResolveHosts(span);
        return true;
    }

    /// <summary>
    /// Adds the record that fields read another way make (decoded, not where they stand in the chunk),
    /// or, when they make none, a bad line that says why.
    /// </summary>
    public void Add(long time, ReadOnlySpan<byte> host, ReadOnlySpan<byte> user, ReadOnlySpan<byte> request,
                    int status, long bytes, long line)
    {
        var (methodLength, pathStart, pathLength) = RecordModule.RequestParts(request);
        if (methodLength < 0)
        {
            Bad(line, RecordErrorModule.describe(RecordError.NewBadRequest(System.Text.Encoding.UTF8.GetString(request))));
            return;
        }
        var method = _methods.Intern(request[..methodLength]);
        var path = request.Slice(pathStart, pathLength);
        var section = _sections.Intern(path[..RecordModule.SectionLength(path)]);
        var hostId = Symbols.Hosts.Intern(host);
        var userId = _users.Intern(user);

        var result = RecordModule.CreateFromIds(time, hostId, userId, method, section, status, bytes, _source, line);
        if (result.IsOk) _records[_count++] = result.ResultValue;
        else Bad(line, RecordErrorModule.describe(result.ErrorValue));
    }

    /// <summary>
    /// Adds the record that the fields of a server's line make (<see cref="Formats.AccessFields"/>: the
    /// request already split, its section found; <c>-</c> for both when the request was not a request
    /// line), or, when their values are out of range, a bad line that says why.
    /// </summary>
    /// <remarks>
    /// Of the fields only some formats log, the record holds those the builder was made for
    /// (<see cref="AccessExtras"/>): 0 for a duration and <c>-</c> for a text that it was not, or that
    /// the line does not have.
    /// </remarks>
    public void AddFields(scoped in AccessFields fields, long line)
    {
        var time = fields.Time;
        var status = fields.Status;
        var bytes = fields.Bytes;
        ref var record = ref _records[_count];
        if (!RecordModule.TryCreateWithSection(time, _hosts.Intern(fields.Host), User(fields.User), Method(fields.Method),
                _sections.Intern(fields.Section), status, bytes, _source, line, out record))
        {
            var result = RecordModule.CreateFromIds(time, 0, 0, 0, 0, status, bytes, _source, line);
            Bad(line, result.IsError ? RecordErrorModule.describe(result.ErrorValue) : "not a valid record");
            return;
        }
        if (_extras != AccessExtras.None)
            record = record.WithExtras(
                (_extras & AccessExtras.RequestTime) != 0 ? Micros(fields.RequestTime) : 0,
                (_extras & AccessExtras.UpstreamTime) != 0 ? Micros(fields.UpstreamResponseTime) : 0,
                (_extras & AccessExtras.VirtualHost) != 0 ? Text(_virtualHosts, fields.VirtualHost) : 0,
                (_extras & AccessExtras.Referer) != 0 ? Text(_referers, fields.Referer) : 0,
                (_extras & AccessExtras.UserAgent) != 0 ? Text(_userAgents, fields.UserAgent) : 0);
        _count++;
    }

    /// <summary>
    /// <see cref="AddFields"/> for a plain line whose fields a reader checked itself (a request
    /// line already split), with none of the fields only some formats log: true when it made a
    /// record, false (and nothing added) when the values are out of range.
    /// </summary>
    public bool AddPlain(long time, ReadOnlySpan<byte> host, ReadOnlySpan<byte> user, ReadOnlySpan<byte> method,
                         ReadOnlySpan<byte> section, int status, long bytes, long line)
    {
        if (!RecordModule.TryCreateWithSection(time, _hosts.Intern(host), User(user), Method(method), _sections.Intern(section),
                status, bytes, _source, line, out _records[_count]))
            return false;
        _count++;
        return true;
    }

    /// <summary>Seconds as whole microseconds (a parser reads at most six decimals); 0 for NaN (not logged).</summary>
    private static long Micros(double seconds) =>
        double.IsNaN(seconds) || seconds <= 0 ? 0 : seconds >= 1e12 ? long.MaxValue : (long)Math.Round(seconds * 1e6);

    /// <summary>The id of an optional text: id 0 (<c>-</c>) when the line has none.</summary>
    private static int Text(SymbolCache cache, ReadOnlySpan<byte> text) => text.IsEmpty ? 0 : cache.Intern(text);

    /// <summary>The user: <c>-</c> (no user, most lines of most logs) without a look-up, else interned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int User(ReadOnlySpan<byte> field) =>
        field.Length == 1 && field[0] == (byte)'-' ? NoUser : _users.Intern(field);

    /// <summary>The method: the common ones by a compare of their bytes, else interned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Method(ReadOnlySpan<byte> method) => method.Length switch
    {
        3 when method.SequenceEqual("GET"u8) => Get,
        4 when method.SequenceEqual("POST"u8) => Post,
        _ => _methods.Intern(method),
    };

    /// <summary>
    /// A line of the current input that yields no record, and why. The reason quotes the line's
    /// bytes, so its control characters are escaped here, for every format: a tab read as a space.
    /// </summary>
    public void Bad(long line, string reason) => (_bad ??= []).Add(new BadLine(_source, _path, line, Output.Terminal.Escape(reason)));
}
