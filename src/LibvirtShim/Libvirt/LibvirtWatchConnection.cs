using System.Text;
using LibvirtShim.Domain;
using LibvirtShim.Messages;

namespace LibvirtShim.Libvirt;

/// <summary>
/// The listener's connection to libvirt, read-only: it hears every domain's lifecycle events and metadata changes (the
/// <paramref name="sink"/> given to <see cref="Open"/>), notices the daemon going (close callback, keepalive), and answers
/// for guests with their state and live XML. libvirt's event loop runs on a thread of its own for the whole process.
/// </summary>
internal sealed class LibvirtWatchConnection : IGuestConnection
{
    /// <summary>A dead daemon is noticed after about interval × (count + 1) seconds; a restarted one at once (end of file).</summary>
    private const int KeepAliveInterval = 5;
    private const uint KeepAliveCount = 3;

    private static readonly object EventLoopGate = new();
    private static Thread? s_eventLoop;
    private readonly SafeLibvirtConnectHandle _connection;
    private readonly int[] _registrations;

    private LibvirtWatchConnection(SafeLibvirtConnectHandle connection, int[] registrations)
    {
        _connection = connection;
        _registrations = registrations;
    }

    /// <summary>
    /// Connects read-only to <paramref name="uri"/> (null: libvirt's default) and registers for events. libvirt's failure (the
    /// daemon not there: its own message, which the caller puts after the URI), or no libvirt library at all, is one
    /// <see cref="ShimFailure"/>.
    /// </summary>
    public static LibvirtWatchConnection Open(string? uri, ILibvirtEventSink sink)
    {
        try
        {
            StartEventLoop();
            return Over(Interop.Libvirt.OpenReadOnly(uri), sink);
        }
        catch (LibvirtCallException e)
        {
            throw ShimFailure.WithoutDomain(e.Message, cause: e);
        }
        catch (DllNotFoundException e)
        {
            throw ShimFailure.WithoutDomain("cannot load libvirt.so.0", "install libvirt0", e);
        }
    }

    /// <summary>Listens on a connection opened elsewhere (libvirt's test driver in tests), which it then owns.</summary>
    internal static LibvirtWatchConnection Over(SafeLibvirtConnectHandle connection, ILibvirtEventSink sink)
    {
        try
        {
            StartEventLoop();
            Interop.Libvirt.KeepAlive(connection, KeepAliveInterval, KeepAliveCount);
            return new LibvirtWatchConnection(connection, Interop.Libvirt.Listen(connection, sink));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// libvirt's default event loop, registered before the first connection (it must be) and run by one background thread
    /// for as long as the process lives.
    /// </summary>
    internal static void StartEventLoop()
    {
        lock (EventLoopGate)
        {
            if (s_eventLoop is not null) return;
            Interop.Libvirt.UseDefaultEventLoop();
            s_eventLoop = new Thread(RunEventLoop) { IsBackground = true, Name = "libvirt event loop" };
            s_eventLoop.Start();
        }
    }

    private static void RunEventLoop()
    {
        while (true)
        {
            try
            {
                Interop.Libvirt.RunEventLoopOnce();
            }
            catch (LibvirtCallException)
            {
                Thread.Sleep(100); // libvirt's own failure to poll: try again rather than spin
            }
        }
    }

    /// <summary>libvirt's failure (a connection gone, say) is a <see cref="ShimFailure"/>.</summary>
    public GuestSnapshot? Find(Guid uuid)
    {
        try
        {
            using SafeLibvirtDomainHandle? domain = Interop.Libvirt.LookupDomain(_connection, uuid);
            return domain is null ? null : Snapshot(domain);
        }
        catch (LibvirtCallException e)
        {
            throw ShimFailure.WithoutDomain($"domain {uuid}: {e.Message}");
        }
    }

    /// <summary>libvirt's failure (a connection gone, say) is a <see cref="ShimFailure"/>.</summary>
    public IReadOnlyList<GuestSnapshot> Active()
    {
        SafeLibvirtDomainHandle[] domains = [];
        try
        {
            domains = Interop.Libvirt.ActiveDomains(_connection);
            var guests = new List<GuestSnapshot>(domains.Length);
            foreach (SafeLibvirtDomainHandle domain in domains)
            {
                if (Snapshot(domain) is { } guest) guests.Add(guest);
            }
            return guests;
        }
        catch (LibvirtCallException e)
        {
            throw ShimFailure.WithoutDomain($"cannot list the active guests: {e.Message}");
        }
        finally
        {
            foreach (SafeLibvirtDomainHandle domain in domains) domain.Dispose();
        }
    }

    /// <summary>
    /// The guest's state, and for one whose links the state decides, the names of its owned NICs from its live XML; null when
    /// libvirt no longer knows it (it went between the question and the answer).
    /// </summary>
    private static GuestSnapshot? Snapshot(SafeLibvirtDomainHandle domain)
    {
        if (Interop.Libvirt.StateIfKnown(domain) is not (int state, int reason)) return null;
        var guestState = (GuestState)state;
        Guid uuid = Interop.Libvirt.Uuid(domain);
        if (GuestStates.LinksUp(guestState) is null) return new GuestSnapshot(uuid, "", guestState, reason, []);
        if (Interop.Libvirt.LiveXmlIfKnown(domain) is not { } xml) return null;
        DomainDescription description = DomainReader.ReadLenient(DomainXml.Parse(Encoding.UTF8.GetBytes(xml)));
        return new GuestSnapshot(uuid, description.Name, guestState, reason, description.OwnedNics.Select(n => n.Name).ToList());
    }

    public void Dispose()
    {
        Interop.Libvirt.StopListening(_connection, _registrations);
        _connection.Dispose();
    }
}
