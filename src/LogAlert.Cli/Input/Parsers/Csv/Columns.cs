using CsvHelper;

namespace LogAlert.Cli.Input;

/// <summary>The positions of the columns the format needs, from an input's header.</summary>
internal sealed class Columns
{
    internal static readonly string[] Required = ["remotehost", "authuser", "date", "request", "status", "bytes"];

    public required int Count { get; init; }
    public required int Host { get; init; }
    public required int User { get; init; }
    public required int Date { get; init; }
    public required int Request { get; init; }
    public required int Status { get; init; }
    public required int Bytes { get; init; }

    /// <summary>The columns named by the fields of the current record, or the names missing.</summary>
    public static Columns? TryRead(CsvReader csv, out List<string> missing, out string[] names)
    {
        names = new string[csv.FieldCount];
        for (var i = 0; i < names.Length; i++) names[i] = csv.GetString(i).Trim();
        return Match(names, out missing);
    }

    /// <summary>The columns the (trimmed) header <paramref name="names"/> give, or the names missing.</summary>
    public static Columns? Match(string[] names, out List<string> missing)
    {
        var found = new int[Required.Length];
        missing = [];
        for (var r = 0; r < Required.Length; r++)
        {
            found[r] = Array.IndexOf(names, Required[r]);
            if (found[r] < 0) found[r] = Array.FindIndex(names, n => n.Equals(Required[r], StringComparison.OrdinalIgnoreCase));
            if (found[r] < 0) missing.Add(Required[r]);
        }
        if (missing.Count > 0) return null;
        return new Columns
        {
            Count = names.Length, Host = found[0], User = found[1], Date = found[2],
            Request = found[3], Status = found[4], Bytes = found[5],
        };
    }
}
