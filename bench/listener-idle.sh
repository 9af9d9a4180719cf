#!/usr/bin/env bash
# What the listener (libvirt-shim watch) costs while nothing happens: its resident memory and the CPU time it uses over a
# measured interval, read from /proc/PID/status and /proc/PID/stat, scaled to an hour.
#
#   sudo bench/listener-idle.sh [SECONDS] [URI]        defaults: 600 s, libvirt's default URI (qemu:///system as root)
#
# The listener under test is the NativeAOT executable ./build.sh publishes (BENCH_NO_BUILD=1: artifacts/libvirt-shim as it
# is), with a state directory, instance and log of its own: it reads every guest's state when it connects, and each event
# of the daemon's guests afterwards, but no link carries its marks, so it changes nothing. Its connection pings the daemon
# every 5 s (keepalive). The events it handled during the interval are counted: on a busy host, "idle" includes them.
# Prints the figures and writes them to bench/.build/results/listener-idle.md.
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_root
seconds=${1:-600}
uri=${2:-}
work=$(mktemp -d /tmp/bench-listener.XXXXXX)
pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
build_shim_into "$work/libvirt-shim"
mkdir -m 0700 "$work/state"
facts=$(machine_facts)

# ticks PID: user + system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat; the name in field 2 has no spaces).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
metric() { awk -v k="$1" '$1 == k { print $2 }' "$work/state/listener.metrics"; }

"$work/libvirt-shim" watch ${uri:+-c "$uri"} --pid-file "$work/watch.pid" -- --StateDir="$work/state" --Instance=bench-idle \
  --LogFile="$work/watch.log" </dev/null >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 300; i++)); do [ "$(metric connected 2>/dev/null)" = 1 ] && break; sleep 0.1; done
[ "$(metric connected 2>/dev/null)" = 1 ] || die "the listener did not connect to libvirt: $(tail -n 3 "$work/watch.log")"
say "listener pid $pid connected; measuring for $seconds s"
hz=$(getconf CLK_TCK)
t0=$(ticks "$pid") e0=$(metric events) s0=$EPOCHREALTIME
sleep "$seconds"
t1=$(ticks "$pid") e1=$(metric events) s1=$EPOCHREALTIME
rss=$(field "$pid" VmRSS) hwm=$(field "$pid" VmHWM) threads=$(field "$pid" Threads)
elapsed=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }')
cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
per_hour=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$elapsed" 'BEGIN { printf "%.2f", t / hz * 3600 / s }')

mkdir -p "$results_dir"
{
  echo "## The listener at rest"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/listener-idle.sh $seconds${uri:+ $uri}\`: libvirt-shim watch connected, ${elapsed} s measured"
  echo
  echo "| resident memory (VmRSS) | peak (VmHWM) | threads | CPU over the interval | CPU per hour | events handled in the interval |"
  echo "|---:|---:|---:|---:|---:|---:|"
  echo "| $((rss / 1024)) MiB ($rss kB) | $((hwm / 1024)) MiB | $threads | ${cpu} s | ${per_hour} s | $((e1 - e0)) |"
} | tee "$results_dir/listener-idle.md"
