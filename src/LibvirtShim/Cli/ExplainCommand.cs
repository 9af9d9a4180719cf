using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Reports;
using LibvirtShim.Session;

namespace LibvirtShim.Cli;

/// <summary><c>explain DOMAIN.xml</c>: what <c>prepare begin</c> would do for the domain on this host, doing none of it.</summary>
internal static class ExplainCommand
{
    public static int Run(string file, bool json, IReadOnlyList<string> settingOverrides, Stream stdin, TextWriter output)
    {
        if (!json) output = new PrintableWriter(output);
        byte[] xml = DomainXml.ReadInput(file, stdin);
        DomainDescription domain;
        try
        {
            domain = DomainReader.Read(DomainXml.Parse(xml));
        }
        catch (ShimFailure e)
        {
            string name = NameOf(xml) ?? Path.GetFileNameWithoutExtension(file);
            var problem = new PreviewProblem($"domain '{name}': {e.Message}",
                "fix the domain XML ('virsh edit DOMAIN'); the hook reads nothing else of a domain that does not check out");
            if (json) WriteJson(output, null, problem, null);
            else WriteFailure(output, name, problem, "reading the domain XML");
            return 1;
        }

        using ShimContext context = CliRun.OpenContext(settingOverrides, "explain", domain.Name, domain.Uuid);
        if (domain.OwnedNics.Count == 0)
        {
            if (json) WriteJson(output, domain, null, null);
            else WriteNothingToDo(output, domain);
            return 0;
        }
        PreparePreview preview = PreparePreviewer.Preview(context, domain);
        if (json) WriteJson(output, domain, preview.Failure ?? preview.LikelyKernelFailure, preview);
        else WriteText(output, preview, context);
        return preview.WouldSucceed ? 0 : 1;
    }

    private static string? NameOf(byte[] xml)
    {
        try
        {
            return Identity.Name(DomainReader.DomainElement(DomainXml.Parse(xml)));
        }
        catch (ShimFailure)
        {
            return null;
        }
    }

    private static void WriteNothingToDo(TextWriter output, DomainDescription domain)
    {
        output.WriteLine($"domain '{domain.Name}' ({domain.Uuid:D}) hands no NIC to libvirt-shim: prepare does nothing for it.");
        WriteLibvirtMacvtaps(output, domain);
        if (domain.LibvirtMacvtaps.Count > 0)
            output.WriteLine("'libvirt-shim adopt' hands direct NICs to libvirt-shim (names from the bitmap, links made before the guest starts).");
    }

    private static void WriteLibvirtMacvtaps(TextWriter output, DomainDescription domain)
    {
        if (domain.LibvirtMacvtaps.Count == 0) return;
        output.WriteLine(
            $"libvirt's own macvtaps ({domain.LibvirtMacvtaps.Count}): libvirt creates them at start; the hook only records their names:");
        foreach (LibvirtMacvtap nic in domain.LibvirtMacvtaps)
            output.WriteLine($"  NIC {nic.Mac}  {nic.Name ?? "(auto)",-15} {nic.Mode.Name(),-8} on {nic.Lower ?? "?"}");
    }

