using LibvirtShim.Domain;
using LibvirtShim.State;

namespace LibvirtShim.Session;

/// <summary>The subject of a message: which domain, which NIC.</summary>
internal static class Describe
{
    public static string Domain(DomainDescription domain) => $"domain '{domain.Name}'";

    public static string Nic(DomainDescription domain, OwnedNic nic) => $"domain '{domain.Name}': NIC {nic.Mac} ({nic.Name})";

    public static string Holder(NameRecord record) => record.Holding switch
    {
        Holding.Foreign => "a link libvirt-shim did not create",
        Holding.Defined => $"the definition of domain '{record.DomainName}'",
        Holding.Reserved => $"domain '{record.DomainName}' (reserved for its arrival)",
        Holding.Libvirt => $"libvirt's own macvtap of domain '{record.DomainName}'",
        _ => $"domain '{record.DomainName}'",
    };
}
