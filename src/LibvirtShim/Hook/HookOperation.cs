using LibvirtShim.Domain;

namespace LibvirtShim.Hook;

/// <summary>What one hook operation does, whether a domain gives it anything to do, and what a failure means to libvirt.</summary>
internal abstract class HookOperation
{
    /// <summary>A failing call makes libvirt fail the start, migration or restore.</summary>
    public abstract bool FailsTheGuest { get; }

    /// <summary>
    /// libvirt kills a running guest whose reconnect hook fails, and a start must not fail over bookkeeping: those report and exit 0.
    /// </summary>
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

    /// <summary>
    /// The operation of a call libvirt documents (OP and SUBOP: "prepare begin", "release end", ...), or null for any other
    /// pair, which the hook has nothing to do with: "stopped end", a SUBOP another libvirt version may add, a call typed by hand.
    /// </summary>
    public static HookOperation? For(string operation, string subOperation) => (operation, subOperation) switch
    {
        ("prepare", "begin") => new PrepareOperation(),
        ("start" or "started", "begin") => new RecordOperation(),
        ("reconnect", "begin") => new ReconnectOperation(),
        ("release", "end") => new ReleaseOperation(),
        ("migrate" or "restore", "begin") => new ArrivalOperation(),
        _ => null,
    };
}
