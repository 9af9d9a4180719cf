using System.Xml.Linq;
using LibvirtShim.Configuration;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Migration;

/// <summary>
/// Golden files for <c>migrate begin</c> (and <c>restore begin</c>, the same rewrite): each folder of Golden/ holds
/// input.xml, optional settings.json, optional taken.txt (names another domain holds here), and the expected
/// result: expected.xml (compared as XML trees), expected.err (the one line on stderr, exit 1) or neither (no output).
/// </summary>
public class GoldenRewriteTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string dir in Directory.GetDirectories(Path.Combine(SampleFiles.RepositoryRoot, "tests", "LibvirtShim.Tests", "Golden")).Order())
        {
            data.Add(Path.GetFileName(dir), "migrate");
            data.Add(Path.GetFileName(dir), "restore");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RewritesAsTheGoldenFileSays(string name, string operation)
    {
        string dir = Path.Combine(SampleFiles.RepositoryRoot, "tests", "LibvirtShim.Tests", "Golden", name);
        using var h = HookHarness.Create("uplink0", "uplink1");
        if (File.Exists(Path.Combine(dir, "settings.json")))
        {
            ShimSettings given = SettingsLoader.Load(Path.Combine(dir, "settings.json"), []);
            (h.Settings.Uplinks, h.Settings.Networks) = (given.Uplinks, given.Networks);
        }
        HoldNames(h, Path.Combine(dir, "taken.txt"));
        string input = File.ReadAllText(Path.Combine(dir, "input.xml"));
        string domain = XDocument.Parse(input).Root!.Element("name")!.Value;

        HookResult result = h.Run(domain, operation, "begin", input);

        string errPath = Path.Combine(dir, "expected.err");
        string xmlPath = Path.Combine(dir, "expected.xml");
        if (File.Exists(errPath))
        {
            Assert.Equal((1, "", File.ReadAllText(errPath)), (result.ExitCode, result.Stdout, result.Stderr));
            Assert.Empty(h.ReadState()?.Records.Where(r => r.DomainName == domain) ?? []);
            return;
        }
        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        if (!File.Exists(xmlPath))
        {
            Assert.Equal("", result.Stdout);
            return;
        }
        Assert.True(XNode.DeepEquals(XDocument.Parse(File.ReadAllText(xmlPath)), XDocument.Parse(result.Stdout)),
            $"{name}: rewritten XML differs from expected.xml:\n{result.Stdout}");
        Assert.Equal(0, h.Run(domain, operation, "begin", result.Stdout).ExitCode);
        Assert.Equal("", h.Run(domain, operation, "begin", result.Stdout).Stdout);
    }

    private static void HoldNames(HookHarness h, string takenFile)
    {
        if (!File.Exists(takenFile)) return;
        var nics = File.ReadAllLines(takenFile).Where(l => l.Length > 0)
            .Select((n, i) => new TestNic(TestDomains.Mac(900, i), n)).ToList();
        Assert.Equal(0, h.Run("holder", "prepare", "begin", TestDomains.Owned("holder", TestDomains.Uuid(900), nics)).ExitCode);
    }
}
