using LibvirtShim.Domain;

namespace LibvirtShim.Libvirt;

/// <summary>
/// One guest as libvirt answered for it at one moment: who it is, its state (virDomainGetState) and the names of the links of
/// the NICs its live XML hands to the hook (its &lt;shim:link&gt; metadata, read as <see cref="DomainReader"/> reads it).
/// </summary>
internal sealed record GuestSnapshot(Guid Uuid, string Name, GuestState State, int Reason, IReadOnlyList<string> LinkNames)
{
    /// <summary>What its links should be: up, down, or null (not running here: left to release).</summary>
    public bool? LinksUp => GuestStates.LinksUp(State);

    /// <summary>"paused (migration)": the state as a log line shows it.</summary>
    public string Describe() => GuestStates.Describe(State, Reason);
}

/// <summary>Where the listener asks libvirt about guests (a connection to the daemon, or libvirt's test driver in tests).</summary>
internal interface IGuestSource
{
    /// <summary>The guest with this UUID as libvirt has it now; null when libvirt no longer knows it.</summary>
    GuestSnapshot? Find(Guid uuid);

    /// <summary>Every active guest (running or paused here), for a reconcile.</summary>
    IReadOnlyList<GuestSnapshot> Active();
}

/// <summary>A connection the listener asks about guests, and closes when it is gone.</summary>
internal interface IGuestConnection : IGuestSource, IDisposable;
