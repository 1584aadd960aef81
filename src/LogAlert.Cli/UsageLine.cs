using Cocona.Command;
using Cocona.Help;
using Cocona.Help.DocumentModel;

namespace LogAlert.Cli;

/// <summary>
/// Help's usage line as a user types it: <c>Usage: logalert generate [--seed …]</c>. Each command is
/// a Cocona app of its own (Program picks it by the first word), so Cocona wrote the program's name
/// alone (or <c>dotnet</c>, run as <c>dotnet logalert.dll</c>) and no subcommand: a line copied from
/// <c>logalert check --help</c> ran the main command. A hidden argument is not shown.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class UsageLineAttribute(string? subcommand = null) : TransformHelpAttribute
{
    public override void TransformHelp(HelpMessage helpMessage, CommandDescriptor command)
    {
        var hiddenArguments = command.Method.GetParameters()
            .Where(p => p.IsDefined(typeof(Cocona.HiddenAttribute), false)).Select(p => p.Name!).ToHashSet();
        // The Arguments section lists a hidden argument too ("0: rest"): without it, and without the
        // section when nothing is left in it.
        if (hiddenArguments.Count > 0)
        {
            foreach (var section in helpMessage.Children.OfType<HelpSection>().Where(s => s.Id == HelpSectionId.Arguments).ToList())
            {
                foreach (var list in section.Children.OfType<HelpSection>().SelectMany(s => s.Children).Concat(section.Children).OfType<HelpLabelDescriptionList>())
                    list.Items.RemoveAll(item => hiddenArguments.Any(name => item.Label.EndsWith(": " + name, StringComparison.Ordinal)));
                if (!section.Children.OfType<HelpSection>().SelectMany(s => s.Children).Concat(section.Children)
                        .OfType<HelpLabelDescriptionList>().Any(l => l.Items.Count > 0))
                    helpMessage.Children.Remove(section);
            }
        }
        foreach (var section in helpMessage.Children.OfType<HelpSection>())
        {
            if (section.Id != HelpSectionId.Usage) continue;
            for (var i = 0; i < section.Children.Count; i++)
            {
                if (section.Children[i] is not HelpUsage usage) continue;
                var text = usage.Content;
                const string prefix = "Usage: ";
                if (text.StartsWith(prefix, StringComparison.Ordinal)) text = text[prefix.Length..];
                var space = text.IndexOf(' ');
                var rest = space < 0 ? "" : text[space..];
                foreach (var hidden in hiddenArguments)
                    rest = rest.Replace($" {hidden}0 ... {hidden}N", "", StringComparison.Ordinal);
                section.Children[i] = new HelpUsage(prefix + "logalert" + (subcommand is null ? "" : " " + subcommand) + rest);
            }
        }
    }
}
