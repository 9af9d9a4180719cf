using LibvirtShim.Net;
using LibvirtShim.State;

namespace LibvirtShim.Benchmarks.Support;

/// <summary>
/// States shaped like a busy host's, built through the product's own types (and written by its StateStore/StateCodec):
/// names held by other domains. Deterministic, so every run benchmarks the same bytes.
/// </summary>
internal static class StateFactory
{
    /// <summary>
    /// <paramref name="records"/> records of other domains: 70 % macvtaps libvirt-shim created (guests of 82, 8 and 1
    /// owned NICs), 5 % names held for stopped guests' definitions (10 per guest), 25 % libvirt's own direct NICs
    /// (macvtapN, 4 per guest). Managed names start at <paramref name="firstManagedIndex"/>, so PREFIX0 up to it stay
    /// free for the benchmarked guest.
    /// </summary>
    public static NameState Busy(NameScheme scheme, int records, int firstManagedIndex)
    {
        int created = records * 70 / 100, defined = records * 5 / 100;
        if (firstManagedIndex + created + defined > scheme.Capacity)
            throw new ArgumentException($"{records} records need {created + defined} managed names from {scheme.Prefix}{firstManagedIndex}; the capacity is {scheme.Capacity}");
        var state = new NameState(scheme, cursor: (uint)firstManagedIndex);
        int[] createdGuestSizes = [82, 8, 8, 1, 1, 1];
        int domain = -1, left = 0;
        Holding? kind = null;
        for (int i = 0; i < records; i++)
        {
            Holding now = i < created ? Holding.Created : i < created + defined ? Holding.Defined : Holding.Libvirt;
            if (left == 0 || now != kind)
            {
                domain++;
                kind = now;
                left = now switch { Holding.Created => createdGuestSizes[domain % createdGuestSizes.Length], Holding.Defined => 10, _ => 4 };
            }
            left--;
            Guid uuid = DomainUuid(domain);
            string guest = $"guest-{domain:D4}";
            var mac = new MacAddress(0x5254_0000_0000UL | (uint)(i + 1));
            state.Put(now switch
            {
                Holding.Created => new NameRecord(scheme.NameOf(firstManagedIndex + i), now, uuid, guest, mac, i % 2 == 0 ? "uplink0" : "uplink1",
                    MacvtapMode.Bridge, 1000 + i, InDefinitionToo: i % 10 == 0),
                Holding.Defined => new NameRecord(scheme.NameOf(firstManagedIndex + i), now, uuid, guest, mac, "uplink0"),
                _ => new NameRecord($"macvtap{i - created - defined}", now, uuid, guest, mac, "uplink1", MacvtapMode.Bridge, 1000 + i),
            });
        }
        return state;
    }

    /// <summary>The held indexes as macvtaps created for other guests (82 names per guest).</summary>
    public static NameState HeldByOthers(NameScheme scheme, IReadOnlyList<int> held)
    {
        var state = new NameState(scheme);
        for (int i = 0; i < held.Count; i++)
        {
            int domain = i / 82;
            state.Put(new NameRecord(scheme.NameOf(held[i]), Holding.Created, DomainUuid(domain), $"guest-{domain:D4}",
                new MacAddress(0x5254_0000_0000UL | (uint)(i + 1)), "uplink0", MacvtapMode.Bridge, 1000 + i));
        }
        return state;
    }

    private static Guid DomainUuid(int domain) => new($"b3c4d5e6-0000-4000-8000-{domain:x12}");
}
