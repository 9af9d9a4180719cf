using LibvirtShim.Messages;

namespace LibvirtShim.State;

/// <summary>
/// The state directory must be a real directory owned by the user running the hook (root) and writable by nobody else,
/// since whoever can write it decides which links the hook deletes.
/// </summary>
internal static class StateDirectory
{
    /// <summary>
    /// The path as the checks must see it. A final "/." or "/" makes lstat follow a symbolic link, and ".." climbs out of
    /// whatever a symbolic link before it leads to, which the lexical walk over the ancestors does not see: "." and empty
    /// components are dropped, ".." is refused.
    /// </summary>
    public static string Canonical(string path)
    {
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (!path.StartsWith('/')) throw Refused($"state directory {path} is not an absolute path");
        if (parts.Contains(".."))
            throw Refused($"state directory {path} contains '..'; refusing to use it (name the directory itself)");
        return "/" + string.Join('/', parts.Where(p => p != "."));
    }

    /// <summary>A state directory, state file or lock file the hook refuses to use.</summary>
    public static ShimFailure Refused(string message) => ShimFailure.WithoutDomain(message, Interop.Files.EffectiveUserId() != 0
        ? "run it as root" : "libvirt-shim keeps its state in StateDir, which must be a directory only root can write");

    /// <summary>The directory, created (mode 0700) when missing, and checked.</summary>
    public static void Ensure(string path)
    {
        path = Canonical(path);
        RefuseUnsafeAncestors(path, links: 0);
        FileFacts? found = Interop.Files.Lstat(path);
        if (found is null)
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            found = Interop.Files.Lstat(path);
        }
        RefuseUnsafe(path, found!.Value, expectDirectory: true, "state directory");
    }

    /// <summary>Whether the directory exists (checked as <see cref="Ensure"/> checks it); it is never created here.</summary>
    public static bool Exists(string path)
    {
        path = Canonical(path);
        RefuseUnsafeAncestors(path, links: 0);
        if (Interop.Files.Lstat(path) is not { } found) return false;
        RefuseUnsafe(path, found, expectDirectory: true, "state directory");
        return true;
    }

    /// <summary>
    /// Every directory above it must be as safe: whoever can write one of them can put a directory or a symbolic link
    /// of their own in place of the next. A sticky one (/tmp) is fine, since nobody can replace what root made there;
    /// a symbolic link on the way (/var/run) must be root's, and its target is checked the same way.
    /// </summary>
    private static void RefuseUnsafeAncestors(string path, int links)
    {
        uint me = Interop.Files.EffectiveUserId();
        for (string? directory = Path.GetDirectoryName(Path.GetFullPath(path)); directory is not null; directory = Path.GetDirectoryName(directory))
        {
            if (Interop.Files.Lstat(directory) is not { } found) continue;
            if (found.Uid != 0 && found.Uid != me)
                throw Refused($"{directory}, above the state directory, is owned by uid {found.Uid}; " +
                    "refusing to keep the state under it");
            if (found.IsSymlink)
            {
                if (links < 8 && Directory.ResolveLinkTarget(directory, returnFinalTarget: true) is { } target)
                    RefuseUnsafeAncestors(Path.Join(target.FullName, "state"), links + 1); // the target and what is above it
                continue;
            }
            if ((found.Permissions & 0x12 /* go-w */) != 0 && (found.Permissions & 0x200 /* sticky */) == 0)
                throw Refused($"{directory}, above the state directory, " +
                    $"is writable by group or others (mode {Convert.ToString(found.Permissions, 8)}); refusing to keep the state under it");
        }
    }

    /// <summary>
    /// What the state directory and its files must be: not a symbolic link, of the expected type, owned by root or the user
    /// running the hook, writable by nobody else.
    /// </summary>
    public static void RefuseUnsafe(string path, FileFacts found, bool expectDirectory, string what)
    {
        if (found.IsSymlink)
            throw Refused($"{what} {path} is a symbolic link; refusing to use it");
        if (expectDirectory ? !found.IsDirectory : !found.IsRegularFile)
            throw Refused($"{what} {path} is not a {(expectDirectory ? "directory" : "regular file")}");
        uint me = Interop.Files.EffectiveUserId();
        if (found.Uid != me && found.Uid != 0)
            throw Refused($"{what} {path} is owned by uid {found.Uid}, not uid {(me == 0 ? "0" : $"{me} or 0")}; refusing to use it");
        if ((found.Permissions & 0x12 /* go-w */) != 0)
            throw Refused($"{what} {path} is writable by group or others (mode {Convert.ToString(found.Permissions, 8)}); " +
                "chmod go-w it");
    }
}
