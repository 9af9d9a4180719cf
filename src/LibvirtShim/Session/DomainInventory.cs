using LibvirtShim.Domain;
using LibvirtShim.Messages;
using Serilog;

namespace LibvirtShim.Session;

/// <summary>Domains as libvirt keeps them on disk: status files of running guests, persistent definitions.</summary>
internal static class DomainInventory
{
    /// <summary>
    /// Every readable NAME.xml in a directory (not *.xml.new, not *.pid), keyed by UUID; unreadable ones (over a bound,
    /// torn, not XML) are logged, skipped and, when <paramref name="unreadable"/> is given, listed there: for status
    /// files that means a guest whose state is unknown, not one that is gone.
    /// </summary>
    public static Dictionary<Guid, DomainDescription> Read(string directory, ILogger log, List<string>? unreadable = null)
    {
        var domains = new Dictionary<Guid, DomainDescription>();
        if (!Directory.Exists(directory)) return domains;
        foreach (string path in Directory.EnumerateFiles(directory))
        {
            if (!path.EndsWith(".xml", StringComparison.Ordinal)) continue;
            try
            {
                DomainDescription domain = DomainReader.ReadLenient(DomainXml.Parse(DomainXml.ReadFile(path)));
                domains[domain.Uuid] = domain;
            }
            catch (Exception e) when (e is ShimFailure or IOException or UnauthorizedAccessException)
            {
                log.Warning("Skipped {Path}: {Problem}", path, e.Message);
                unreadable?.Add(path);
            }
        }
        return domains;
    }

    /// <summary>
    /// The pid of a running guest's QEMU, from its status file (<c>&lt;domstatus pid=...&gt;</c>), or null when there is no
    /// such file or it says nothing usable.
    /// </summary>
    public static int? GuestPid(string runDirectory, string domainName)
    {
        if (domainName.Contains('/') || domainName is "." or "..") return null;
        try
        {
            var root = DomainXml.Parse(DomainXml.ReadFile(Path.Combine(runDirectory, domainName + ".xml"))).Root;
            return root?.Name == "domstatus" && int.TryParse((string?)root.Attribute("pid"), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out int pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is ShimFailure or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The persistent definition of one domain, found by its UUID (the file of <paramref name="domainName"/> first; a
    /// definition renamed with virsh domrename is found under its new name). <see cref="DefinitionRead.Lookup"/> says
    /// when it is gone, or when that cannot be known (a file or the directory unreadable): a caller frees nothing then.
    /// </summary>
    public static DefinitionRead ReadDefinition(string configDirectory, string domainName, Guid uuid)
    {
        DefinitionLookup lookup = DefinitionFiles.Find(configDirectory, domainName, uuid, out string? path);
        if (lookup != DefinitionLookup.Found) return new DefinitionRead(lookup, null);
        try
        {
            DomainDescription domain = DomainReader.ReadLenient(DomainXml.Parse(DomainXml.ReadFile(path!)));
            return domain.Uuid == uuid ? new DefinitionRead(DefinitionLookup.Found, domain) : new DefinitionRead(DefinitionLookup.Unknown, null);
        }
        catch (Exception e) when (e is ShimFailure or IOException or UnauthorizedAccessException)
        {
            return new DefinitionRead(DefinitionLookup.Unknown, null);
        }
    }
}

/// <summary>A domain's definition as <see cref="DomainInventory.ReadDefinition"/> found it: <see cref="Domain"/> when found.</summary>
internal sealed record DefinitionRead(DefinitionLookup Lookup, DomainDescription? Domain)
{
    /// <summary>Whether the definition uses <paramref name="name"/> for an owned NIC; true when that cannot be known (keep, on a doubt).</summary>
    public bool Uses(string name) => Lookup == DefinitionLookup.Unknown || Domain?.OwnedNics.Any(n => n.Name == name) == true;
}
