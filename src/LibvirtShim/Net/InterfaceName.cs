namespace LibvirtShim.Net;

/// <summary>The kernel's rules for a link name (dev_valid_name): 1-15 bytes, no '/', ':' or white space, not '.' or '..'.</summary>
internal static class InterfaceName
{
    public const int MaxLength = 15;

    public static string? Problem(string? name) => Problem(name.AsSpan());

    public static string? Problem(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty) return "is empty";
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxLength) return $"is longer than {MaxLength} bytes";
        if (name is "." or "..") return "is '.' or '..'";
        foreach (char c in name)
        {
            if (c == '/' || c == ':' || c == '\0' || char.IsWhiteSpace(c) || char.IsControl(c))
                return "contains '/', ':', white space or a control character";
        }
        return null;
    }

    public static bool IsValid(string? name) => Problem(name) is null;
}
