namespace LibvirtShim.Reports.Doctor;

/// <summary>Files of /proc and of the host's tree, read as the doctor reads them: what cannot be read is simply not known.</summary>
internal static class HostFiles
{
    public static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static string? ReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
