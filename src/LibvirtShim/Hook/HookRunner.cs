using System.Diagnostics;
using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
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
            document = DomainXml.Parse(DomainXml.ReadBounded(stdin));
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
        try
        {
            var settings = host.LoadSettings();
            log = host.CreateLog(settings);
            using var context = new ShimContext(settings, host.OpenLinks, log, host.Clock);
            string summary = operation.Execute(context, call, domain, document, stdout);
            log.Information("{Operation} {Domain} {Uuid}: {Summary} in {ElapsedMs:0.0} ms",
                call.Operation, domain?.Name ?? call.Domain, domain?.Uuid.ToString("D"), summary, watch.Elapsed.TotalMilliseconds);
            return 0;
        }
        catch (Exception e)
        {
            string message = FailureMessage.For(e, call.Domain);
            log?.Error(e, "{Operation} {Domain} {Uuid} failed after {ElapsedMs:0.0} ms: {Message}",
                call.Operation, domain?.Name ?? call.Domain, domain?.Uuid.ToString("D"), watch.Elapsed.TotalMilliseconds, message);
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
