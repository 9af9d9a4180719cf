using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Session;

namespace LibvirtShim.Hook;

internal sealed class PrepareOperation : GuestOperation
{
    public override bool HasWork(DomainDescription domain) => domain.OwnedNics.Count > 0;

    public override string Execute(ShimContext context, DomainDescription domain, XDocument document, TextWriter stdout)
    {
        using var session = ShimSession.Open(context);
        LinkStart start = LinkStart.BeforeTheVcpus(context.Settings.StateDir);
        int created = PrepareLinks.Run(session, context.Settings, context.Links, context.OpenGuards, context.Taps, context.Marker, context.Log,
            context.Now, domain, start);
        return $"created {created} of {domain.OwnedNics.Count} macvtaps, {start.Describe()}";
    }
}
