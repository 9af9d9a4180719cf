using System.Diagnostics;
using LibvirtShim.Domain;
using LibvirtShim.Hook;
using LibvirtShim.Net;
using LibvirtShim.Reports;
using LibvirtShim.Session;

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
        if (DomainLinksReport.For(xml, settings, marker) is not { } report) return;
        output.WriteLine($"    links of libvirt-shim's for {step.Call.Domain}: {report.Links.Count}; names held: {NamesHeld(report)}");
        if (step.Call.Operation != "prepare") return;
        foreach (var (link, lower) in report.Links)
            output.WriteLine($"      {link.Name,-15} ifindex {link.Index,-6} {link.Mac}  on {lower,-12} {link.Mode?.Name(),-8} " +
                (link.IsUp ? "up" : "down"));
    }

    /// <summary>The domain's records by what holds them, e.g. "created 82 (mvtap0 ... mvtap81)".</summary>
    private static string NamesHeld(DomainLinksReport report)
    {
        if (report.Held.Count == 0) return "none";
        return string.Join("; ", report.Held.Select(h =>
        {
            string shown = h.Names.Count <= 4 ? string.Join(", ", h.Names) : $"{h.Names[0]}, {h.Names[1]} ... {h.Names[^1]}";
            return $"{h.Holding.Word()} {h.Names.Count} ({shown})";
        }));
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
