namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// Bytes every libvirt-shim executable carries, in ASCII, so that the installers (grep -a) and the doctor can tell
/// a libvirt-shim binary from someone else's hook without running it. .NET string literals are UTF-16 in the
/// executable; this one is a UTF-8 literal, stored as is.
/// </summary>
internal static class ShimIdentity
{
    public static ReadOnlySpan<byte> Marker => "libvirt-shim executable (urn:libvirt-shim:macvtap:1)"u8;

    /// <summary>Whether the file is a libvirt-shim executable: an ELF file holding <see cref="Marker"/>.</summary>
    public static bool IsShimExecutable(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            Span<byte> magic = stackalloc byte[4];
            if (file.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4 || !magic.SequenceEqual("\u007fELF"u8)) return false;
            if (file.Length > 256L << 20) return false;
            file.Position = 0;
            byte[] bytes = new byte[file.Length];
            file.ReadExactly(bytes);
            return bytes.AsSpan().IndexOf(Marker) >= 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
