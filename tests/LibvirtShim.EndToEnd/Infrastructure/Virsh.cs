using System.Xml.Linq;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>A row of <c>virsh domiflist</c>.</summary>
public sealed record IfListRow(string Interface, string Type, string Source, string Model, string Mac);

/// <summary>virsh against one daemon, the way an administrator drives it.</summary>
public sealed class Virsh(string uri, string workDir)
{
    public const string MainUri = "qemu:///system";
    public const string GuestPrefix = "e2e-";

    public string Uri { get; } = uri;

    public CmdResult Run(params string[] args) => Run(Cmd.DefaultTimeout, args);

    public CmdResult Run(TimeSpan timeout, params string[] args) =>
        Cmd.Run("virsh", ["-q", "-c", Uri, .. args], timeout);

    public Task<CmdResult> RunAsync(TimeSpan timeout, params string[] args) =>
        Cmd.RunAsync("virsh", ["-q", "-c", Uri, .. args], timeout);

    /// <summary>Writes the XML to a file in the work directory, for define/create/net-create.</summary>
    public string WriteXml(string name, string xml)
    {
        string path = Path.Combine(workDir, $"{name}-{Guid.NewGuid():N}.xml");
        File.WriteAllText(path, xml);
        return path;
    }

    public void Define(GuestXml guest) => Run("define", WriteXml(guest.Name, guest.ToXml())).MustSucceed($"defining {guest.Name}");

    public CmdResult Start(string name) => Run("start", name);

    public Task<CmdResult> StartAsync(string name) => RunAsync(Cmd.DefaultTimeout, "start", name);

    /// <summary>A transient guest (virsh create).</summary>
    public CmdResult Create(GuestXml guest) => Run("create", WriteXml(guest.Name, guest.ToXml()));

    public Task<CmdResult> CreateAsync(GuestXml guest) => RunAsync(Cmd.DefaultTimeout, "create", WriteXml(guest.Name, guest.ToXml()));

    public CmdResult Destroy(string name) => Run("destroy", name);

    public Task<CmdResult> DestroyAsync(string name) => RunAsync(Cmd.DefaultTimeout, "destroy", name);

    public string DomState(string name)
    {
        CmdResult r = Run("domstate", name);
        return r.Ok ? r.Stdout.Trim() : $"(no such domain: {r.Stderr.Trim()})";
    }

    public bool Exists(string name) => Run("dominfo", name).Ok;

    /// <summary>Running or paused (a disk-less guest may pause itself on a KVM emulation failure; it is still active).</summary>
    public bool IsActive(string name) => ActiveNames().Contains(name);

    public HashSet<string> ActiveNames() => Names(all: false);

    public HashSet<string> Names(bool all)
    {
        CmdResult r = all ? Run("list", "--all", "--name") : Run("list", "--name");
        r.MustSucceed("listing guests");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
    }

    public List<IfListRow> DomIfList(string name)
    {
        CmdResult r = Run("domiflist", name).MustSucceed($"domiflist {name}");
        var rows = new List<IfListRow>();
        foreach (string line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 5) rows.Add(new IfListRow(f[0], f[1], f[2], f[3], f[4].ToLowerInvariant()));
        }
        return rows;
    }

    public XDocument DumpXml(string name, bool inactive = false)
    {
        CmdResult r = inactive ? Run("dumpxml", "--inactive", name) : Run("dumpxml", name);
        return XDocument.Parse(r.MustSucceed($"dumpxml {name}").Stdout);
    }

    /// <summary>Destroys (if active) and undefines (if persistent) every guest whose name starts with <paramref name="prefix"/>.</summary>
    public void RemoveGuests(string prefix)
    {
        if (!prefix.StartsWith(GuestPrefix, StringComparison.Ordinal)) throw new ArgumentException($"only {GuestPrefix}* guests are ours");
        CmdResult list = Run(TimeSpan.FromSeconds(30), "list", "--all", "--name");
        if (!list.Ok) return;
        var names = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        // In parallel: a destroy takes 1-2 s, and a failed scenario may leave twenty guests.
        Task.WhenAll(names.Select(async name =>
        {
            await RunAsync(TimeSpan.FromSeconds(60), "destroy", name);
            await RunAsync(TimeSpan.FromSeconds(30), "undefine", name);
        })).GetAwaiter().GetResult();
    }

    /// <summary>Destroys and undefines networks whose name starts with <paramref name="prefix"/>.</summary>
    public void RemoveNetworks(string prefix)
    {
        if (!prefix.StartsWith(GuestPrefix, StringComparison.Ordinal)) throw new ArgumentException($"only {GuestPrefix}* networks are ours");
        CmdResult list = Run(TimeSpan.FromSeconds(30), "net-list", "--all", "--name");
        if (!list.Ok) return;
        foreach (string name in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                     .Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            Run(TimeSpan.FromSeconds(30), "net-destroy", name);
            Run(TimeSpan.FromSeconds(30), "net-undefine", name);
        }
    }
}
