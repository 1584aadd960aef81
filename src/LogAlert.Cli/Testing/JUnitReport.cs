using System.Globalization;
using System.Xml;

namespace LogAlert.Cli.Testing;

/// <summary>
/// The results of <c>logalert test</c> as JUnit XML, the report CI systems read (GitLab, Jenkins,
/// GitHub's test reporters): one <c>testsuite</c> named <c>logalert</c>, one <c>testcase</c> per case,
/// a <c>failure</c> for a case that failed and an <c>error</c> for one that could not be run.
/// </summary>
public static class JUnitReport
{
    /// <summary>Writes the report to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<CaseResult> results)
    {
        var settings = new XmlWriterSettings { Indent = true, Encoding = new System.Text.UTF8Encoding(false) };
        using var xml = XmlWriter.Create(path, settings);
        static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        var total = results.Aggregate(TimeSpan.Zero, (sum, r) => sum + r.Elapsed);
        xml.WriteStartElement("testsuites");
        xml.WriteStartElement("testsuite");
        xml.WriteAttributeString("name", "logalert");
        xml.WriteAttributeString("tests", results.Count.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("failures", results.Count(r => !r.Passed && !r.Broken).ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("errors", results.Count(r => r.Broken).ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("time", Seconds(total));
        foreach (var r in results)
        {
            xml.WriteStartElement("testcase");
            xml.WriteAttributeString("classname", "logalert.rules");
            xml.WriteAttributeString("name", r.Name);
            xml.WriteAttributeString("time", Seconds(r.Elapsed));
            if (!r.Passed)
            {
                xml.WriteStartElement(r.Broken ? "error" : "failure");
                xml.WriteAttributeString("message", r.Detail.Split('\n')[0]);
                xml.WriteString(Clean(r.Detail));
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    /// <summary>The text without the characters XML 1.0 cannot hold (a control character quoted from a log).</summary>
    private static string Clean(string text) => new([.. text.Where(c => c == '\n' || c == '\t' || c >= ' ')]);
}
