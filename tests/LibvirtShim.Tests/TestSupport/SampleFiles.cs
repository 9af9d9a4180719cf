namespace LibvirtShim.Tests.TestSupport;

/// <summary>Paths of the repository's bundled samples and recordings, found from the test binary.</summary>
internal static class SampleFiles
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Sample(string name) => Path.Combine(RepositoryRoot, "samples", name);

    public static string Recording(string name) => Path.Combine(RepositoryRoot, "tests", "LibvirtShim.Tests", "Recordings", name);

    public static byte[] Bytes(string path) => File.ReadAllBytes(path);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LibvirtShim.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("LibvirtShim.sln not found above " + AppContext.BaseDirectory);
    }
}
