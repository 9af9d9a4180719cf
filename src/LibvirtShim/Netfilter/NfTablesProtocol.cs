namespace LibvirtShim.Netfilter;

/// <summary>
/// nfnetlink and nf_tables as include/uapi/linux/netfilter/nfnetlink.h and nf_tables.h define them: message types, the
/// attributes this shim writes and reads, and the values it uses. nf_tables' numbers are big-endian (NLA_BE32).
/// </summary>
internal static class NfTablesProtocol
{
    // nfnetlink: a message type is the subsystem in the high byte and the subsystem's message in the low one.
    public const ushort NFNL_MSG_BATCH_BEGIN = 0x10;   // NLMSG_MIN_TYPE
    public const ushort NFNL_MSG_BATCH_END = 0x11;
    public const ushort NFNL_SUBSYS_NFTABLES = 10;
    public const ushort NFNL_BATCH_GENID = 1;
    public const int NfGenMsgLength = 4;   // struct nfgenmsg: family, version, res_id (big-endian)

    public const byte NFPROTO_UNSPEC = 0;
    public const byte NFPROTO_NETDEV = 5;

    // enum nf_tables_msg_types.
    public const byte NFT_MSG_NEWTABLE = 0;
    public const byte NFT_MSG_GETTABLE = 1;
    public const byte NFT_MSG_DELTABLE = 2;
    public const byte NFT_MSG_NEWCHAIN = 3;
    public const byte NFT_MSG_GETCHAIN = 4;
    public const byte NFT_MSG_DELCHAIN = 5;
    public const byte NFT_MSG_NEWRULE = 6;
    public const byte NFT_MSG_NEWSET = 9;
    public const byte NFT_MSG_NEWSETELEM = 12;
    public const byte NFT_MSG_NEWGEN = 15;
    public const byte NFT_MSG_GETGEN = 16;

    public const ushort NLM_F_APPEND = 0x800;

    public const ushort NFTA_LIST_ELEM = 1;

    public const ushort NFTA_HOOK_HOOKNUM = 1;
    public const ushort NFTA_HOOK_PRIORITY = 2;
    public const ushort NFTA_HOOK_DEV = 3;

    public const ushort NFTA_TABLE_NAME = 1;
    public const ushort NFTA_TABLE_FLAGS = 2;
    public const ushort NFTA_TABLE_USERDATA = 6;

    public const ushort NFTA_CHAIN_TABLE = 1;
    public const ushort NFTA_CHAIN_NAME = 3;
    public const ushort NFTA_CHAIN_HOOK = 4;
    public const ushort NFTA_CHAIN_POLICY = 5;
    public const ushort NFTA_CHAIN_TYPE = 7;
    public const ushort NFTA_CHAIN_USERDATA = 12;

    public const ushort NFTA_RULE_TABLE = 1;
    public const ushort NFTA_RULE_CHAIN = 2;
    public const ushort NFTA_RULE_EXPRESSIONS = 4;

    public const ushort NFTA_GEN_ID = 1;

    public const ushort NFTA_SET_TABLE = 1;
    public const ushort NFTA_SET_NAME = 2;
    public const ushort NFTA_SET_FLAGS = 3;
    public const ushort NFTA_SET_KEY_TYPE = 4;
    public const ushort NFTA_SET_KEY_LEN = 5;
    public const ushort NFTA_SET_DESC = 9;
    public const ushort NFTA_SET_ID = 10;   // required: names the set within its transaction
    public const ushort NFTA_SET_DESC_CONCAT = 2;
    public const ushort NFTA_SET_FIELD_LEN = 1;
    public const uint NFT_SET_INTERVAL = 0x4;
    public const uint NFT_SET_CONCAT = 0x80;

    public const ushort NFTA_SET_ELEM_LIST_TABLE = 1;
    public const ushort NFTA_SET_ELEM_LIST_SET = 2;
    public const ushort NFTA_SET_ELEM_LIST_ELEMENTS = 3;
    public const ushort NFTA_SET_ELEM_KEY = 1;
    public const ushort NFTA_SET_ELEM_KEY_END = 10;

    public const ushort NFTA_LOOKUP_SET = 1;
    public const ushort NFTA_LOOKUP_SREG = 2;
    public const ushort NFTA_LOOKUP_FLAGS = 5;
    public const uint NFT_LOOKUP_F_INV = 1;

    public const ushort NFTA_EXPR_NAME = 1;
    public const ushort NFTA_EXPR_DATA = 2;

    public const ushort NFTA_DATA_VALUE = 1;
    public const ushort NFTA_DATA_VERDICT = 2;
    public const ushort NFTA_VERDICT_CODE = 1;
    public const ushort NFTA_VERDICT_CHAIN = 2;

    public const ushort NFTA_IMMEDIATE_DREG = 1;
    public const ushort NFTA_IMMEDIATE_DATA = 2;

    public const ushort NFTA_BITWISE_SREG = 1;
    public const ushort NFTA_BITWISE_DREG = 2;
    public const ushort NFTA_BITWISE_LEN = 3;
    public const ushort NFTA_BITWISE_MASK = 4;
    public const ushort NFTA_BITWISE_XOR = 5;

    public const ushort NFTA_CMP_SREG = 1;
    public const ushort NFTA_CMP_OP = 2;
    public const ushort NFTA_CMP_DATA = 3;
    public const uint NFT_CMP_EQ = 0;
    public const uint NFT_CMP_NEQ = 1;

    public const ushort NFTA_PAYLOAD_DREG = 1;
    public const ushort NFTA_PAYLOAD_BASE = 2;
    public const ushort NFTA_PAYLOAD_OFFSET = 3;
    public const ushort NFTA_PAYLOAD_LEN = 4;
    public const uint NFT_PAYLOAD_LL_HEADER = 0;
    public const uint NFT_PAYLOAD_TRANSPORT_HEADER = 2;

    public const ushort NFTA_META_DREG = 1;
    public const ushort NFTA_META_KEY = 2;
    public const uint NFT_META_L4PROTO = 16;
    public const uint NFT_META_OIFNAME = 7;

    public const uint NFT_REG_VERDICT = 0;
    public const uint NFT_REG_1 = 1;   // 16 bytes: an IPv6 address fits
    public const uint NFT_REG32_00 = 8;   // the 4-byte registers; a concatenated key starts here

    // Verdicts: netfilter's NF_DROP/NF_ACCEPT and nf_tables' own (enum nft_verdicts).
    public const int NF_DROP = 0;
    public const int NF_ACCEPT = 1;
    public const int NFT_JUMP = -3;
    public const int NFT_GOTO = -4;
    public const int NFT_RETURN = -5;

    /// <summary>enum nf_dev_hooks: NF_NETDEV_EGRESS (5.16+), what a device sends.</summary>
    public const uint NF_NETDEV_EGRESS = 1;

    /// <summary>libnftnl's user data: TLVs of one type byte and one length byte; type 0 is a comment, NUL-terminated.</summary>
    public const byte UserDataComment = 0;
    public const int MaxCommentBytes = 254;

    public static ushort Type(byte message) => (ushort)((NFNL_SUBSYS_NFTABLES << 8) | message);
}
