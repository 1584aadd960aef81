namespace LogAlert.Cli.Input;

/// <summary>
/// A file followed like <c>tail -F</c>: appended lines, rotation, truncation, a file yet to come. Content
/// that turns out compressed ends the follow with an <see cref="InputException"/>.
/// </summary>
/// <param name="path">The path followed; opened at the first read, and waited for while it names no file to read.</param>
/// <param name="poll">How long to wait when nothing is new.</param>
/// <param name="cancel">Ends the following.</param>
/// <param name="notice">Hears the wait for a missing or unreadable file and its arrival.</param>
/// <param name="maxLine">The most bytes a line may have (see <see cref="LineBuffer"/>).</param>
internal sealed class FollowSource(string path, TimeSpan poll, CancellationToken cancel,
                                  Action<string> notice, int maxLine) : ChunkSource
{
    private const int BufferSize = 1 << 20;

    /// <summary>
    /// How much of the start of the file is kept to tell whether it still holds what was read: a file
    /// emptied and written again past the point read to looks, by its length, like one appended to.
    /// </summary>
    internal const int HeadSize = 4096;

    /// <summary>
    /// After a rotation (the path names a new file), how long the old file must stay unchanged before
    /// it is left; a poll once the new one has grown since the old one last did (a header a rotation
    /// script writes into the new file is no sign that the server writes there). The writer
    /// goes on writing to the old file until it reopens its log: logrotate's <c>create</c> renames the
    /// file and makes the new one, and only then does its postrotate tell the server (nginx's
    /// <c>USR1</c>), after every log is rotated. Leaving the old file at once lost what came in
    /// between: 100 of 600 requests for a half-second gap (QA). Fluent Bit's <c>Rotate_Wait</c> is 5 s too.
    /// </summary>
    internal static readonly TimeSpan RotateWait = TimeSpan.FromSeconds(5);

    private readonly LineBuffer _lines = new(BufferSize, maxLine);
    private FileStream? _file;        // null until the path names a file that opens
    private Absence _said;            // why the path names no file to read, as last said
    private System.Diagnostics.Stopwatch? _absentSince;  // since when the path names no file that opens
    private long _position;           // bytes read from _file
    private bool _sleep;              // the last read found nothing new: wait a poll before the next
    private FileStream? _successor;   // the file the path names now, once the old one is read to its end
    private System.Diagnostics.Stopwatch? _oldQuiet; // since the old file last grew, once the path names a successor
    private System.Diagnostics.Stopwatch? _pipeSince; // since the old file last grew, once the path names a named pipe
    private long _successorThen;      // the successor's length when the old file last grew (or it was found)
    private bool _restart;            // hand out what is left of the old content, then start afresh
    private bool _truncated;          // the restart is a truncation, not a rotation: the file is read again
    private bool _stopSaid;           // an unfinished line at the stop was said
    private readonly byte[] _head = new byte[HeadSize];    // the file's first bytes, as read
    private int _headLength;                               // how many: min(HeadSize, _position)
    private readonly byte[] _headNow = new byte[HeadSize]; // the same bytes as the file holds them now

    public override Step Next(out Memory<byte> chunk)
    {
        while (true)
        {
            // When a rotated file is finished, its unterminated last line will never be completed:
            // the writer has moved to the new file, and the line is whole. Not so a truncated file's:
            // its end is written after the truncation, into the new content, and cut short the line
            // can parse as a wrong record (a size of 12 for 1234). It is dropped, and said
            // (StartAfresh), as Stopped says the one it leaves.
            if (TryTake(_lines, final: _restart && !_truncated, out var step, out chunk)) return step;
            if (_restart)
            {
                StartAfresh();
                return Step.Restart;
            }
            if (cancel.IsCancellationRequested) return Stopped();
            if (_sleep)
            {
                _sleep = false;
                if (cancel.WaitHandle.WaitOne(poll)) return Stopped();
            }
            if (_file is null && !TryOpenFirst())
            {
                _sleep = true;
                return Step.Idle;
            }
            if (ReplacedInPlace())
            {
                _truncated = true;
                _restart = true;
                continue;
            }
            var room = _lines.Free();
            var read = _file!.Read(room.Span);
            if (read > 0)
            {
                _pipeSince?.Restart();
                RememberHead(room.Span[..read]);
                if (_position < Compression.HeadLength) RefuseCompressed(Compression.Of(_head.AsSpan(0, _headLength)));
                _lines.Advance(read);
                _position += read;
                if (_successor is not null)
                {
                    _oldQuiet!.Restart();
                    _successorThen = _successor.Length;
                }
                continue;
            }
            if (_successor is not null)
            {
                // Rotated, and the old file read to its end: left once the writer has moved to the new
                // one (it has lines and the old file stayed as it is for a poll), or once the old one
                // stayed as it is for RotateWait (RotateWait explains why not at once).
                if (_oldQuiet!.Elapsed >= RotateWait || (_oldQuiet.Elapsed >= poll && _successor.Length > _successorThen))
                {
                    _restart = true;
                    continue;
                }
                _sleep = true;
                return Step.Idle;
            }
            if (_file.Length < _position)
            {
                _truncated = true;
                _restart = true;
                continue;
            }
            // A named pipe in the file's place (rotated, or deleted and made again): opening it waits
            // for a writer, in silence, and a stream of it cannot seek: with a writer the run ended
            // with a stack trace. Refused as at a path waited for, once the old file has stayed as it
            // is for RotateWait (its writer may still be finishing it).
            if (UnixFileStatus.Of(path) is { IsPipe: true })
            {
                _pipeSince ??= System.Diagnostics.Stopwatch.StartNew();
                if (_pipeSince.Elapsed >= RotateWait) throw new InputException(PipeRefusal);
                _sleep = true;
                return Step.Idle;
            }
            _pipeSince = null;
            if (TryOpenSuccessor() is { } successor)
            {
                _successor = successor;
                _oldQuiet = System.Diagnostics.Stopwatch.StartNew();
                _successorThen = successor.Length;
                continue; // the old file is read on until its writer has moved (RotateWait)
            }
            _sleep = true;
            return Step.Idle;
        }
    }

    /// <summary>
    /// The end of a follow that was stopped. A line the server had not finished writing stays unread:
    /// its end may still come, and a cut line can parse as a wrong record (a status or size cut
    /// short). It is said, so that the bytes are not left behind unseen.
    /// </summary>
    private Step Stopped()
    {
        if (!_stopSaid)
        {
            // Stopped before the file's end (a signal while its backlog is read): what is left is the
            // rest of the file, not a line the server has not finished, and it is said as that.
            var rest = UnreadBytes();
            if (rest > 0) notice($"{path}: stopped before its end; its last {rest + _lines.Unfinished} bytes were not read");
            // Over the cap, the line's bytes were dropped as they came, and none is held: said all the same.
            else if (_lines.LeftBehind(path, "stopped", "not read") is { } said) notice(said);
        }
        _stopSaid = true;
        return Step.End;
    }

    /// <summary>Bytes of the followed file past the point read to; 0 when it cannot be told.</summary>
    private long UnreadBytes()
    {
        try { return _file is { } file ? Math.Max(0, file.Length - _position) : 0; }
        catch (IOException) { return 0; }
    }

    /// <summary>
    /// Whether the file no longer holds what was read from it: it is shorter than the point read to,
    /// or its first bytes changed (emptied and written again, <c>copytruncate</c>, within one poll).
    /// Asked before every read, so the reader does not go on reading new content from an old offset.
    /// Still unseen: new content that starts with the same first bytes as the old (a regrowth of the
    /// same header and lines), and a replacement between this look and the read after it.
    /// </summary>
    private bool ReplacedInPlace()
    {
        if (_position == 0) return false;
        if (_file!.Length < _position) return true;
        var now = _headNow.AsSpan(0, _headLength);
        var got = 0;
        while (got < now.Length && RandomAccess.Read(_file.SafeFileHandle, now[got..], got) is var n and > 0) got += n;
        return got < now.Length || !now.SequenceEqual(_head.AsSpan(0, _headLength));
    }

    /// <summary>What a named pipe in the followed path's place is told: one there at the start is read as stdin is.</summary>
    private string PipeRefusal =>
        $"{path}: turned up as a named pipe, which --follow reads only when it is there as logalert starts; start logalert after it, or pipe it in: cat {path} | logalert --follow -";

    /// <summary>Keeps what of <paramref name="read"/>, read at the current position, falls in the file's first bytes.</summary>
    private void RememberHead(ReadOnlySpan<byte> read)
    {
        if (_position >= HeadSize) return;
        var kept = (int)Math.Min(read.Length, HeadSize - _position);
        read[..kept].CopyTo(_head.AsSpan((int)_position));
        _headLength = (int)_position + kept;
    }

    /// <summary>
    /// Opens the file the path names, when there was none to read so far; says once why it is waited
    /// for, again only when that changes (<c>tail -F</c> does the same), and once that it came.
    /// </summary>
    private bool TryOpenFirst()
    {
        // A named pipe that turns up here would hold the open until a writer came, and has no length
        // or rotation to follow: refused, as a compressed file is. One there at the start is read as
        // stdin is (AccessLogReader.CheckInputs).
        if (UnixFileStatus.Of(path) is { IsPipe: true }) throw new InputException(PipeRefusal);
        try
        {
            _file = AccessLogReader.TryOpenFile(path);
        }
        catch (InputException e)
        {
            // A directory, or a file logalert may not read (yet: a log created mode 600 and handed to
            // its reader afterwards): waited out as a missing file is, as tail -F does. At the start
            // of the run either is an error, said before anything is read; here it ended a run that
            // was already waiting, with exit 1.
            Say(Why(), e.Message, again: false);
            return false;
        }
        if (_file is null)
        {
            Say(Absence.Missing, "", again: false);
            return false;
        }
        // Looked at before its arrival is said: a compressed file here is refused, not followed.
        RefuseCompressed(Compression.Of(_file));
        SayFound();
        return true;
    }

    /// <summary>
    /// Ends the follow when the content read from its start is compressed, as a followed file that is
    /// compressed at the start of the run is refused (AccessLogReader.CheckInputs): its bytes are no
    /// log. Asked of each new content (a file that appears, a rotation's, a truncated file's) until its
    /// first <see cref="Compression.HeadLength"/> bytes are in: no compression's magic holds a newline,
    /// so no line of the content has been handed out when it is recognised.
    /// </summary>
    /// <exception cref="InputException"><paramref name="kind"/> is a compression.</exception>
    private void RefuseCompressed(string? kind)
    {
        if (kind is not null) throw new InputException(Compression.Refusal(kind, path, followed: true, arrived: true));
    }

    /// <summary>Why the path names no file to read: nothing there, a directory, or a file that cannot be opened.</summary>
    private enum Absence { None, Missing, Directory, Unreadable }

    /// <summary>Why the path could not be opened, as it looks now.</summary>
    private Absence Why() =>
        Directory.Exists(path) ? Absence.Directory : File.Exists(path) ? Absence.Unreadable : Absence.Missing;

    /// <summary>
    /// Says on stderr why the path is waited for, once until that changes (tail -F does the same):
    /// <paramref name="again"/> when a file was followed there before; <paramref name="reason"/>
    /// is what the open said, for a file that cannot be opened.
    /// </summary>
    private void Say(Absence why, string reason, bool again)
    {
        if (why == _said) return;
        _said = why;
        notice(why switch
        {
            Absence.Missing when again => $"{path}: no longer there; waiting for it to appear again",
            Absence.Missing => $"{path}: no such file yet; waiting for it to appear",
            // tail -F: "has been replaced with an untailable file".
            Absence.Directory when again => $"{path}: is a directory now; waiting for a file to appear again",
            Absence.Directory => $"{path}: is a directory; waiting for a file to appear",
            _ => $"{reason}; waiting until it can be read",
        });
    }

    /// <summary>Says, when a wait was said, that it is over: tail -F's "has appeared" and "has become accessible".</summary>
    private void SayFound()
    {
        if (_said != Absence.None)
            notice(_said == Absence.Unreadable ? $"{path}: has become accessible; following it" : $"{path}: has appeared; following it");
        _said = Absence.None;
    }

    private void StartAfresh()
    {
        _restart = false;
        if (_truncated && _lines.LeftBehind(path, "truncated", "dropped") is { } said) notice(said);
        _lines.Clear();
        _position = 0;
        _headLength = 0;
        if (_truncated)
        {
            _truncated = false;
            _file!.Seek(0, SeekOrigin.Begin);
        }
        else if (_successor is not null)
        {
            _file!.Dispose();
            _file = _successor;
            _successor = null;
            _oldQuiet = null;
        }
    }

    /// <summary>The file the path names now, when it is not the one being read (rotation).</summary>
    private FileStream? TryOpenSuccessor()
    {
        FileStream now;
        try
        {
            now = AccessLogReader.OpenFile(path);
        }
        catch (InputException e)
        {
            // Deleted, between a rename and the new file's creation, or a new file logalert may not
            // open: the old one is read on. Said once, as tail -F does ("cannot open ... for
            // reading"), again only when that changes, and the new file's arrival once too; not for
            // the moment a rotation takes to set up the new file (under a second: logrotate's
            // `create` makes it readable by its creator only, then gives it its owner and mode).
            // A new file that could not be opened was followed in silence, and none of it read.
            var why = Why();
            if (why == Absence.Unreadable && FileIdentity.IsAt(_file!, path))
            {
                // Not rotated: the file read is still there, only its mode changed, and the open one reads on.
                _absentSince = null;
                return null;
            }
            _absentSince ??= System.Diagnostics.Stopwatch.StartNew();
            if (_absentSince.Elapsed >= TimeSpan.FromSeconds(1)) Say(why, e.Message, again: true);
            return null;
        }
        _absentSince = null;
        if (FileIdentity.Same(_file!, now))
        {
            now.Dispose();
            return null;
        }
        SayFound();
        return now;
    }

    public override void Dispose()
    {
        _successor?.Dispose();
        _file?.Dispose();
    }
}
