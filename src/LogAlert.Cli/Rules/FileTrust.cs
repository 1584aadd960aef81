using System.Globalization;
using System.Runtime.InteropServices;

namespace LogAlert.Cli.Rules;

/// <summary>
/// Whether a file or folder may be trusted with code logalert will run: owned by this user (or root)
/// and writable by no one else, as ssh's <c>StrictModes</c> asks of <c>~/.ssh</c>. Symbolic links are
/// followed: what is checked is what would be read.
/// </summary>
/// <remarks>
/// .NET reads a file's mode (<see cref="File.GetUnixFileMode(string)"/>) but not its owner, so the
/// owner comes from Linux's <c>statx</c>, whose layout is the same on every architecture (unlike
/// <c>struct stat</c>). Where <c>statx</c> is missing (another Unix, an old C library) only the mode
/// is checked; on Windows, whose files have ACLs rather than modes, nothing is.
/// </remarks>
internal static partial class FileTrust
{
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Why <paramref name="path"/> must not be trusted (<c>is writable by others (mode 0777)</c>),
    /// or null when it may be. Throws <see cref="IOException"/> and friends when it cannot be read.</summary>
    public static string? Distrust(string path)
    {
        if (OperatingSystem.IsWindows()) return null;
        uint? owner = null;
        UnixFileMode mode;
        if (Statx(path) is { } status) (mode, owner) = status;
        else mode = File.GetUnixFileMode(path);
        if ((mode & WritableByOthers) != 0)
        {
            var who = (mode & WritableByOthers) == WritableByOthers ? "its group and others"
                : (mode & UnixFileMode.GroupWrite) != 0 ? "its group" : "others";
            return $"is writable by {who} (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')})";
        }
        if (owner is { } uid && uid != 0 && uid != EffectiveUserId.Value)
            return $"is owned by another user (uid {uid.ToString(CultureInfo.InvariantCulture)})";
        return null;
    }

    private static readonly Lazy<uint> EffectiveUserId = new(geteuid);

    private static bool s_noStatx;

    // statx(2): struct statx is 256 bytes; stx_mask at 0 (u32), stx_uid at 20 (u32), stx_mode at 28 (u16).
    private const int AtFdCwd = -100;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;

    private static (UnixFileMode Mode, uint Owner)? Statx(string path)
    {
        if (s_noStatx || !OperatingSystem.IsLinux()) return null;
        var buffer = new byte[256];
        try
        {
            if (statx(AtFdCwd, path, 0, StatxMode | StatxUid, buffer) != 0) return null; // the caller's File call says why
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_noStatx = true;
            return null;
        }
        var mask = BitConverter.ToUInt32(buffer, 0);
        if ((mask & (StatxMode | StatxUid)) != (StatxMode | StatxUid)) return null;
        return ((UnixFileMode)(BitConverter.ToUInt16(buffer, 28) & 0xFFF), BitConverter.ToUInt32(buffer, 20));
    }

    // Source-generated (LibraryImport), so that the ahead-of-time compiled program has no marshalling
    // stub left to generate at start-up.
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
