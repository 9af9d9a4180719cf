using LibvirtShim.Cli;
using LibvirtShim.Hook;
using LibvirtShim.Messages;

try
{
    if (HookEntry.IsHookInvocation(Environment.GetCommandLineArgs()[0]))
        return HookEntry.Run(args, HookHost.ForSystem());
    return ShimCli.Run(args);
}
catch (Exception e)
{
    // The last guard (a hook call has its own, which keeps reconnect's exit status 0): one line, never a stack trace.
    try
    {
        Console.Error.WriteLine("libvirt-shim: " + ShimFailure.LineFor(e));
    }
    catch (IOException)
    {
    }
    return 1;
}
