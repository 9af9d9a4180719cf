using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Session;

namespace LibvirtShim.Hook;

internal sealed class ReconnectOperation : BookkeepingOperation
{
    public override int ExitStatusOnFailure => 0;
    public override bool HasWork(DomainDescription domain) => domain.HasMacvtaps;
    public override bool MayHaveWork(ReadOnlySpan<byte> xml) => MentionsMacvtaps(xml, owned: true, direct: true);

    public override string Execute(ShimContext context, HookCall call, DomainDescription? domain)
    {
        if (domain is null) return "nothing recorded: domain XML unreadable";
        using var session = ShimSession.Open(context);
        bool changed = RecordLibvirtNames.Run(session.State, context.Log, domain)
            | RecordOwnedLinks.Run(session.State, context.Links, context.Marker, context.Log, domain);
        if (!changed) return "state already up to date";
        session.Commit();
        return "re-recorded names and links";
    }
}
