#!/usr/bin/env bash
# Builds the hook and replays the bundled samples through it against the real kernel, in a throwaway network
# namespace with veth lower devices: the seed's 82-NIC guest started and stopped, then the recorded mixed guest.
# Prints each call's exit status, time and the links it made. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "run-samples.sh: needs root for a network namespace (sudo ./run-samples.sh)" >&2; exit 1; }
./build.sh
ns="shim-samples-$$"
work=$(mktemp -d /tmp/shim-samples.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
for uplink in uplink0 uplink1 uplink2; do
  ip -n "$ns" link add "$uplink" type veth peer name "${uplink}p"
  ip -n "$ns" link set "$uplink" up
  ip -n "$ns" link set "${uplink}p" up
done
mkdir -p "$work/run" "$work/etc"
echo '{}' > "$work/settings.json"
export LIBVIRT_SHIM_CONFIG="$work/settings.json" LIBVIRT_SHIM_STATEDIR="$work/state" \
  LIBVIRT_SHIM_LIBVIRTRUNDIR="$work/run" LIBVIRT_SHIM_LIBVIRTCONFIGDIR="$work/etc" LIBVIRT_SHIM_LOGFILE="$work/shim.log" LIBVIRT_SHIM_NETWORKS__storage=uplink1
for replay in "${@:-samples/big82.replay samples/multi-lower.replay samples/pool.replay samples/mixed01}"; do
  for r in $replay; do
    echo "== replay $r (network namespace $ns)"
    scripts/netns-exec.sh "$ns" artifacts/libvirt-shim replay "$r"
  done
done
echo "== left in the namespace after the replays:"
ip -n "$ns" -br link show type macvtap | sed 's/^/  /'
scripts/netns-exec.sh "$ns" artifacts/libvirt-shim status | tail -n 1 | sed 's/^/  /'
