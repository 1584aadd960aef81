using System.Text;
using System.Text.RegularExpressions;
using Cocona.Application;

namespace LogAlert.Cli;

/// <summary>
/// The console Cocona writes to. Its own parse errors (an unknown option, an option without its
/// value, a value that is not a number) came out as <c>Error: Option 'threshold' requires Double
/// value. 'abc' cannot be converted to Double value.</c>, unlike every other usage error of
/// logalert (<c>logalert: --lateness: ...</c>). Here they are said as logalert says the others;
/// anything else Cocona writes (help, version) passes as it is.
/// </summary>
public sealed class CommandLineConsole : ICoconaConsoleProvider
{
    /// <summary>
    /// Standard output, for help and version. A write that fails (<c>--version &gt; /dev/full</c>) is
    /// said in one line and ends the command with exit 1: Cocona would print the exception's trace.
    /// </summary>
    public TextWriter Output { get; } = new OutputWriter();

    public TextWriter Error { get; } = new ErrorWriter();

    /// <summary>Whether help or version could not be written to stdout (exit 1).</summary>
    public static bool OutputFailed { get; private set; }

    /// <summary>Whether stdout's reader went away before help or version was written (exit 141, quietly).</summary>
    public static bool OutputClosed { get; private set; }

    /// <summary>Whether Cocona wrote an error (it exits 129 after an error and after help alike).</summary>
    public static bool ErrorWritten { get; private set; }

    /// <summary>
    /// The command being run, <c>check</c>, <c>generate</c> or <c>test</c> (set by Program), or null for the
    /// main one: a usage error points at that command's help.
    /// </summary>
    public static string? Subcommand { get; set; }

    private static string Help => Subcommand is null ? "see 'logalert --help'" : $"see 'logalert {Subcommand} --help'";

    /// <summary>Cocona's message without its <c>Error: </c>, as logalert words it (without the <c>logalert: </c>).</summary>
    public static string Reword(string message)
    {
        if (NotConverted.Match(message) is { Success: true } bad)
        {
            // Cocona names a nullable option's type Nullable`1: the option's own parameter says which.
            var type = bad.Groups["type"].Value is "Nullable`1" && OptionType(bad.Groups["name"].Value) is { } t ? t.Name : bad.Groups["type"].Value;
            var value = bad.Groups["value"].Value;
            // An option that takes fewer numbers than its type holds says its own range (--cases: 1 and
            // up, not from -2147483648), for a number too large for the type and for a word alike.
            var range = OptionParameter(bad.Groups["name"].Value)?.GetCustomAttributes(typeof(WholeRangeAttribute), false) is [WholeRangeAttribute r]
                ? $" from {r.Min} to {r.Max}"
                : Range(type, value);
            return $"{OptionName(bad.Groups["name"].Value)}: \"{value}\" is not {Kind(type)}{range}";
        }
        if (Unknown.Match(message) is { Success: true } unknown)
            return $"unknown option {OptionName(unknown.Groups["name"].Value)} ({Help})";
        if (NoValue.Match(message) is { Success: true } bare)
            return $"{OptionName(bare.Groups["name"].Value)}: needs a value ({Help})";
        // `logalert check` without a rule file: Cocona's own wording, unlike every other usage error.
        if (MissingArgument.Match(message) is { Success: true } missing)
            return $"{Subcommand ?? "logalert"}: needs {(missing.Groups["name"].Value is "rules" ? "rule files (.csx)" : missing.Groups["name"].Value)} ({Help})";
        return message;
    }

    // Cocona names an option without its dashes ("threshold", "f") or with them ("--threshold").
    private static string OptionName(string name) =>
        name.StartsWith('-') ? name : name.Length == 1 ? "-" + name : "--" + name;

    /// <summary>The type under a nullable option's <c>Nullable&lt;T&gt;</c>, from the running command's parameters.</summary>
    private static Type? OptionType(string name) =>
        OptionParameter(name) is { } p ? Nullable.GetUnderlyingType(p.ParameterType) : null;

