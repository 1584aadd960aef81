namespace LogAlert.Cli.Input;

/// <summary>Whether two open files are the same file.</summary>
/// <remarks>
/// .NET exposes no inode. On Linux, <c>/proc/self/fd/N</c> names the file a descriptor is open on,
/// as the kernel sees it now: after a rename it shows the new name, after a delete it says
/// "(deleted)"; two descriptors of one file show the same path. The two names are read at two
/// moments, though: a rename in between (logrotate moving the file just as the reader looks) made
/// the one file look like two, and the reader read it again from its start as its own successor.
/// So the first name is read once more, and only a pair taken while it held still counts. Elsewhere
/// the creation (birth) times are compared.
/// </remarks>
internal static class FileIdentity
{
    public static bool Same(FileStream a, FileStream b) =>
        Same(a, b, OperatingSystem.IsLinux() ? Target : null);

    /// <param name="a">One open file.</param>
    /// <param name="b">The other.</param>
    /// <param name="target">The name a descriptor is open on now, if known (tests pass their own).</param>
    internal static bool Same(FileStream a, FileStream b, Func<FileStream, string?>? target)
    {
        if (target is not null)
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                if (target(a) is not { } before || target(b) is not { } other || target(a) is not { } after) break;
                if (before == after) return before == other;
            }
        }
        return File.GetCreationTimeUtc(a.SafeFileHandle) == File.GetCreationTimeUtc(b.SafeFileHandle);
    }

    /// <summary>
    /// Whether <paramref name="path"/> names the open <paramref name="file"/>, told without opening the
    /// path (it may not be readable): by creation (birth) time, as <see cref="Same(FileStream, FileStream)"/> tells off Linux.
    /// </summary>
    public static bool IsAt(FileStream file, string path)
    {
        try
        {
            return File.GetCreationTimeUtc(path) == File.GetCreationTimeUtc(file.SafeFileHandle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string? Target(FileStream file)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