    private static void WriteText(TextWriter output, PreparePreview preview, ShimContext context)
    {
        DomainDescription domain = preview.Domain;
        int owned = domain.OwnedNics.Count;
        output.WriteLine($"domain '{domain.Name}' ({domain.Uuid:D}) hands {owned} NIC{(owned == 1 ? "" : "s")} to libvirt-shim.");
        if (preview.StateNote is not null) output.WriteLine($"note: {preview.StateNote}");
        output.WriteLine($"prepare begin on this host (instance '{context.Marker.Instance}') would, for each:");
        foreach (NicPreview nic in preview.Nics)
        {
            output.WriteLine($"  NIC {nic.Nic.Mac}  {nic.Nic.Name,-15} {nic.Nic.Mode.Name(),-8} on {nic.LowerNote}: {nic.ActionText()}");
            output.WriteLine($"      {nic.LinkSettings}");
            output.WriteLine($"      {nic.GuardText()}");
            foreach (PreviewProblem problem in nic.Problems) output.WriteLine($"      problem: {problem.Message}");
            foreach (string warning in nic.Warnings) output.WriteLine($"      warning: {warning}");
        }
        WriteLibvirtMacvtaps(output, domain);
        output.WriteLine();
        if (preview.Failure is { } failure) WriteFailure(output, domain.Name, failure, "prepare begin");
        else if (preview.LikelyKernelFailure is { } kernel)
            WriteFailure(output, domain.Name, kernel, "creating the links (the kernel's answer, predicted)");
        else
        {
            int created = preview.Nics.Count(n => n.Action is LinkAction.Create or LinkAction.Replace);
            int kept = preview.Nics.Count - created;
            string keeping = kept > 0 ? $" and keeping {kept} from an earlier prepare" : "";
            output.WriteLine($"result: prepare would succeed, creating {created} macvtap{(created == 1 ? "" : "s")}{keeping} " +
                "(up, with the guest's MAC, marked as libvirt-shim's,");
            output.WriteLine("with no host address: the host never sends from them);");
            int guarded = preview.Nics.Count(n => n.Guard != GuardMode.Off);
            if (guarded > 0) output.WriteLine($"puts the guard of {guarded} of them in place before they are up;");
            output.WriteLine("release end deletes them when the guest stops.");
        }
    }

    private static void WriteFailure(TextWriter output, string domain, PreviewProblem problem, string step)
    {
        output.WriteLine($"result: {step} would FAIL, and 'virsh start {domain}' with it, showing:");
        output.WriteLine($"  error: Hook script execution failed: ... unexpected exit status 1: libvirt-shim: {problem.Message}");
        output.WriteLine($"what to do: {problem.Advice}");
    }

    private static void WriteJson(TextWriter output, DomainDescription? domain, PreviewProblem? failure, PreparePreview? preview) =>
        JsonOutput.Write(output, w =>
        {
            if (domain is not null)
            {
                w.WriteString("domain", domain.Name);
                w.WriteString("uuid", domain.Uuid.ToString("D"));
            }
            w.WriteBoolean("wouldSucceed", failure is null);
            if (failure is null) w.WriteNull("failure");
            else
            {
                w.WriteString("failure", "libvirt-shim: " + Printable.Escape(failure.Message));
                w.WriteString("advice", failure.Advice);
            }
            if (preview?.StateNote is { } note) w.WriteString("stateNote", note);
            w.WriteObjects("nics", preview?.Nics ?? [], (NicPreview nic) =>
            {
                w.WriteString("mac", nic.Nic.Mac.ToString());
                w.WriteString("name", nic.Nic.Name);
                w.WriteString("mode", nic.Nic.Mode.Name());
                w.WriteStringOrNull("lower", nic.Lower);
                w.WriteString("lowerNote", nic.LowerNote);
                w.WriteString("action", nic.ActionText());
                w.WriteNumberOrNull("mtu", nic.Nic.Mtu);
                w.WriteNumberOrNull("lowerMtu", nic.LowerMtu);
                w.WriteBoolean("allMulticast", nic.Nic.AllMulticast);
                if (nic.Nic.SourceMacs is { } sources) w.WriteStrings("sourceMacs", sources.Addresses.Select(m => m.ToString()));
                w.WriteString("guard", nic.Guard.Name());
                w.WriteString("guardFrom", nic.GuardFromSetting ? "setting" : "nic");
                w.WriteStrings("guardAddresses", nic.Guard == GuardMode.Ip ? nic.GuardAddresses.Select(a => a.ToString()) : []);
                w.WriteStrings("problems", nic.Problems.Select(p => p.Message));
                w.WriteStrings("warnings", nic.Warnings);
            });
            w.WriteObjects("libvirtMacvtaps", domain?.LibvirtMacvtaps ?? [], (LibvirtMacvtap nic) =>
            {
                w.WriteString("mac", nic.Mac.ToString());
                w.WriteStringOrNull("name", nic.Name);
                w.WriteStringOrNull("lower", nic.Lower);
                w.WriteString("mode", nic.Mode.Name());
            });
        });
}
