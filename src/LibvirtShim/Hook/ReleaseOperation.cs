using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Hook;

internal sealed class ReleaseOperation : BookkeepingOperation
{
    public override bool HasWork(DomainDescription domain) => true;

    /// <summary>libvirt 10.5+ says why the guest stopped: one word, or "from snapshot"; "-" before.</summary>
    public override string Circumstance(HookCall call) => $"; shutoff reason: {ShutoffReason(call)}";

    public static string ShutoffReason(HookCall call) => call.Extra == "-" ? "none given" : ReleaseHistory.Bounded(call.Extra);

    public override string Execute(ShimContext context, HookCall call, DomainDescription? domain)
    {
        using var session = ShimSession.Open(context);
        Guid? uuid = domain?.Uuid ?? session.State.Records.FirstOrDefault(r => r.DomainName == call.Domain)?.Domain;
        RecordHistory(context, session, new ReleaseEntry(context.Now, uuid, domain?.Name ?? call.Domain, call.Extra));
        if (uuid is null) return "nothing recorded for the domain";
        GuardMode hostGuard = GuardModes.Parse(context.Settings.Guard);
        ReleaseLinks.Outcome outcome = ReleaseLinks.Run(session, context.Links, context.OpenGuards, context.Taps, context.Marker,
            context.Settings.LibvirtConfigDir, context.Now, uuid.Value, domain?.Name ?? call.Domain,
            domain?.OwnedNics.Select(n => n.Name).ToList() ?? [],
            declaredGuarded: domain?.OwnedNics.Any(n => n.GuardOr(hostGuard) != GuardMode.Off) ?? false);
        string leftAlone = outcome.LeftAlone.Count > 0 ? $"; left alone (not ours): {string.Join(", ", outcome.LeftAlone)}" : "";
        return $"deleted {outcome.Deleted} macvtaps, released {outcome.RecordsDropped} records{leftAlone}";
    }

    /// <summary>Only for status: a history that cannot be written costs a warning, never the release.</summary>
    private static void RecordHistory(ShimContext context, ShimSession session, ReleaseEntry entry)
    {
        try
        {
            ReleaseHistory.Record(session.Lease, entry);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ShimFailure)
        {
            context.Log.Warning("release history not written: {Problem}", e.Message);
        }
    }
}
