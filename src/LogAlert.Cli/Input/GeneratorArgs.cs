using System.Globalization;

namespace LogAlert.Cli.Input;

/// <summary>
/// The traffic options of <c>logalert generate</c> (<c>--seed</c>, <c>--start</c>, <c>--duration</c>,
/// <c>--rate</c>, <c>--burst</c>, <c>--hosts</c>, <c>--host-popularity</c>, <c>--paths</c>) made into
/// <see cref="GeneratorOptions"/>: for the command, and for a test case that describes its input as
/// <c>--rate 5 --burst 5m:3m:20 --duration 15m</c>.
/// </summary>
public static class GeneratorArgs
{
    /// <summary>The options from their values as the command takes them; a bad one is a <see cref="UsageException"/>.</summary>
    public static GeneratorOptions Build(int seed = 1, long start = 1549573860, string duration = "10m", double rate = 6,
        IEnumerable<string>? bursts = null, int hosts = 40, string hostPopularity = "zipf", int paths = 60)
    {
        var parsed = new List<Burst>();
        foreach (var b in bursts ?? [])
        {
            var parts = b.Split(':');
            if (parts.Length != 3 || !double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var r))
                throw new UsageException($"--burst: \"{b}\" is not AT:DURATION:RATE (e.g. 3m:2m:25)");
            parsed.Add(new Burst(Durations.ParseSeconds("--burst", parts[0], int.MaxValue),
                Durations.ParseSeconds("--burst", parts[1], int.MaxValue), r));
        }
        var options = new GeneratorOptions(seed, start, Durations.ParseSeconds("--duration", duration, int.MaxValue), rate, parsed)
        {
            Hosts = hosts,
            Paths = paths,
            UniformHosts = hostPopularity switch
            {
                "zipf" => false,
                "uniform" => true,
                _ => throw new UsageException($"--host-popularity: \"{hostPopularity}\" is not zipf or uniform"),
            },
        };
        return SampleGenerator.Problem(options) is { } problem ? throw new UsageException(problem) : options;
    }

    /// <summary>
    /// The options from a command line's words, e.g. <c>--rate 5 --burst 5m:3m:20 --duration 15m</c>
    /// (<c>--name=value</c> works too); what is not given takes the command's default.
    /// </summary>
    public static GeneratorOptions Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(w => w.StartsWith("--", StringComparison.Ordinal) && w.Contains('=') ? w.Split('=', 2) : [w]).ToArray();
        int seed = 1, hosts = 40, paths = 60;
        long start = 1549573860;
        var duration = "10m";
        var rate = 6.0;
        var popularity = "zipf";
        var bursts = new List<string>();
        for (var i = 0; i < words.Length; i++)
        {
            var name = words[i];
            // generate's one short option, -o (--output), is an option, but not one of traffic.
            if (name == "-o") throw new UsageException($"-o is not a traffic option of logalert generate ({string.Join(", ", Options)})");
            if (!name.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"\"{name}\" is not an option of logalert generate");
            // Checked before its value: "--rate 5 --help" said "--help needs a value".
            if (!Options.Contains(name))
                throw new UsageException($"{name} is not a traffic option of logalert generate ({string.Join(", ", Options)})");
            if (i + 1 >= words.Length) throw new UsageException($"{name} needs a value");
            var value = words[++i];
            switch (name)
            {
                case "--seed": seed = Int(name, value); break;
                case "--start": start = long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : throw Bad(name, value, "a Unix time"); break;
                case "--duration": duration = value; break;
                case "--rate": rate = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) ? r : throw Bad(name, value, "a number"); break;
                case "--burst": bursts.Add(value); break;
                case "--hosts": hosts = Int(name, value); break;
                case "--host-popularity": popularity = value; break;
                case "--paths": paths = Int(name, value); break;
                default:
                    throw new System.Diagnostics.UnreachableException(name); // refused above
            }
        }
        return Build(seed, start, duration, rate, bursts, hosts, popularity, paths);
    }

    /// <summary>The options a traffic description takes, each followed by its value.</summary>
    private static readonly string[] Options = ["--seed", "--start", "--duration", "--rate", "--burst", "--hosts", "--host-popularity", "--paths"];

    private static int Int(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw Bad(name, value, "a whole number");

    private static UsageException Bad(string name, string value, string what) => new($"{name}: \"{value}\" is not {what}");
}
