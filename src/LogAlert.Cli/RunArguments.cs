using System.Reflection;
using Cocona;

namespace LogAlert.Cli;

/// <summary>
/// The main command's plain command lines bound without Cocona's generic host, which took about 85
/// of the 220 ms a five-line run takes (docs/performance.md): a log run is the command users type
/// most and the one every bench row times. Only what Cocona would bind the same way is taken —
/// <c>--name value</c>, <c>--name=value</c>, flags, the short flags one at a time, files — read from
/// <see cref="RunCommand.Run"/>'s own attributes, so that both read one list of options. Anything
/// else (help, <c>--version</c>, an unknown or repeated option, a missing value, a value that looks
/// like an option, <c>--</c>) is left to Cocona, which says what is wrong with it.
/// </summary>
internal static class RunArguments
{
    private sealed record Slot(int Index, bool Flag, bool Many);

    private static readonly MethodInfo Method = typeof(RunCommand).GetMethod(nameof(RunCommand.Run))!;

    /// <summary>
    /// The arguments <see cref="RunCommand.Run"/> is to be called with for <paramref name="args"/>
    /// (the words after the program's name, or after <c>run</c>), in its parameters' order; null
    /// when Cocona is to read them.
    /// </summary>
    public static object?[]? TryBind(string[] args)
    {
        var parameters = Method.GetParameters();
        var names = new Dictionary<string, Slot>(StringComparer.Ordinal);
        var shorts = new Dictionary<char, Slot>();
        var filesIndex = -1;
        foreach (var p in parameters)
        {
            if (p.GetCustomAttribute<ArgumentAttribute>() is not null)
            {
                filesIndex = p.Position;
                continue;
            }
            if (p.GetCustomAttribute<OptionAttribute>() is not { Name: { } name } option) return null;
            var slot = new Slot(p.Position, p.ParameterType == typeof(bool), p.ParameterType == typeof(string[]));
            // Only the types the main command has, each bound as Cocona binds it.
            if (!slot.Flag && !slot.Many && p.ParameterType != typeof(string)) return null;
            names[name] = slot;
            foreach (var c in option.ShortNames) shorts[c] = slot;
        }
        if (filesIndex < 0) return null;

        var values = parameters.Select(p => p.HasDefaultValue ? p.DefaultValue : null).ToArray();
        var lists = new Dictionary<int, List<string>>();
        var given = new HashSet<int>();
        var files = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var word = args[i];
            Slot? slot;
            string? value = null;
            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = word.IndexOf('=');
                var name = eq < 0 ? word[2..] : word[2..eq];
                if (!names.TryGetValue(name, out slot)) return null;
                if (eq >= 0)
                {
                    if (slot.Flag) return null; // --follow=false: Cocona's to read
                    value = word[(eq + 1)..];
                }
            }
            else if (word.Length == 2 && word[0] == '-' && word[1] != '-')
            {
                if (!shorts.TryGetValue(word[1], out slot) || !slot.Flag) return null;
            }
            else if (word.StartsWith('-') && word != "-")
            {
                return null; // -fv, a negative number: Cocona's to read
            }
            else
            {
                files.Add(word);
                continue;
            }

            if (slot.Flag)
            {
                if (!given.Add(slot.Index)) return null;
                values[slot.Index] = true;
                continue;
            }
            if (value is null)
            {
                if (i + 1 >= args.Length || args[i + 1].StartsWith('-')) return null; // "needs a value", or an option as a value
                value = args[++i];
            }
            if (value.Length == 0) return null; // an empty value: Cocona's word on it
            if (slot.Many)
            {
                if (!lists.TryGetValue(slot.Index, out var list)) lists[slot.Index] = list = [];
                list.Add(value);
            }
            else
            {
                if (!given.Add(slot.Index)) return null; // given twice: Cocona takes the last
                values[slot.Index] = value;
            }
        }
        foreach (var (index, list) in lists) values[index] = list.ToArray();
        if (files.Count > 0) values[filesIndex] = files.ToArray();
        return values;
    }

    /// <summary>Runs the main command with <paramref name="values"/> from <see cref="TryBind"/>.</summary>
    public static Task<int> Invoke(object?[] values) => (Task<int>)Method.Invoke(new RunCommand(), values)!;
}
