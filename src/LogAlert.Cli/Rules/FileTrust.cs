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
/// owner comes from Linux's <c>statx</c> (<see cref="UnixFileStatus"/>). Where <c>statx</c> is missing
/// (another Unix, an old C library) only the mode is checked; on Windows, whose files have ACLs rather
/// than modes, nothing is.
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
        if (UnixFileStatus.Of(path) is { } status) (mode, owner) = (status.Mode, status.Owner);
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

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
