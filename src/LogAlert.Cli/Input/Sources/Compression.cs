using System.IO.Compression;

namespace LogAlert.Cli.Input;

/// <summary>
/// Compressed logs. logrotate leaves yesterday's log as <c>access.log.2.gz</c>, and replaying old logs
/// means reading those: a gzip file is read through <see cref="GZipStream"/> (several members one after
/// another, as <c>zcat</c> reads them). Other compressions are named, with how to read them, where the
/// bytes were taken for a log in no format.
/// </summary>
internal static class Compression
{
    /// <summary>The compression <paramref name="file"/>'s first bytes say (<c>gzip</c>, <c>zstd</c>, ...), or null; its position is left at 0.</summary>
    public static string? Of(FileStream file)
    {
        if (!file.CanSeek) return null;
        Span<byte> head = stackalloc byte[6];
        var read = 0;
        while (read < head.Length && file.Read(head[read..]) is var n and > 0) read += n;
        file.Position = 0;
        head = head[..read];
        return head switch
        {
            [0x1F, 0x8B, ..] => "gzip",
            [0x28, 0xB5, 0x2F, 0xFD, ..] => "zstd",
            [(byte)'B', (byte)'Z', (byte)'h', ..] => "bzip2",
            [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00] => "xz",
            _ => null,
        };
    }

    /// <summary>Why a file of <paramref name="kind"/> (not gzip) is not read, and the command that reads it.</summary>
    public static string Refusal(string kind, string path) =>
        $"{path}: is {kind}-compressed, which logalert does not read; decompress it first: "
        + $"{kind switch { "zstd" => "zstdcat", "bzip2" => "bzcat", "xz" => "xzcat", _ => "zcat" }} {path} | logalert -";

    /// <summary>
    /// <paramref name="file"/> as its log reads: decompressed when it is gzip, as it is when it is not
    /// compressed; a file of another compression is refused, with the command that reads it.
    /// </summary>
    /// <exception cref="InputException">The file is compressed otherwise than with gzip.</exception>
    public static Stream Open(FileStream file, string path)
    {
        switch (Of(file))
        {
            case null: return file;
            case "gzip": return new GZipStream(file, CompressionMode.Decompress);
            case var kind:
                file.Dispose();
                throw new InputException(Refusal(kind, path));
        }
    }
}
