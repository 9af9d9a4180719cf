using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// libvirt's C API, for the admin commands that change a running guest (attach-interface, detach-interface). The hook
    /// never calls these: libvirt.so.0 is loaded on the first call, so a hook process never maps it. Every wrapper returns a
    /// typed result or throws <see cref="LibvirtCallException"/> naming the call and carrying libvirt's own message.
    /// </summary>
    internal static partial class Libvirt
    {
        private const string Library = "libvirt.so.0";

        /// <summary>virDomainModificationImpact: the running guest, the persistent definition, or both.</summary>
        [Flags]
        internal enum Affect : uint { Current = 0, Live = 1, Config = 2 }

        private const uint XmlInactive = 2;        // VIR_DOMAIN_XML_INACTIVE
        private const int MetadataElement = 2;     // VIR_DOMAIN_METADATA_ELEMENT
        internal const int ErrorNoMetadata = 80;   // VIR_ERR_NO_DOMAIN_METADATA

        private static bool s_quiet;

        /// <summary>virConnectOpen; a null URI is what virsh uses without -c: LIBVIRT_DEFAULT_URI, then libvirt's configured default.</summary>
        public static SafeLibvirtConnectHandle Open(string? uri)
        {
            Silence();
            SafeLibvirtConnectHandle connection = virConnectOpen(uri);
            if (connection.IsInvalid) throw LastError(nameof(virConnectOpen));
            return connection;
        }

        public static SafeLibvirtDomainHandle LookupDomain(SafeLibvirtConnectHandle connection, string name)
        {
            SafeLibvirtDomainHandle domain = virDomainLookupByName(connection, name);
            if (domain.IsInvalid) throw LastError(nameof(virDomainLookupByName));
            return domain;
        }

        public static bool IsActive(SafeLibvirtDomainHandle domain) => Check(virDomainIsActive(domain), nameof(virDomainIsActive)) == 1;

        public static bool IsPersistent(SafeLibvirtDomainHandle domain) => Check(virDomainIsPersistent(domain), nameof(virDomainIsPersistent)) == 1;

        /// <summary>The running guest's XML, or with <paramref name="inactive"/> the persistent definition's.</summary>
        public static string XmlDescription(SafeLibvirtDomainHandle domain, bool inactive) =>
            TakeString(virDomainGetXMLDesc(domain, inactive ? XmlInactive : 0), nameof(virDomainGetXMLDesc))!;

        public static void AttachDevice(SafeLibvirtDomainHandle domain, string deviceXml, Affect affect) =>
            Check(virDomainAttachDeviceFlags(domain, deviceXml, (uint)affect), nameof(virDomainAttachDeviceFlags));

        public static void DetachDevice(SafeLibvirtDomainHandle domain, string deviceXml, Affect affect) =>
            Check(virDomainDetachDeviceFlags(domain, deviceXml, (uint)affect), nameof(virDomainDetachDeviceFlags));

        /// <summary>The domain's metadata element of <paramref name="namespaceUri"/> (without its prefix), or null when it has none.</summary>
        public static string? GetMetadata(SafeLibvirtDomainHandle domain, string namespaceUri, Affect affect)
        {
            nint text = virDomainGetMetadata(domain, MetadataElement, namespaceUri, (uint)affect);
            if (text == 0 && LastErrorCode() == ErrorNoMetadata) return null;
            return TakeString(text, nameof(virDomainGetMetadata));
        }

        /// <summary>Replaces the whole metadata element of <paramref name="namespaceUri"/>; null removes it.</summary>
        public static void SetMetadata(SafeLibvirtDomainHandle domain, string? elementXml, string prefix, string namespaceUri, Affect affect) =>
            Check(virDomainSetMetadata(domain, MetadataElement, elementXml, elementXml is null ? null : prefix, namespaceUri, (uint)affect),
                nameof(virDomainSetMetadata));

        internal static int CloseConnection(nint connection) => virConnectClose(connection);

        internal static int FreeDomain(nint domain) => virDomainFree(domain);

        /// <summary>
        /// libvirt's default error handler prints every error to stderr; ours are reported once, by the caller, so the
        /// handler does nothing (the error stays readable through virGetLastError).
        /// </summary>
        private static unsafe void Silence()
        {
            if (s_quiet) return;
            virSetErrorFunc(0, &IgnoreError);
            s_quiet = true;
        }

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static void IgnoreError(nint userData, nint error) { }

        private static int Check(int result, string call) => result < 0 ? throw LastError(call) : result;

        private static unsafe string? TakeString(nint text, string call)
        {
            if (text == 0) throw LastError(call);
            try
            {
                return Marshal.PtrToStringUTF8(text);
            }
            finally
            {
                NativeMemory.Free((void*)text);
            }
        }

        private static unsafe int LastErrorCode()
        {
            nint error = virGetLastError();
            return error == 0 ? 0 : *(int*)error;   // virError.code is its first member
        }

        private static LibvirtCallException LastError(string call)
        {
            string message = Marshal.PtrToStringUTF8(virGetLastErrorMessage()) ?? "unknown error";
            return new LibvirtCallException(call, message);
        }

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeLibvirtConnectHandle virConnectOpen(string? name);

        [LibraryImport(Library)]
        private static partial int virConnectClose(nint connection);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeLibvirtDomainHandle virDomainLookupByName(SafeLibvirtConnectHandle connection, string name);

        [LibraryImport(Library)]
        private static partial int virDomainFree(nint domain);

        [LibraryImport(Library)]
        private static partial int virDomainIsActive(SafeLibvirtDomainHandle domain);

        [LibraryImport(Library)]
        private static partial int virDomainIsPersistent(SafeLibvirtDomainHandle domain);

        [LibraryImport(Library)]
        private static partial nint virDomainGetXMLDesc(SafeLibvirtDomainHandle domain, uint flags);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int virDomainAttachDeviceFlags(SafeLibvirtDomainHandle domain, string xml, uint flags);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int virDomainDetachDeviceFlags(SafeLibvirtDomainHandle domain, string xml, uint flags);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint virDomainGetMetadata(SafeLibvirtDomainHandle domain, int type, string uri, uint flags);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int virDomainSetMetadata(
            SafeLibvirtDomainHandle domain, int type, string? metadata, string? key, string uri, uint flags);

        [LibraryImport(Library)]
        private static partial nint virGetLastError();

        [LibraryImport(Library)]
        private static partial nint virGetLastErrorMessage();

        [LibraryImport(Library)]
        private static unsafe partial void virSetErrorFunc(nint userData, delegate* unmanaged[Cdecl]<nint, nint, void> handler);
    }
}

/// <summary>A libvirt call that failed: "CALL: libvirt's message". Only the libvirt binding (Libvirt/) sees it.</summary>
internal sealed class LibvirtCallException(string call, string message) : Exception($"{call}: {message}");
