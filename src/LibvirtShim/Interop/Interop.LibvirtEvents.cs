using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

/// <summary>Where libvirt's events arrive, on the thread that runs libvirt's event loop: keep it short (queue, return).</summary>
internal interface ILibvirtEventSink
{
    /// <summary>A domain's lifecycle event (virDomainEventType and its detail) or a change of its metadata (event -1).</summary>
    void DomainChanged(Guid domain, int lifecycleEvent, int detail);

    /// <summary>The connection is gone (virConnectCloseReason: error, end of file, keepalive, client).</summary>
    void ConnectionClosed(int reason);
}

internal static partial class Interop
{
    internal static partial class Libvirt
    {
        internal const int EventIdLifecycle = 0;          // VIR_DOMAIN_EVENT_ID_LIFECYCLE
        internal const int EventIdMetadataChange = 23;    // VIR_DOMAIN_EVENT_ID_METADATA_CHANGE (libvirt 3.0+)
        internal const int MetadataChanged = -1;          // what DomainChanged is given for a metadata change
        private const int ErrorNoSupport = 3;             // VIR_ERR_NO_SUPPORT
        private const int ErrorNoDomain = 42;             // VIR_ERR_NO_DOMAIN
        private const uint ListActive = 1;                // VIR_CONNECT_LIST_DOMAINS_ACTIVE

        private static int s_eventLoop;

        /// <summary>
        /// libvirt's own event loop (virEventRegisterDefaultImpl), once per process and before any connection that wants
        /// events; <see cref="RunEventLoopOnce"/> runs one iteration of it.
        /// </summary>
        public static void UseDefaultEventLoop()
        {
            Silence();
            if (Interlocked.Exchange(ref s_eventLoop, 1) == 1) return;
            if (virEventRegisterDefaultImpl() < 0) throw LastError(nameof(virEventRegisterDefaultImpl));
        }

        /// <summary>Waits for and dispatches what is due (events, keepalive, timers): the body of the event loop thread.</summary>
        public static void RunEventLoopOnce()
        {
            if (virEventRunDefaultImpl() < 0) throw LastError(nameof(virEventRunDefaultImpl));
        }

        /// <summary>virConnectOpenReadOnly: enough to hear events and read states and XML; a null URI is libvirt's default.</summary>
        public static SafeLibvirtConnectHandle OpenReadOnly(string? uri)
        {
            Silence();
            SafeLibvirtConnectHandle connection = virConnectOpenReadOnly(uri);
            if (connection.IsInvalid) throw LastError(nameof(virConnectOpenReadOnly));
            return connection;
        }

        /// <summary>
        /// Pings the daemon every <paramref name="interval"/> seconds and closes the connection after <paramref name="count"/>
        /// unanswered ones (virConnectSetKeepAlive). False when the other side has no keepalive (an old daemon, a driver in
        /// this process).
        /// </summary>
        public static bool KeepAlive(SafeLibvirtConnectHandle connection, int interval, uint count)
        {
            int result = virConnectSetKeepAlive(connection, interval, count);
            if (result < 0 && LastErrorCode() == ErrorNoSupport) return false;
            return Check(result, nameof(virConnectSetKeepAlive)) == 0;
        }

        /// <summary>
        /// Sends every domain's lifecycle events and metadata changes, and the connection's closing, to <paramref name="sink"/>
        /// (called on the event loop's thread). Returns the event registrations, for <see cref="StopListening"/>.
        /// </summary>
        public static unsafe int[] Listen(SafeLibvirtConnectHandle connection, ILibvirtEventSink sink)
        {
            var lifecycle = (nint)(delegate* unmanaged[Cdecl]<nint, nint, int, int, nint, void>)&OnLifecycle;
            var metadata = (nint)(delegate* unmanaged[Cdecl]<nint, nint, int, nint, nint, void>)&OnMetadataChange;
            var registrations = new List<int>(2);
            try
            {
                registrations.Add(Register(sink, nameof(virConnectDomainEventRegisterAny),
                    opaque => virConnectDomainEventRegisterAny(connection, 0, EventIdLifecycle, lifecycle, opaque, &Release)));
                registrations.Add(Register(sink, nameof(virConnectDomainEventRegisterAny),
                    opaque => virConnectDomainEventRegisterAny(connection, 0, EventIdMetadataChange, metadata, opaque, &Release)));
                Register(sink, nameof(virConnectRegisterCloseCallback),
                    opaque => virConnectRegisterCloseCallback(connection, &OnClose, opaque, &Release));
                return [.. registrations];
            }
            catch
            {
                StopListening(connection, [.. registrations]);
                throw;
            }
        }

