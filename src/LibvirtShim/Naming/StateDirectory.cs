namespace LibvirtShim.Naming;

/// <summary>
/// The state directory must be a real directory owned by the user running the hook (root) and writable by nobody else,
/// since whoever can write it decides which links the hook deletes.
/// </summary>
internal static class StateDirectory
{
    public static void Ensure(string path)
    {
        FileOwnership? found = Interop.Files.Lstat(path);
        if (found is null)
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            found = Interop.Files.Lstat(path);
        }
        Refuse(path, found!.Value, expectDirectory: true);
    }

    public static void CheckFile(string path)
    {
        if (Interop.Files.Lstat(path) is { } found) Refuse(path, found, expectDirectory: false);
    }

    private static void Refuse(string path, FileOwnership found, bool expectDirectory)
    {
        string what = expectDirectory ? "state directory" : "state file";
        if (found.IsSymlink)
            throw new StateAccessException($"{what} {path} is a symbolic link; refusing to use it");
        if (expectDirectory ? !found.IsDirectory : !found.IsRegularFile)
            throw new StateAccessException($"{what} {path} is not a {(expectDirectory ? "directory" : "regular file")}");
        uint me = Interop.Files.EffectiveUserId();
        if (found.Uid != me)
            throw new StateAccessException($"{what} {path} is owned by uid {found.Uid}, not uid {me}; refusing to use it");
        if ((found.Permissions & 0x12 /* go-w */) != 0)
            throw new StateAccessException($"{what} {path} is writable by group or others (mode {Convert.ToString(found.Permissions, 8)}); chmod go-w it");
    }
}

internal sealed class StateAccessException(string message) : Exception(message);
