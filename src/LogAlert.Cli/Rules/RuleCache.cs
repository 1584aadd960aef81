using System.Reflection;
using System.Runtime.InteropServices;
using System.IO.Hashing;
using System.Text;
using LogAlert.Core;

namespace LogAlert.Cli.Rules;

/// <summary>
/// Compiled rule files on disk, so that a second run skips Roslyn altogether (compiling costs about a
/// second; loading a cached assembly, milliseconds). An entry is the emitted assembly behind a short
/// header (below), named by a 128-bit hash over everything that determines it, as dotnet-script keys
/// its cache: the rule text and path, the text of every file it <c>#load</c>s, the logalert and
/// LogAlert.Core builds (MVID, which also stands for the Roslyn version logalert was built with) and
/// the runtime version. Only files that compiled are stored, so diagnostics are always fresh. Nothing
/// here references Roslyn.
/// </summary>
/// <remarks>
/// <para>An entry is run as code, so the cache is trusted only as far as ssh trusts <c>~/.ssh</c>: the
/// folder, each folder above it up to the cache root, and each entry must be owned by this user (or
/// root) and writable by no one else (<see cref="FileTrust"/>). A folder that fails is not used at all
/// for the run (one warning says why); an entry that fails is compiled afresh, and the new entry
/// replaces it. Folders logalert makes are made <c>0700</c>, entries <c>0600</c>.</para>
/// <para>Each entry starts with a header holding its key and a hash of its image, checked on every
/// load: an entry copied or renamed under another key, cut short or altered is compiled afresh and
/// overwritten, never run. The hash is XXH128 (System.IO.Hashing), not SHA-256: it guards against
/// mistakes and damage, while the folder's permissions keep others out (whoever can write an entry
/// can also write a matching hash), and on Linux SHA-256 starts OpenSSL, which cost 8.5-9.5 ms of
/// every warm start.</para>
/// <para>Entries unused for <see cref="Unused"/> are deleted, and the least recently used beyond
/// <see cref="MaxEntries"/> or <see cref="MaxBytes"/>, at most once per <see cref="PruneEvery"/>
/// (a stamp file's time says when it last ran). Using an entry refreshes its time once a day.</para>
/// </remarks>
internal sealed class RuleCache
{
    private static readonly Lazy<byte[]> BuildIdentity = new(ComputeBuildIdentity);

    /// <summary>How long an entry may go unused before it is pruned.</summary>
    internal static readonly TimeSpan Unused = TimeSpan.FromDays(30);

    /// <summary>How often pruning runs at most.</summary>
    internal static readonly TimeSpan PruneEvery = TimeSpan.FromDays(1);

    /// <summary>The most entries kept; beyond it the least recently used go.</summary>
    internal const int MaxEntries = 1000;

    /// <summary>The most bytes of entries kept (an entry of the shipped rules is about 5 KB).</summary>
    internal const long MaxBytes = 100L << 20;

    // Writers take seconds at most; an older temporary file was left by a process that died.
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromDays(1);

    private const string Extension = ".rule";
    private const string PruneStamp = "pruned";
    private static ReadOnlySpan<byte> Magic => "LARULE1\n"u8;
    private const int KeyLength = 32; // hex of 128 bits
    private const int HashLength = 16;
    private static readonly int HeaderLength = Magic.Length + KeyLength + HashLength;

    private enum Trust
    {
        Unchecked,
        Missing,
        Trusted,
        Off,
    }

    private readonly string? _folder;
    private readonly string? _root;
    private Trust _trust;
    private readonly Lock _checking = new();

