namespace LibvirtShim.Netlink;

/// <summary>
/// netlink(7) framing: message types, header flags and the extended-ack attributes. Netlink is in host byte order;
/// every target this shim builds for (x64, arm64) is little-endian, so readers and writers use the LittleEndian primitives.
/// </summary>
internal static class NetlinkProtocol
{
    public const int HeaderLength = 16;   // struct nlmsghdr
    public const int AttributeHeaderLength = 4;   // struct nlattr
    public const int Alignment = 4;

    // nlmsg_type values below NLMSG_MIN_TYPE.
    public const ushort NLMSG_NOOP = 1;
    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;
    public const ushort NLMSG_OVERRUN = 4;

    // nlmsg_flags.
    public const ushort NLM_F_REQUEST = 0x1;
    public const ushort NLM_F_ACK = 0x4;
    public const ushort NLM_F_DUMP_INTR = 0x10;
    public const ushort NLM_F_DUMP = 0x300;   // NLM_F_ROOT | NLM_F_MATCH
    public const ushort NLM_F_EXCL = 0x200;
    public const ushort NLM_F_CREATE = 0x400;
    public const ushort NLM_F_CAPPED = 0x100;   // on NLMSG_ERROR: the request is not echoed whole
    public const ushort NLM_F_ACK_TLVS = 0x200;   // on NLMSG_ERROR: extended-ack attributes follow

    // struct nlattr.
    public const ushort NLA_F_NESTED = 0x8000;
    public const ushort NLA_TYPE_MASK = 0x3fff;

    // enum nlmsgerr_attrs.
    public const ushort NLMSGERR_ATTR_MSG = 1;

    public static int Align(int length) => (length + Alignment - 1) & ~(Alignment - 1);
}
