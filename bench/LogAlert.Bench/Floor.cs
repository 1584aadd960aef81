using CsvHelper;

namespace LogAlert.Bench;

/// <summary>
/// The floor: the least work any reader of the access log must do, done with CsvHelper's span API.
/// It reads every record and parses the fields logalert needs to count requests (timestamp, request
/// split into method and path, status, bytes), and nothing more. logalert's time on a file is
/// reported as a multiple of this program's time on the same file.
/// </summary>
public static class Floor
{
    /// <summary>
    /// Reads <paramref name="path"/> and prints <c>records=N bad=B checksum=S</c>. The checksum
    /// folds every parsed value in, so the JIT cannot drop any of the parsing.
    /// </summary>
    /// <returns>The process exit code: 0, or 1 when the file lacks a column.</returns>
    public static int Run(string path)
    {
        using var csv = CsvReader.FromFile(path);
        int date, request, status, bytes;
        try
        {
            date = csv.GetFieldIndex("date");
            request = csv.GetFieldIndex("request");
            status = csv.GetFieldIndex("status");
            bytes = csv.GetFieldIndex("bytes");
        }
        catch (KeyNotFoundException e)
        {
            Console.Error.WriteLine($"floor: {path}: {e.Message}");
            return 1;
        }

        long records = 0, bad = 0, checksum = 0;
        while (csv.Read())
        {
            if (!csv.TryParse<long>(date, out var time) || !csv.TryParse<int>(status, out var code))
            {
                bad++;
                continue;
            }
            long size = 0;
            var sizeField = csv.GetSpan(bytes);
            if (!(sizeField.Length == 1 && sizeField[0] == (byte)'-') && !csv.TryParse(bytes, out size))
            {
                bad++;
                continue;
            }
            // "GET /path HTTP/1.1": the method ends at the first space, the path at the next one.
            var line = csv.GetSpan(request);
            var methodEnd = line.IndexOf((byte)' ');
            if (methodEnd <= 0)
            {
                bad++;
                continue;
            }
            var rest = line[(methodEnd + 1)..];
            var pathEnd = rest.IndexOf((byte)' ');
            var requestPath = pathEnd < 0 ? rest : rest[..pathEnd];
            if (requestPath.IsEmpty)
            {
                bad++;
                continue;
            }

            records++;
            checksum += time + code + size + line[0] + methodEnd + requestPath.Length + requestPath[^1];
        }
        Console.WriteLine($"records={records} bad={bad} checksum={checksum}");
        return 0;
    }
}
