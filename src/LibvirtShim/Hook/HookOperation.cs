using LibvirtShim.Net;
using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Naming;

namespace LibvirtShim.Hook;

/// <summary>What one hook operation does, whether a domain gives it anything to do, and what a failure means to libvirt.</summary>
internal abstract class HookOperation
{
    /// <summary>A failing call makes libvirt fail the start, migration or restore.</summary>
    public abstract bool FailsTheGuest { get; }

    /// <summary>libvirt kills a running guest whose reconnect hook fails, and a start must not fail over bookkeeping: those report and exit 0.</summary>
    public virtual int ExitStatusOnFailure => 1;

    public abstract bool HasWork(DomainDescription domain);

    /// <summary>
    /// A look at the raw bytes before any parsing, for operations that never fail the guest: without the hook's
    /// namespace or a direct NIC in the text there is nothing to record. The others parse (and refuse) whatever comes.
    /// </summary>
    public virtual bool MayHaveWork(ReadOnlySpan<byte> xml) => true;

    protected static bool MentionsMacvtaps(ReadOnlySpan<byte> xml, bool owned, bool direct) =>
        (owned && xml.IndexOf(ShimMetadata.NamespaceUtf8) >= 0) || (direct && xml.IndexOf("direct"u8) >= 0);

    /// <summary>What libvirt said about the call beyond its name, added to its log line ("" when nothing).</summary>
    public virtual string Circumstance(HookCall call) => "";

}

/// <summary>An operation that cannot do without the domain XML: XML it cannot read fails the guest's start, migration or restore.</summary>
internal abstract class GuestOperation : HookOperation
{
    public sealed override bool FailsTheGuest => true;

    /// <summary>Does the work; what it writes to <paramref name="stdout"/> replaces libvirt's XML (migrate and restore only).</summary>
    public abstract string Execute(ShimContext context, DomainDescription domain, XDocument document, TextWriter stdout);
}

/// <summary>Bookkeeping that never stops a guest: it goes on without the domain XML when that cannot be read.</summary>
internal abstract class BookkeepingOperation : HookOperation
{
    public sealed override bool FailsTheGuest => false;

    /// <summary>Does the work; <paramref name="domain"/> is null when the XML could not be read.</summary>
    public abstract string Execute(ShimContext context, HookCall call, DomainDescription? domain);
}

internal static class HookOperations
{
    public static HookOperation? Find(string operation) => operation switch
    {
        "prepare" => new PrepareOperation(),
        "start" or "started" => new RecordOperation(),
        "reconnect" => new ReconnectOperation(),
        "release" => new ReleaseOperation(),
        "migrate" or "restore" => new ArrivalOperation(),
        _ => null,
    };
}

internal sealed class PrepareOperation : GuestOperation
{
    public override bool HasWork(DomainDescription domain) => domain.OwnedNics.Count > 0;

    public override string Execute(ShimContext context, DomainDescription domain, XDocument document, TextWriter stdout)
    {
        using var session = ShimSession.Open(context);
        int created = PrepareLinks.Run(session, context.Settings, context.Links, context.Marker, context.Log, context.Now, domain);
        return $"created {created} of {domain.OwnedNics.Count} macvtaps";
    }
}

internal sealed class RecordOperation : BookkeepingOperation
{
    public override int ExitStatusOnFailure => 0;
    public override bool HasWork(DomainDescription domain) => domain.LibvirtMacvtaps.Any(n => n.Name is not null);
    public override bool MayHaveWork(ReadOnlySpan<byte> xml) => MentionsMacvtaps(xml, owned: false, direct: true);

    public override string Execute(ShimContext context, HookCall call, DomainDescription? domain)
    {
        if (domain is null) return "nothing recorded: domain XML unreadable";
        using var session = ShimSession.Open(context);
        if (!RecordNames.RecordLibvirtNames(session.State, context.Log, domain)) return "names already recorded";
        session.Commit();
        return "recorded libvirt's macvtap names";
    }
}

internal sealed class ReconnectOperation : BookkeepingOperation
{
    public override int ExitStatusOnFailure => 0;
    public override bool HasWork(DomainDescription domain) => domain.HasMacvtaps;
    public override bool MayHaveWork(ReadOnlySpan<byte> xml) => MentionsMacvtaps(xml, owned: true, direct: true);

    public override string Execute(ShimContext context, HookCall call, DomainDescription? domain)
    {
        if (domain is null) return "nothing recorded: domain XML unreadable";
        using var session = ShimSession.Open(context);
        bool changed = RecordNames.RecordLibvirtNames(session.State, context.Log, domain)
            | RecordNames.RecordOwnedLinks(session.State, context.Links, context.Marker, context.Log, domain);
        if (!changed) return "state already up to date";
        session.Commit();
        return "re-recorded names and links";
    }
}

internal sealed class ReleaseOperation : BookkeepingOperation
{
    public override bool HasWork(DomainDescription domain) => true;

    /// <summary>libvirt 10.5+ says why the guest stopped: one word, or "from snapshot"; "-" before.</summary>
    public override string Circumstance(HookCall call) => $"; shutoff reason: {ShutoffReason(call)}";

    public static string ShutoffReason(HookCall call) => call.Extra == "-" ? "none given" : ReleaseHistory.Printable(call.Extra);

    public override string Execute(ShimContext context, HookCall call, DomainDescription? domain)
    {
        using var session = ShimSession.Open(context);
        Guid? uuid = domain?.Uuid ?? session.State.Records.FirstOrDefault(r => r.DomainName == call.Domain)?.Domain;
        RecordHistory(context, new ReleaseEntry(context.Now, uuid, domain?.Name ?? call.Domain, call.Extra));
        if (uuid is null) return "nothing recorded for the domain";
        ReleaseLinks.Outcome outcome = ReleaseLinks.Run(session, context.Links, context.Marker, context.Settings.LibvirtConfigDir, context.Now,
            uuid.Value, domain?.OwnedNics.Select(n => n.Name).ToList() ?? []);
        string leftAlone = outcome.LeftAlone.Count > 0 ? $"; left alone (not ours): {string.Join(", ", outcome.LeftAlone)}" : "";
        return $"deleted {outcome.Deleted} macvtaps, released {outcome.RecordsDropped} records{leftAlone}";
    }

    /// <summary>Only for status: a history that cannot be written costs a warning, never the release.</summary>
    private static void RecordHistory(ShimContext context, ReleaseEntry entry)
    {
        try
        {
            ReleaseHistory.Record(context.Settings.StateDir, entry);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ShimFailure)
        {
            context.Log.Warning("release history not written: {Problem}", e.Message);
        }
    }
}

internal sealed class ArrivalOperation : GuestOperation
{
    public override bool HasWork(DomainDescription domain) => domain.OwnedNics.Count > 0 || domain.LibvirtMacvtaps.Any(n => n.Lower is not null);

    /// <summary>Only here does stdout matter: the rewritten XML replaces libvirt's, empty output keeps it.</summary>
    public override string Execute(ShimContext context, DomainDescription domain, XDocument document, TextWriter stdout)
    {
        using ShimSession? session = domain.OwnedNics.Count > 0 ? ShimSession.Open(context) : null;
        string? rewritten = ArrivingDomain.Run(context.Settings, context.Links, context.Marker, context.Log, context.Now, session, domain, document);
        if (rewritten is null) return $"names and lower devices fit this host; {domain.OwnedNics.Count} names reserved";
        stdout.Write(rewritten);
        return $"rewrote the domain XML for this host; {domain.OwnedNics.Count} names reserved";
    }
}
