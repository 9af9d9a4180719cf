using LibvirtShim.Messages;
using LibvirtShim.Reports;
using LibvirtShim.Reports.Doctor;

namespace LibvirtShim.Cli;

/// <summary><c>doctor</c>: the checklist, with a fix under every line that is not ok; exit 0 when nothing failed.</summary>
internal static class DoctorCommand
{
    public static int Run(DoctorHost host, bool json, TextWriter output)
    {
        List<DoctorCheck> checks = DoctorChecks.Run(host);
        int failed = checks.Count(c => c.Status == CheckStatus.Fail);
        int warned = checks.Count(c => c.Status == CheckStatus.Warn);
        if (json) WriteJson(output, checks, failed == 0);
        else WriteText(new PrintableWriter(output), checks, failed, warned);
        return failed == 0 ? 0 : 1;
    }

    private static void WriteText(TextWriter output, List<DoctorCheck> checks, int failed, int warned)
    {
        output.WriteLine($"libvirt-shim {ShimCli.Version} doctor");
        foreach (DoctorCheck check in checks)
        {
            string mark = check.Status switch { CheckStatus.Ok => "ok  ", CheckStatus.Warn => "WARN", _ => "FAIL" };
            output.WriteLine($"  {mark}  {check.Area + ":",-15} {check.Detail}");
            if (check.Fix is not null) output.WriteLine($"        {"",-15} fix: {check.Fix}");
        }
        output.WriteLine();
        output.WriteLine(failed == 0
            ? $"all checks passed{(warned > 0 ? $" ({warned} warning{(warned == 1 ? "" : "s")})" : "")}"
            : $"{failed} check{(failed == 1 ? "" : "s")} failed{(warned > 0 ? $", {warned} warning{(warned == 1 ? "" : "s")}" : "")}: " +
                "see the fix under each");
    }

    private static void WriteJson(TextWriter output, List<DoctorCheck> checks, bool passed) => JsonOutput.Write(output, w =>
    {
        w.WriteBoolean("passed", passed);
        w.WriteObjects("checks", checks, (DoctorCheck check) =>
        {
            w.WriteString("status", check.Status.Word());
            w.WriteString("area", check.Area);
            w.WriteString("detail", check.Detail);
            w.WriteStringOrNull("fix", check.Fix);
        });
    });
}
