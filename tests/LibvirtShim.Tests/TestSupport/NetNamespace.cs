using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using LibvirtShim.Netlink;
using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// A throw-away network namespace ("shimtest-" + random hex) made with `ip netns add` and deleted on Dispose.
/// Setup and independent verification go through `ip -n NAME ...`; <see cref="OpenLinkTable"/> opens the code under
/// test inside it. Nothing here touches the host's own links.
/// </summary>
internal sealed partial class NetNamespace : IDisposable
{
    private const int CLONE_NEWNET = 0x40000000;

    private NetNamespace(string name) => Name = name;

    public string Name { get; }

    public static NetNamespace Create()
    {
        string name = "shimtest-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();
        Tool.Run("ip", "netns", "add", name);
        return new NetNamespace(name);
    }

    /// <summary>Runs `ip -n NAME args...`; throws with stderr when it fails; returns stdout.</summary>
    public string Ip(params string[] args) => Tool.Run("ip", ["-n", Name, .. args]);

    /// <summary>Runs `ip -n NAME args...`; returns the exit code and stderr instead of throwing.</summary>
    public (int ExitCode, string Error) TryIp(params string[] args) => Tool.TryRun("ip", ["-n", Name, .. args]);

    /// <summary>`ip -d -j link show`, parsed.</summary>
    public IReadOnlyList<IpLink> Links()
    {
        using JsonDocument document = JsonDocument.Parse(Ip("-d", "-j", "link", "show"));
        return document.RootElement.EnumerateArray().Select(IpLink.From).ToList();
    }

    public IpLink Link(string name) => Links().Single(link => link.Name == name);

    /// <summary>The IPv4 and IPv6 addresses on <paramref name="link"/> (`ip -j addr show dev`), as "family address/prefix".</summary>
    public IReadOnlyList<string> Addresses(string link)
    {
        using JsonDocument document = JsonDocument.Parse(Ip("-j", "addr", "show", "dev", link));
        return document.RootElement.EnumerateArray()
            .SelectMany(l => l.TryGetProperty("addr_info", out JsonElement info) ? info.EnumerateArray().ToList() : [])
            .Select(a => $"{a.GetProperty("family").GetString()} {a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}")
            .ToList();
    }

    /// <summary>Adds a veth pair, both ends up; returns the first end's ifindex.</summary>
    public int AddVeth(string name, string peer)
    {
        Ip("link", "add", name, "type", "veth", "peer", "name", peer);
        Ip("link", "set", name, "up");
        Ip("link", "set", peer, "up");
        return Link(name).Index;
    }

    /// <summary>
    /// Opens a <see cref="LinkTable"/> inside the namespace: network namespaces are per thread, so a new thread joins it
    /// (setns), opens the socket and ends; the socket stays in the namespace. Checks it sees the namespace's links.
    /// </summary>
    public LinkTable OpenLinkTable()
    {
        LinkTable table = InNamespace(LinkTable.Open);
        try
        {
            RequireSameLinks(table);
            return table;
        }
        catch
        {
            table.Dispose();
            throw;
        }
    }

    /// <summary>Opens the netfilter socket of the guards inside the namespace, as <see cref="OpenLinkTable"/> does.</summary>
    public LibvirtShim.Netfilter.GuardTables OpenGuardTables() => InNamespace(LibvirtShim.Netfilter.GuardTables.Open);

    /// <summary>`nft -j list ruleset` inside the namespace, parsed: what the kernel holds, read by another program.</summary>
    public JsonDocument NftRuleset() => JsonDocument.Parse(Tool.Run("ip", "netns", "exec", Name, "nft", "-j", "list", "ruleset"));

    public void Dispose()
    {
        (int exitCode, string error) = Tool.TryRun("ip", "netns", "del", Name);
        if (exitCode != 0) Console.Error.WriteLine($"ip netns del {Name} failed: {error}");
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a new thread that has joined the namespace, and returns what it made
    /// (a socket opened there stays in the namespace after the thread ends).
    /// </summary>
    public T InNamespace<T>(Func<T> action)
    {
        T? result = default;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                JoinNamespace();
                result = action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        });
        thread.Name = $"setns {Name}";
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result!;
    }

    private void JoinNamespace()
    {
        using SafeFileHandle handle = File.OpenHandle($"/run/netns/{Name}", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (SetNs(handle, CLONE_NEWNET) != 0)
            throw new InvalidOperationException($"setns({Name}): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>The table must see exactly what `ip -n` sees: proof the socket is in this namespace, not the host's.</summary>
    private void RequireSameLinks(LinkTable table)
    {
        string[] seen = table.Dump().Select(link => $"{link.Index}:{link.Name}").Order().ToArray();
        string[] expected = Links().Select(link => $"{link.Index}:{link.Name}").Order().ToArray();
        if (!seen.SequenceEqual(expected))
            throw new InvalidOperationException($"LinkTable sees [{string.Join(", ", seen)}], netns {Name} has [{string.Join(", ", expected)}]");
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(SafeFileHandle fd, int nstype);
}