        /// <summary>
        /// Undoes <see cref="Listen"/> before the connection is closed (a registered close callback keeps a connection from being
        /// freed). Errors are ignored: on a connection that is gone only the local registration matters, and it is removed.
        /// </summary>
        public static unsafe void StopListening(SafeLibvirtConnectHandle connection, int[] registrations)
        {
            foreach (int registration in registrations) virConnectDomainEventDeregisterAny(connection, registration);
            virConnectUnregisterCloseCallback(connection, &OnClose);
        }

        /// <summary>
        /// The sink is kept alive (a GCHandle as libvirt's opaque) until libvirt releases the callback, or the registration fails.
        /// Returns what libvirt returned (a callback id for events).
        /// </summary>
        private static int Register(ILibvirtEventSink sink, string call, Func<nint, int> register)
        {
            GCHandle kept = GCHandle.Alloc(sink);
            int result = register(GCHandle.ToIntPtr(kept));
            if (result >= 0) return result;
            kept.Free();
            throw LastError(call);
        }

        /// <summary>Every active domain (virConnectListAllDomains), each its own handle.</summary>
        public static unsafe SafeLibvirtDomainHandle[] ActiveDomains(SafeLibvirtConnectHandle connection)
        {
            nint* list;
            int count = Check(virConnectListAllDomains(connection, &list, ListActive), nameof(virConnectListAllDomains));
            var domains = new SafeLibvirtDomainHandle[count];
            try
            {
                for (int i = 0; i < count; i++)
                {
                    domains[i] = new SafeLibvirtDomainHandle();
                    Marshal.InitHandle(domains[i], list[i]);
                }
            }
            finally
            {
                NativeMemory.Free(list);
            }
            return domains;
        }

        /// <summary>The domain with this UUID; null when libvirt knows none (gone since).</summary>
        public static unsafe SafeLibvirtDomainHandle? LookupDomain(SafeLibvirtConnectHandle connection, Guid uuid)
        {
            byte* raw = stackalloc byte[16];
            uuid.TryWriteBytes(new Span<byte>(raw, 16), bigEndian: true, out _);
            SafeLibvirtDomainHandle domain = virDomainLookupByUUID(connection, raw);
            if (!domain.IsInvalid) return domain;
            domain.Dispose();
            return LastErrorCode() == ErrorNoDomain ? null : throw LastError(nameof(virDomainLookupByUUID));
        }

        /// <summary>virDomainGetState: virDomainState and its reason (a virDomain*Reason of that state).</summary>
        public static (int State, int Reason) State(SafeLibvirtDomainHandle domain) =>
            StateIfKnown(domain) ?? throw LastError(nameof(virDomainGetState));

        /// <summary><see cref="State"/>, or null when libvirt no longer knows the domain (it went since it was looked up).</summary>
        public static unsafe (int State, int Reason)? StateIfKnown(SafeLibvirtDomainHandle domain)
        {
            int state, reason;
            if (virDomainGetState(domain, &state, &reason, 0) >= 0) return (state, reason);
            return LastErrorCode() == ErrorNoDomain ? null : throw LastError(nameof(virDomainGetState));
        }

        /// <summary>The running guest's XML, or null when libvirt no longer knows the domain.</summary>
        public static string? LiveXmlIfKnown(SafeLibvirtDomainHandle domain)
        {
            nint text = virDomainGetXMLDesc(domain, 0);
            if (text == 0 && LastErrorCode() == ErrorNoDomain) return null;
            return TakeString(text, nameof(virDomainGetXMLDesc));
        }

