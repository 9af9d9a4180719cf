using System.Text.RegularExpressions;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>The README is an operator's manual: short, and every page it sends the reader to is there.</summary>
public sealed class ReadmeTests
{
    private static readonly string Root = SampleFiles.RepositoryRoot;

    [Fact]
    public void TheReadmeIsAtMost400Lines()
    {
        int lines = File.ReadAllLines(Path.Combine(Root, "README.md")).Length;
        Assert.True(lines <= 400, $"README.md has {lines} lines; the long explanations belong in docs/");
    }

    [Theory]
    [InlineData("README.md")]
    [InlineData("docs/architecture.md")]
    [InlineData("docs/troubleshooting.md")]
    [InlineData("docs/performance.md")]
    [InlineData("docs/testing.md")]
    [InlineData("docs/listener.md")]
    [InlineData("docs/guard.md")]
    [InlineData("docs/host-facts.md")]
    public void EveryRelativeLinkLeadsToAFileOrASectionThatExists(string page)
    {
        string path = Path.Combine(Root, page);
        string text = File.ReadAllText(path);
        foreach (Match link in Regex.Matches(text, @"\]\(([^)#\s]*)(#[^)\s]*)?\)"))
        {
            string target = link.Groups[1].Value, anchor = link.Groups[2].Value;
            if (target.Contains("://", StringComparison.Ordinal)) continue;
            string file = target.Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, target));
            Assert.True(File.Exists(file) || Directory.Exists(file), $"{page}: {link.Value} leads nowhere");
            if (anchor.Length > 0 && file.EndsWith(".md", StringComparison.Ordinal))
                Assert.True(Anchors(File.ReadAllText(file)).Contains(anchor[1..]), $"{page}: {link.Value}: no such section");
        }
    }

    /// <summary>The anchors GitHub gives a page's headings: lower case, punctuation gone, spaces as hyphens.</summary>
    private static HashSet<string> Anchors(string markdown) =>
        markdown.Split('\n').Where(l => l.StartsWith('#'))
            .Select(l => Regex.Replace(l.TrimStart('#').Trim().ToLowerInvariant(), @"[^\p{L}\p{N}\- _]", "").Replace(' ', '-'))
            .ToHashSet();
}
