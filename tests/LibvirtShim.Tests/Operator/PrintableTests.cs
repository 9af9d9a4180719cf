using CsCheck;
using LibvirtShim.Messages;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// What a user reads of a name from outside tells it apart from every other name: control, format (bidi overrides,
/// zero-width) and separator characters, lone surrogates and the backslash itself are escaped, so the escaping can be read
/// back, and it is applied once wherever a value is shown.
/// </summary>
public class PrintableTests
{
    [Theory]
    [InlineData("ab\u202Ecd", "ab\\u202ecd")]          // RIGHT-TO-LEFT OVERRIDE: "abdc" on a terminal
    [InlineData("a\u200Bb", "a\\u200bb")]               // ZERO WIDTH SPACE
    [InlineData("a\u2066b\u2069", "a\\u2066b\\u2069")]   // bidi isolates
    [InlineData("\uFEFFweb", "\\ufeffweb")]             // BOM
    [InlineData("we\u00ADb", "we\\xadb")]                // SOFT HYPHEN
    [InlineData("a\\b", "a\\\\b")]
    [InlineData("a\\x0ab", "a\\\\x0ab")]
    [InlineData("web\U0001F600", "web\U0001F600")]      // a pair is a character like any other
    [InlineData("caf\u00E9 \u00A0x", "caf\u00E9 \u00A0x")]
    public void FormatCharactersLoneSurrogatesAndTheBackslashAreEscaped(string raw, string shown) =>
        Assert.Equal(shown, Printable.Escape(raw));

    /// <summary>A lone surrogate would print as U+FFFD (not in InlineData: attribute strings cannot carry one).</summary>
    [Fact]
    public void LoneSurrogatesAreEscapedAndPairsKept()
    {
        Assert.Equal("a\\ud800b", Printable.Escape("a\uD800b"));
        Assert.Equal("\\udc00\\ud800", Printable.Escape("\uDC00\uD800"));
        Assert.Equal("\U0001F600\\ud800", Printable.Escape("\U0001F600\uD800"));
    }

    [Fact]
    public void TwoDifferentTextsNeverPrintTheSame()
    {
        string[] tricky = ["a\nb", "a\\x0ab", "a\\\\x0ab", "a\u202Eb", "a\\u202eb", "a\uFFFDb", "a\uD800b", "a\uDC00b", "a\\b", "a\\\\b", "ab"];
        Assert.Equal(tricky.Length, tricky.Select(Printable.Escape).Distinct(StringComparer.Ordinal).Count());

        Gen.Char["\\xu0a\n\u202E\u200B\uD800\uDC00\uFFFD\u2028"].Array[0, 8].Select(c => new string(c))
            .Select(Gen.Char["\\xu0a\n\u202E\u200B\uD800\uDC00\uFFFD\u2028"].Array[0, 8].Select(c => new string(c)))
            .Sample((a, b) => a == b || Printable.Escape(a) != Printable.Escape(b), iter: 20_000);
    }

    [Fact]
    public void EscapedTextReadsBack() =>
        Gen.Char["\\xu0a\n\t\u202E\u200B\uD800\uDC00\uFFFD\u2028az"].Array[0, 12].Select(c => new string(c))
            .Sample(text => Printable.Unescape(Printable.Escape(text)) == text, iter: 20_000);

    /// <summary>A value quoted in a message is escaped once on stderr and once in the log, not once per layer it passes.</summary>
    [Fact]
    public void AValueIsEscapedOnceOnStderrAndInTheLog()
    {
        using var h = HookHarness.Create();
        const string name = "we\\b\u202E1";
        string xml = TestDomains.Owned(name, TestDomains.Uuid(81), [new TestNic("52:54:00:aa:00:01", "mvtap1", Source: "u\\p\u202E0")]);

        HookResult result = h.Run(name, "prepare", "begin", xml);

        const string expected = "domain 'we\\\\b\\u202e1': NIC 52:54:00:aa:00:01 (mvtap1): lower device u\\\\p\\u202e0 does not exist on this host";
        Assert.Equal((1, $"libvirt-shim: {expected}\n"), (result.ExitCode, result.Stderr));
        string log = File.ReadAllText(h.Settings.LogFile);
        Assert.Contains("failed: " + expected, log);
        Assert.Contains(" prepare we\\\\b\\u202e1 ", log);
    }
}
