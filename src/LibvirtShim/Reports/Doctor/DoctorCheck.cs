namespace LibvirtShim.Reports.Doctor;

internal enum CheckStatus
{
    Ok,
    Warn,
    Fail,
}

/// <summary>One line of the checklist: what was checked, what was found, and for a warning or failure what to do.</summary>
internal sealed record DoctorCheck(CheckStatus Status, string Area, string Detail, string? Fix = null)
{
    public static DoctorCheck Ok(string area, string detail) => new(CheckStatus.Ok, area, detail);
    public static DoctorCheck Warn(string area, string detail, string fix) => new(CheckStatus.Warn, area, detail, fix);
    public static DoctorCheck Fail(string area, string detail, string fix) => new(CheckStatus.Fail, area, detail, fix);
}
