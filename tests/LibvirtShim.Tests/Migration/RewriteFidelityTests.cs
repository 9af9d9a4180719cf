using System.Globalization;
using System.Text;
using System.Xml.Linq;
using LibvirtShim.Domain;
using Xunit;

namespace LibvirtShim.Tests.Migration;

/// <summary>
/// The migrate/restore rewrite changes the attributes it owns and nothing else: random domain documents, with every
/// character XML normalises (tab, CR, LF in attributes; CR in text) written literally or as character references,
/// come out with every other value as it was read.
/// </summary>
public class RewriteFidelityTests
{
    private const string Mac = "52:54:00:aa:09:01";

    /// <summary>Characters XML treats specially, beside plain ones: white space it normalises, markup, non-ASCII, NEL, LS, NBSP.</summary>
    private static readonly string[] Pool =
        ["a", "Z", "0", " ", "-", ":", "/", "\t", "\n", "\r", "\r\n", "<", ">", "&", "\"", "'", "]", "]]>", "é", "€", "😀", "\u0085",
            "\u2028", "\u00A0", "\u007F"];

    [Fact]
    public void EverythingOutsideTheRewrittenAttributesKeepsItsValue()
    {
        var random = new Random(20261128);
        for (int i = 0; i < 400; i++)
        {
            string xml = RandomDomain(random);
            XDocument expected = DomainXml.Parse(Encoding.UTF8.GetBytes(xml));
            XDocument document = DomainXml.Parse(Encoding.UTF8.GetBytes(xml));
            var rewriter = new DomainRewriter(document);
            rewriter.SetOwnedName(FirstInterface(document), "mvtap77");
            Assert.True(rewriter.Changed);
            string written = rewriter.Write();

            expected.Root!.Element("devices")!.Element("interface")!.Element("target")!.SetAttributeValue("dev", "mvtap77");
            XDocument reread = DomainXml.Parse(Encoding.UTF8.GetBytes(written));
            // The hook ends its output with a newline after the root: compare what the document holds, the root.
            Assert.True(XNode.DeepEquals(expected.Root, reread.Root),
                $"case {i}: a value changed: {FirstDifference(expected, reread)}\n--- input\n{xml}\n--- written\n{written}");
        }
    }

    [Theory]
    [InlineData("<e a='x&#10;y'/>", "x\ny")]
    [InlineData("<e a='x&#9;y'/>", "x\ty")]
    [InlineData("<e a='x&#13;y'/>", "x\ry")]
    [InlineData("<e a='x&#13;&#10;y'/>", "x\r\ny")]
    [InlineData("<e a='x\ty'/>", "x y")]
    public void CharacterReferencesInAttributesSurvive(string element, string value)
    {
        string xml = $"<domain><name>d</name>{element}<devices><interface type='ethernet'><mac address='{Mac}'/>" +
            "<target dev='mvtap1' managed='no'/></interface></devices></domain>";
        XDocument document = DomainXml.Parse(Encoding.UTF8.GetBytes(xml));
        var rewriter = new DomainRewriter(document);
        rewriter.SetOwnedName(FirstInterface(document), "mvtap2");
        XDocument reread = DomainXml.Parse(Encoding.UTF8.GetBytes(rewriter.Write()));
        Assert.Equal(value, (string?)reread.Root!.Element("e")!.Attribute("a"));
    }

    [Fact]
    public void CarriageReturnsInTextSurvive()
    {
        string xml = "<domain><name>d</name><description>a&#13;b&#xD;&#10;c</description><devices><interface type='ethernet'>" +
            $"<mac address='{Mac}'/><target dev='mvtap1' managed='no'/></interface></devices></domain>";
        XDocument document = DomainXml.Parse(Encoding.UTF8.GetBytes(xml));
        var rewriter = new DomainRewriter(document);
        rewriter.SetOwnedName(FirstInterface(document), "mvtap2");
        XDocument reread = DomainXml.Parse(Encoding.UTF8.GetBytes(rewriter.Write()));
        Assert.Equal("a\rb\r\nc", reread.Root!.Element("description")!.Value);
    }

    private static XElement FirstInterface(XDocument document) => document.Root!.Element("devices")!.Element("interface")!;

