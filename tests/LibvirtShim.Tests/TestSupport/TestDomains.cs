using System.Text;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>A NIC handed to the hook: its MAC, name, lower device (or network), mode and further &lt;shim:link&gt; attributes.</summary>
internal sealed record TestNic(string Mac, string Name, string? Source = "uplink0", string Mode = "bridge", string? Network = null,
    string LinkAttributes = "");

/// <summary>Domain XMLs for tests, shaped like what libvirt sends a hook.</summary>
internal static class TestDomains
{
    public static string Mac(int domain, int nic) => $"52:54:00:{domain / 256:x2}:{domain % 256:x2}:{nic:x2}";

    public static Guid Uuid(int domain) => Guid.Parse($"00000000-0000-4000-8000-{domain:x12}");

    /// <summary>Domain number <paramref name="domain"/> with <paramref name="count"/> owned NICs named prefix(first..).</summary>
    public static List<TestNic> Nics(int domain, int count, int firstName, string source = "uplink0") =>
        Enumerable.Range(0, count).Select(i => new TestNic(Mac(domain, i), $"mvtap{firstName + i}", source)).ToList();

    public static string Owned(string name, Guid uuid, IEnumerable<TestNic> nics, string extraDevices = "")
    {
        var list = nics.ToList();
        var xml = new StringBuilder();
        xml.Append($"<domain type='kvm'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  <metadata>\n");
        xml.Append("    <shim:macvtap xmlns:shim=\"urn:libvirt-shim:macvtap:1\">\n");
        foreach (TestNic nic in list)
        {
            string lower = nic.Network is null ? $"source=\"{nic.Source}\"" : $"network=\"{nic.Network}\"";
            xml.Append($"      <shim:link mac=\"{nic.Mac}\" {lower} " +
                $"mode=\"{nic.Mode}\"{(nic.LinkAttributes.Length > 0 ? " " : "")}{nic.LinkAttributes}/>\n");
        }
        xml.Append("    </shim:macvtap>\n  </metadata>\n  <memory unit='MiB'>64</memory>\n  <devices>\n");
        foreach (TestNic nic in list)
            xml.Append($"    <interface type='ethernet'>\n      <mac address='{nic.Mac}'/>\n      <target dev='{nic.Name}' managed='no'/>\n " +
                "     <model type='virtio'/>\n    </interface>\n");
        xml.Append(extraDevices);
        xml.Append("  </devices>\n</domain>\n");
        return xml.ToString();
    }
}
