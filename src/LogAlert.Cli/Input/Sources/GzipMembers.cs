using System.Runtime.InteropServices;

namespace LogAlert.Cli.Input;

/// <summary>
/// A gzip file decompressed member by member, as <c>zcat</c> reads it, through the zlib the .NET runtime
/// carries (zlib-ng, in <c>libSystem.IO.Compression.Native</c>, which <see cref="System.IO.Compression.GZipStream"/>
/// calls too): each member's CRC-32 and length are checked by zlib as the member ends, a
/// file that ends inside a member was cut short, and bytes after the last member that do not start
/// another are trailing garbage. .NET's <see cref="System.IO.Compression.GZipStream"/> tells none of
/// these apart: it ends quietly at the end of the data it could read, and does not say where in the
/// file that was. The system's own zlib (<c>libz.so.1</c>) would do as well, but inflates a quarter
/// as fast (35 MB of log: 87 ms against 22 ms).
/// </summary>
/// <remarks>
/// Both warnings are said once, through the notice callback, when the end is reached; the lines read
/// are kept (a line cut in two is one bad line). Data zlib refuses (a damaged block, a member whose
/// CRC or length does not match) throws <see cref="InvalidDataException"/>, with zlib's reason, once what was
/// decompressed before it has been read; the reader says it as a read error. The file is read
/// forward, in 64 KiB blocks.
/// </remarks>
internal sealed unsafe partial class GzipMembers : ReadOnlyStream
{
    private const int InputSize = 64 * 1024;

    // zlib's return codes and flush mode (zlib.h).
    private const int ZOk = 0, ZStreamEnd = 1, ZBufError = -5, ZNoFlush = 0;

    // 15 bits of window, plus 16: gzip members only (no zlib or raw deflate data).
    private const int GzipWindowBits = 15 + 16;

    private readonly FileStream _file;
    private readonly string _path;
    private readonly Action<string> _notice;
    private readonly ZStream* _z;
    private readonly byte* _input;
    private bool _inMember;
    private bool _fileEnded;
    private bool _ended;
    private bool _disposed;
    private InvalidDataException? _damage;

    private GzipMembers(FileStream file, string path, Action<string> notice, ZStream* z, byte* input)
    {
        _file = file;
        _path = path;
        _notice = notice;
        _z = z;
        _input = input;
    }

