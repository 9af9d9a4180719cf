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

    /// <summary>The persistent definition of one domain, if it exists under its usual file name and has that UUID.</summary>
    public static DomainDescription? ReadDefinition(string configDirectory, string domainName, Guid uuid)
    {
        if (domainName.Contains('/') || domainName is "." or "..") return null;
        string path = Path.Combine(configDirectory, domainName + ".xml");
        try
        {
            DomainDescription domain = DomainReader.ReadLenient(DomainXml.Parse(DomainXml.ReadFile(path)));
            return domain.Uuid == uuid ? domain : null;
        }
        catch (Exception e) when (e is ShimFailure or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
