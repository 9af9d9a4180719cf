using LibvirtShim.Configuration;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;

namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// The kernel's links, and whether any link of the hook's holds a host address: the host could then send from it with
/// the guest's MAC (prepare makes them silent; something else configured it).
/// </summary>
internal static class HostAddressesCheck
{
    /// <summary>The kernel's links; checks on the way that none of the hook's links holds a host address.</summary>
    public static IReadOnlyList<Link>? Run(DoctorHost host, ShimSettings settings, List<DoctorCheck> checks)
    {
        try
        {
            using LinkTable table = host.OpenLinks();
            IReadOnlyList<Link> links = table.Dump();
            checks.Add(Silence(LinkMarker.For(settings), links, table.Addresses()));
            return links;
        }
        catch (ShimFailure e)
        {
            checks.Add(DoctorCheck.Fail("links", $"cannot list the kernel's links: {e.Message}", "run it as root"));
            return null;
        }
    }

    private static DoctorCheck Silence(LinkMarker marker, IReadOnlyList<Link> links, IReadOnlyList<HostAddress> addresses)
    {
        const string area = "silent links";
        List<SpeakingLink> speaking = SpeakingLinks.Find(marker, links, addresses);
        if (speaking.Count == 0)
            return DoctorCheck.Ok(area, "no link libvirt-shim made holds a host address: the host sends nothing with a guest's MAC");
        return DoctorCheck.Fail(area, $"{speaking.Count} link(s) libvirt-shim made hold a host address, so the host may send with the guest's MAC: "
            + string.Join("; ", speaking.Take(3).Select(l => $"{l.Link.Name} ({l.AddressList})")) + (speaking.Count > 3 ? "; ..." : ""),
            speaking[0].Advice());
    }
}
