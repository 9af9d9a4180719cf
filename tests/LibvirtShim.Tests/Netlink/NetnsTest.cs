using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.TestSupport;

namespace LibvirtShim.Tests.Netlink;

/// <summary>
/// Each test gets its own fresh network namespace with a veth pair ("lower0"/"peer0", up) as the lower device,
/// and a <see cref="LinkTable"/> opened inside it. The namespace is deleted afterwards, whatever happened.
/// </summary>
public abstract class NetnsTest : IDisposable
{
    internal const string LowerName = "lower0";
    internal const string PeerName = "peer0";

    protected NetnsTest()
    {
        Ns = NetNamespace.Create();
        try
        {
            Lower = Ns.AddVeth(LowerName, PeerName);
            Table = Ns.OpenLinkTable();
        }
        catch
        {
            Ns.Dispose();
            throw;
        }
    }

    internal NetNamespace Ns { get; }
    internal LinkTable Table { get; }

    /// <summary>The ifindex of "lower0".</summary>
    internal int Lower { get; }

    /// <summary>Locally administered unicast 02:00:00:GG:HH:LL, unique per <paramref name="number"/>.</summary>
    internal static MacAddress Mac(int number) => new(0x02_00_00_00_00_00UL | (uint)number);

    /// <summary>
    /// <paramref name="count"/> macvtaps on <paramref name="lower"/> named prefix0, prefix1..., modes bridge, vepa,
    /// private, source in turn, MACs from <paramref name="firstMac"/>.
    /// </summary>
    internal static MacvtapRequest[] Requests(int count, int lower, uint group, string prefix = "mvt", int firstMac = 1) =>
        Enumerable.Range(0, count)
            .Select(i => new MacvtapRequest($"{prefix}{i}", lower, Mac(firstMac + i), SharedModes[i % SharedModes.Length], group,
                $"shim:{prefix}:{i}"))
            .ToArray();

    internal static readonly MacvtapMode[] SharedModes = [MacvtapMode.Bridge, MacvtapMode.Vepa, MacvtapMode.Private, MacvtapMode.Source];

    public void Dispose()
    {
        Table.Dispose();
        Ns.Dispose();
        GC.SuppressFinalize(this);
    }
}
