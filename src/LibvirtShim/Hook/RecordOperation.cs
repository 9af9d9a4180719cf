using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Session;

namespace LibvirtShim.Hook;

internal sealed class RecordOperation : BookkeepingOperation
{
    public override int ExitStatusOnFailure => 0;
    public override bool HasWork(DomainDescription domain) => domain.LibvirtMacvtaps.Any(n => n.Name is not null);
    public override bool MayHaveWork(ReadOnlySpan<byte> xml) => MentionsMacvtaps(xml, owned: false, direct: true);

    public override string Execute(ShimContext context, HookCall call, DomainDescription? domain)
    {
        if (domain is null) return "nothing recorded: domain XML unreadable";
        using var session = ShimSession.Open(context);
        if (!RecordLibvirtNames.Run(session.State, context.Log, domain)) return "names already recorded";
        session.Commit();
        return "recorded libvirt's macvtap names";
    }
}
