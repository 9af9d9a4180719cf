using System.Runtime.InteropServices;

/// <summary>The Linux errno values LibvirtShim names (x86_64 and arm64 share them). <see cref="None"/>: no errno.</summary>
internal enum Errno
{
    None = 0,
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    ENXIO = 6,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    ERANGE = 34,
    ELOOP = 40,
    EPROTO = 71,
    EMSGSIZE = 90,
    EOPNOTSUPP = 95,
    EAFNOSUPPORT = 97,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENETDOWN = 100,
    ENOBUFS = 105,
    ERESTART = 85,
}

internal static class ErrnoText
{
    /// <summary>"File exists (EEXIST, errno 17)".</summary>
    public static string Describe(this Errno errno)
    {
        string text = Marshal.GetPInvokeErrorMessage((int)errno);
        return Name(errno) is { } name ? $"{text} ({name}, errno {(int)errno})" : $"{text} (errno {(int)errno})";
    }

    /// <summary>Spelled out rather than <see cref="Enum.ToString()"/>: what users read does not follow a C# member's name.</summary>
    private static string? Name(Errno errno) => errno switch
    {
        Errno.EPERM => "EPERM",
        Errno.ENOENT => "ENOENT",
        Errno.EINTR => "EINTR",
        Errno.ENXIO => "ENXIO",
        Errno.EAGAIN => "EAGAIN",
        Errno.ENOMEM => "ENOMEM",
        Errno.EACCES => "EACCES",
        Errno.EBUSY => "EBUSY",
        Errno.EEXIST => "EEXIST",
        Errno.ENODEV => "ENODEV",
        Errno.EINVAL => "EINVAL",
        Errno.ERANGE => "ERANGE",
        Errno.ELOOP => "ELOOP",
        Errno.EPROTO => "EPROTO",
        Errno.EMSGSIZE => "EMSGSIZE",
        Errno.EOPNOTSUPP => "EOPNOTSUPP",
        Errno.EAFNOSUPPORT => "EAFNOSUPPORT",
        Errno.EADDRINUSE => "EADDRINUSE",
        Errno.EADDRNOTAVAIL => "EADDRNOTAVAIL",
        Errno.ENETDOWN => "ENETDOWN",
        Errno.ENOBUFS => "ENOBUFS",
        Errno.ERESTART => "ERESTART",
        _ => null,
    };
}
