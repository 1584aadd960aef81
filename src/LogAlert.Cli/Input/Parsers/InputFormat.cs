using LogAlert.Cli.Input.Formats;

namespace LogAlert.Cli.Input;

/// <summary>
/// The format of the inputs, as the user named it (<c>--input-format</c>, <c>--log-format</c>): one
/// format for every input, or <c>auto</c>, which finds each input's format from its first lines.
/// </summary>
public sealed class InputFormat
{
    private InputFormat(string name, IAccessLineParser? line)
    {
        Name = name;
        Line = line;
    }

    /// <summary>The names <c>--input-format</c> takes.</summary>
    public static readonly string[] Names = ["auto", "csv", "common", "combined", "vhost_combined", "jsonl"];

    /// <summary>Each input's format found from its first lines (docs/semantics.md §1).</summary>
    public static InputFormat Auto { get; } = new("auto", null);

    /// <summary>The seed project's CSV, header first.</summary>
    public static InputFormat Csv { get; } = new("csv", null);

    /// <summary><c>auto</c>, <c>csv</c>, <c>common</c>, <c>combined</c>, <c>vhost_combined</c>, <c>jsonl</c>, or <c>log-format</c> for a server's own format string.</summary>
    public string Name { get; }

    /// <summary>Whether each input's format is found from its first lines.</summary>
    public bool IsAuto => ReferenceEquals(this, Auto);

    /// <summary>The line format of a server format; null for CSV and auto.</summary>
    internal IAccessLineParser? Line { get; }

    /// <summary>
    /// The format <c>--input-format</c> and <c>--log-format</c> name, or an error. A log format may be a
    /// preset's name (<c>common</c>, <c>combined</c>, <c>vhost_combined</c>) or a format string pasted from nginx's
    /// <c>log_format</c> or Apache's <c>LogFormat</c>, with or without the directive and quotes around
    /// it (<see cref="ConfigFormat"/>); with it, <c>--input-format</c> may only be <c>auto</c> (the default).
    /// </summary>
    public static InputFormat? TryCreate(string inputFormat, string? logFormat, out string? error)
    {
        error = null;
        if (logFormat is not null)
        {
            if (inputFormat != "auto")
            {
                error = $"--log-format and --input-format {inputFormat} cannot go together: the log format names the format";
                return null;
            }
            // As pasted from the server's config: the whole directive, or its quoted pieces.
            if (ConfigFormat.Unwrap(logFormat, out error, out var literally) is not { } unwrapped) return null;
            logFormat = unwrapped;
            switch (logFormat.Trim())
            {
                case "common": return new InputFormat("common", LineTemplate.Common);
                case "combined": return new InputFormat("combined", LineTemplate.Combined);
                case "vhost_combined": return new InputFormat("vhost_combined", LineTemplate.VhostCombined);
            }
            if (!LineTemplate.TryCompile(logFormat, out var template, out var why))
            {
                error = $"--log-format: {why}";
                return null;
            }
            return new InputFormat("log-format", literally ? template.Literally() : template);
        }
        return inputFormat switch
        {
            "auto" => Auto,
            "csv" => Csv,
            "common" => new InputFormat("common", LineTemplate.Common),
            "combined" => new InputFormat("combined", LineTemplate.Combined),
            "vhost_combined" => new InputFormat("vhost_combined", LineTemplate.VhostCombined),
            "jsonl" or "json" => new InputFormat("jsonl", JsonLineParser.Instance),
            _ => Fail($"--input-format: \"{inputFormat}\" is not {string.Join(", ", Names)}", out error),
        };
    }

    private static InputFormat? Fail(string message, out string? error)
    {
        error = message;
        return null;
    }
}
