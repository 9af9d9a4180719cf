using System.Text;

namespace LibvirtShim.Net;

/// <summary>
/// The kernel's rules for a link name (dev_valid_name), on its UTF-8 bytes: 1-15 bytes, none of them '/', ':', NUL
/// or a byte the kernel's isspace() takes for white space, and not '.' or '..'. Anything else the kernel accepts
/// (control characters, non-ASCII white space such as U+2003), and so must the state that records such names.
/// </summary>
internal static class InterfaceName
{
    public const int MaxLength = 15;

    public static string? Problem(string? name) => Problem(name.AsSpan());

    public static string? Problem(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty) return "is empty";
        if (name.Length > MaxLength || Encoding.UTF8.GetByteCount(name) > MaxLength) return $"is longer than {MaxLength} bytes";
        Span<byte> bytes = stackalloc byte[MaxLength];
        return Problem(bytes[..Encoding.UTF8.GetBytes(name, bytes)]);
    }

    public static string? Problem(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty) return "is empty";
        if (name.Length > MaxLength) return $"is longer than {MaxLength} bytes";
        if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)) return "is '.' or '..'";
        foreach (byte b in name)
        {
            if (b is (byte)'/' or (byte)':' or 0 || IsKernelSpace(b)) return "contains '/', ':', NUL or white space";
        }
        return null;
    }

    public static bool IsValid(string? name) => Problem(name) is null;

    /// <summary>The kernel's ctype table (lib/ctype.c) is Latin-1: 0xA0, a byte of U+00A0 and of many UTF-8 characters, is space too.</summary>
    private static bool IsKernelSpace(byte b) => b is (>= 0x09 and <= 0x0D) or 0x20 or 0xA0;
}
