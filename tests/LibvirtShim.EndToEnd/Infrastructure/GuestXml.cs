using System.Security;
using System.Text;

namespace LibvirtShim.EndToEnd.Infrastructure;

public abstract record Nic(string Mac);

/// <summary>
/// A NIC handed to the hook: ethernet, target managed='no', plus a shim:link in the metadata (with mtu=, guard= and ips= when set);
/// <paramref name="Queues"/>: multiqueue, &lt;driver name='qemu' queues='N'/&gt; (QEMU's own virtio-net backend: no vhost-net here).
/// </summary>
public sealed record OwnedNic(
    string Mac, string Name, string Source, string Mode = "bridge", int? Mtu = null, string? Guard = null, string? Ips = null, int? Queues = null)
    : Nic(Mac);

/// <summary>
/// libvirt's own macvtap; <paramref name="Target"/> null lets libvirt pick macvtapN. <paramref name="TrustRxFilters"/>: libvirt
/// copies the guest's multicast list onto the macvtap (without it, IPv6 neighbour solicitations never reach the guest).
/// </summary>
public sealed record DirectNic(string Mac, string Source, string Mode = "bridge", string? Target = null, bool TrustRxFilters = false) : Nic(Mac);

/// <summary>A NIC on a libvirt network (a macvtap pool here).</summary>
public sealed record NetworkNic(string Mac, string Network) : Nic(Mac);

/// <summary>QEMU user networking: no host link at all.</summary>
public sealed record UserNic(string Mac) : Nic(Mac);

/// <summary>A Linux kernel and initramfs to boot (scripts/guest-image.sh), its command line, and the file its serial console writes.</summary>
public sealed record GuestBoot(string Kernel, string Initrd, string Cmdline, string Console);

/// <summary>A disk-less guest: enough for QEMU to run and for libvirt to plug the NICs; with <see cref="Boot"/>, a booting Linux.</summary>
public sealed record GuestXml(string Name, IReadOnlyList<Nic> Nics)
{
    public Guid Uuid { get; init; } = Guid.NewGuid();

    /// <summary>Null: no operating system. Set: TCG (with KVM here a kernel guest hangs early), 128 MiB, kernel and console.</summary>
    public GuestBoot? Boot { get; init; }

    /// <summary>&lt;features&gt;&lt;acpi/&gt;: without it QEMU runs without ACPI, and the guest never hears of a PCI hot-plug or unplug.</summary>
    public bool Acpi { get; init; }

    /// <summary>Virtual CPUs (a virtio-net guest uses as many queue pairs as it has CPUs, up to the NIC's queues).</summary>
    public int Vcpus { get; init; } = 1;

    public IEnumerable<OwnedNic> Owned => Nics.OfType<OwnedNic>();

    public IEnumerable<string> Macs => Nics.Select(n => n.Mac);

    public static string DomainType => File.Exists("/dev/kvm") ? "kvm" : "qemu";

    /// <summary>
    /// The newest machine type of QEMU 7.2 (Debian 12), which QEMU 10.0 (Debian 13) still has: guests migrate both ways
    /// between the two (with "pc", QEMU 10.0's pc-i440fx-10.0, QEMU 7.2 would refuse them).
    /// </summary>
    public const string MachineType = "pc-i440fx-7.2";

    /// <summary>52:54:00:e2:GG:NN, unique per (group, index).</summary>
    public static string Mac(int group, int index) => $"52:54:00:e2:{group:x2}:{index:x2}";

    public string ToXml()
    {
        var x = new StringBuilder();
        x.Append($"<domain type='{(Boot is null ? DomainType : "qemu")}'>\n");
        x.Append($"  <name>{Esc(Name)}</name>\n  <uuid>{Uuid:D}</uuid>\n");
        if (Owned.Any())
        {
            x.Append("  <metadata>\n    <shim:macvtap xmlns:shim=\"urn:libvirt-shim:macvtap:1\">\n");
            foreach (OwnedNic nic in Owned)
                x.Append($"      <shim:link mac='{nic.Mac}' source='{Esc(nic.Source)}' mode='{nic.Mode}'" +
                         $"{(nic.Mtu is { } mtu ? $" mtu='{mtu}'" : "")}{(nic.Guard is { } guard ? $" guard='{Esc(guard)}'" : "")}" +
                         $"{(nic.Ips is { } ips ? $" ips='{Esc(ips)}'" : "")}/>\n");
            x.Append("    </shim:macvtap>\n  </metadata>\n");
        }
        x.Append($"  <memory unit='MiB'>{(Boot is null ? 64 : 128)}</memory>\n  <vcpu>{Vcpus}</vcpu>\n");
        if (Boot is null)
        {
            x.Append($"  <os><type arch='x86_64' machine='{MachineType}'>hvm</type></os>\n");
        }
        else
        {
            x.Append($"  <os><type arch='x86_64' machine='{MachineType}'>hvm</type>" +
                     $"<kernel>{Esc(Boot.Kernel)}</kernel><initrd>{Esc(Boot.Initrd)}</initrd>" +
                     $"<cmdline>{Esc(Boot.Cmdline)}</cmdline></os>\n");
        }
        if (Acpi) x.Append("  <features><acpi/></features>\n");
        x.Append("  <on_crash>destroy</on_crash>\n  <devices>\n");
        x.Append("    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n");
        foreach (Nic nic in Nics)
        {
            switch (nic)
            {
                case OwnedNic o:
                    string driver = o.Queues is { } queues ? $"<driver name='qemu' queues='{queues}'/>" : "";
                    x.Append($"    <interface type='ethernet'><mac address='{o.Mac}'/>" +
                             $"<target dev='{Esc(o.Name)}' managed='no'/><model type='virtio'/>{driver}</interface>\n");
                    break;
                case DirectNic d:
                    string target = d.Target is null ? "" : $"<target dev='{Esc(d.Target)}'/>";
                    x.Append($"    <interface type='direct'{(d.TrustRxFilters ? " trustGuestRxFilters='yes'" : "")}>" +
                             $"<mac address='{d.Mac}'/><source dev='{Esc(d.Source)}' mode='{d.Mode}'/>{target}<model type='virtio'/></interface>\n");
                    break;
                case NetworkNic n:
                    x.Append($"    <interface type='network'><mac address='{n.Mac}'/><source network='{Esc(n.Network)}'/>" +
                             "<model type='virtio'/></interface>\n");
                    break;
                case UserNic u:
                    x.Append($"    <interface type='user'><mac address='{u.Mac}'/><model type='virtio'/></interface>\n");
                    break;
            }
        }
        // append: a migration's destination QEMU writes on after the source's lines instead of truncating them.
        if (Boot is not null)
            x.Append($"    <serial type='file'><source path='{Esc(Boot.Console)}' append='on'/><target port='0'/></serial>\n");
        x.Append("    <memballoon model='none'/>\n  </devices>\n</domain>\n");
        return x.ToString();
    }

    /// <summary>A macvtap pool: libvirt makes a direct NIC on <paramref name="device"/> for each NIC on the network.</summary>
    public static string MacvtapNetworkXml(string name, string device) =>
        $"<network>\n  <name>{Esc(name)}</name>\n  <forward mode='bridge'>\n    <interface dev='{Esc(device)}'/>\n  </forward>\n</network>\n";

    private static string Esc(string text) => SecurityElement.Escape(text);
}
