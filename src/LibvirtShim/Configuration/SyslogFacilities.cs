namespace LibvirtShim.Configuration;

/// <summary>syslog facility names and their codes (RFC 5424 table 1, as syslog.h names them).</summary>
internal static class SyslogFacilities
{
    private static readonly (string Name, int Code)[] All =
    [
        ("kern", 0), ("user", 1), ("mail", 2), ("daemon", 3), ("auth", 4), ("syslog", 5), ("lpr", 6), ("news", 7),
        ("uucp", 8), ("cron", 9), ("authpriv", 10), ("ftp", 11),
        ("local0", 16), ("local1", 17), ("local2", 18), ("local3", 19), ("local4", 20), ("local5", 21), ("local6", 22), ("local7", 23),
    ];

    public static IEnumerable<string> Names => All.Select(f => f.Name);

    public static int? Code(string name)
    {
        foreach (var (n, code) in All)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) return code;
        }
        return null;
    }
}
