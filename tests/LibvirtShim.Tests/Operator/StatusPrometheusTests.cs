using System.Globalization;
using System.Text.RegularExpressions;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>status --format prometheus as a process in a test namespace: node_exporter's textfile format, with the figures status shows.</summary>
public partial class StatusPrometheusTests
{
    private static readonly Guid Web = TestDomains.Uuid(81);

    [GeneratedRegex("""^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"\})? -?[0-9]+(\.[0-9]+)?$""")]
    private static partial Regex Sample();

    [Fact]
    public void NamesLinksDisagreementsCapacityAndAgeAsGauges()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        string xml = TestDomains.Owned("web", Web,
            [new("52:54:00:aa:81:01", "mvtap1", "uplink0"), new("52:54:00:aa:81:02", "mvtap2", "uplink1"),
                new("52:54:00:aa:81:03", "mvtap3", "uplink1")]);
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        h.WriteStatusFile("web", xml);
        h.Ns.Ip("link", "del", "mvtap3");

        HookResult r = HookHarness.Finish(h.StartProcess("status", "--format", "prometheus"), "");

        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        string[] lines = r.Stdout.TrimEnd('\n').Split('\n');
        foreach (string line in lines.Where(l => !l.StartsWith('#')))
            Assert.Matches(Sample(), line);
        var samples = lines.Where(l => !l.StartsWith('#'))
            .ToDictionary(l => l[..l.LastIndexOf(' ')], l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        Assert.Equal(3, samples["libvirt_shim_names_held{holding=\"created\"}"]);
        Assert.Equal(0, samples["libvirt_shim_names_held{holding=\"reserved\"}"]);
        Assert.Equal(1, samples["libvirt_shim_links{lower=\"uplink0\"}"]);
        Assert.Equal(1, samples["libvirt_shim_links{lower=\"uplink1\"}"]);
        Assert.Equal(1, samples["libvirt_shim_disagreements{kind=\"link_lost\"}"]);
        Assert.Equal(8192, samples["libvirt_shim_capacity_names"]);
        Assert.Equal(8189, samples["libvirt_shim_free_names"]);
        Assert.Equal(1, samples["libvirt_shim_state_usable"]);
        Assert.Equal(1, samples["libvirt_shim_lower_device_up{lower=\"uplink1\"}"]);
        Assert.Equal(0, samples["libvirt_shim_unrecorded_links"]);
        Assert.InRange(samples["libvirt_shim_state_age_seconds"], 0, 600);
        foreach (string metric in samples.Keys.Select(k => k.Split('{')[0]).Distinct())
        {
            Assert.Contains($"# HELP {metric} ", r.Stdout);
            Assert.Contains($"# TYPE {metric} gauge\n", r.Stdout);
        }
    }

    [Fact]
    public void AnUnknownFormatIsRefused()
    {
        using var h = HookHarness.Create();
        HookResult r = HookHarness.Finish(h.StartProcess("status", "--format", "xml"), "");
        Assert.Equal((2, "libvirt-shim: --format 'xml' is not one of text, json, prometheus; see 'libvirt-shim status --help'\n"),
            (r.ExitCode, r.Stderr));
    }
}
