using Xunit;

namespace LibvirtShim.Tests.Architecture;

/// <summary>
/// The folders of the hook depend on each other one way only (README, Layout). Read from the built assembly, so a
/// lambda, an attribute or a call in a method body counts as much as a field's type.
/// </summary>
public sealed class LayeringTests
{
    /// <summary>Each folder and the folders it may use; anything not listed is a violation.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Interop"] = [],
        ["Messages"] = ["Interop"],
        ["Net"] = [],
        ["Configuration"] = ["Messages", "Net", "Interop"],
        ["Logging"] = ["Configuration", "Messages", "Net", "Interop"],
        ["Netlink"] = ["Messages", "Net", "Interop"],
        ["Netfilter"] = ["Netlink", "Messages", "Net", "Interop"],
        ["State"] = ["Messages", "Net", "Interop"],
        ["Domain"] = ["Messages", "Net", "Interop"],
        ["Devices"] = ["Messages", "Interop"],
        ["Libvirt"] = ["Domain", "Messages", "Net", "Interop"],
        ["Session"] = ["State", "Netlink", "Netfilter", "Devices", "Domain", "Messages", "Net", "Configuration", "Logging", "Interop"],
        ["Lifecycle"] = ["Session", "Libvirt", "State", "Netlink", "Netfilter", "Devices", "Domain", "Messages", "Net", "Configuration",
            "Logging", "Interop"],
        ["Reports"] = ["Lifecycle", "Session", "State", "Netlink", "Netfilter", "Devices", "Domain", "Messages", "Net", "Configuration",
            "Logging", "Interop"],
        ["Hook"] = ["Lifecycle", "Session", "State", "Netlink", "Netfilter", "Devices", "Domain", "Messages", "Net", "Configuration",
            "Logging", "Interop"],
        ["Listener"] = ["Lifecycle", "Libvirt", "Session", "State", "Netlink", "Domain", "Messages", "Net", "Configuration", "Logging", "Interop"],
        ["Cli"] = ["Hook", "Reports", "Listener", "Lifecycle", "Libvirt", "Session", "State", "Netlink", "Netfilter", "Devices", "Domain",
            "Messages", "Net", "Configuration", "Logging", "Interop"],
    };

    [Fact]
    public void Folders_use_only_the_folders_below_them()
    {
        var edges = FolderDependencies.Read(typeof(LibvirtShim.Hook.HookEntry).Assembly.Location, FolderOf);

        string[] violations = edges
            .Where(e => !Allowed[e.Key.From].Contains(e.Key.To))
            .Select(e => $"{e.Key.From} uses {e.Key.To} ({e.Value})")
            .Order(StringComparer.Ordinal)
            .ToArray();

        Assert.True(violations.Length == 0, "layering broken:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void The_reader_sees_uses_inside_method_bodies()
    {
        var edges = FolderDependencies.Read(typeof(LibvirtShim.Hook.HookEntry).Assembly.Location, FolderOf);

        // Only a method body ties these together: RouteSocket calls Interop.Libc's static methods.
        Assert.Contains(("Netlink", "Interop"), edges.Keys);
        Assert.Contains(("Hook", "Lifecycle"), edges.Keys);
        Assert.Contains(("Lifecycle", "Session"), edges.Keys);
        Assert.Contains(("Reports", "Lifecycle"), edges.Keys);
        Assert.All(edges.Keys, e => Assert.Contains(e.From, Allowed.Keys));
    }

    /// <summary>docs/architecture.md's layering table is this test's: every folder, and what it may use.</summary>
    [Fact]
    public void The_architecture_document_shows_the_layering_this_test_holds()
    {
        string doc = File.ReadAllText(Path.Combine(TestSupport.SampleFiles.RepositoryRoot, "docs/architecture.md"));
        int start = doc.IndexOf("<!-- layering:", StringComparison.Ordinal), end = doc.IndexOf("<!-- end layering -->", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "docs/architecture.md has no layering table");
        Dictionary<string, string[]> documented = doc[start..end].Split('\n')
            .Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(c => c[1].Trim('`'), c => c[2] == "nothing" ? [] : c[2].Split(", ").Select(f => f.Trim('`')).ToArray());

        Assert.Equal(Allowed.Keys.Order(StringComparer.Ordinal), documented.Keys.Order(StringComparer.Ordinal));
        foreach ((string folder, string[] uses) in Allowed)
            Assert.True(uses.Order(StringComparer.Ordinal).SequenceEqual(documented[folder].Order(StringComparer.Ordinal)),
                $"docs/architecture.md: {folder} may use {string.Join(", ", documented[folder])}; the test allows {string.Join(", ", uses)}");
        string[] folders = Directory.GetDirectories(Path.Combine(TestSupport.SampleFiles.RepositoryRoot, "src/LibvirtShim"))
            .Select(Path.GetFileName).Where(f => f is not ("bin" or "obj" or "Properties")).Select(f => f!).ToArray();
        Assert.Equal(folders.Order(StringComparer.Ordinal), Allowed.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>libvirt's failures become the project's in the binding: no operation catches (or names) Interop's exception.</summary>
    [Fact]
    public void OnlyTheLibvirtBindingSeesInteropsLibvirtException()
    {
        const string exception = "LibvirtCallException";
        var edges = FolderDependencies.Read(typeof(LibvirtShim.Hook.HookEntry).Assembly.Location,
            (ns, name) => name == nameof(LibvirtCallException) ? exception : FolderOf(ns, name));

        Assert.Equal(["Interop", "Libvirt"], edges.Keys.Where(e => e.To == exception).Select(e => e.From).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// LibvirtShim.X (and LibvirtShim.X.Y) is folder X. The native layer follows dotnet/runtime's global
    /// <c>Interop</c> class, so the assembly's own global types are Interop's, except the entry point and what
    /// generators add (ConsoleAppFramework's ConsoleApp, the compiler's &lt;...&gt; types), which may use anything.
    /// </summary>
    private static string? FolderOf(string ns, string name)
    {
        if (ns.StartsWith("LibvirtShim.", StringComparison.Ordinal)) return ns.Split('.')[1];
        bool generated = name.StartsWith("ConsoleApp", StringComparison.Ordinal) || name is "GlobalOptionsBuilder" || name.StartsWith('<');
        if (ns.Length > 0 || name is "Program" || generated) return null;
        return "Interop";
    }
}
