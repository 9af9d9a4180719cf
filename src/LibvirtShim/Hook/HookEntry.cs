namespace LibvirtShim.Hook;

/// <summary>The process as libvirt runs it: installed as hooks/qemu or inside hooks/qemu.d/.</summary>
internal static class HookEntry
{
    public static bool IsHookInvocation(string argv0)
    {
        string name = Path.GetFileName(argv0);
        string? directory = Path.GetFileName(Path.GetDirectoryName(argv0));
        return name == "qemu" || directory == "qemu.d";
    }

    public static int Run(IReadOnlyList<string> args, HookHost host)
    {
        if (HookCall.Parse(args) is not { } call)
        {
            Console.Error.WriteLine("libvirt-shim: a hook call is DOMAIN OP SUBOP EXTRA (libvirt passes them); see libvirt-shim --help");
            return 2;
        }
        using Stream stdin = Console.OpenStandardInput();
        return new HookRunner(host).Run(call, stdin, Console.Out, Console.Error);
    }
}
