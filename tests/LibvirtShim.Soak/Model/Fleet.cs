namespace LibvirtShim.Soak.Model;

/// <summary>
/// The run's guests: two that boot Linux (one owned NIC each, and one more they configure when it is hot-plugged) and
/// four without an operating system, whose NICs vary: one to three owned NICs in bridge, private and vepa mode, one with
/// an MTU, and one guest that keeps a libvirt direct NIC beside its owned one. Some owned NICs are guarded (issue 24): a
/// booted guest's with guard='ip' (its LAN addresses: it must still answer pings) and the other's with guard='mac', and
/// NICs of guests without an OS with either. MACs are 52:54:00:e2:aG:NN (defined) and 52:54:00:e2:bG:NN (hot-plugged),
/// G the guest's index.
/// </summary>
public static class Fleet
{
    public const string Prefix = "e2e-soak-";

    public static IReadOnlyList<GuestSpec> Create() =>
    [
        Guest(0, "b0", booted: true, [Owned(0, 1, "bridge") with { Guard = "ip" }]),
        Guest(1, "b1", booted: true, [Owned(1, 1, "bridge") with { Guard = "mac" }]),
        Guest(2, "n0", booted: false, [Owned(2, 1, "bridge")]),
        Guest(3, "n1", booted: false, [Owned(3, 1, "bridge") with { Guard = "mac" }, Owned(3, 2, "private") with { Guard = "ip", Ips = "198.51.100.32" }]),
        Guest(4, "n2", booted: false,
            [Owned(4, 1, "bridge"), Owned(4, 2, "vepa"), Owned(4, 3, "bridge", mtu: 1400) with { Guard = "ip", Ips = "203.0.113.43 2001:db8:43::/64" }]),
        Guest(5, "n3", booted: false, [Owned(5, 1, "bridge"), new SpecNic(Mac(0xa0 + 5, 2), "bridge", null, Owned: false)]),
    ];

    /// <summary>52:54:00:e2:GG:NN.</summary>
    public static string Mac(int group, int index) => $"52:54:00:e2:{group:x2}:{index:x2}";

    /// <summary>The MAC of the <paramref name="count"/>th NIC hot-plugged into a guest without an OS (wraps after 255).</summary>
    public static string HotMac(GuestSpec guest, int count) => Mac(0xb0 + guest.Index, 1 + count % 255);

    private static GuestSpec Guest(int index, string suffix, bool booted, IReadOnlyList<SpecNic> nics) =>
        new(index, Prefix + suffix, new Guid($"50a4c000-0000-4000-8000-0000000000{index:x2}"), booted, nics,
            booted ? Mac(0xb0 + index, 0) : null);

    private static SpecNic Owned(int guest, int index, string mode, int? mtu = null) => new(Mac(0xa0 + guest, index), mode, mtu, Owned: true);
}
