#!/usr/bin/env bash
# What a guard costs the hook: prepare and release of N owned NICs with guard='ip' (two addresses each) beside the same
# calls without a guard, whole process as libvirtd runs it, one build, the two interleaved round by round (the order
# alternates), in a throw-away network namespace with a veth lower device. The same rounds time the least a change made
# through the nftables program costs (libnftables: text parsed, the ruleset fetched into its cache, one transaction):
# `nft -f` of a file adding and deleting one empty table, while the guarded guest's table is in place.
#
#   sudo bench/guard-ab.sh [NICS]        default NICS: 82
#
# Environment: BENCH_ROUNDS (default 15), BENCH_NO_BUILD=1 (use artifacts/libvirt-shim as it is).
# Prints the medians, and writes them to bench/.build/results/guard-ab.md.
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# Inside the namespace (run again through ip netns exec): the interleaved calls, timed without the exec's cost.
if [ "${BENCH_AB_INSIDE:-}" = 1 ]; then
  work=$BENCH_AB_WORK nics=$BENCH_AB_NICS rounds=$BENCH_AB_ROUNDS
  stamp() { local t=${EPOCHREALTIME/./}; echo "$t"; }
  record() { printf '%s\t%s\t%s\t%s\n' "$round" "$1" "$2" $(($4 - $3)) >> "$work/times.tsv"; }
  # call VARIANT OP SUBOP: one hook call, timed in µs into $work/times.tsv (round, variant, op, µs).
  call() {
    local variant=$1 op=$2 subop=$3 t0 t1 links
    t0=$(stamp)
    LIBVIRT_SHIM_CONFIG="$work/settings.json" LIBVIRT_SHIM_STATEDIR="$work/$variant/state" \
      LIBVIRT_SHIM_LIBVIRTRUNDIR="$work/$variant/run" LIBVIRT_SHIM_LIBVIRTCONFIGDIR="$work/$variant/etc" \
      LIBVIRT_SHIM_LOGFILE="$work/$variant/shim.log" \
      "$work/hooks/qemu" bench-guard "$op" "$subop" - < "$work/$variant.xml" > /dev/null \
      || die "$variant $op $subop failed: $(tail -n 3 "$work/$variant/shim.log")"
    t1=$(stamp)
    record "$variant" "$op" "$t0" "$t1"
    links=$(ip -o link show type macvtap | wc -l)
    case $op in prepare) [ "$links" = "$nics" ] ;; *) [ "$links" = 0 ] ;; esac || die "$variant $op left $links macvtaps"
  }
  # nft_floor: the least change through nft, beside the guarded guest's table.
  nft_floor() {
    local t0 t1
    printf 'add table netdev bench-floor\ndelete table netdev bench-floor\n' > "$work/floor.nft"
    t0=$(stamp); nft -f "$work/floor.nft"; t1=$(stamp); record nft floor "$t0" "$t1"
  }
  : > "$work/times.tsv"
  for ((round = 0; round <= rounds; round++)); do
    if ((round % 2)); then order="guarded plain"; else order="plain guarded"; fi
    for variant in $order; do
      call "$variant" prepare begin
      if [ "$variant" = guarded ]; then
        [ "$(nft list chains netdev 2>/dev/null | grep -c 'hook egress')" = "$nics" ] || die "the guarded prepare did not hook $nics links"
        nft_floor
      fi
      call "$variant" release end
      [ -z "$(nft list tables netdev 2>/dev/null)" ] || die "$variant release left a netdev table"
    done
  done
  exit 0
fi

need_root
ensure_packages nftables
nics=${1:-82}
rounds=${BENCH_ROUNDS:-15}
ns="bench-guard-$$"
work=$(mktemp -d /tmp/bench-guard.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/bin" "$work/hooks"
for variant in plain guarded; do
  mkdir -p "$work/$variant/state" "$work/$variant/run" "$work/$variant/etc"
  chmod 0700 "$work/$variant/state"
done
echo '{}' > "$work/settings.json"
build_shim_into "$work/bin/libvirt-shim"
ln -s ../bin/libvirt-shim "$work/hooks/qemu"

domain_xml bench-plain 5eedbe0c-0000-4000-8000-000000000001 "$nics" > "$work/plain.xml"
domain_xml bench-guarded 5eedbe0c-0000-4000-8000-000000000002 "$nics" "guard='ip' ips='10.%d.%d.10 2001:db8:%x:%x::10'" > "$work/guarded.xml"

netns_with_veth "$ns" uplink0
facts=$(machine_facts)

say "measuring in network namespace $ns: $nics NICs, 1 warm-up round + $rounds rounds"
BENCH_AB_INSIDE=1 BENCH_AB_WORK="$work" BENCH_AB_NICS="$nics" BENCH_AB_ROUNDS="$rounds" ip netns exec "$ns" "$0" "$@"

med() { awk -F'\t' -v b="$1" -v o="$2" '$1 > 0 && $2 == b && $3 == o { print $4 / 1000 }' "$work/times.tsv" | median; }
mkdir -p "$results_dir"
{
  echo "## What a guard costs the hook"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/guard-ab.sh $nics\`; medians of $rounds interleaved rounds;" \
    "guarded: every <shim:link> with guard='ip' and two addresses"
  echo
  echo "| call | NICs | without guard, ms | guard='ip', ms | guarded / without |"
  echo "|---|---:|---:|---:|---:|"
  for op in prepare release; do
    p=$(med plain "$op"); g=$(med guarded "$op")
    echo "| $op | $nics | $(num "$p") | $(num "$g") | $(ratio "$g" "$p") |"
  done
  echo
  echo "In the same rounds, the least change made through the nftables program (\`nft -f\` adding and deleting an empty table,"
  echo "the guarded guest's table in place): $(num "$(med nft floor)") ms, whole process."
} | tee "$results_dir/guard-ab.md"
