using LibvirtShim.Domain;

namespace LibvirtShim.Lifecycle;

/// <summary>The subject of a message: which domain, which NIC.</summary>
internal static class Describe
{
    public static string Domain(DomainDescription domain) => $"domain '{domain.Name}'";

    public static string Nic(DomainDescription domain, OwnedNic nic) => $"domain '{domain.Name}': NIC {nic.Mac} ({nic.Name})";

    public static string Holder(Naming.NameRecord record) => record.Holding switch
    {
        Naming.Holding.Foreign => "a link libvirt-shim did not create",
        Naming.Holding.Defined => $"the definition of domain '{record.DomainName}'",
        Naming.Holding.Reserved => $"domain '{record.DomainName}' (reserved for its arrival)",
        Naming.Holding.Libvirt => $"libvirt's own macvtap of domain '{record.DomainName}'",
        _ => $"domain '{record.DomainName}'",
    };
}