        public static unsafe Guid Uuid(SafeLibvirtDomainHandle domain)
        {
            byte* raw = stackalloc byte[16];
            Check(virDomainGetUUID(domain, raw), nameof(virDomainGetUUID));
            return new Guid(new ReadOnlySpan<byte>(raw, 16), bigEndian: true);
        }

        private static ILibvirtEventSink? SinkOf(nint opaque) => GCHandle.FromIntPtr(opaque).Target as ILibvirtEventSink;

        /// <summary>libvirt's virFreeCallback: it is done with the callback, and so with its sink.</summary>
        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static void Release(nint opaque) => GCHandle.FromIntPtr(opaque).Free();

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static unsafe void OnLifecycle(nint connection, nint domain, int lifecycleEvent, int detail, nint opaque) =>
            Deliver(domain, lifecycleEvent, detail, opaque);

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static unsafe void OnMetadataChange(nint connection, nint domain, int type, nint namespaceUri, nint opaque) =>
            Deliver(domain, MetadataChanged, type, opaque);

        /// <summary>No exception may cross into libvirt's C: a domain whose UUID cannot be read is dropped.</summary>
        private static unsafe void Deliver(nint domain, int lifecycleEvent, int detail, nint opaque)
        {
            try
            {
                byte* raw = stackalloc byte[16];
                if (virDomainGetUUID(domain, raw) < 0) return;
                SinkOf(opaque)?.DomainChanged(new Guid(new ReadOnlySpan<byte>(raw, 16), bigEndian: true), lifecycleEvent, detail);
            }
            catch (Exception)
            {
            }
        }

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static void OnClose(nint connection, int reason, nint opaque)
        {
            try
            {
                SinkOf(opaque)?.ConnectionClosed(reason);
            }
            catch (Exception)
            {
            }
        }

        [LibraryImport(Library)]
        private static partial int virEventRegisterDefaultImpl();

        [LibraryImport(Library)]
        private static partial int virEventRunDefaultImpl();

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeLibvirtConnectHandle virConnectOpenReadOnly(string? name);

        [LibraryImport(Library)]
        private static partial int virConnectSetKeepAlive(SafeLibvirtConnectHandle connection, int interval, uint count);

        [LibraryImport(Library)]
        private static unsafe partial int virConnectDomainEventRegisterAny(
            SafeLibvirtConnectHandle connection, nint domain, int eventId, nint callback, nint opaque,
            delegate* unmanaged[Cdecl]<nint, void> free);

        [LibraryImport(Library)]
        private static partial int virConnectDomainEventDeregisterAny(SafeLibvirtConnectHandle connection, int callbackId);

        [LibraryImport(Library)]
        private static unsafe partial int virConnectUnregisterCloseCallback(
            SafeLibvirtConnectHandle connection, delegate* unmanaged[Cdecl]<nint, int, nint, void> callback);

        [LibraryImport(Library)]
        private static unsafe partial int virConnectRegisterCloseCallback(
            SafeLibvirtConnectHandle connection, delegate* unmanaged[Cdecl]<nint, int, nint, void> callback, nint opaque,
            delegate* unmanaged[Cdecl]<nint, void> free);

        [LibraryImport(Library)]
        private static unsafe partial int virConnectListAllDomains(SafeLibvirtConnectHandle connection, nint** domains, uint flags);

        [LibraryImport(Library)]
        private static unsafe partial SafeLibvirtDomainHandle virDomainLookupByUUID(SafeLibvirtConnectHandle connection, byte* uuid);

        [LibraryImport(Library)]
        private static unsafe partial int virDomainGetState(SafeLibvirtDomainHandle domain, int* state, int* reason, uint flags);

        [LibraryImport(Library)]
        private static unsafe partial int virDomainGetUUID(SafeLibvirtDomainHandle domain, byte* uuid);

        [LibraryImport(Library)]
        private static unsafe partial int virDomainGetUUID(nint domain, byte* uuid);
    }
}