    /// <summary>The running command's parameter for option <paramref name="name"/> (with or without its dashes), or null.</summary>
    private static System.Reflection.ParameterInfo? OptionParameter(string name)
    {
        var command = Subcommand switch
        {
            "check" => typeof(CheckCommand),
            "test" => typeof(TestCommand),
            "generate" => typeof(GenerateCommand),
            _ => typeof(RunCommand),
        };
        var bare = name.TrimStart('-');
        return command.GetMethods()
            .SelectMany(m => m.GetParameters())
            .FirstOrDefault(p => p.GetCustomAttributes(typeof(Cocona.OptionAttribute), false) is [Cocona.OptionAttribute o]
                                 && (o.Name == bare || o.ShortNames.Contains(bare.Length == 1 ? bare[0] : '\0')));
    }

    private static string Kind(string type) => type switch
    {
        // Cocona names a double? as Nullable`1: logalert's nullable options that convert are numbers.
        "Double" or "Single" or "Decimal" or "Nullable`1" => "a number",
        "Int32" or "Int64" or "Int16" or "UInt32" or "UInt64" or "Byte" => "a whole number",
        "Boolean" => "true or false",
        _ => "a " + type,
    };

    // A whole number too large for its type is "not a whole number" too: the range says why. Only
    // then: for a word ('x') the type's range named numbers the option itself refuses (--hosts -5).
    private static string Range(string type, string value) => !Digits.IsMatch(value) ? "" : type switch
    {
        "Int32" => $" from {int.MinValue} to {int.MaxValue}",
        "Int64" => $" from {long.MinValue} to {long.MaxValue}",
        "UInt64" => $" from 0 to {ulong.MaxValue}",
        _ => "",
    };

    private static readonly Regex NotConverted = new(
        @"^Option '(?<name>[^']+)' requires (?<type>[\w`]+) value\. '(?<value>.*)' cannot be converted to [\w`]+ value\.$",
        RegexOptions.CultureInvariant | RegexOptions.Singleline);

    private static readonly Regex MissingArgument = new(@"^Argument '(?<name>[^']+)' is required\..*$", RegexOptions.CultureInvariant);

    private static readonly Regex Digits = new(@"^\s*[+-]?[0-9]+\s*$", RegexOptions.CultureInvariant);

    private static readonly Regex Unknown = new(@"^Unknown option '(?<name>[^']+)'$", RegexOptions.CultureInvariant);

    private static readonly Regex NoValue = new(
        @"^Option '(?<name>[^']+)' requires a value\..*$", RegexOptions.CultureInvariant);

    private sealed class OutputWriter : TextWriter
    {
        public override Encoding Encoding => Console.Out.Encoding;

        private static void Guard(Action write)
        {
            try { write(); }
            catch (IOException e) when (LogAlert.Cli.Output.StandardOutput.IsBrokenPipe(e))
            {
                OutputClosed = true;
                throw new Cocona.CommandExitedException(LogAlert.Cli.Output.StandardOutput.ClosedExitCode);
            }
            catch (IOException e)
            {
                OutputFailed = true;
                Console.Error.WriteLine($"logalert: {e.Message}");
                throw new Cocona.CommandExitedException(ExitCodes.IoFailure);
            }
        }

        public override void Write(char value) => Guard(() => Console.Out.Write(value));
        public override void Write(string? value) => Guard(() => Console.Out.Write(value));
        public override void WriteLine(string? value) => Guard(() => Console.Out.WriteLine(value));
        public override void Flush() => Guard(Console.Out.Flush);
    }

    /// <summary>Standard error, with a line that starts <c>Error: </c> reworded (Cocona writes each in one call).</summary>
    private sealed class ErrorWriter : TextWriter
    {
        private const string Prefix = "Error: ";

        public override Encoding Encoding => Console.Error.Encoding;

        public override void Write(char value)
        {
            ErrorWritten = true;
            Console.Error.Write(value);
        }

        public override void Write(string? value)
        {
            ErrorWritten = true;
            Console.Error.Write(value);
        }

        public override void WriteLine(string? value)
        {
            ErrorWritten = true;
            if (value is not null && value.StartsWith(Prefix, StringComparison.Ordinal))
                value = "logalert: " + Reword(value[Prefix.Length..].TrimEnd());
            Console.Error.WriteLine(value);
        }

        public override void Flush() => Console.Error.Flush();
    }
}

/// <summary>
/// The whole numbers an option takes, where that is fewer than its type holds: what a usage error
/// says of a value that is not a number of the type (the option's own check says it of one that is).
/// </summary>
[AttributeUsage(AttributeTargets.Parameter)]
internal sealed class WholeRangeAttribute(long min, long max) : Attribute
{
    public long Min { get; } = min;
    public long Max { get; } = max;
}
