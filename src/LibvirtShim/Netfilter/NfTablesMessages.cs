using System.Buffers.Binary;
using System.Text;
using LibvirtShim.Netlink;
using static LibvirtShim.Netfilter.NfTablesProtocol;
using static LibvirtShim.Netlink.NetlinkProtocol;

namespace LibvirtShim.Netfilter;

/// <summary>
/// The nf_tables requests this shim sends, as libnftnl lays them out: an nlmsghdr, a struct nfgenmsg, attributes. Changes
/// go in a batch (BEGIN, requests, END: one transaction, all or nothing); reads are plain requests or dumps.
/// </summary>
internal static class NfTablesMessages
{
    /// <summary>Opens a transaction; with <paramref name="generation"/>, the kernel refuses it (ERESTART) if the ruleset changed since.</summary>
    public static void BatchBegin(ref NetlinkWriter writer, uint sequence, uint? generation)
    {
        int message = writer.BeginMessage(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, sequence);
        WriteGenMsg(ref writer, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES);
        if (generation is { } id) writer.WriteUInt32BigEndian(NFNL_BATCH_GENID, id);
        writer.EndMessage(message);
    }

    public static void BatchEnd(ref NetlinkWriter writer, uint sequence)
    {
        int message = writer.BeginMessage(NFNL_MSG_BATCH_END, NLM_F_REQUEST, sequence);
        WriteGenMsg(ref writer, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES);
        writer.EndMessage(message);
    }

    /// <summary>A netdev table with a comment; <paramref name="exclusive"/>: fail (EEXIST) if the name is taken.</summary>
    public static void NewTable(ref NetlinkWriter writer, uint sequence, string name, string comment, bool exclusive)
    {
        int message = Begin(ref writer, NFT_MSG_NEWTABLE, NLM_F_REQUEST | NLM_F_CREATE | (exclusive ? NLM_F_EXCL : 0), sequence);
        writer.WriteString(NFTA_TABLE_NAME, name);
        writer.WriteUInt32BigEndian(NFTA_TABLE_FLAGS, 0);
        WriteComment(ref writer, NFTA_TABLE_USERDATA, comment);
        writer.EndMessage(message);
    }

    /// <summary>Deletes a netdev table with everything in it.</summary>
    public static void DeleteTable(ref NetlinkWriter writer, uint sequence, string name)
    {
        int message = Begin(ref writer, NFT_MSG_DELTABLE, NLM_F_REQUEST, sequence);
        writer.WriteString(NFTA_TABLE_NAME, name);
        writer.EndMessage(message);
    }

    /// <summary>A chain: hooked to <see cref="ChainSpec.Device"/>'s egress at priority 0 (a base chain), or a regular one.</summary>
    public static void NewChain(ref NetlinkWriter writer, uint sequence, string table, ChainSpec chain)
    {
        int message = Begin(ref writer, NFT_MSG_NEWCHAIN, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, sequence);
        writer.WriteString(NFTA_CHAIN_TABLE, table);
        writer.WriteString(NFTA_CHAIN_NAME, chain.Name);
        if (chain.Device is { } device)
        {
            int hook = writer.BeginNested(NFTA_CHAIN_HOOK);
            writer.WriteUInt32BigEndian(NFTA_HOOK_HOOKNUM, NF_NETDEV_EGRESS);
            writer.WriteUInt32BigEndian(NFTA_HOOK_PRIORITY, 0);
            writer.WriteString(NFTA_HOOK_DEV, device);
            writer.EndNested(hook);
            writer.WriteUInt32BigEndian(NFTA_CHAIN_POLICY, chain.PolicyAccept ? (uint)NF_ACCEPT : NF_DROP);
            writer.WriteString(NFTA_CHAIN_TYPE, "filter");
        }
        if (chain.Comment is { } comment) WriteComment(ref writer, NFTA_CHAIN_USERDATA, comment);
        writer.EndMessage(message);
    }

