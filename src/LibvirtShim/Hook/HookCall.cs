namespace LibvirtShim.Hook;

/// <summary>
/// One invocation as libvirt makes it: <c>qemu DOMAIN OP SUBOP EXTRA</c>, a missing part being "-". EXTRA is whatever
/// libvirt passes (since 10.5 the shutoff reason of <c>release</c>, "from snapshot" included, as one argument);
/// arguments after it, from a call typed by hand without quotes, are part of it.
/// </summary>
internal sealed record HookCall(string Domain, string Operation, string SubOperation, string Extra)
{
    public static HookCall? Parse(IReadOnlyList<string> args)
    {
        if (args.Count < 2) return null;
        string extra = args.Count > 3 ? string.Join(' ', args.Skip(3)) : "-";
        return new HookCall(args[0], args[1], args.Count > 2 ? args[2] : "-", extra.Length > 0 ? extra : "-");
    }

    public override string ToString() => $"{Domain} {Operation} {SubOperation} {Extra}";
}
