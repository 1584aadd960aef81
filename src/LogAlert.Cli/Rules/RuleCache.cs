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
/// <para>Each entry starts with a header holding its key and a hash of its image, checked on every
/// load: an entry copied or renamed under another key, cut short or altered is compiled afresh and
/// overwritten, never run. The hash is XXH128 (System.IO.Hashing), not SHA-256: it guards against
/// mistakes and damage, not against an attacker (whoever can write an entry can also write a
/// matching hash), and on Linux SHA-256 starts OpenSSL, which cost 8.5-9.5 ms of every warm
/// start.</para>
/// </remarks>
internal sealed class RuleCache(string? folder)
{
    private static readonly Lazy<byte[]> BuildIdentity = new(ComputeBuildIdentity);

    private const string Extension = ".rule";
    private static ReadOnlySpan<byte> Magic => "LARULE1\n"u8;
    private const int KeyLength = 32; // hex of 128 bits
    private const int HashLength = 16;
    private static readonly int HeaderLength = Magic.Length + KeyLength + HashLength;

    /// <summary>The folder, or null when caching is off.</summary>
    public string? Folder { get; } = folder;

    /// <summary><c>$XDG_CACHE_HOME/logalert/rules</c>, else <c>~/.cache/logalert/rules</c>; null without a home.</summary>
    public static string? DefaultFolder()
    {
        // The XDG base directory spec says a relative path in these variables is to be ignored.
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)) return Path.Combine(xdg, "logalert", "rules");
        var home = Environment.GetEnvironmentVariable("HOME");
        if (string.IsNullOrEmpty(home)) home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache", "logalert", "rules");
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

    private string? PathOf(string key) => Folder is null ? null : Path.Combine(Folder, key + Extension);

    /// <summary>The cached image for a key, or null: none, or not written for this key.</summary>
    public byte[]? TryRead(string key)
    {
        var path = PathOf(key);
        if (path is null) return null;
        try
        {
            return Unwrap(key, File.ReadAllBytes(path));
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
        var path = PathOf(key);
        if (path is null) return;
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Folder!);
            using (var stream = File.Create(temp))
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