    /// <summary>
    /// <paramref name="file"/> (gzip, at its start) read member by member, or null when the runtime's
    /// zlib cannot be called as this class calls it (another runtime's library: the caller then reads
    /// the file through <see cref="System.IO.Compression.GZipStream"/>).
    /// </summary>
    public static GzipMembers? TryOpen(FileStream file, string path, Action<string> notice)
    {
        var z = (ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZStream));
        int rc;
        try
        {
            rc = InflateInit(z, GzipWindowBits);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            NativeMemory.Free(z);
            return null;
        }
        if (rc != ZOk)
        {
            NativeMemory.Free(z);
            return null;
        }
        return new GzipMembers(file, path, notice, z, (byte*)NativeMemory.Alloc(InputSize));
    }

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_damage is { } damage)
        {
            _damage = null;
            _ended = true;
            throw damage;
        }
        if (_ended || buffer.IsEmpty) return 0;
        fixed (byte* output = buffer)
        {
            _z->NextOut = output;
            _z->AvailOut = (uint)buffer.Length;
            try
            {
                while (_z->AvailOut == (uint)buffer.Length && !_ended) Step();
            }
            catch (InvalidDataException e) when (_z->AvailOut < (uint)buffer.Length)
            {
                // What zlib gave before the damage goes out (its lines are read); the damage next call.
                _damage = e;
            }
            finally
            {
                // The output is the caller's: no pointer into it is kept past this call.
                _z->NextOut = null;
            }
            return buffer.Length - (int)_z->AvailOut;
        }
    }

    /// <summary>One step: more input read when little is left, a member begun, zlib run on what there is.</summary>
    private void Step()
    {
        if (_z->AvailIn < 2 && !_fileEnded) Refill();
        if (!_inMember)
        {
            if (_z->AvailIn == 0)
            {
                _ended = true; // the last member ended where the file does
                return;
            }
            // Between members: another starts with gzip's two magic bytes, or the rest is not gzip.
            if (_z->AvailIn < 2 || _z->NextIn[0] != 0x1F || _z->NextIn[1] != 0x8B)
            {
                IgnoreRest();
                _ended = true;
                return;
            }
            if (InflateReset(_z, GzipWindowBits) != ZOk) throw Damaged("zlib could not start a gzip member");
            _inMember = true;
        }
        switch (Inflate(_z, ZNoFlush))
        {
            case ZStreamEnd:
                _inMember = false; // zlib checked its CRC-32 and length
                break;
            case ZOk:
                break;
            // No progress: all the input is taken. Unless the file has ended, the next step reads more;
            // if it has, zlib has given all it can (output it held back went out in the calls before).
            case ZBufError when _z->AvailIn == 0:
                if (_fileEnded)
                {
                    _notice($"{_path}: warning: its gzip data is cut short (the file ends inside it): read up to where it ends; a last line cut in two is a bad line");
                    _ended = true;
                }
                break;
            case var rc:
                throw Damaged(_z->Msg is null ? $"zlib error {rc}" : Marshal.PtrToStringUTF8((nint)_z->Msg) ?? $"zlib error {rc}");
        }
    }

    /// <summary>
    /// The bytes after the last member, which are not gzip: said in a warning and not read, as
    /// <c>zcat</c> does; zero bytes only (padding to a block, as tar and some copies leave) in silence,
    /// as <c>zcat</c> does too.
    /// </summary>
    private void IgnoreRest()
    {
        long rest = _z->AvailIn;
        var zeros = new ReadOnlySpan<byte>(_z->NextIn, (int)_z->AvailIn).IndexOfAnyExcept((byte)0) < 0;
        var block = new Span<byte>(_input, InputSize);
        for (int read; (read = _file.Read(block)) > 0; rest += read)
            zeros = zeros && block[..read].IndexOfAnyExcept((byte)0) < 0;
        _z->AvailIn = 0;
        if (!zeros) _notice($"{_path}: warning: the {rest} byte{(rest == 1 ? " after its gzip data is" : "s after its gzip data are")} not gzip; ignored, as zcat does");
    }

    /// <summary>Gzip data zlib refuses (a damaged block, a member whose CRC-32 or length does not match), with its reason.</summary>
    private static InvalidDataException Damaged(string reason) =>
        new($"the gzip data is damaged ({reason})") { Data = { [Said] = true } };

    /// <summary>The key in <see cref="Exception.Data"/> of the failures whose message says what is wrong in a user's words.</summary>
    public const string Said = "logalert.said";

    /// <summary>Moves the input not yet taken to the front and reads more after it; marks the file ended when there is no more.</summary>
    private void Refill()
    {
        var kept = (int)_z->AvailIn;
        if (kept > 0 && _z->NextIn != _input) Buffer.MemoryCopy(_z->NextIn, _input, InputSize, kept);
        var read = _file.Read(new Span<byte>(_input + kept, InputSize - kept));
        _z->NextIn = _input;
        _z->AvailIn = (uint)(kept + read);
        if (read == 0) _fileEnded = true;
    }

    protected override void Dispose(bool disposing)
    {
        if (!_disposed)
        {
            _disposed = true;
            InflateEnd(_z);
            NativeMemory.Free(_z);
            NativeMemory.Free(_input);
            if (disposing) _file.Dispose();
        }
        base.Dispose(disposing);
    }

    ~GzipMembers() => Dispose(false);

    /// <summary>The runtime's <c>PAL_ZStream</c> (pal_zlib.h): zlib's stream, as the runtime hands it on.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public byte* Msg;
        public void* State;
        public uint AvailIn;
        public uint AvailOut;
    }

    // The exports System.IO.Compression itself calls (versioned V1.0). Source-generated
    // (LibraryImport), as FileTrust's: no marshalling stub to make at start-up.
    private const string Native = "libSystem.IO.Compression.Native";

    [LibraryImport(Native, EntryPoint = "CompressionNative_InflateInit2_")]
    private static partial int InflateInit(ZStream* stream, int windowBits);

    [LibraryImport(Native, EntryPoint = "CompressionNative_Inflate")]
    private static partial int Inflate(ZStream* stream, int flush);

    [LibraryImport(Native, EntryPoint = "CompressionNative_InflateReset2_")]
    private static partial int InflateReset(ZStream* stream, int windowBits);

    [LibraryImport(Native, EntryPoint = "CompressionNative_InflateEnd")]
    private static partial int InflateEnd(ZStream* stream);
}
