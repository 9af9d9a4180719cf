using LibvirtShim.Cli;
using LibvirtShim.Hook;

if (HookEntry.IsHookInvocation(Environment.GetCommandLineArgs()[0]))
    return HookEntry.Run(args, HookHost.ForSystem());
return ShimCli.Run(args);
