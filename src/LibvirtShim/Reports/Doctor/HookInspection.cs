namespace LibvirtShim.Reports.Doctor;

/// <summary>What is at one hook path: what it leads to, whether libvirt can run it, whether it is libvirt-shim.</summary>
internal sealed record HookFile(string Path, FileFacts Entry, string? Target, FileFacts? TargetFacts, HookKind Kind)
{
    /// <summary>libvirt runs a hook that is a regular file (after symlinks) with an execute bit.</summary>
    public bool IsRunnable => TargetFacts is { IsRegularFile: true, IsExecutable: true };
    public bool RunsShim => Kind is HookKind.Shim or HookKind.Wrapper;
}

internal enum HookKind
{
    /// <summary>Someone else's hook.</summary>
    Foreign,
    /// <summary>The libvirt-shim executable (a symlink to it, or a copy).</summary>
    Shim,
    /// <summary>A script that runs "libvirt-shim hook" (how libvirt before 6.5 chains hooks).</summary>
    Wrapper,
}

/// <summary>The hooks directory as a daemon sees it: hooks/qemu and every entry of hooks/qemu.d/.</summary>
internal sealed record HookInspection(string Directory, HookFile? Main, List<HookFile> QemuD)
{
    public IEnumerable<HookFile> Shims => (Main is { RunsShim: true } ? [Main] : Array.Empty<HookFile>()).Concat(QemuD.Where(h => h.RunsShim));

    /// <summary>
    /// Looks at <paramref name="hooksDirectory"/> (e.g. "/etc/libvirt/hooks") below <paramref name="root"/> (a daemon's
    /// /proc/PID/root, or "/"): absolute symlink targets are resolved below that root, as the daemon would.
    /// Paths in the result are as the daemon sees them.
    /// </summary>
    public static HookInspection Inspect(string root, string hooksDirectory)
    {
        string real = Below(root, hooksDirectory);
        HookFile? main = Look(root, hooksDirectory + "/qemu");
        var qemud = new List<HookFile>();
        string qemudReal = real + "/qemu.d";
        if (System.IO.Directory.Exists(qemudReal))
        {
            foreach (string entry in System.IO.Directory.EnumerateFileSystemEntries(qemudReal).Order(StringComparer.Ordinal))
            {
                if (Look(root, hooksDirectory + "/qemu.d/" + System.IO.Path.GetFileName(entry)) is { } hook) qemud.Add(hook);
            }
        }
        return new HookInspection(hooksDirectory, main, qemud);
    }

    private static HookFile? Look(string root, string path)
    {
        string real = Below(root, path);
        if (Interop.Files.Probe(real, followSymlinks: false) is not { } entry) return null;
        string current = path;
        string currentReal = real;
        for (int hops = 0; hops < 40 && Interop.Files.Probe(currentReal, followSymlinks: false) is { IsSymlink: true }; hops++)
        {
            string? link = HostFiles.ReadLink(currentReal);
            if (link is null) break;
            current = link.StartsWith('/')
                ? link : System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(current)!, link));
            currentReal = Below(root, current);
        }
        FileFacts? target = Interop.Files.Probe(currentReal, followSymlinks: true);
        HookKind kind = target is { IsRegularFile: true } ? KindOf(currentReal) : HookKind.Foreign;
        return new HookFile(path, entry, entry.IsSymlink ? current : null, target, kind);
    }

    private static HookKind KindOf(string file)
    {
        if (ShimIdentity.IsShimExecutable(file)) return HookKind.Shim;
        try
        {
            var info = new FileInfo(file);
            if (info.Length > 64 * 1024) return HookKind.Foreign;
            string text = File.ReadAllText(file);
            return text.StartsWith("#!", StringComparison.Ordinal) && text.Contains("libvirt-shim hook", StringComparison.Ordinal)
                ? HookKind.Wrapper : HookKind.Foreign;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return HookKind.Foreign;
        }
    }

    private static string Below(string root, string path) => root == "/" ? path : root.TrimEnd('/') + path;
}
