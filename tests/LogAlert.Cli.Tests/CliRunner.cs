using System.Diagnostics;
using System.Text;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>Runs the real logalert program (the build output next to the tests) as a user would.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LogAlertFunctional.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    /// <summary>The seed project's real log, read in place; null when shared/ is not beside the checkout.</summary>
    public static string? SharedLog(string name = "log.csv")
    {
        var path = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data", name));
        return File.Exists(path) ? path : null;
    }

    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
            WorkingDirectory = RepoRoot,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "logalert.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>
    /// The command line that runs logalert with <paramref name="args"/>, each word single-quoted, for a
    /// shell (a redirection <c>&gt; /dev/full</c>, <c>&lt; file</c>) or <c>script</c> (a terminal).
    /// </summary>
    public static string ShellCommand(IEnumerable<string> args)
    {
        var psi = StartInfo(args);
        return string.Join(' ', new[] { psi.FileName }.Concat(psi.ArgumentList).Select(a => $"'{a.Replace("'", "'\\''")}'"));
    }

    public static Result Run(IEnumerable<string> args, string? stdin = null, IDictionary<string, string>? env = null,
        int timeoutMs = 60_000)
    {
        using var p = Process.Start(StartInfo(args, env))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(true);
            throw new TimeoutException($"logalert {string.Join(' ', args)} did not finish");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result Run(params string[] args) => Run((IEnumerable<string>)args);
}

/// <summary>
/// A test of the seed project's real log (<c>../shared/data/log.csv</c>, read in place, never copied in):
/// skipped, with the reason in the test output, where that folder is not beside the checkout (a user's
/// clone, CI). xunit 2 decides skips when it finds the tests, so the check is here, not in the test.
/// </summary>
public sealed class SharedLogFactAttribute : FactAttribute
{
    public SharedLogFactAttribute()
    {
        if (CliRunner.SharedLog() is null)
            Skip = "../shared/data/log.csv is not beside this checkout (the seed's log; tests on generated logs cover the same paths)";
    }
}