    /// <summary>A cache in <paramref name="folder"/> (null: none), checked up to <paramref name="root"/>
    /// (a folder above it, such as <c>~/.cache</c>; default the folder itself).</summary>
    public RuleCache(string? folder, string? root = null)
    {
        _folder = folder is null ? null : Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        _root = root is null ? _folder : Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    /// <summary>The cache in <see cref="DefaultFolder"/>, checked up to the cache root.</summary>
    public static RuleCache Default() => new(DefaultFolder(), DefaultRoot());

    /// <summary>The folder, or null when caching is off (none asked for, or not trusted).</summary>
    public string? Folder => _trust == Trust.Off ? null : _folder;

    /// <summary>Why the cache is off for this run, as one line for stderr; null when it is not (or when
    /// it merely cannot be written, which is no cache, not a problem).</summary>
    public string? Warning { get; private set; }

    /// <summary><c>$XDG_CACHE_HOME/logalert/rules</c>, else <c>~/.cache/logalert/rules</c>; null without a home.</summary>
    public static string? DefaultFolder() => DefaultRoot() is { } root ? Path.Combine(root, "logalert", "rules") : null;

    private static string? DefaultRoot()
    {
        // The XDG base directory spec says a relative path in these variables is to be ignored.
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)) return xdg;
        var home = Environment.GetEnvironmentVariable("HOME");
        if (string.IsNullOrEmpty(home)) home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache");
    }

    /// <summary>The hex key of a rule file.</summary>
    public static string Key(RuleSource source)
    {
        var hash = new XxHash128();
        hash.Append(BuildIdentity.Value);
        void Add(string? text)
        {
            hash.Append(Encoding.UTF8.GetBytes(text ?? "\u0000missing"));
            hash.Append([0xFF]); // Not valid UTF-8: a field boundary no text can fake.
        }
        Add(source.FullPath);
        Add(source.Text);
        foreach (var (path, text) in source.Loads)
        {
            Add(path);
            Add(text);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static byte[] ComputeBuildIdentity()
    {
        var host = typeof(RuleGlobals).Assembly;
        var text = new StringBuilder("logalert rule cache v1\n")
            .Append(host.ManifestModule.ModuleVersionId).Append('\n')
            .Append(typeof(IQuery).Assembly.ManifestModule.ModuleVersionId).Append('\n')
            .Append(RuntimeInformation.FrameworkDescription).Append('\n');
        // No separate Roslyn version: logalert is compiled deterministically, so its MVID is a hash of
        // its build, which names the Roslyn assemblies it references; reading those references from
        // metadata cost 2.7 ms of every warm start and told nothing the MVID does not.
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private string PathOf(string key) => Path.Combine(_folder!, key + Extension);

    /// <summary>The folder, the folders above it up to the root, innermost first.</summary>
    private List<string> Chain()
    {
        var chain = new List<string> { _folder! };
        var prefix = _root!.EndsWith(Path.DirectorySeparatorChar) ? _root : _root + Path.DirectorySeparatorChar;
        for (var dir = _folder!; dir != _root && dir.StartsWith(prefix, StringComparison.Ordinal);)
        {
            dir = Path.GetDirectoryName(dir)!;
            chain.Add(dir);
        }
        return chain;
    }

    /// <summary>Whether entries may be read from (and written to) the folder; checked once per run.
    /// With <paramref name="create"/> the folder and its missing parents up to the root are made,
    /// each <c>0700</c> (as the XDG base directory spec asks of the cache root).</summary>
    private bool Usable(bool create)
    {
        if (_folder is null) return false;
        lock (_checking) // Files missing from the cache are compiled, and written, on several threads.
        {
            if (_trust == Trust.Unchecked || (_trust == Trust.Missing && create)) _trust = Check(create);
            return _trust == Trust.Trusted;
        }
    }

    private Trust Check(bool create)
    {
        var chain = Chain();
        try
        {
            // Outermost first, so that nothing is made inside a folder that is not trusted. Each folder
            // is judged as it resolves (FileTrust follows links): a symlinked cache folder by the
            // folder it points to, not by the link's own mode.
            for (var i = chain.Count - 1; i >= 0; i--)
            {
                var dir = chain[i];
                if (!Directory.Exists(dir))
                {
                    if (!create) return Trust.Missing;
                    CreateOwnerOnlyDirectory(dir);
                }
                if (FileTrust.Distrust(dir) is not { } why) continue;
                var hint = why.StartsWith("is writable", StringComparison.Ordinal) ? $" (chmod go-w {dir} to use it)" : "";
                Warning = $"logalert: warning: rule cache off: {dir} {why}, so another user could plant code in it; rules are compiled afresh{hint}";
                return Trust.Off;
            }
            return Trust.Trusted;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Trust.Off; // A cache that cannot be made or read is no cache, not an error.
        }
    }

    private static void CreateOwnerOnlyDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>The cached image for a key, or null: none, not trusted, or not written for this key.</summary>
    public byte[]? TryRead(string key)
    {
        if (!Usable(create: false)) return null;
        var path = PathOf(key);
        try
        {
            // A missing entry throws here; one that others could have written is compiled afresh, and
            // the rename that stores the new one replaces it.
            if (FileTrust.Distrust(path) is not null) return null;
            var image = Unwrap(key, File.ReadAllBytes(path));
            if (image is not null) Touch(path);
            return image;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Stores an image: written to a temporary file and renamed, so that a concurrent run
    /// never reads half an entry. A cache that cannot be written is no cache, not an error.</summary>
    public void Write(string key, byte[] image)
    {
        if (!Usable(create: true)) return;
        var path = PathOf(key);
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = CreateOwnerOnlyFile(temp))
            {
                stream.Write(Header(key, image));
                stream.Write(image);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
        }
    }

    private static FileStream CreateOwnerOnlyFile(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        // 0600 whatever the umask: a group-writable entry (umask 002) would be refused on the next run.
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return new FileStream(path, options);
    }

    /// <summary>Magic, the key the entry was written for, and the hash of the image that follows.</summary>
    private static byte[] Header(string key, ReadOnlySpan<byte> image)
    {
        var header = new byte[HeaderLength];
        Magic.CopyTo(header);
        Encoding.ASCII.GetBytes(key, header.AsSpan(Magic.Length, KeyLength));
        XxHash128.Hash(image, header.AsSpan(Magic.Length + KeyLength));
        return header;
    }

    /// <summary>The image of an entry written for <paramref name="key"/> and intact, or null.</summary>
    private static byte[]? Unwrap(string key, byte[] entry)
    {
        if (entry.Length <= HeaderLength || key.Length != KeyLength) return null;
        var image = entry.AsSpan(HeaderLength);
        return entry.AsSpan(0, HeaderLength).SequenceEqual(Header(key, image)) ? image.ToArray() : null;
    }

    /// <summary>Marks an entry as used, at most once a day: pruning goes by these times.</summary>
    private static void Touch(string path)
    {
        try
        {
            var now = DateTime.UtcNow;
            if (File.GetLastWriteTimeUtc(path) < now - PruneEvery) File.SetLastWriteTimeUtc(path, now);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An entry root wrote: still good to run, only pruned earlier.
        }
    }

    /// <summary>Deletes old entries when the last pruning is more than <see cref="PruneEvery"/> ago.</summary>
    public void PruneIfDue()
    {
        if (_trust != Trust.Trusted) return;
        var now = DateTime.UtcNow;
        var stamp = Path.Combine(_folder!, PruneStamp);
        try
        {
            // A missing stamp reads as the year 1601.
            if (File.GetLastWriteTimeUtc(stamp) > now - PruneEvery) return;
            // Stamped first, so that runs starting meanwhile do not prune as well.
            if (File.Exists(stamp)) File.SetLastWriteTimeUtc(stamp, now);
            else CreateOwnerOnlyFile(stamp).Dispose();
            Prune(now);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Pruning is housekeeping: it never fails a run.
        }
    }

    private void Prune(DateTime now)
    {
        var kept = new List<FileInfo>();
        foreach (var file in new DirectoryInfo(_folder!).EnumerateFiles())
        {
            var name = file.Name;
            if (!IsKey(name)) continue; // Not ours: left alone.
            var rest = name.AsSpan(KeyLength);
            // Entries of this format and ".dll" entries of the one before, which nothing reads any more.
            if (rest is Extension or ".dll")
            {
                if (file.LastWriteTimeUtc < now - Unused) TryDelete(file.FullName);
                else kept.Add(file);
            }
            // A temporary file is deleted only long after its writer must have finished or died.
            else if (rest.EndsWith(".tmp") && file.LastWriteTimeUtc < now - AbandonedAfter) TryDelete(file.FullName);
        }
        var count = kept.Count;
        var bytes = kept.Sum(f => f.Length);
        foreach (var file in kept.OrderBy(f => f.LastWriteTimeUtc))
        {
            if (count <= MaxEntries && bytes <= MaxBytes) break;
            TryDelete(file.FullName);
            count--;
            bytes -= file.Length;
        }
    }

    private static bool IsKey(string name) =>
        name.Length > KeyLength && !name.AsSpan(0, KeyLength).ContainsAnyExcept("0123456789abcdef");

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing more to do.
        }
    }

    /// <summary>
    /// The entry point of an emitted script: <c>Submission#0.&lt;Factory&gt;(object[] submissionArray)</c>,
    /// whose slot 0 holds the globals (as dotnet-script runs its cached scripts). Throws on a corrupt
    /// or foreign image.
    /// </summary>
    public static Func<RuleGlobals, Task<object>> EntryPoint(byte[] image)
    {
        // Each Assembly.Load(byte[]) gets its own load context, so the same entry can be loaded twice.
        var assembly = Assembly.Load(image);
        var type = assembly.GetType("Submission#0", throwOnError: true)!;
        var factory = type.GetMethod("<Factory>", BindingFlags.Public | BindingFlags.Static)
                      ?? throw new MissingMethodException("Submission#0", "<Factory>");
        if (factory.ReturnType != typeof(Task<object>)) throw new MissingMethodException("Submission#0", "<Factory>");
        return globals =>
        {
            try
            {
                return (Task<object>)factory.Invoke(null, [new object?[] { globals, null }])!;
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
        };
    }
}
