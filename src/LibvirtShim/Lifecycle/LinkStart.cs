using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// Whether <c>prepare</c> and <c>attach-interface</c> bring the links they create up at once, and why. Down when a listener
/// connected to libvirt runs (<c>libvirt-shim watch</c>: it brings them up when the guest's vCPUs run here, as libvirt does with
/// its own direct NICs); up at once otherwise, as before there was a listener. Deciding costs a look at a lock: no libvirt call,
/// no wait.
/// </summary>
internal readonly record struct LinkStart(bool Up, ListenerPresence Listener)
{
    /// <summary>For a guest whose vCPUs have not started yet (prepare: a start, a restore, an arriving migration).</summary>
    public static LinkStart BeforeTheVcpus(string stateDir)
    {
        ListenerPresence listener = ListenerLock.Probe(stateDir);
        return new LinkStart(listener != ListenerPresence.Connected, listener);
    }

    /// <summary>For a NIC plugged into a guest that is there already: up when its vCPUs run, or when no listener would bring it up later.</summary>
    public static LinkStart ForGuest(string stateDir, bool vcpusRun)
    {
        LinkStart before = BeforeTheVcpus(stateDir);
        return before with { Up = before.Up || vcpusRun };
    }

    /// <summary>What the call's log line says of it.</summary>
    public string Describe() => (Up, Listener) switch
    {
        (false, _) => "down until the guest's vCPUs run (the listener brings them up)",
        (true, ListenerPresence.Connected) => "up: the guest's vCPUs run",
        (true, ListenerPresence.Absent) => "up at once: no listener (libvirt-shim watch) has run since boot",
        (true, ListenerPresence.Gone) => "up at once: the listener (libvirt-shim watch) is not connected to libvirt (stopped, died or waiting)",
        (true, _) => "up at once: the listener's lock file cannot be looked at",
    };
}
