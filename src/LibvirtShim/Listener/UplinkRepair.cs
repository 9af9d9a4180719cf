using System.Diagnostics;
using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Logging;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using Serilog;

namespace LibvirtShim.Listener;

/// <summary>
/// Uplinks that vanish and come back: deleting a lower device (ifdown/ifup, a NIC driver reloaded, a veth made again) deletes
/// its macvtaps, and their guests run on with NICs whose device is gone. On a thread of its own, this hears the kernel's link
/// announcements (RTNLGRP_LINK) and, when a lower device that running guests' lost links were on is announced again, runs
/// the repair verb's own code for those guests (<see cref="RepairLinks.Run"/>): their links made again, up or down as
/// <see cref="LinkStart.ForGuest"/> says (down while the listener runs and the guest's vCPUs do not), and their NICs plugged
/// in again through libvirt. The devices waited for are looked up again when it starts, when a link carrying a group (a
/// mark) goes, after each repair and when announcements were lost; when it starts and after a loss it repairs each guest
/// whose lost links' lower devices are all there, so nothing depends on having heard one announcement. Each guest repaired
/// is told to <c>repaired</c>, each whose repair failed (logged) to <c>failed</c>.
/// </summary>
internal sealed class UplinkRepair(ShimContext context, Func<string, IGuestDevices> openGuest, TimeSpan wait, Action<Guid> repaired,
    Action<Guid> failed)
{
    private readonly HashSet<string> _awaited = new(StringComparer.Ordinal);
    private List<LostLinks> _lost = [];
    private volatile string[] _awaitedNow = [];

    /// <summary>The lower devices running guests' lost links were on, as last looked up (readable from any thread).</summary>
    public IReadOnlyList<string> Awaited => _awaitedNow;

    /// <summary>Until <paramref name="stop"/> (looked at after each wake interval of <paramref name="events"/>).</summary>
    public void Run(LinkEvents events, CancellationToken stop)
    {
        var appeared = new HashSet<string>(StringComparer.Ordinal);
        LookUp(repairThoseThere: true);
        while (!stop.IsCancellationRequested)
        {
            appeared.Clear();
            LinkNews news = events.Wait(_awaited, appeared, out bool groupedLinkGone);
            if (news == LinkNews.Lost) LookUp(repairThoseThere: true);
            else if (appeared.Count > 0) Repair(_lost.Where(l => l.Lowers.Any(appeared.Contains)).ToList(), "is back");
            else if (groupedLinkGone) LookUp(repairThoseThere: false);
        }
    }

    /// <summary>
    /// Starts <see cref="Run"/> on a background thread. A failure of the socket ends the repairs only (logged): the links keep
    /// following their guests, and <c>libvirt-shim repair</c> still works.
    /// </summary>
    public Thread Start(LinkEvents events, CancellationToken stop)
    {
        var thread = new Thread(() =>
        {
            try
            {
                Run(events, stop);
            }
            catch (Exception e) when (e is ShimFailure or NetlinkException)
            {
                context.Log.Error("Repairs of lost uplinks stopped: {Problem}; run libvirt-shim repair after an uplink comes back, and restart " +
                    "the listener", e is NetlinkException n ? n.Reported().Message : e.Message);
            }
        })
        { IsBackground = true, Name = "uplink repair" };
        thread.Start();
        return thread;
    }

    /// <summary>
    /// The running guests' lost links looked up again (and the devices they wait for); with <paramref name="repairThoseThere"/>,
    /// the guests whose lower devices are all there now are repaired.
    /// </summary>
    private void LookUp(bool repairThoseThere)
    {
        if (!TryFindLost()) return;
        if (!repairThoseThere || _awaited.Count == 0) return;
        List<string> names = [.. _awaited];
        IReadOnlyList<Link?> found = context.Links.Find(names);
        var there = names.Where((_, i) => found[i] is not null).ToHashSet(StringComparer.Ordinal);
        Repair(_lost.Where(l => l.Lowers.Count > 0 && l.Lowers.All(there.Contains)).ToList(), "is there");
    }

    /// <summary>Each guest repaired in turn (a failure is logged and leaves the others be), then the lost links looked up again.</summary>
    private void Repair(List<LostLinks> guests, string what)
    {
        foreach (LostLinks lost in guests)
        {
            ILogger log = CallLog.For(context.Log, "watch", lost.Domain, lost.Uuid, Stopwatch.GetTimestamp());
            log.Information("Lower device {Lowers} of lost links {What}: repairing the guest's links", string.Join(", ", lost.Lowers), what);
            try
            {
                IGuestDevices guest = openGuest(lost.Domain);
                try
                {
                    List<RepairedNic> done = RepairLinks.Run(context, guest, wait);
                    log.Information("Repaired {Count} NICs: {Nics}", done.Count, string.Join(", ", done.Select(r => r.Nic.Name)));
                }
                finally
                {
                    (guest as IDisposable)?.Dispose();
                }
                repaired(lost.Uuid);
            }
            catch (ShimFailure e)
            {
                log.Warning("Repair failed: {Problem}; tried again when its lower device is announced again, or run libvirt-shim repair",
                    e.Message);
                failed(lost.Uuid);
            }
        }
        if (guests.Count > 0) TryFindLost();
    }

    /// <summary>The running guests' lost links and the lower devices they wait for; false (logged) when they cannot be looked up.</summary>
    private bool TryFindLost()
    {
        try
        {
            _lost = RepairLinks.FindLost(context);
        }
        catch (ShimFailure e)
        {
            context.Log.Warning("Cannot look up the running guests' lost links: {Problem}", e.Message);
            return false;
        }
        _awaited.Clear();
        foreach (LostLinks lost in _lost) _awaited.UnionWith(lost.Lowers);
        _awaitedNow = [.. _awaited.Order(StringComparer.Ordinal)];
        return true;
    }
}