    /// <summary>A set of (link name . address) ranges: a concatenation with intervals, which the kernel keeps in its pipapo backend.</summary>
    public static void NewSet(ref NetlinkWriter writer, uint sequence, string table, SetSpec set, uint id)
    {
        int message = Begin(ref writer, NFT_MSG_NEWSET, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, sequence);
        writer.WriteString(NFTA_SET_TABLE, table);
        writer.WriteString(NFTA_SET_NAME, set.Name);
        writer.WriteUInt32BigEndian(NFTA_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
        writer.WriteUInt32BigEndian(NFTA_SET_KEY_TYPE, set.KeyType);
        writer.WriteUInt32BigEndian(NFTA_SET_KEY_LEN, (uint)set.KeyBytes);
        writer.WriteUInt32BigEndian(NFTA_SET_ID, id);
        int description = writer.BeginNested(NFTA_SET_DESC);
        int concat = writer.BeginNested(NFTA_SET_DESC_CONCAT);
        foreach (int field in new[] { SetSpec.IfNameBytes, set.AddressBytes })
        {
            int element = writer.BeginNested(NFTA_LIST_ELEM);
            writer.WriteUInt32BigEndian(NFTA_SET_FIELD_LEN, (uint)field);
            writer.EndNested(element);
        }
        writer.EndNested(concat);
        writer.EndNested(description);
        writer.EndMessage(message);
    }

    /// <summary>Elements of a set (at most what one nested attribute holds: <see cref="MaxElementsPerMessage"/>), each a range.</summary>
    public static void NewSetElements(ref NetlinkWriter writer, uint sequence, string table, string set, IReadOnlyList<SetElement> elements)
    {
        int message = Begin(ref writer, NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, sequence);
        writer.WriteString(NFTA_SET_ELEM_LIST_TABLE, table);
        writer.WriteString(NFTA_SET_ELEM_LIST_SET, set);
        int list = writer.BeginNested(NFTA_SET_ELEM_LIST_ELEMENTS);
        foreach (SetElement element in elements)
        {
            int item = writer.BeginNested(NFTA_LIST_ELEM);
            WriteValue(ref writer, NFTA_SET_ELEM_KEY, element.From);
            WriteValue(ref writer, NFTA_SET_ELEM_KEY_END, element.To);
            writer.EndNested(item);
        }
        writer.EndNested(list);
        writer.EndMessage(message);
    }

    /// <summary>Elements of (16 + 16)-byte keys take 92 bytes: 512 of them stay well under a nested attribute's 64 KiB.</summary>
    public const int MaxElementsPerMessage = 512;

    /// <summary>A rule appended to a chain: its comparisons, a counter when it drops, its verdict.</summary>
    public static void NewRule(ref NetlinkWriter writer, uint sequence, string table, string chain, Rule rule)
    {
        int message = Begin(ref writer, NFT_MSG_NEWRULE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND, sequence);
        writer.WriteString(NFTA_RULE_TABLE, table);
        writer.WriteString(NFTA_RULE_CHAIN, chain);
        int expressions = writer.BeginNested(NFTA_RULE_EXPRESSIONS);
        foreach (Match match in rule.Matches) WriteMatch(ref writer, match);
        if (rule.Counted) WriteCounter(ref writer);
        WriteVerdict(ref writer, rule.Verdict);
        writer.EndNested(expressions);
        writer.EndMessage(message);
    }

    /// <summary>One netdev table by name (acked; ENOENT when there is none).</summary>
    public static void GetTable(ref NetlinkWriter writer, uint sequence, string name)
    {
        int message = Begin(ref writer, NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_ACK, sequence);
        writer.WriteString(NFTA_TABLE_NAME, name);
        writer.EndMessage(message);
    }

    /// <summary>Every netdev table, or every netdev chain.</summary>
    public static void Dump(ref NetlinkWriter writer, uint sequence, byte what)
    {
        int message = Begin(ref writer, what, NLM_F_REQUEST | NLM_F_DUMP, sequence);
        writer.EndMessage(message);
    }

    /// <summary>The ruleset's generation (NFT_MSG_NEWGEN in answer), acked.</summary>
    public static void GetGeneration(ref NetlinkWriter writer, uint sequence)
    {
        int message = writer.BeginMessage(Type(NFT_MSG_GETGEN), NLM_F_REQUEST | NLM_F_ACK, sequence);
        WriteGenMsg(ref writer, NFPROTO_UNSPEC, 0);
        writer.EndMessage(message);
    }

    private static int Begin(ref NetlinkWriter writer, byte type, int flags, uint sequence)
    {
        int message = writer.BeginMessage(Type(type), (ushort)flags, sequence);
        WriteGenMsg(ref writer, NFPROTO_NETDEV, 0);
        return message;
    }

    private static void WriteGenMsg(ref NetlinkWriter writer, byte family, ushort resourceId)
    {
        Span<byte> header = stackalloc byte[NfGenMsgLength];
        header[0] = family;
        header[1] = 0;   // NFNETLINK_V0
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], resourceId);
        writer.WriteFixedHeader(header);
    }

    /// <summary>User data as libnftnl writes a comment, which `nft list` shows: type 0, length, the text and its NUL.</summary>
    private static void WriteComment(ref NetlinkWriter writer, ushort type, string comment)
    {
        int length = Encoding.UTF8.GetByteCount(comment) + 1;
        if (length > MaxCommentBytes + 1) throw new ArgumentException($"comment of {length} bytes, at most {MaxCommentBytes + 1}", nameof(comment));
        Span<byte> tlv = stackalloc byte[2 + length];
        tlv[0] = UserDataComment;
        tlv[1] = (byte)length;
        Encoding.UTF8.GetBytes(comment, tlv[2..]);
        tlv[^1] = 0;
        writer.WriteAttribute(type, tlv);
    }

    /// <summary>counter: packets and bytes, starting at zero (no attributes).</summary>
    private static void WriteCounter(ref NetlinkWriter writer)
    {
        int element = writer.BeginNested(NFTA_LIST_ELEM);
        writer.WriteString(NFTA_EXPR_NAME, "counter");
        writer.EndNested(element);
    }

    /// <summary>Load into register 1 (payload or meta), mask it when the match has a mask, compare; or load the link's name and an
    /// address side by side and look them up.</summary>
    private static void WriteMatch(ref NetlinkWriter writer, Match match)
    {
        if (match.Kind == MatchKind.LinkAddressIn)
        {
            WriteLookup(ref writer, match);
            return;
        }
        if (match.Kind == MatchKind.L4Proto)
            WriteMeta(ref writer, NFT_REG_1, NFT_META_L4PROTO);
        else
            WritePayload(ref writer, NFT_REG_1, match.Kind == MatchKind.Frame ? NFT_PAYLOAD_LL_HEADER : NFT_PAYLOAD_TRANSPORT_HEADER, match);
        if (match.Mask is { } mask) WriteMask(ref writer, mask);

        var cmp = BeginExpression(ref writer, "cmp");
        writer.WriteUInt32BigEndian(NFTA_CMP_SREG, NFT_REG_1);
        writer.WriteUInt32BigEndian(NFTA_CMP_OP, match.NotEqual ? NFT_CMP_NEQ : NFT_CMP_EQ);
        WriteValue(ref writer, NFTA_CMP_DATA, match.Value);
        EndExpression(ref writer, cmp);
    }

    /// <summary>meta oifname into the 4-byte registers 0-3, the address after it, then a lookup of the two together.</summary>
    private static void WriteLookup(ref NetlinkWriter writer, Match match)
    {
        WriteMeta(ref writer, NFT_REG32_00, NFT_META_OIFNAME);
        WritePayload(ref writer, NFT_REG32_00 + SetSpec.IfNameBytes / 4,
            match.FromTransport ? NFT_PAYLOAD_TRANSPORT_HEADER : NFT_PAYLOAD_LL_HEADER, match);

        var lookup = BeginExpression(ref writer, "lookup");
        writer.WriteString(NFTA_LOOKUP_SET, match.Set!);
        writer.WriteUInt32BigEndian(NFTA_LOOKUP_SREG, NFT_REG32_00);
        if (match.NotEqual) writer.WriteUInt32BigEndian(NFTA_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
        EndExpression(ref writer, lookup);
    }

    /// <summary>meta: <paramref name="key"/> of the packet into <paramref name="register"/>.</summary>
    private static void WriteMeta(ref NetlinkWriter writer, uint register, uint key)
    {
        var meta = BeginExpression(ref writer, "meta");
        writer.WriteUInt32BigEndian(NFTA_META_DREG, register);
        writer.WriteUInt32BigEndian(NFTA_META_KEY, key);
        EndExpression(ref writer, meta);
    }

    /// <summary>payload: the match's bytes (its offset and length) from <paramref name="header"/> into <paramref name="register"/>.</summary>
    private static void WritePayload(ref NetlinkWriter writer, uint register, uint header, Match match)
    {
        var payload = BeginExpression(ref writer, "payload");
        writer.WriteUInt32BigEndian(NFTA_PAYLOAD_DREG, register);
        writer.WriteUInt32BigEndian(NFTA_PAYLOAD_BASE, header);
        writer.WriteUInt32BigEndian(NFTA_PAYLOAD_OFFSET, match.Offset);
        writer.WriteUInt32BigEndian(NFTA_PAYLOAD_LEN, (uint)match.Value.Length);
        EndExpression(ref writer, payload);
    }

    /// <summary>bitwise: register 1 = (register 1 &amp; mask) ^ 0.</summary>
    private static void WriteMask(ref NetlinkWriter writer, byte[] mask)
    {
        var bitwise = BeginExpression(ref writer, "bitwise");
        writer.WriteUInt32BigEndian(NFTA_BITWISE_SREG, NFT_REG_1);
        writer.WriteUInt32BigEndian(NFTA_BITWISE_DREG, NFT_REG_1);
        writer.WriteUInt32BigEndian(NFTA_BITWISE_LEN, (uint)mask.Length);
        WriteValue(ref writer, NFTA_BITWISE_MASK, mask);
        WriteValue(ref writer, NFTA_BITWISE_XOR, new byte[mask.Length]);
        EndExpression(ref writer, bitwise);
    }

    /// <summary>One expression of a rule: its name, then its data until <see cref="EndExpression"/>.</summary>
    private static (int Element, int Data) BeginExpression(ref NetlinkWriter writer, string name)
    {
        int element = writer.BeginNested(NFTA_LIST_ELEM);
        writer.WriteString(NFTA_EXPR_NAME, name);
        return (element, writer.BeginNested(NFTA_EXPR_DATA));
    }

    private static void EndExpression(ref NetlinkWriter writer, (int Element, int Data) expression)
    {
        writer.EndNested(expression.Data);
        writer.EndNested(expression.Element);
    }

    private static void WriteValue(ref NetlinkWriter writer, ushort type, ReadOnlySpan<byte> value)
    {
        int nested = writer.BeginNested(type);
        writer.WriteAttribute(NFTA_DATA_VALUE, value);
        writer.EndNested(nested);
    }

    /// <summary>immediate: the verdict register gets the verdict (and the chain of a jump or goto).</summary>
    private static void WriteVerdict(ref NetlinkWriter writer, Verdict verdict)
    {
        var immediate = BeginExpression(ref writer, "immediate");
        writer.WriteUInt32BigEndian(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
        int value = writer.BeginNested(NFTA_IMMEDIATE_DATA);
        int code = writer.BeginNested(NFTA_DATA_VERDICT);
        writer.WriteUInt32BigEndian(NFTA_VERDICT_CODE, unchecked((uint)verdict.Code));
        if (verdict.Chain is { } chain) writer.WriteString(NFTA_VERDICT_CHAIN, chain);
        writer.EndNested(code);
        writer.EndNested(value);
        EndExpression(ref writer, immediate);
    }
}
