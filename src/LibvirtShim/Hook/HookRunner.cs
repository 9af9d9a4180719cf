using System.Diagnostics;
using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Logging;
using Serilog;
using Serilog.Core;

namespace LibvirtShim.Hook;

/// <summary>
/// One hook call: which operations matter, what each may do, and the exit status libvirt acts on. Calls with nothing
/// to do return before settings, log or state are touched, since libvirt runs the hook five times per guest start/stop.
/// </summary>
internal sealed class HookRunner(HookHost host)
{
    public int Run(HookCall call, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var watch = Stopwatch.StartNew();
        HookOperation? operation = HookOperations.Find(call.Operation);
        if (operation is null)
        {
            Drain(stdin);
            return 0;
        }

        DomainDescription? domain = null;
        XDocument? document = null;
        try
        {
            byte[] xml = DomainXml.ReadBounded(stdin);
            if (!operation.MayHaveWork(xml)) return 0;
            document = DomainXml.Parse(xml);
            domain = DomainReader.Read(document);
        }
        catch (DomainXmlException e) when (!operation.FailsTheGuest)
        {
            stderr.WriteLine($"libvirt-shim: domain '{call.Domain}': {e.Message}; continuing without it");
        }
        catch (DomainXmlException e)
        {
            stderr.WriteLine($"libvirt-shim: domain '{call.Domain}': {e.Message}");
            return 1;
        }
        if (domain is not null && !operation.HasWork(domain)) return 0;

        Logger? log = null;
        ILogger? callLog = null;
        try
        {
            var settings = host.LoadSettings();
            log = host.CreateLog(settings);
            callLog = CallLog.For(log, call.Operation, domain?.Name ?? call.Domain, domain?.Uuid, watch);
            using var context = new ShimContext(settings, host.OpenLinks, callLog, host.Clock);
            string summary = operation.Execute(context, call, domain, document, stdout);
            callLog.Information("{Summary}", summary + operation.Circumstance(call));
            return 0;
        }
        catch (Exception e)
        {
            string message = FailureMessage.For(e, call.Domain);
            callLog?.Error(e is ShimException or DomainXmlException ? null : e, "failed: {Message}", message + operation.Circumstance(call));
            stderr.WriteLine($"libvirt-shim: {message}");
            return operation.ExitStatusOnFailure;
        }
        finally
        {
            log?.Dispose();
        }
    }

    /// <summary>libvirt writes the XML whatever the operation; reading it spares it a broken pipe.</summary>
    private static void Drain(Stream stdin)
    {
        Span<byte> sink = stackalloc byte[16 * 1024];
        while (stdin.Read(sink) > 0) { }
    }
}