    private static string FirstDifference(XDocument expected, XDocument actual)
    {
        static string Show(object? o) =>
            o is null ? "(none)" : string.Concat(o.ToString()!.Select(c => c < ' ' || c > '~' ? $"\\u{(int)c:x4}" : c.ToString())) + " ["
            + o.GetType().Name + "]";
        var left = expected.DescendantNodes().ToList();
        var right = actual.DescendantNodes().ToList();
        for (int i = 0; i < Math.Max(left.Count, right.Count); i++)
        {
            XNode? l = i < left.Count ? left[i] : null, r = i < right.Count ? right[i] : null;
            if (l is XElement le && r is XElement re)
            {
                var la = le.Attributes().Select(a => $"{a.Name}={Show(a.Value)}");
                var ra = re.Attributes().Select(a => $"{a.Name}={Show(a.Value)}");
                if (le.Name != re.Name || !la.SequenceEqual(ra)) return $"element {le.Name}: {string.Join(' ', la)} / {re.Name}: " +
                    $"{string.Join(' ', ra)}";
            }
            else if (l is null || r is null || l is XElement || r is XElement || !XNode.DeepEquals(l, r)) return $"node {i}: {Show(l)} / {Show(r)}";
        }
        return "none found";
    }

    private static string RandomDomain(Random random)
    {
        var xml = new StringBuilder();
        xml.Append("<domain type='kvm'").Append(RandomAttributes(random, "a")).Append('>');
        xml.Append("<name>g").Append(random.Next(1000)).Append("</name>");
        RandomContent(random, xml, depth: 0);
        xml.Append("<devices>");
        RandomContent(random, xml, depth: 1);
        xml.Append("<interface type='ethernet'").Append(RandomAttributes(random, "i")).Append('>');
        xml.Append("<mac address='").Append(Mac).Append("'/>");
        RandomContent(random, xml, depth: 2);
        xml.Append("<target dev='mvtap5' managed='no'").Append(RandomAttributes(random, "t")).Append("/>");
        RandomContent(random, xml, depth: 2);
        xml.Append("</interface></devices>");
        RandomContent(random, xml, depth: 0);
        return xml.Append("</domain>").ToString();
    }

    private static void RandomContent(Random random, StringBuilder xml, int depth)
    {
        int count = random.Next(4);
        for (int i = 0; i < count; i++)
        {
            switch (random.Next(depth < 3 ? 6 : 4))
            {
                case 0: xml.Append(Escaped(random, RandomText(random), inAttribute: false)); break;
                case 1: xml.Append("<!--").Append(RandomText(random).Replace("-", "").Replace("\r", "")).Append("-->"); break;
                case 2: xml.Append("<![CDATA[").Append(Without(RandomText(random), "]]>")).Append("]]>"); break;
                case 3: xml.Append("<?app ").Append(Without(RandomText(random), "?>")).Append("?>"); break;
                default:
                    string name = "x" + random.Next(5);
                    xml.Append('<').Append(name).Append(RandomAttributes(random, "b")).Append('>');
                    RandomContent(random, xml, depth + 1);
                    xml.Append("</").Append(name).Append('>');
                    break;
            }
        }
    }

    private static string Without(string text, string end)
    {
        while (text.Contains(end, StringComparison.Ordinal)) text = text.Replace(end, end[..^1], StringComparison.Ordinal);
        return text;
    }

    private static string RandomAttributes(Random random, string prefix)
    {
        var attributes = new StringBuilder();
        int count = random.Next(3);
        for (int i = 0; i < count; i++)
        {
            char quote = random.Next(2) == 0 ? '\'' : '"';
            attributes.Append(' ').Append(prefix).Append(i).Append('=').Append(quote)
                .Append(Escaped(random, RandomText(random), inAttribute: true, quote)).Append(quote);
        }
        return attributes.ToString();
    }

    private static string RandomText(Random random)
    {
        var text = new StringBuilder();
        int length = random.Next(8);
        for (int i = 0; i < length; i++) text.Append(Pool[random.Next(Pool.Length)]);
        return text.ToString();
    }

    /// <summary>Each character literally where XML allows it, or as a decimal or hexadecimal character reference, at random.</summary>
    private static string Escaped(Random random, string text, bool inAttribute, char quote = '\'')
    {
        var escaped = new StringBuilder();
        foreach (Rune rune in text.EnumerateRunes())
        {
            bool mustEscape = rune.Value is '<' or '&' || (rune.Value == '>' && !inAttribute) || (inAttribute && rune.Value == quote);
            int form = mustEscape ? 1 + random.Next(2) : random.Next(3);
            escaped.Append(form switch
            {
                0 => rune.ToString(),
                1 => "&#" + rune.Value.ToString(CultureInfo.InvariantCulture) + ";",
                _ => "&#x" + rune.Value.ToString("X", CultureInfo.InvariantCulture) + ";",
            });
        }
        return escaped.ToString();
    }
}
