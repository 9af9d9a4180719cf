using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Session;

namespace LibvirtShim.Hook;

/// <summary>An operation that cannot do without the domain XML: XML it cannot read fails the guest's start, migration or restore.</summary>
internal abstract class GuestOperation : HookOperation
{
    public sealed override bool FailsTheGuest => true;

    /// <summary>Does the work; what it writes to <paramref name="stdout"/> replaces libvirt's XML (migrate and restore only).</summary>
    public abstract string Execute(ShimContext context, DomainDescription domain, XDocument document, TextWriter stdout);
}
