using ConsoleAppFramework;

namespace LibvirtShim.Cli;

/// <summary>The admin verbs. Settings can be overridden after "--", e.g. <c>libvirt-shim status -- --StateDir=/tmp/s</c>.</summary>
internal static class ShimCli
{
    public static int Run(string[] args)
    {
        ConsoleApp.Version = typeof(ShimCli).Assembly.GetName().Version?.ToString(3) ?? "0";
        var app = ConsoleApp.Create();
        app.Add<ShimCommands>();
        app.Run(args);
        return Environment.ExitCode;
    }
}
