#!/usr/bin/env bash
# Where the destroy time of a many-macvtap guest goes, without libvirt: in a throw-away network namespace, N macvtaps
# on a veth, each with its /dev/tapIFINDEX open (as QEMU holds them), then, timed separately:
#   close the N tap file descriptors   (what QEMU's exit does, whoever made the links: the kernel waits for an RCU
#                                       grace period per queue it releases)
#   delete the N links one by one      (what libvirt does for its own direct NICs, here as one `ip -batch`
#                                       process: an RCU grace period each)
#   delete the N links as one group    (what libvirt-shim's release does: one deletion)
# Rounds alternate the two deletions; the closes are timed in every round.
#
#   sudo bench/tap-queues.sh [N]            default N = 82; BENCH_ROUNDS (default 5)
#
# Results: printed, and written to bench/.build/results/tap-queues.md.
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "${BENCH_INSIDE_NS:-}" = 1 ]; then
  n=$1 rounds=$2 tsv=$3
  make_links() {
    for ((i = 0; i < n; i++)); do echo "link add link bq0 name bqtap$i group 4242 type macvtap mode bridge"; done | ip -batch -
    fds=()
    for ((i = 0; i < n; i++)); do
      # The node made here, in this run's own /dev (scripts/netns-exec.sh), from this namespace's sysfs: a node of the
      # host's /dev of the same ifindex may be a running guest's.
      index=$(cat "/sys/class/net/bqtap$i/ifindex")
      rm -f "/dev/tap$index"
      IFS=: read -r major minor < "/sys/class/net/bqtap$i/macvtap/tap$index/dev"
      mknod -m 600 "/dev/tap$index" c "$major" "$minor"
      exec {fd}<>"/dev/tap$index"
      fds+=("$fd")
    done
  }
  for ((r = 1; r <= rounds; r++)); do
    for way in one-by-one group; do
      make_links
      t0=${EPOCHREALTIME/./}
      for fd in "${fds[@]}"; do exec {fd}>&-; done
      t1=${EPOCHREALTIME/./}
      if [ "$way" = group ]; then ip link del group 4242; else for ((i = 0; i < n; i++)); do echo "link del bqtap$i"; done | ip -batch -; fi
      t2=${EPOCHREALTIME/./}
      left=$(ip -o link show type macvtap | wc -l)
      [ "$left" = 0 ] || { echo "tap-queues: $left macvtaps left after deleting $way" >&2; exit 1; }
      printf '%s\tclose\t%s\n%s\t%s\t%s\n' "$r" $((t1 - t0)) "$r" "$way" $((t2 - t1)) >> "$tsv"
    done
  done
  exit 0
fi

need_root
ensure_packages iproute2
n=${1:-82}
rounds=${BENCH_ROUNDS:-5}
mkdir -p "$results_dir"
ns="bench-tapq-$$"
work=$(mktemp -d /tmp/bench-tapq.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_with_veth "$ns" bq0
facts=$(machine_facts)
say "measuring $n macvtaps in network namespace $ns, $rounds rounds"
BENCH_INSIDE_NS=1 "$repo/scripts/netns-exec.sh" "$ns" "$0" "$n" "$rounds" "$work/times.tsv"

med() { awk -F'\t' -v w="$1" '$2 == w { print $3 / 1000 }' "$work/times.tsv" | median; }
close=$(med close); one=$(med one-by-one); group=$(med group)
{
  echo "## Tap queues: where a many-macvtap guest's destroy time goes"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/tap-queues.sh $n\` ($n macvtaps on a veth in a network namespace, each /dev/tapN open as QEMU holds it; $rounds rounds)"
  echo
  echo "| step, $n macvtaps | ms (median) | per macvtap, ms |"
  echo "|---|---:|---:|"
  echo "| close the tap file descriptors (QEMU's exit; the same for both kinds of NIC) | $(num "$close") | $(num "$(ratio "$close" "$n")") |"
  echo "| baseline: delete the links one by one (libvirt, \`direct\` NICs) | $(num "$one") | $(num "$(ratio "$one" "$n")") |"
  echo "| delete the links as one netdev group (libvirt-shim) | $(num "$group") | $(num "$(ratio "$group" "$n")") |"
  echo
  echo "- deletion, one by one / group: $(ratio "$one" "$group")×"
} > "$results_dir/tap-queues.md"
cp "$work/times.tsv" "$results_dir/tap-queues.tsv"
echo
cat "$results_dir/tap-queues.md"
say "written to ${results_dir#"$repo"/}/tap-queues.md"
