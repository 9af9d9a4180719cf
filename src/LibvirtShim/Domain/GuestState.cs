namespace LibvirtShim.Domain;

/// <summary>libvirt's virDomainState: what virDomainGetState answers, and (as a word) the state of a status file's &lt;domstatus&gt;.</summary>
internal enum GuestState
{
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    Shutdown = 4,
    Shutoff = 5,
    Crashed = 6,
    PmSuspended = 7,
}

/// <summary>
/// The rule the listener keeps and <c>status</c> checks: a link of the hook's is up exactly when its guest's vCPUs run on this
/// host, as libvirt does with its own <c>direct</c> NICs (up just before it starts the vCPUs, down just after it stops them).
/// </summary>
internal static class GuestStates
{
    /// <summary>
    /// True: the vCPUs run here (running, blocked on a resource), or the guest sleeps in its own power management and may be
    /// woken through its NIC (pmsuspended: libvirt leaves its own NICs up then). False: they do not (paused for any reason: by
    /// the user, for a migration in either direction or its switchover, a save, an I/O error, or before its first start;
    /// crashed; shutdown, which the qemu driver only enters once QEMU says the guest finished, its vCPUs stopped: a guest
    /// that powered off, or a migration's source as its QEMU quits). Null: the guest is not running here at all (shutoff, no
    /// state), so its links are release's business.
    /// </summary>
    public static bool? LinksUp(GuestState state) => state switch
    {
        GuestState.Running or GuestState.Blocked or GuestState.PmSuspended => true,
        GuestState.Paused or GuestState.Crashed or GuestState.Shutdown => false,
        _ => null,
    };

    /// <summary>The state a status file's <c>&lt;domstatus state='...'&gt;</c> names (libvirt's words), or null for another word.</summary>
    public static GuestState? Parse(string? word) => word switch
    {
        "nostate" => GuestState.NoState,
        "running" => GuestState.Running,
        "blocked" => GuestState.Blocked,
        "paused" => GuestState.Paused,
        "shutdown" => GuestState.Shutdown,
        "shutoff" => GuestState.Shutoff,
        "crashed" => GuestState.Crashed,
        "pmsuspended" => GuestState.PmSuspended,
        _ => null,
    };

    private static readonly string[] RunningReasons = ["unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
        "migration canceled", "save canceled", "wakeup", "crashed", "post-copy", "post-copy failed"];

    private static readonly string[] PausedReasons = ["unknown", "user", "migration", "save", "dump", "I/O error", "watchdog", "from snapshot",
        "shutting down", "snapshot", "crashed", "starting up", "post-copy", "post-copy failed", "API error"];

    /// <summary>"paused (migration)": the state and its reason as virsh domstate --reason says them (a number when unknown here).</summary>
    public static string Describe(GuestState state, int reason)
    {
        string[]? words = state switch { GuestState.Running => RunningReasons, GuestState.Paused => PausedReasons, _ => null };
        string because = words is not null && reason >= 0 && reason < words.Length ? words[reason] : $"reason {reason}";
        return $"{state.Word()} ({because})";
    }

    /// <summary>libvirt's word for the state (virsh domstate).</summary>
    public static string Word(this GuestState state) => state switch
    {
        GuestState.NoState => "nostate",
        GuestState.Running => "running",
        GuestState.Blocked => "blocked",
        GuestState.Paused => "paused",
        GuestState.Shutdown => "shutdown",
        GuestState.Shutoff => "shutoff",
        GuestState.Crashed => "crashed",
        GuestState.PmSuspended => "pmsuspended",
        _ => $"state {(int)state}",
    };
}
