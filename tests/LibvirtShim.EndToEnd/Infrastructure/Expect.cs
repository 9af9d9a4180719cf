using Xunit;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>Checks that gather every disagreement before failing, so one run shows the whole picture.</summary>
public static class Expect
{
    /// <summary>
    /// Each owned NIC has its macvtap: under <paramref name="nameOf"/>(nic) (default: the declared name), with the guest's
    /// MAC, the declared mode, on <paramref name="lowerOf"/>(nic) (default: the declared source), up, carrying the
    /// hook's alias for this guest and <paramref name="instance"/>.
    /// </summary>
    public static void OwnedLinks(GuestXml guest, IReadOnlyDictionary<string, KernelLink> links, string instance,
        Func<OwnedNic, string>? nameOf = null, Func<OwnedNic, string>? lowerOf = null)
    {
        var problems = new List<string>();
        foreach (OwnedNic nic in guest.Owned)
        {
            string name = nameOf?.Invoke(nic) ?? nic.Name;
            string lower = lowerOf?.Invoke(nic) ?? nic.Source;
            if (!links.TryGetValue(name, out KernelLink? link))
            {
                problems.Add($"{nic.Mac}: no link {name}");
                continue;
            }
            if (!link.IsMacvtap) problems.Add($"{name}: kind {link.Kind}, expected macvtap");
            if (link.Mac != nic.Mac) problems.Add($"{name}: MAC {link.Mac}, expected {nic.Mac}");
            if (link.MacvtapMode != nic.Mode) problems.Add($"{name}: mode {link.MacvtapMode}, expected {nic.Mode}");
            if (link.Lower != lower) problems.Add($"{name}: lower device {link.Lower}, expected {lower}");
            if (!link.AdminUp) problems.Add($"{name}: not up ({link.OperState})");
            string alias = $"libvirt-shim:{guest.Uuid:D}@{instance}";
            if (link.Alias != alias) problems.Add($"{name}: alias '{link.Alias}', expected '{alias}'");
        }
        if (problems.Count > 0)
            Assert.Fail($"guest {guest.Name}: owned macvtaps not as declared:\n  " + string.Join("\n  ", problems));
    }

    /// <summary>Neither the state nor the kernel keeps anything of the guest: no status entry by name or UUID, no link with its MACs.</summary>
    public static void NothingLeftOf(GuestXml guest, ShimStatus status, IReadOnlyList<KernelLink> links)
    {
        string? left = Leftovers(guest, status, links);
        if (left is not null) Assert.Fail($"guest {guest.Name}: {left}");
    }

    /// <summary>Polls (bounded) until nothing of the guest is left in the state or the kernel.</summary>
    public static void WaitNothingLeftOf(LibvirtFixture fixture, GuestXml guest, Func<ShimStatus>? status = null, TimeSpan? timeout = null)
    {
        Poll.Until(() => Leftovers(guest, (status ?? fixture.Status)(), IpLinks.All()), left => left is null,
            $"nothing of {guest.Name} left in the state and the kernel", timeout);
    }

    public static string? Leftovers(GuestXml guest, ShimStatus status, IReadOnlyList<KernelLink> links)
    {
        var entries = status.Of(guest);
        var macs = guest.Macs.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var kernel = links.Where(l => macs.Contains(l.Mac)).ToList();
        if (entries.Count == 0 && kernel.Count == 0) return null;
        return $"left in status: [{string.Join("; ", entries)}]; links with its MACs: [{string.Join("; ", kernel)}]";
    }

    /// <summary>The one-line hook message in virsh's error: "libvirt-shim: domain 'NAME': ..." up to the end of the line.</summary>
    public static string HookMessage(CmdResult virsh, string domain)
    {
        string marker = $"libvirt-shim: domain '{domain}': ";
        string text = virsh.Stderr;
        int at = text.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) Assert.Fail($"virsh's error does not carry the hook's message \"{marker}...\":\n{virsh.Describe()}");
        int end = text.IndexOf('\n', at);
        string message = (end < 0 ? text[at..] : text[at..end]).Trim();
        string rest = end < 0 ? "" : text[end..].Trim();
        if (rest.Length > 0) Assert.Fail($"the hook's message is not one line: after \"{message}\" virsh printed:\n{rest}");
        return message;
    }
}
