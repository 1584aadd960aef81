using Cocona;
using Cocona.Command;
using Cocona.Command.Binder;
using Cocona.Command.Binder.Validation;
using Cocona.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace LogAlert.Cli.Tests;

/// <summary>
/// The main command's command lines bound without the generic host (<see cref="RunArguments"/>)
/// must bind as Cocona binds them: each line here is bound both ways and the arguments compared.
/// </summary>
public sealed class RunArgumentsTests
{
    public static TheoryData<string[]> PlainLines => new()
    {
        new string[] { },
        new[] { "-" },
        new[] { "access.csv" },
        new[] { "a.csv", "b.log", "-" },
        new[] { "--rules", "rules/high_traffic.csx", "access.csv" },
        new[] { "--rules", "a.csx", "--rules", "b.csx", "-" },
        new[] { "rules/a.csx", "rules/b.csx", "access.csv" },
        new[] { "access.csv", "--format", "jsonl" },
        new[] { "--format=jsonl", "--summary-interval=off", "access.csv" },
        new[] { "-f", "access.log" },
        new[] { "--follow", "access.log", "--idle-timeout", "2s" },
        new[] { "-v", "--fail-on-alert", "--color", "never", "x.csv" },
        new[] { "--threshold", "5", "--window", "1m", "--lateness", "0s", "--max-skew", "2h" },
        new[] { "--log-format", "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent", "access.log" },
        new[] { "--log-format", "%h %l %u %t \"%r\" %>s %b", "--input-format", "auto", "access.log" },
        new[] { "--webhook-header", "Authorization: Bearer x", "--webhook", "http://127.0.0.1:1/hook", "--webhook", "http://127.0.0.1:2/" },
        new[] { "--webhook-header=X-A: b=c", "-" },
        new[] { "--disable", "summary", "--only", "high_traffic", "--only", "x" },
        new[] { "--alertmanager", "http://127.0.0.1:9093", "--alertmanager-replay", "send", "--delivery-timeout", "5s" },
        new[] { "--input-format", "combined", "--max-line-length", "1m", "--rule-timeout", "0", "access.log" },
        new[] { "--verbose", "--follow", "-" },
    };

    [Theory]
    [MemberData(nameof(PlainLines))]
    public async Task A_plain_command_line_binds_as_Cocona_binds_it(string[] args)
    {
        var bound = RunArguments.TryBind(args);
        Assert.NotNull(bound); // else the line was left to Cocona, and this test would compare nothing

        AssertSame(await CoconaBinds(args), bound);
    }

    [Fact]
    public async Task Random_lines_are_left_to_Cocona_or_bound_as_it_binds_them()
    {
        // Words a user types, and words that look like options where values go.
        string[] names = ["rules", "format", "follow", "threshold", "window", "lateness", "only", "disable", "webhook", "log-format", "verbose", "alert"];
        string[] values = ["jsonl", "5s", "a.csx", "x=y", "a b", "-5", "", "run", "log.csv", "ü.csv", "-", "--follow", "text"];
        var random = new Random(17);
        string Word() => random.Next(6) switch
        {
            0 => "--" + names[random.Next(names.Length)],
            1 => "--" + names[random.Next(names.Length)] + "=" + values[random.Next(values.Length)],
            2 => new[] { "-f", "-v", "-x", "--", "-fv" }[random.Next(5)],
            _ => values[random.Next(values.Length)],
        };
        var compared = 0;
        for (var n = 0; n < 300; n++)
        {
            var args = Enumerable.Range(0, random.Next(8)).Select(_ => Word()).ToArray();
            if (RunArguments.TryBind(args) is not { } bound) continue;
            AssertSame(await CoconaBinds(args), bound);
            compared++;
        }
        Assert.True(compared >= 30, $"only {compared} of 300 lines were bound: the test compares too little");
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("--version")]
    [InlineData("--nope", "x.csv")]
    [InlineData("--Format", "jsonl")]
    [InlineData("-fv", "x.csv")]
    [InlineData("-x")]
    [InlineData("--format")]
    [InlineData("--format", "--follow")]
    [InlineData("--rules", "-")]
    [InlineData("--format", "jsonl", "--format", "text")]
    [InlineData("-f", "--follow", "x")]
    [InlineData("--follow=true", "x")]
    [InlineData("--", "-x")]
    [InlineData("--threshold", "-5")]
    [InlineData("--rules", "")]
    [InlineData("--format=", "x")]
    public void What_Cocona_is_to_read_or_to_refuse_is_left_to_it(params string[] args)
    {
        Assert.Null(RunArguments.TryBind(args));
    }

    private static void AssertSame(object?[] cocona, object?[] bound)
    {
        Assert.Equal(cocona.Length, bound.Length);
        for (var i = 0; i < bound.Length; i++)
        {
            if (cocona[i] is string[] expected) Assert.Equal(expected, Assert.IsType<string[]>(bound[i]));
            else Assert.Equal(cocona[i], bound[i]);
        }
    }

    /// <summary>Cocona's binder, and the arguments it bound kept instead of running the command.</summary>
    private sealed class CapturingBinder(ICoconaParameterBinder inner) : ICoconaParameterBinder
    {
        public object?[]? Values { get; private set; }

        public object?[] Bind(CommandDescriptor commandDescriptor, IReadOnlyList<CommandOption> commandOptionValues, IReadOnlyList<CommandArgument> commandArgumentValues)
        {
            Values = inner.Bind(commandDescriptor, commandOptionValues, commandArgumentValues);
            throw new CommandExitedException(0); // the way out Cocona takes quietly

        }
    }

    private static async Task<object?[]> CoconaBinds(string[] args)
    {
        // As Program builds it for the main command.
        var builder = CoconaApp.CreateBuilder(args, options =>
        {
            options.TreatPublicMethodsAsCommands = false;
            options.EnableShellCompletionSupport = false;
        });
        ((IConfigurationBuilder)builder.Configuration).Sources.Clear();
        builder.Logging.ClearProviders();
        CapturingBinder? binder = null;
        builder.Services.AddSingleton<ICoconaParameterBinder>(sp => binder = new CapturingBinder(
            new CoconaParameterBinder(sp, sp.GetRequiredService<ICoconaValueConverter>(), sp.GetRequiredService<ICoconaParameterValidatorProvider>())));
        var app = builder.Build();
        app.AddCommands<RunCommand>();
        await app.RunAsync();
        return binder?.Values ?? throw new InvalidOperationException($"Cocona bound nothing for: {string.Join(' ', args)}");
    }
}
