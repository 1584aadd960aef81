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
        xml.WriteAttributeString("failures", results.Count(r => !r.Passed && !r.Broken && !r.Skipped).ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("errors", results.Count(r => r.Broken).ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("skipped", results.Count(r => r.Skipped).ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("time", Seconds(total));
        foreach (var r in results)
        {
            xml.WriteStartElement("testcase");
            xml.WriteAttributeString("classname", "logalert.rules");
            xml.WriteAttributeString("name", Text(r.Name));
            xml.WriteAttributeString("time", Seconds(r.Elapsed));
            if (r.Skipped)
            {
                xml.WriteStartElement("skipped");
                xml.WriteAttributeString("message", Text(r.Detail));
                xml.WriteEndElement();
            }
            else if (!r.Passed)
            {
                xml.WriteStartElement(r.Broken ? "error" : "failure");
                xml.WriteAttributeString("message", Text(r.Detail.Split('\n')[0]));
                xml.WriteString(string.Join('\n', r.Detail.Split('\n').Select(Text)));
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    /// <summary>
    /// One line as the terminal shows it: control characters escaped (<c>\x01</c>), as are the others
    /// XML 1.0 cannot hold (a lone surrogate, U+FFFE), which a case's name or a rule's message can
    /// carry: XmlWriter threw on them, leaving half a file.
    /// </summary>
    private static string Text(string line)
    {
        var escaped = Output.Terminal.Escape(line);
        if (escaped.All(XmlConvert.IsXmlChar)) return escaped;
        var sb = new System.Text.StringBuilder(escaped.Length + 8);
        for (var i = 0; i < escaped.Length; i++)
        {
            var c = escaped[i];
            if (XmlConvert.IsXmlChar(c)) sb.Append(c);
            else if (i + 1 < escaped.Length && XmlConvert.IsXmlSurrogatePair(escaped[i + 1], c)) sb.Append(c).Append(escaped[++i]);
            else sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
