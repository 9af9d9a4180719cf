using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Reports.Doctor;

/// <summary>The persistent definitions: those the hook would refuse, and their owned NICs' lower devices.</summary>
internal static class DefinitionsCheck
{
    /// <summary>Checks every definition; returns the lower devices their owned NICs use, each with the domains using it.</summary>
    public static Dictionary<string, List<string>> Run(ShimSettings settings, List<DoctorCheck> checks)
    {
        const string area = "definitions";
        var scheme = new NameScheme(settings.NamePrefix, settings.Capacity);
        var lowers = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        int definitions = 0, owned = 0;
        foreach (string path in EnumerateXml(settings.LibvirtConfigDir))
        {
            DomainDescription domain;
            try
            {
                domain = DomainReader.Read(DomainXml.Parse(DomainXml.ReadFile(path)));
            }
            catch (ShimFailure e)
            {
                checks.Add(DoctorCheck.Warn(area, $"{path}: {e.Message}",
                    "the hook refuses to start this domain: fix its definition ('virsh edit'); 'libvirt-shim explain' shows the details"));
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            definitions++;
            foreach (OwnedNic nic in domain.OwnedNics)
            {
                owned++;
                if (LowerDevices.TryResolve(settings, domain, nic, out string? lower, out string? problem))
                    (lowers.TryGetValue(lower, out List<string>? users) ? users : lowers[lower] = []).Add(domain.Name);
                else
                    checks.Add(DoctorCheck.Fail(area, problem, nic.Network is not null
                        ? $"add '{nic.Network}' to the Networks setting" : "add the device to AllowedLowerDevices, or map it with Uplinks"));
                if (!scheme.IsManaged(nic.Name))
                    checks.Add(DoctorCheck.Warn(area,
                        $"{Describe.Nic(domain, nic)}: target dev is not a libvirt-shim name ({scheme.Prefix}N, N below {scheme.Capacity})",
                        "the hook refuses to start it: 'libvirt-shim adopt' or a free name from 'libvirt-shim status'"));
            }
        }
        checks.Add(DoctorCheck.Ok(area, $"{definitions} domain definitions in {settings.LibvirtConfigDir}, {owned} NICs handed to libvirt-shim"));
        return lowers;
    }

    private static IEnumerable<string> EnumerateXml(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        try
        {
            return Directory.EnumerateFiles(directory, "*.xml").Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
