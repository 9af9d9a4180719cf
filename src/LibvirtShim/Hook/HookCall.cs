namespace LibvirtShim.Hook;

/// <summary>One invocation as libvirt makes it: <c>qemu DOMAIN OP SUBOP EXTRA</c>, a missing part being "-".</summary>
internal sealed record HookCall(string Domain, string Operation, string SubOperation, string Extra)
{
    public static HookCall? Parse(IReadOnlyList<string> args)
    {
        if (args.Count < 2) return null;
        return new HookCall(args[0], args[1], args.Count > 2 ? args[2] : "-", args.Count > 3 ? args[3] : "-");
    }

    public override string ToString() => $"{Domain} {Operation} {SubOperation} {Extra}";
}
