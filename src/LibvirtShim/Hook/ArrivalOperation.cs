using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Session;

namespace LibvirtShim.Hook;

internal sealed class ArrivalOperation : GuestOperation
{
    public override bool HasWork(DomainDescription domain) =>
        domain.OwnedNics.Count > 0 || domain.LibvirtMacvtaps.Any(n => n.Lower is not null && !n.ThroughNetwork);

    /// <summary>Only here does stdout matter: the rewritten XML replaces libvirt's, empty output keeps it.</summary>
    public override string Execute(ShimContext context, DomainDescription domain, XDocument document, TextWriter stdout)
    {
        using ShimSession? session = domain.OwnedNics.Count > 0 ? ShimSession.Open(context) : null;
        string? rewritten = ReceiveDomain.Run(context.Settings, context.Links, context.Marker, context.Log, context.Now, session, document);
        if (rewritten is null) return $"names and lower devices fit this host; {domain.OwnedNics.Count} names reserved";
        stdout.Write(rewritten);
        return $"rewrote the domain XML for this host; {domain.OwnedNics.Count} names reserved";
    }
}
