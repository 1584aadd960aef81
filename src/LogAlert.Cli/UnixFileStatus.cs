using System.Runtime.InteropServices;

namespace LogAlert.Cli;

/// <summary>A path's type, mode and owner, as Linux's <c>statx</c> tells them (symbolic links followed).</summary>
/// <remarks>
/// .NET reads a file's mode (<see cref="File.GetUnixFileMode(string)"/>) but neither its owner nor its
/// type: to it a named pipe is a file like any other. <c>struct statx</c>'s layout is the same on every
/// architecture (unlike <c>struct stat</c>'s).
/// </remarks>
/// <param name="TypeAndMode"><c>stx_mode</c>: the file type bits (<c>S_IFMT</c>) and the mode.</param>
/// <param name="Owner">The owner's user id.</param>
internal readonly partial record struct UnixFileStatus(uint TypeAndMode, uint Owner)
{
    private const uint TypeBits = 0xF000; // S_IFMT
    private const uint RegularFile = 0x8000; // S_IFREG
    private const uint Fifo = 0x1000; // S_IFIFO

    /// <summary>The permission bits, with set-user-id, set-group-id and sticky.</summary>
    public UnixFileMode Mode => (UnixFileMode)(TypeAndMode & 0xFFF);

    /// <summary>Whether the path names a regular file: not a pipe, a device, a socket or a directory.</summary>
    public bool IsRegularFile => (TypeAndMode & TypeBits) == RegularFile;

    /// <summary>Whether the path names a pipe: a named pipe, or the <c>/dev/fd/63</c> of the shell's <c>&lt;(command)</c>.</summary>
    public bool IsPipe => (TypeAndMode & TypeBits) == Fifo;

    private static bool s_noStatx;

    // statx(2): struct statx is 256 bytes; stx_mask at 0 (u32), stx_uid at 20 (u32), stx_mode at 28 (u16).
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;
    private const uint Wanted = StatxType | StatxMode | StatxUid;

    /// <summary>
    /// What <paramref name="path"/> is; null when it cannot be told (no such path, no permission: the
    /// caller's own open says why) or where <c>statx</c> is missing (another Unix, an old C library).
    /// </summary>
    public static UnixFileStatus? Of(string path)
    {
        if (s_noStatx || !OperatingSystem.IsLinux()) return null;
        var buffer = new byte[256];
        try
        {
            if (statx(AtFdCwd, path, 0, Wanted, buffer) != 0) return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_noStatx = true;
            return null;
        }
        var mask = BitConverter.ToUInt32(buffer, 0);
        if ((mask & Wanted) != Wanted) return null;
        return new UnixFileStatus(BitConverter.ToUInt16(buffer, 28), BitConverter.ToUInt32(buffer, 20));
    }

    // Source-generated (LibraryImport), so that the ahead-of-time compiled program has no marshalling
    // stub left to generate at start-up.
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);
}
