using System.Diagnostics;
using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Logging;
using LibvirtShim.Messages;
using LibvirtShim.Session;
using Serilog;
using Serilog.Core;

namespace LibvirtShim.Hook;

/// <summary>
/// One hook call: which operations matter, what each may do, and the exit status libvirt acts on. Calls with nothing
/// to do return before settings, log or state are touched, since libvirt runs the hook five times per guest start/stop.
/// Every failure, whatever it is, ends as one line on stderr and the operation's exit status: libvirt kills a running
/// guest whose reconnect hook fails, so no exception may leave this class.
/// </summary>
internal sealed class HookRunner(HookHost host)
{
    public int Run(HookCall call, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        HookOperation? operation = HookOperation.For(call.Operation, call.SubOperation);
        try
        {
            return Run(call, operation, stdin, stdout, stderr);
        }
        catch (Exception e)
        {
            Report(stderr, ShimFailure.LineFor(e, call.Domain));
            return operation?.ExitStatusOnFailure ?? 0;
        }
    }

    private int Run(HookCall call, HookOperation? operation, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var watch = Stopwatch.StartNew();
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
        catch (ShimFailure e) when (!operation.FailsTheGuest)
        {
            Report(stderr, ShimFailure.LineFor(e, call.Domain) + "; continuing without it");
        }
        catch (ShimFailure e)
        {
            Report(stderr, ShimFailure.LineFor(e, call.Domain));
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
            using var context = new ShimContext(settings, host.OpenLinks, host.OpenGuards, host.Taps, callLog, host.Clock);
            string summary = operation switch
            {
                GuestOperation guest when domain is not null && document is not null => guest.Execute(context, domain, document, stdout),
                BookkeepingOperation bookkeeping => bookkeeping.Execute(context, call, domain),
                _ => throw new UnreachableException($"{call.Operation} ran without the domain XML it cannot do without"),
            };
            callLog.Information("{Summary}", summary + operation.Circumstance(call));
            return 0;
        }
        catch (Exception e)
        {
            callLog?.Error(ShimFailure.IsBug(e) ? e : null, "failed: {Message}", ShimFailure.TextFor(e, call.Domain) + operation.Circumstance(call));
            Report(stderr, ShimFailure.LineFor(e, call.Domain));
            return operation.ExitStatusOnFailure;
        }
        finally
        {
            log?.Dispose();
        }
    }

    /// <summary>libvirt writes the XML whatever the operation; reading it spares it a broken pipe. A read error ends it: nothing to do.</summary>
    private static void Drain(Stream stdin)
    {
        Span<byte> sink = stackalloc byte[16 * 1024];
        try
        {
            while (stdin.Read(sink) > 0) { }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The line virsh shows, escaped by <see cref="ShimFailure.LineFor"/>.</summary>
    private static void Report(TextWriter stderr, string line)
    {
        try
        {
            stderr.WriteLine("libvirt-shim: " + line);
        }
        catch (IOException)
        {
            // stderr gone (libvirt closed it): the exit status still tells.
        }
    }
}
