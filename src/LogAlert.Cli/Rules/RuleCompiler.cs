using System.Collections.Immutable;
using System.Globalization;
using LogAlert.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace LogAlert.Cli.Rules;

/// <summary>A compiled rule file (the emitted assembly) or the error lines that stopped it.</summary>
internal sealed record CompileOutcome(byte[]? Image, IReadOnlyList<string> Errors);

/// <summary>
/// Everything that touches Roslyn lives here, so that a warm start (every rule file found in the
/// cache) never loads a Roslyn assembly: the JIT only loads them when a method of this class runs.
/// </summary>
internal static class RuleCompiler
{
    // Cake and dotnet-script suppress these: assembly-unification noise about reference versions.
    private static readonly ImmutableHashSet<string> Suppressed = ["CS1701", "CS1702", "CS1705"];

    internal const string NotAllowedReference =
        "#r is not allowed in rule files; rules may only use the logalert rule API and the .NET base library";

    private static readonly CSharpParseOptions ScriptParse = CSharpParseOptions.Default.WithKind(SourceCodeKind.Script);

    // One ScriptOptions per process (STYLE.md): references and imports are set once; each file only
    // adds its path with WithFilePath, so diagnostics and #load resolve against the file.
    private static readonly ScriptOptions Options = ScriptOptions.Default
        .AddReferences(
            typeof(object).Assembly,
            typeof(Enumerable).Assembly,
            typeof(List<>).Assembly,
            typeof(System.Text.RegularExpressions.Regex).Assembly,
            typeof(IQuery).Assembly,
            typeof(Microsoft.FSharp.Core.FSharpFunc<,>).Assembly,
            typeof(RuleGlobals).Assembly)
        .WithImports("System", "System.Linq", "System.Collections.Generic", "LogAlert.Core")
        // Unoptimised, so that the JIT keeps every statement's place: optimised, an exception the
        // runtime raises (an index out of range, a null reference) was placed at the last line the
        // JIT kept (the lambda's first, or none in top-level code). A rule's own code is a few calls
        // into LogAlert.Core, which stays optimised: the bench's rules took the same time either way
        // (docs/performance.md, 2026-12-07, f518bd5 to efc99eb).
        .WithOptimizationLevel(OptimizationLevel.Debug)
        .WithEmitDebugInformation(false)
        // The source's encoding, which the embedded debug information needs (CS8055 without it).
        .WithFileEncoding(new System.Text.UTF8Encoding(false));

    private static readonly Microsoft.CodeAnalysis.Emit.EmitOptions EmbeddedPdb =
        new(debugInformationFormat: Microsoft.CodeAnalysis.Emit.DebugInformationFormat.Embedded);

