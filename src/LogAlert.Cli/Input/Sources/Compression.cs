using System.IO.Compression;

namespace LogAlert.Cli.Input;

/// <summary>
/// Compressed logs. logrotate leaves yesterday's log as <c>access.log.2.gz</c>, and replaying old logs
/// means reading those: a gzip file is read member by member through the runtime's zlib
/// (<see cref="GzipMembers"/>), as <c>zcat</c> reads it, or, where that cannot be called so, through
/// <see cref="GZipStream"/>. Other compressions are named, with how to read them, where the
/// bytes were taken for a log in no format.
/// </summary>
internal static class Compression
{
    /// <summary>How many of a file's first bytes tell its compression (<see cref="Of(ReadOnlySpan{byte})"/>).</summary>
    public const int HeadLength = 6;

    /// <summary>The compression <paramref name="file"/>'s first bytes say (<c>gzip</c>, <c>zstd</c>, ...), or null; its position is left at 0.</summary>
    public static string? Of(FileStream file)
    {
        if (!file.CanSeek) return null;
        Span<byte> head = stackalloc byte[HeadLength];
        var read = 0;
        while (read < head.Length && file.Read(head[read..]) is var n and > 0) read += n;
        file.Position = 0;
        return Of(head[..read]);
    }

    /// <summary>The compression a file's first bytes, <paramref name="head"/> (its first <see cref="HeadLength"/> or more), say, or null (also when too few are there yet to tell).</summary>
    public static string? Of(ReadOnlySpan<byte> head) =>
        head switch
        {
            [0x1F, 0x8B, ..] => "gzip",
            [0x28, 0xB5, 0x2F, 0xFD, ..] => "zstd",
            // "BZh", the block size, and a block's magic (or the end's, for an empty file): "BZh" alone
            // refused a log whose first host was BZh.example.com.
            // With what follows (a chunk of stdin): an exact six matched the head of a file alone.
            [(byte)'B', (byte)'Z', (byte)'h', >= (byte)'1' and <= (byte)'9', 0x31, 0x41, ..] or [(byte)'B', (byte)'Z', (byte)'h', >= (byte)'1' and <= (byte)'9', 0x17, 0x72, ..] => "bzip2",
            [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00, ..] => "xz",
            _ => null,
        };

    /// <summary>
    /// Why a file of <paramref name="kind"/> is not read: gzip only when <paramref name="followed"/>
    /// (its appends would be compressed bytes), any other with the command that reads it.
    /// <paramref name="arrived"/>: the file turned up at a followed path once the run was under way
    /// (waited for, or in the place of the one followed after a rotation or truncation), which the
    /// line says, so that it does not read as though the file had been compressed from the start.
    /// </summary>
    public static string Refusal(string kind, string path, bool followed = false, bool arrived = false) =>
        (arrived ? $"{path}: the file now there is " : $"{path}: is ")
        + (kind == "gzip" && followed
            ? "gzip-compressed, so it cannot be followed; without --follow it is read whole"
            : $"{kind}-compressed, which logalert does not read; decompress it first: {Reader(kind)} {path} | logalert -");

    /// <summary>The command that decompresses <paramref name="kind"/> to stdout: <c>zstdcat</c>, <c>bzcat</c>, <c>xzcat</c>, <c>zcat</c>.</summary>
    public static string Reader(string kind) => kind switch { "zstd" => "zstdcat", "bzip2" => "bzcat", "xz" => "xzcat", _ => "zcat" };

    /// <summary>
    /// Where the runtime's zlib cannot be called member by member (<see cref="GzipMembers"/>): a gzip
    /// file read through <see cref="GZipStream"/>, to its end, and its end checked. <see cref="GZipStream"/> ends quietly
    /// where data cut short ends (half of a 300,000-line log read, exit 0). The file's last 8 bytes
    /// are the CRC-32 and length of what its last member holds; a file of one member (what gzip and
    /// logrotate write) that reads otherwise was cut short. A file of several members joined reads
    /// otherwise too, and cannot be told from it without reading the members apart: so it is said
    /// as a warning, not a failure.
    /// </summary>
    private sealed class CheckedGzip(FileStream file, string path, Action<string> notice) : ReadOnlyStream
    {
        private readonly GZipStream _gzip = new(file, CompressionMode.Decompress);
        private readonly System.IO.Hashing.Crc32 _crc = new();
        private long _length;
        private bool _ended;

        public override int Read(Span<byte> buffer)
        {
            var read = _gzip.Read(buffer);
            if (read > 0)
            {
                _crc.Append(buffer[..read]);
                _length += read;
            }
            else if (!_ended && buffer.Length > 0)
            {
                _ended = true;
                CheckEnd();
            }
            return read;
        }

        private void CheckEnd()
        {
            Span<byte> trailer = stackalloc byte[8];
            var whole = file.Length >= 18 && RandomAccess.Read(file.SafeFileHandle, trailer, file.Length - 8) == 8
                && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer) == _crc.GetCurrentHashAsUInt32()
                && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]) == (uint)_length;
            if (!whole)
                notice($"{path}: warning: its gzip data does not end as a whole file's does: was it cut short? (its last line is then a bad line; gzip files joined into one read so too)");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _gzip.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// <paramref name="file"/> as its log reads: decompressed when it is gzip, as it is when it is not
    /// compressed; a file of another compression is refused, with the command that reads it.
    /// </summary>
    /// <exception cref="InputException">The file is compressed otherwise than with gzip.</exception>
    public static Stream Open(FileStream file, string path, Action<string> notice) => Open(file, path, notice, byMember: true);

    /// <summary><see cref="Open(FileStream, string, Action{string})"/>, reading gzip member by member only when <paramref name="byMember"/> (tests read it the other way too).</summary>
    internal static Stream Open(FileStream file, string path, Action<string> notice, bool byMember)
    {
        switch (Of(file))
        {
            case null: return file;
            case "gzip": return (byMember ? GzipMembers.TryOpen(file, path, notice) : null) ?? (Stream)new CheckedGzip(file, path, notice);
            case var kind:
                file.Dispose();
                throw new InputException(Refusal(kind, path));
        }
    }
}
