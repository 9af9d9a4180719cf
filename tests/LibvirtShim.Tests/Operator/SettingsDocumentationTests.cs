using System.Collections;
using System.Reflection;
using System.Text.Json;
using LibvirtShim.Configuration;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// The example settings file and the operator documentation say what the code does: every setting, with its
/// default; and every error message the docs quote exists in the code.
/// </summary>
public class SettingsDocumentationTests
{
    private static IEnumerable<PropertyInfo> Settings =>
        typeof(ShimSettings).GetProperties().Where(p => p.Name != nameof(ShimSettings.Config));

    private static string Text(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        IDictionary d => d.Count == 0 ? "{}" : "?",
        IEnumerable e => e.Cast<object>().Any() ? "?" : "[]",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
    };

    [Fact]
    public void TheExampleSettingsFileListsEverySettingWithItsDefault()
    {
        string path = Path.Combine(SampleFiles.RepositoryRoot, "hooks/libvirt-shim.json");
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(path));
        var defaults = new ShimSettings();
        var names = json.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Equal(Settings.Select(p => p.Name).Order(), names.Order());
        foreach (PropertyInfo setting in Settings)
        {
            JsonElement value = json.RootElement.GetProperty(setting.Name);
            string written = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString()!,
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Array => value.GetArrayLength() == 0 ? "[]" : "?",
                JsonValueKind.Object => value.EnumerateObject().Any() ? "?" : "{}",
                _ => value.GetRawText(),
            };
            Assert.True(Text(setting.GetValue(defaults)) == written,
                $"{setting.Name}: the file says {written}, the default is {Text(setting.GetValue(defaults))}");
        }
    }

    [Fact]
    public void TheOperatorDocumentationListsEverySettingWithItsDefault()
    {
        string[] rows = File.ReadAllLines(Path.Combine(SampleFiles.RepositoryRoot, "README.md"));
        var defaults = new ShimSettings();
        foreach (PropertyInfo setting in Settings)
        {
            string? row = rows.FirstOrDefault(r => r.StartsWith($"| `{setting.Name}` |", StringComparison.Ordinal));
            Assert.True(row is not null, $"README.md has no row for {setting.Name}");
            string documented = row!.Split('|')[2].Trim();
            string expected = Text(setting.GetValue(defaults));
            Assert.True(documented.StartsWith($"`{(expected.Length == 0 ? "\"\"" : expected)}`", StringComparison.Ordinal),
                $"{setting.Name}: documented {documented}, default {expected}");
        }
    }

    /// <summary>docs/troubleshooting.md quotes the messages: each quoted fixed part must still be in the source.</summary>
    [Theory]
    [InlineData("name is held by")]
    [InlineData("target dev is not a libvirt-shim name")]
    [InlineData("does not exist on this host")]
    [InlineData("is not in AllowedLowerDevices")]
    [InlineData("is not in this host's Networks setting")]
    [InlineData("passthru mode requested twice on lower device")]
    [InlineData("cannot create macvtap on")]
    [InlineData("cannot delete macvtap")]
    [InlineData("is handed to libvirt-shim but is not <interface type='ethernet'> with <target dev='NAME' managed='no'/>")]
    [InlineData("the metadata names this MAC but no <interface> has it")]
    [InlineData("two <interface> elements have this MAC")]
    [InlineData("the metadata hands this MAC to libvirt-shim twice")]
    [InlineData("another NIC of this domain has the same target dev")]
    [InlineData("<shim:link> needs exactly one of source='LOWER-DEVICE' or network='NAME'")]
    [InlineData("and the Uplinks setting does not map it")]
    [InlineData("names are held (Capacity sets how many)")]
    [InlineData("waiting for the state lock")]
    [InlineData("is writable by group or others")]
    [InlineData("domain XML has no <uuid>")]
    [InlineData("reserved for its arrival")]
    [InlineData("a link libvirt-shim did not create")]
    [InlineData("a link libvirt-shim created for domain")]
    [InlineData("must be a single value, not a list or object")]
    [InlineData("must be true or false")]
    [InlineData("must be a whole number")]
    [InlineData("unknown setting '")]
    [InlineData("contains '..'")]
    [InlineData("not a regular file")]
    [InlineData("cannot hot-plug it")]
    [InlineData("the guest has not let the NIC go after")]
    [InlineData("already has a NIC with this MAC")]
    [InlineData("is not running (--live needs a running guest)")]
    [InlineData("has no persistent definition (--config needs one)")]
    [InlineData("definition gone: will be freed at the next allocation or seed")]
    [InlineData("is more than lower device")]
    [InlineData("is not an MTU")]
    [InlineData("is neither on nor off (nor yes, no)")]
    public void EveryQuotedMessageIsStillInTheCode(string fragment)
    {
        string docs = File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "docs/troubleshooting.md"));
        Assert.Contains(fragment, docs);
        string source = string.Concat(Directory.EnumerateFiles(Path.Combine(SampleFiles.RepositoryRoot, "src/LibvirtShim"), "*.cs",
            SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal)).Select(File.ReadAllText));
        Assert.Contains(fragment, source);
    }

    /// <summary>Every attribute of &lt;shim:link&gt; the reader knows is a bullet of the README's "Handing a NIC to the hook".</summary>
    [Fact]
    public void EveryLinkAttributeTheReaderReadsIsDocumented()
    {
        string readme = File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "README.md"));
        int start = readme.IndexOf("## Handing a NIC to the hook", StringComparison.Ordinal);
        string section = readme[start..readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal)];
        string reader = File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "src/LibvirtShim/Domain/DomainReader.cs"));
        string[] attributes = System.Text.RegularExpressions.Regex.Matches(reader, @"link\.Attribute\(""([a-z]+)""\)")
            .Select(m => m.Groups[1].Value).Distinct().ToArray();

        Assert.Equal(["mac", "source", "network", "mode", "guard", "ips", "mtu", "macaddrs", "allmulticast"], attributes);
        foreach (string attribute in attributes.Where(a => a != "mac"))
            Assert.True(section.Contains($"- `{attribute}", StringComparison.Ordinal) || section.Contains($"`{attribute}=", StringComparison.Ordinal),
                $"README's \"Handing a NIC to the hook\" does not document {attribute}=");
    }
}
