namespace LogAlert.Cli.Input;

/// <summary>A second thread that parses one chunk while the reader parses the next.</summary>
internal sealed class ParseWorker : IDisposable
{
    private readonly IChunkParser _parser;
    private readonly SemaphoreSlim _start = new(0);
    private readonly SemaphoreSlim _done = new(0);
    private Memory<byte> _chunk;
    private ChunkStart? _at;
    private ChunkResult _result;
    private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _error;
    private volatile bool _stop;

    /// <param name="parser">The parser the thread runs; its own, not the reader's.</param>
    public ParseWorker(IChunkParser parser)
    {
        _parser = parser;
        new Thread(Run) { IsBackground = true, Name = "logalert parse" }.Start();
    }

    /// <summary>Starts parsing <paramref name="chunk"/>, which must stay unchanged until <see cref="Wait"/>.</summary>
    public void Start(Memory<byte> chunk, ChunkStart at)
    {
        (_chunk, _at) = (chunk, at);
        _start.Release();
    }

    /// <summary>The result of the chunk last started; an exception it threw is thrown here.</summary>
    public ChunkResult Wait()
    {
        _done.Wait();
        _error?.Throw();
        return _result;
    }

    private void Run()
    {
        while (true)
        {
            _start.Wait();
            if (_stop) return;
            try
            {
                _result = _parser.ParseChunk(_chunk, _at!);
                _error = null;
            }
            catch (Exception e)
            {
                _error = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            }
            _done.Release();
        }
    }

    /// <summary>Forgets the ids its parser's caches hold; only while no chunk is in hand.</summary>
    public void ForgetIds() => _parser.ForgetIds();

    /// <summary>Ends the thread once it has finished the chunk in hand, if any.</summary>
    public void Dispose()
    {
        _stop = true;
        _start.Release();
    }
}
