using LibvirtShim.Domain;
using LibvirtShim.Session;

namespace LibvirtShim.Hook;

/// <summary>Bookkeeping that never stops a guest: it goes on without the domain XML when that cannot be read.</summary>
internal abstract class BookkeepingOperation : HookOperation
{
    public sealed override bool FailsTheGuest => false;

    /// <summary>Does the work; <paramref name="domain"/> is null when the XML could not be read.</summary>
    public abstract string Execute(ShimContext context, HookCall call, DomainDescription? domain);
}
