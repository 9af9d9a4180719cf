#!/usr/bin/env bash
# Two hook builds side by side: prepare and release of N owned NICs, whole process as libvirtd runs it, the builds
# interleaved round by round (the order alternates), in a throw-away network namespace with a veth lower device.
# For "is this change slower?" on a busy machine, where runs one after the other drift with the load.
#
#   sudo bench/hook-ab.sh BEFORE-EXECUTABLE AFTER-EXECUTABLE [NICS]        default NICS: 82
#
# Environment: BENCH_ROUNDS (default 15), BENCH_LINK_ATTRIBUTES (more attributes on every <shim:link>, e.g.
# "mtu='1500' allmulticast='on'"; a build that does not know them ignores them), BENCH_AB_LISTENER=after (or before, or
# both): hold that build's listener lock (StateDir/listener, an flock as libvirt-shim watch holds it) for the whole run, so
# its prepare leaves the links down for a listener; a build that knows no listener ignores it.
# Prints the medians, and writes them to bench/.build/results/hook-ab.md.
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# Inside the namespace (run again through scripts/netns-exec.sh, with a /dev of its own): the interleaved calls, timed without the exec's cost.
if [ "${BENCH_AB_INSIDE:-}" = 1 ]; then
  work=$BENCH_AB_WORK nics=$BENCH_AB_NICS rounds=$BENCH_AB_ROUNDS
  # call BUILD OP SUBOP: one hook call, timed in µs into $work/times.tsv (round, build, op, µs).
  call() {
    local build=$1 op=$2 subop=$3 t0 t1 links
    t0=${EPOCHREALTIME/./}
    LIBVIRT_SHIM_CONFIG="$work/$build/settings.json" LIBVIRT_SHIM_STATEDIR="$work/$build/state" \
      LIBVIRT_SHIM_LIBVIRTRUNDIR="$work/$build/run" LIBVIRT_SHIM_LIBVIRTCONFIGDIR="$work/$build/etc" \
      LIBVIRT_SHIM_LOGFILE="$work/$build/shim.log" \
      "$work/$build/hooks/qemu" bench-ab "$op" "$subop" - < "$work/domain.xml" > /dev/null \
      || die "$build $op $subop failed: $(tail -n 3 "$work/$build/shim.log")"
    t1=${EPOCHREALTIME/./}
    printf '%s\t%s\t%s\t%s\n' "$round" "$build" "$op" $((t1 - t0)) >> "$work/times.tsv"
    links=$(ip -o link show type macvtap | wc -l)
    case $op in prepare) [ "$links" = "$nics" ] ;; *) [ "$links" = 0 ] ;; esac || die "$build $op left $links macvtaps"
  }
  : > "$work/times.tsv"
  for ((round = 0; round <= rounds; round++)); do
    if ((round % 2)); then order="after before"; else order="before after"; fi
    for build in $order; do call "$build" prepare begin; call "$build" release end; done
  done
  exit 0
fi

need_root
[ $# -ge 2 ] || die "usage: bench/hook-ab.sh BEFORE-EXECUTABLE AFTER-EXECUTABLE [NICS]"
nics=${3:-82}
rounds=${BENCH_ROUNDS:-15}
ns="bench-ab-$$"
work=$(mktemp -d /tmp/bench-ab.XXXXXX)
holders=()
cleanup() { for pid in "${holders[@]}"; do kill "$pid" 2>/dev/null || true; done; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

for build in before after; do
  mkdir -p "$work/$build/bin" "$work/$build/hooks" "$work/$build/state" "$work/$build/run" "$work/$build/etc"
  chmod 0700 "$work/$build/state"
  echo '{}' > "$work/$build/settings.json"
done
install -m 0755 "$1" "$work/before/bin/libvirt-shim"
install -m 0755 "$2" "$work/after/bin/libvirt-shim"
ln -s ../bin/libvirt-shim "$work/before/hooks/qemu"
ln -s ../bin/libvirt-shim "$work/after/hooks/qemu"

domain_xml bench-ab 5eedbe0c-0000-4000-8000-00000000ab00 "$nics" "${BENCH_LINK_ATTRIBUTES:-}" > "$work/domain.xml"

netns_with_veth "$ns" uplink0
facts=$(machine_facts)
for build in before after; do
  case ${BENCH_AB_LISTENER:-} in "$build"|both)
    flock --exclusive --no-fork "$work/$build/state/listener" sleep infinity & holders+=($!) ;;
  esac
done

say "measuring in network namespace $ns: $nics NICs, 1 warm-up round + $rounds rounds"
BENCH_AB_INSIDE=1 BENCH_AB_WORK="$work" BENCH_AB_NICS="$nics" BENCH_AB_ROUNDS="$rounds" "$repo/scripts/netns-exec.sh" "$ns" "$0" "$@"

med() { awk -F'\t' -v b="$1" -v o="$2" '$1 > 0 && $2 == b && $3 == o { print $4 / 1000 }' "$work/times.tsv" | median; }
mkdir -p "$results_dir"
{
  echo "## Two hook builds side by side"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/hook-ab.sh BEFORE AFTER $nics\`${BENCH_LINK_ATTRIBUTES:+ with every <shim:link> carrying $BENCH_LINK_ATTRIBUTES}${BENCH_AB_LISTENER:+, the listener lock of $BENCH_AB_LISTENER held}; medians of $rounds interleaved rounds"
  echo
  echo "| call | NICs | before, ms | after, ms | after / before |"
  echo "|---|---:|---:|---:|---:|"
  for op in prepare release; do
    b=$(med before "$op"); a=$(med after "$op")
    echo "| $op | $nics | $b | $a | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }') |"
  done
} | tee "$results_dir/hook-ab.md"
