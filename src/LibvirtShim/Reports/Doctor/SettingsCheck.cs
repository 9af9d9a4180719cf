using LibvirtShim.Configuration;
using LibvirtShim.Messages;

namespace LibvirtShim.Reports.Doctor;

/// <summary>The settings as every hook call reads them; null when they are not valid.</summary>
internal static class SettingsCheck
{
    public static ShimSettings? Run(DoctorHost host, List<DoctorCheck> checks)
    {
        const string area = "settings";
        string file = host.SettingsFile;
        try
        {
            ShimSettings settings = host.LoadSettings();
            checks.Add(DoctorCheck.Ok(area, File.Exists(file) ? $"{file} is valid" : $"no {file}: the defaults apply"));
            return settings;
        }
        catch (ShimFailure e)
        {
            checks.Add(DoctorCheck.Fail(area, e.Message, $"fix it in {file} (every hook call reads it; with invalid settings each call fails)"));
            return null;
        }
    }
}
