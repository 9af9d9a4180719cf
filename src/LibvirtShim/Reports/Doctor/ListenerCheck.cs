using System.Globalization;
using LibvirtShim.Configuration;
using LibvirtShim.Messages;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// The listener (libvirt-shim watch): running and connected, or what its absence costs. Not running is a warning: the hook
/// works without it, as it did before there was one.
/// </summary>
internal static class ListenerCheck
{
    public static void Run(ShimSettings settings, List<DoctorCheck> checks)
    {
        const string area = "listener";
        ListenerView listener;
        try
        {
            using StateReadLease lease = ShimContext.StoreFor(settings).LockToRead();
            listener = ListenerView.Look(lease, settings.StateDir);
        }
        catch (ShimFailure)
        {
            listener = new ListenerView(ListenerLock.Probe(settings.StateDir), null);  // the state check says what is wrong with the directory
        }
        static string At(long t) => DateTimeOffset.FromUnixTimeSeconds(t).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
        checks.Add(listener.Running
            ? DoctorCheck.Ok(area, listener.Describe(At))
            : DoctorCheck.Warn(area, listener.Describe(At), ListenerView.Start));
    }
}
