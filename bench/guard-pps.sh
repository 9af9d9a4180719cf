#!/usr/bin/env bash
# Frames per second a guest can send through a guarded link and an unguarded one, side by side: a domain of two owned
# NICs prepared by the hook in a throw-away network namespace (guard='ip' on one, none on the other, same lower device),
# and bench/TapFlood writing 64-byte UDP frames into each link's tap as a guest's virtio NIC would (10-byte virtio-net
# header, one write a frame), the links taking turns round by round. A third series sends, through the guarded link,
# a frame the guard drops (a source address not its own): what a spoofing guest costs the host.
#
#   sudo bench/guard-pps.sh [FRAMES]        default FRAMES: 200000 per link and round
#
# Environment: BENCH_ROUNDS (default 11), BENCH_NO_BUILD=1 (use artifacts/libvirt-shim as it is).
# Prints the medians, and writes them to bench/.build/results/guard-pps.md.
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_root
frames=${1:-200000}
rounds=${BENCH_ROUNDS:-11}
ns="bench-pps-$$"
work=$(mktemp -d /tmp/bench-pps.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

build_shim_into "$work/libvirt-shim"
say "building bench/TapFlood (Release, into bench/.build)"
with_retries "dotnet build bench/TapFlood" \
  dotnet build "$bench_dir/TapFlood" -c Release --artifacts-path "$build_dir" -nologo -v:q -clp:ErrorsOnly >/dev/null
flood="$build_dir/bin/TapFlood/release/tap-flood.dll"

mkdir -p "$work/state" "$work/run" "$work/etc" "$work/nodes"
chmod 0700 "$work/state" "$work/nodes"
echo '{}' > "$work/settings.json"
cat > "$work/domain.xml" <<'EOF'
<domain type='kvm'>
  <name>bench-pps</name>
  <uuid>5eedbe0c-0000-4000-8000-0000000bb000</uuid>
  <metadata>
    <shim:macvtap xmlns:shim="urn:libvirt-shim:macvtap:1">
      <shim:link mac='52:54:00:bb:00:01' source='uplink0' mode='bridge' guard='ip' ips='192.0.2.10 2001:db8::10'/>
      <shim:link mac='52:54:00:bb:00:02' source='uplink0' mode='bridge'/>
    </shim:macvtap>
  </metadata>
  <devices>
    <interface type='ethernet'><mac address='52:54:00:bb:00:01'/><target dev='mvtap0' managed='no'/></interface>
    <interface type='ethernet'><mac address='52:54:00:bb:00:02'/><target dev='mvtap1' managed='no'/></interface>
  </devices>
</domain>
EOF

netns_with_veth "$ns" uplink0
hook() {
  LIBVIRT_SHIM_CONFIG="$work/settings.json" LIBVIRT_SHIM_STATEDIR="$work/state" LIBVIRT_SHIM_LIBVIRTRUNDIR="$work/run" \
    LIBVIRT_SHIM_LIBVIRTCONFIGDIR="$work/etc" LIBVIRT_SHIM_LOGFILE="$work/shim.log" \
    ip netns exec "$ns" "$work/libvirt-shim" hook bench-pps "$1" "$2" - < "$work/domain.xml" >/dev/null \
    || die "hook $1 failed: $(tail -n 3 "$work/shim.log")"
}
hook prepare begin
[ "$(ip netns exec "$ns" nft list chains netdev 2>/dev/null | grep -c 'hook egress')" = 1 ] || die "the guard is not in place"

# node LINK: the tap character device of LINK, made in a private directory (sysfs as the namespace sees it).
node() {
  local index dev
  index=$(ip netns exec "$ns" cat "/sys/class/net/$1/ifindex")
  dev=$(ip netns exec "$ns" cat "/sys/class/net/$1/macvtap/tap$index/dev")
  mknod -m 600 "$work/nodes/$1" c "${dev%%:*}" "${dev##*:}"
  echo "$work/nodes/$1"
}
# udp4 MAC SOURCE-IP: a 64-byte Ethernet frame (broadcast, IPv4, UDP 4000 to 4000, zero data and checksums), in hex.
udp4() {
  local ip hex a b c d
  IFS=. read -r a b c d <<<"$2"
  ip=$(printf '%02x%02x%02x%02x' "$a" "$b" "$c" "$d")
  hex="ffffffffffff${1//:/}0800""4500002e00000000401100""00${ip}c0000201""0fa00fa0001a0000"
  printf '%s%0*d' "$hex" $((128 - ${#hex})) 0
}
guarded=$(node mvtap0) plain=$(node mvtap1)
pass_g=$(udp4 52:54:00:bb:00:01 192.0.2.10) pass_p=$(udp4 52:54:00:bb:00:02 192.0.2.20) spoof=$(udp4 52:54:00:bb:00:01 192.0.2.66)

facts=$(machine_facts)
say "measuring: $frames frames per link and round, 1 warm-up round + $rounds rounds"
: > "$work/pps.tsv"
for ((round = 0; round <= rounds; round++)); do
  if ((round % 2)); then order="guarded plain dropped"; else order="plain dropped guarded"; fi
  for series in $order; do
    case $series in
      guarded) rate=$(dotnet "$flood" "$guarded" "$pass_g" "$frames") ;;
      plain) rate=$(dotnet "$flood" "$plain" "$pass_p" "$frames") ;;
      dropped) rate=$(dotnet "$flood" "$guarded" "$spoof" "$frames") ;;
    esac
    ((round > 0)) && printf '%s\t%s\n' "$series" "$rate" >> "$work/pps.tsv"
  done
done
dropped=$(ip netns exec "$ns" nft list ruleset |
  awk '/counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }')
[ "$dropped" -ge $((frames * rounds)) ] || die "the guard counted $dropped drops, fewer than the $((frames * rounds)) spoofed frames"
hook release end

med() { awk -F'\t' -v s="$1" '$1 == s { print $2 / 1000 }' "$work/pps.tsv" | median; }
mkdir -p "$results_dir"
{
  echo "## Frames per second through a guarded link"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/guard-pps.sh $frames\`; medians of $rounds rounds, the series interleaved; 64-byte UDP frames written into the tap"
  echo
  echo "| link | frames | thousand frames/s | / unguarded |"
  echo "|---|---|---:|---:|"
  echo "| unguarded | its own source | $(num "$(med plain)") | 1.00 |"
  echo "| guard='ip' | its own source (pass) | $(num "$(med guarded)") | $(ratio "$(med guarded)" "$(med plain)") |"
  echo "| guard='ip' | a foreign source address (dropped) | $(num "$(med dropped)") | $(ratio "$(med dropped)" "$(med plain)") |"
} | tee "$results_dir/guard-pps.md"
