#!/usr/bin/env bash
# What the tap node of each link costs prepare and release (issue 22), in process: N macvtaps in a network namespace
# with a /dev of its own (scripts/netns-exec.sh: a tmpfs, so no node of the host's is touched), timed for all N:
# TapNodes.Ensure with no node (the hook makes it: a host without devtmpfs or udev), Ensure with the node already right
# (the usual case: devtmpfs made it), and the check before a deletion (NodeToTakeBack).
#
#   sudo bench/tap-nodes.sh [N]          default N: 82; BENCH_ROUNDS (default 15)
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_root
n=${1:-82}
rounds=${BENCH_ROUNDS:-15}
build_benchmarks
mkdir -p "$results_dir"
ns="bench-nodes-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
netns_with_veth "$ns" bn0
facts=$(machine_facts)
say "measuring $n tap nodes in network namespace $ns, $rounds rounds"
out=$("$repo/scripts/netns-exec.sh" "$ns" dotnet "$bench_dll" tap-nodes bn0 "$n" "$rounds")
made=$(awk '$1 == "made" { print $2 }' <<<"$out"); present=$(awk '$1 == "present" { print $2 }' <<<"$out")
check=$(awk '$1 == "check" { print $2 }' <<<"$out")
{
  echo "## Tap nodes: what /dev/tapIFINDEX costs prepare and release"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/tap-nodes.sh $n\` ($n macvtaps in a network namespace with a /dev of its own; medians of $rounds rounds)"
  echo
  echo "| step, $n macvtaps | ms (median) | per macvtap, ms |"
  echo "|---|---:|---:|"
  echo "| prepare, the node right already (devtmpfs made it): sysfs read, statx | $(num "$present") | $(ratio "$present" "$n") |"
  echo "| prepare, no node (no devtmpfs, no udev): sysfs read, statx, mknod, rename | $(num "$made") | $(ratio "$made" "$n") |"
  echo "| before a deletion: statx, sysfs read | $(num "$check") | $(ratio "$check" "$n") |"
} > "$results_dir/tap-nodes.md"
echo
cat "$results_dir/tap-nodes.md"
say "written to ${results_dir#"$repo"/}/tap-nodes.md"
