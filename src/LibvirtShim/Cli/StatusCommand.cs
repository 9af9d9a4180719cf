using System.Text.Json;
using LibvirtShim.Lifecycle;
using LibvirtShim.Naming;
using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Cli;

/// <summary><c>status</c>: the state beside the kernel, read under the lock, changing nothing.</summary>
internal static class StatusCommand
{
    public static int Run(IReadOnlyList<string> settingOverrides, bool json, TextWriter output)
    {
        using ShimContext context = CliRun.OpenContext(settingOverrides);
        StateLoad load;
        IReadOnlyList<Link> links;
        using (StateLease lease = context.Store.Lock())
        {
            load = lease.Load(context.Scheme);
            links = context.Links.Dump();
        }
        var running = DomainInventory.Read(context.Settings.LibvirtRunDir, context.Log).Keys.ToHashSet();
        var entries = StateAudit.Compare(load.State ?? new NameState(context.Scheme), context.Marker, links, running, context.Now);
        if (json) WriteJson(output, load, entries);
        else WriteTable(output, load, entries, context.Scheme);
        return load.State is null || entries.Any(e => e.Problem is not null) ? 3 : 0;
    }

    private static void WriteTable(TextWriter output, StateLoad load, List<AuditEntry> entries, NameScheme scheme)
    {
        if (load.State is null) output.WriteLine($"state: not usable ({load.Problem}); the next hook call or 'libvirt-shim seed' rebuilds it");
        else output.WriteLine($"state: {load.State.Count} names held, {load.State.HeldManagedNames} of {scheme.Capacity} {scheme.Prefix}N names");
        foreach (var group in entries.GroupBy(e => e.Lower).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine();
            output.WriteLine($"lower device {(group.Key.Length > 0 ? group.Key : "(unknown)")}:");
            output.WriteLine($"  {"NAME",-15} {"HELD AS",-9} {"DOMAIN",-20} {"MAC",-17} {"MODE",-8} {"LINK",-6} PROBLEM");
            foreach (AuditEntry e in group)
                output.WriteLine($"  {e.Name,-15} {HeldAs(e),-9} {Truncate(e.DomainName, 20),-20} {Mac(e.Mac),-17} {e.Mode.Name(),-8} {e.LinkState,-6} {e.Problem}");
        }
        int problems = entries.Count(e => e.Problem is not null);
        output.WriteLine();
        output.WriteLine(problems == 0 ? "state and kernel agree" : $"{problems} disagreement(s) between state and kernel");
    }

    private static void WriteJson(TextWriter output, StateLoad load, List<AuditEntry> entries)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteBoolean("stateUsable", load.State is not null);
            if (load.Problem is not null && load.State is null) w.WriteString("stateProblem", load.Problem);
            w.WriteStartArray("names");
            foreach (AuditEntry e in entries)
            {
                w.WriteStartObject();
                w.WriteString("name", e.Name);
                w.WriteString("heldAs", HeldAs(e));
                w.WriteString("lower", e.Lower);
                w.WriteString("domain", e.DomainName);
                w.WriteString("uuid", e.Domain == Guid.Empty ? "" : e.Domain.ToString("D"));
                w.WriteString("mac", Mac(e.Mac));
                w.WriteString("mode", e.Mode.Name());
                w.WriteNumber("ifindex", e.Ifindex);
                w.WriteString("link", e.LinkState);
                if (e.Problem is null) w.WriteNull("problem"); else w.WriteString("problem", e.Problem);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static string HeldAs(AuditEntry e) => e.Holding?.ToString().ToLowerInvariant() ?? "none";
    private static string Mac(MacAddress mac) => mac.Value == 0 ? "" : mac.ToString();
    private static string Truncate(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "~";
}
