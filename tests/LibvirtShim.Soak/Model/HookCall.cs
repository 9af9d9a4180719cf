namespace LibvirtShim.Soak.Model;

/// <summary>A hook call a step makes libvirt run: on which host, "prepare begin", "release end", ...</summary>
/// <param name="Stops">A failure of the call stops the step (prepare, migrate, restore): libvirt cancels it. Otherwise
/// (release) libvirt ignores it and whatever the killed call leaves is for seeding.</param>
public sealed record HookCall(Site Site, string Op, string SubOp, bool Stops)
{
    public override string ToString() => $"{Op} {SubOp} on {Site.Label()}";
}