    /// <summary>Checks the directives, then compiles and emits one rule file.</summary>
    public static CompileOutcome Compile(RuleSource source)
    {
        // A log named as a rule file (`--rules access.log`, a glob that took one) made 20 compile
        // errors and a count: a file not named .csx whose first lines are a log format is said so.
        if (!source.FullPath.EndsWith(".csx", StringComparison.OrdinalIgnoreCase)
            && Input.Formats.FormatSniffer.Sniff(System.Text.Encoding.UTF8.GetBytes(source.Text[..Math.Min(source.Text.Length, 64 * 1024)])).Format is { } format)
            return new CompileOutcome(null, [$"{source.DisplayPath}: error: this is an access log ({format}), not a rule file (a C# script, .csx): "
                                             + "name logs after the options, and rule files after --rules"]);
        var errors = CheckDirectives(source);
        if (errors.Count > 0) return new CompileOutcome(null, errors);

        using var image = new MemoryStream();
        // The debug information inside the image (a few KB): an exception from the rule file then
        // has its line, which the error names ("rules/x.csx:3: error: the rule file threw ...").
        // What runs is the files with their methods guarded against endless recursion (StackGuard,
        // which keeps every line where it was); what a compile error points into is the file as
        // written, compiled again without the guards.
        var options = Options.WithFilePath(source.FullPath);
        var guarded = CSharpScript.Create(StackGuard.Guard(source.Text, ScriptParse), options
            .WithSourceResolver(new StackGuard.LoadResolver(options.SourceResolver, ScriptParse)), typeof(RuleGlobals));
        var compilation = guarded.GetCompilation();
        var result = compilation.Emit(image, options: EmbeddedPdb);
        if (!result.Success)
        {
            image.SetLength(0);
            compilation = CSharpScript.Create(source.Text, options, typeof(RuleGlobals)).GetCompilation();
            result = compilation.Emit(image, options: EmbeddedPdb);
        }
        var found = result.Diagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error && !Suppressed.Contains(d.Id))
            .Select(d => (Diagnostic: d, Span: d.Location.GetMappedLineSpan()))
            .OrderBy(d => d.Span.IsValid && d.Span.Path != source.FullPath ? 1 : 0)
            .ThenBy(d => d.Span.Path, StringComparer.Ordinal)
            .ThenBy(d => d.Span.StartLinePosition.Line)
            .ThenBy(d => d.Span.StartLinePosition.Character)
            .Select(d => (File: d.Span.IsValid && !string.IsNullOrEmpty(d.Span.Path) ? d.Span.Path : source.FullPath,
                          Text: Format(source, d.Diagnostic, d.Span)))
            .DistinctBy(e => e.Text);
        // A log named as a rule file (`logalert check access.log`, or #loaded) made an error of
        // nearly every token: 28,923 lines for 1,440 lines of nginx log. Each file's first errors
        // are said, and how many more it has.
        var lines = new List<string>();
        foreach (var file in found.GroupBy(e => e.File, StringComparer.Ordinal))
        {
            var texts = file.Select(e => e.Text).ToList();
            lines.AddRange(texts.Take(MaxErrorsShown));
            if (texts.Count <= MaxErrorsShown) continue;
            var more = texts.Count - MaxErrorsShown;
            var shown = source.Display(file.Key);
            lines.Add($"{shown}: {more} more error{(more == 1 ? "" : "s")} not shown"
                      + (file.Key.EndsWith(".csx", StringComparison.OrdinalIgnoreCase) ? "" : $"; a rule file is a C# script, and {shown} is not named .csx"));
        }
        if (!result.Success && lines.Count == 0)
        {
            // Roslyn emits nothing, and says nothing, for a script without code (empty, blanks or
            // comments only): what the user needs to hear is that it defines no rule.
            var root = (CompilationUnitSyntax)compilation.SyntaxTrees.First().GetRoot();
            lines.Add(root.Members.Count == 0 && !root.GetLoadDirectives().Any()
                ? $"{source.DisplayPath}: error: {RuleHost.DefinesNoRule}"
                : $"{source.DisplayPath}: error: the rule file did not compile");
        }
        return result.Success ? new CompileOutcome(image.ToArray(), []) : new CompileOutcome(null, lines);
    }

    /// <summary>Compile errors said per rule file; the rest are counted (as the bad lines of a log are).</summary>
    internal const int MaxErrorsShown = 20;

    private static string Format(RuleSource source, Diagnostic d, FileLinePositionSpan span)
    {
        var message = d.GetMessage(CultureInfo.InvariantCulture);
        if (!span.IsValid || string.IsNullOrEmpty(span.Path))
            return $"{source.DisplayPath}: error {d.Id}: {message}";
        var start = span.StartLinePosition;
        return $"{source.Display(span.Path)}:{start.Line + 1}:{start.Character + 1}: error {d.Id}: {message}";
    }

    /// <summary>
    /// <c>#r</c> is refused anywhere; <c>#load</c> may only name a file in the folder of the file that
    /// holds the directive, or below it, and the same rules apply to that file.
    /// </summary>
    private static List<string> CheckDirectives(RuleSource source)
    {
        var errors = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Visit(string path, string text)
        {
            if (!seen.Add(path)) return;
            var root = CSharpSyntaxTree.ParseText(text, ScriptParse, path).GetCompilationUnitRoot();
            foreach (var r in root.GetReferenceDirectives())
                errors.Add($"{At(r)}: error: {NotAllowedReference}");
            foreach (var load in root.GetLoadDirectives())
            {
                var target = load.File.ValueText;
                if (string.IsNullOrEmpty(target)) continue; // Roslyn reports the malformed directive itself.
                var resolved = RuleSource.ResolveLoad(path, target, out var refusal);
                if (resolved is null)
                {
                    errors.Add($"{At(load)}: error: #load \"{target}\": {refusal}");
                    continue;
                }
                if (File.Exists(resolved)) Visit(resolved, File.ReadAllText(resolved));
            }
        }
        Visit(source.FullPath, source.Text);
        return errors;

        string At(DirectiveTriviaSyntax directive)
        {
            var span = directive.GetLocation().GetMappedLineSpan();
            var start = span.StartLinePosition;
            return $"{source.Display(span.Path)}:{start.Line + 1}:{start.Character + 1}";
        }
    }
}
