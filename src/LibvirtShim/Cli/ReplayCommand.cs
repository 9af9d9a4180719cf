using System.Diagnostics;
using LibvirtShim.Domain;
using LibvirtShim.Hook;
using LibvirtShim.Lifecycle;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.Messages;
using LibvirtShim.State;
using LibvirtShim.Reports;

namespace LibvirtShim.Cli;

/// <summary><c>replay</c>: each step through the real hook logic, with its exit status, time, messages and the links it left.</summary>
internal static class ReplayCommand
{
    public static int Run(string path, IReadOnlyList<string> settingOverrides, TextWriter output)
    {
        List<ReplayStep> steps = ReplayScript.Load(path);
        Configuration.ShimSettings settings = Configuration.SettingsLoader.Load(settingOverrides);
        var marker = LinkMarker.For(settings);
        var runner = new HookRunner(HookHost.ForSystem(settingOverrides));
        int failures = 0;
        for (int i = 0; i < steps.Count; i++)
        {
            ReplayStep step = steps[i];
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var watch = Stopwatch.StartNew();
            byte[] xml = DomainXml.ReadNamedFile(step.XmlPath);
            int exit = runner.Run(step.Call, new MemoryStream(xml, writable: false), stdout, stderr);
            watch.Stop();
            if (exit != 0) failures++;
            output.WriteLine($"[{i + 1}/{steps.Count}] {step.Call}  exit {exit}  {watch.Elapsed.TotalMilliseconds:0.0} ms");
            foreach (string line in Lines(stderr.ToString())) output.WriteLine($"    stderr: {line}");
            if (stdout.ToString().Length > 0) output.WriteLine($"    stdout: {stdout.ToString().Length} bytes of rewritten domain XML");
            ShowLinks(step, xml, marker, settings, output);
        }
        return failures == 0 ? 0 : 1;
    }

    private static void ShowLinks(ReplayStep step, byte[] xml, LinkMarker marker, Configuration.ShimSettings settings, TextWriter output)
    {
        Guid uuid;
        try
        {
            uuid = DomainReader.ReadLenient(DomainXml.Parse(xml)).Uuid;
        }
        catch (ShimFailure)
        {
            return;
        }
        using LinkTable table = LinkTable.Open();
        IReadOnlyList<Link> all = table.Dump();
        var lowers = all.ToDictionary(l => l.Index, l => l.Name);
        var ours = all.Where(l => marker.IsOwnedBy(l, uuid)).OrderBy(l => l.Index).ToList();
        output.WriteLine($"    links of libvirt-shim's for {step.Call.Domain}: {ours.Count}; names held: {NamesHeld(settings, uuid)}");
        if (step.Call.Operation != "prepare") return;
        foreach (Link link in ours)
            output.WriteLine($"      {link.Name,-15} ifindex {link.Index,-6} {link.Mac}  on " +
                $"{lowers.GetValueOrDefault(link.LowerIndex, "?"),-12} {link.Mode?.Name(),-8} {(link.IsUp ? "up" : "down")}");
    }

    /// <summary>The domain's records by what holds them, e.g. "created 82 (mvtap0 ... mvtap81)", read under the lock.</summary>
    private static string NamesHeld(Configuration.ShimSettings settings, Guid uuid)
    {
        if (!Directory.Exists(settings.StateDir)) return "none";
        using StateLease lease = ShimContext.StoreFor(settings).Lock();
        var records = lease.Load(new NameScheme(settings.NamePrefix, settings.Capacity)).State?.OfDomain(uuid) ?? [];
        if (records.Count == 0) return "none";
        return string.Join("; ", records.GroupBy(r => r.Holding).Select(g =>
        {
            var names = g.Select(r => r.Name).OrderBy(n => n.Length).ThenBy(n => n, StringComparer.Ordinal).ToList();
            string shown = names.Count <= 4 ? string.Join(", ", names) : $"{names[0]}, {names[1]} ... {names[^1]}";
            return $"{g.Key.Word()} {names.Count} ({shown})";
        }));
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
