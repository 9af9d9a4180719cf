#!/usr/bin/env bash
# Allocator benchmark: naming NICs at 0 %, 50 % and 99 % occupancy of the 8192 mvtapN names, the product's
# allocation (FreeNames.Take: bitmap + one batched RTM_GETLINK check per batch of candidates) beside the seed's
# (probe mvtap0, mvtap1, ... until one does not exist, with SIOCGIFFLAGS on one reused socket, or if_nametoindex),
# against the real kernel: each occupancy level is a network namespace holding the held names as real links.
#
#   sudo bench/allocator.sh [BenchmarkDotNet options; default --maxIterationCount 25; --job short for a quick look]
#
# 1. BenchmarkDotNet (bench/LibvirtShim.Benchmarks, NamingBenchmarks): time per operation and per name, the seed's
#    SIOCGIFFLAGS loop as the baseline (Ratio column).
# 2. Kernel calls per name, counted by strace in a separate run (counting would slow the timed run): syscalls of
#    the naming thread between markers, and the requests they carry (ifreq probes, RTM_GETLINK messages).
# Results: printed, and written to bench/.build/results/allocator.md. Environment: BENCH_NO_BUILD=1 skips the build;
# BENCH_KERNEL_OPS (default 4; 2 for 82 NICs) operations per algorithm in the strace run.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_root
ensure_packages strace iproute2
build_benchmarks
mkdir -p "$results_dir"

prefix="bench-alloc-$$"
levels=(0 50 99)
work=$(mktemp -d /tmp/bench-alloc.XXXXXX)
cleanup() {
  for level in "${levels[@]}"; do ip netns del "$prefix-occ$level" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The held names as macvlans on a veth in each level's namespace (the kind does not matter to a name probe;
# macvlans make no /dev/tapN). Occupancy.Held decides which names: random holes, the layout kindest to the seed.
for level in "${levels[@]}"; do
  ns="$prefix-occ$level"
  netns_with_veth "$ns" bnlow0
  dotnet "$bench_dll" held-names "$level" | awk '{ print "link add " $1 " link bnlow0 type macvlan mode bridge" }' > "$work/held-$level"
  [ -s "$work/held-$level" ] && ip -n "$ns" -batch "$work/held-$level"
  say "namespace $ns: $(ip -n "$ns" -o link show | grep -c ': mvtap') held names as links"
done

export BENCH_NETNS_PREFIX="$prefix" BENCH_ARTIFACTS="$build_dir/allocator"
say "BenchmarkDotNet: NamingBenchmarks (several minutes)"
# Without options: BenchmarkDotNet's default job, capped at 25 iterations (the seed at 99 % takes seconds per call).
[ $# -eq 0 ] && set -- --maxIterationCount 25
dotnet "$bench_dll" --filter '*NamingBenchmarks*' "$@" | tee "$work/bdn.txt"
report=$(newest "$BENCH_ARTIFACTS"/results/*NamingBenchmarks*-report-github.md)

# Kernel calls: strace the naming thread between the markers the kernel-calls mode writes (write(-1, "bench-mark ...")).
: > "$work/calls"
for level in "${levels[@]}"; do
  for names in 8 82; do
    ops=${BENCH_KERNEL_OPS:-$([ "$names" = 8 ] && echo 4 || echo 2)}
    strace -f -qq -s 65535 -e trace=sendto,recvfrom,ioctl,socket,close,write -o "$work/strace" \
      dotnet "$bench_dll" kernel-calls "$level" "$names" "$ops" > /dev/null
    awk '
      /bench-mark begin/ {
        tid = $1; s = $0; sub(/.*bench-mark begin /, "", s); sub(/".*/, "", s); split(s, f, " ")
        algo = f[1]; occ = f[2]; nm = f[3]; op = f[4]; sub(/.*=/, "", occ); sub(/.*=/, "", nm); sub(/.*=/, "", op)
        active = 1; calls = 0; probes = 0; messages = 0; next
      }
      /bench-mark end/ && $1 == tid {
        named = nm * op
        printf "%s %s %s %.2f %.2f\n", occ, nm, algo, (probes + messages) / named, calls / named
        active = 0; next
      }
      active && $1 == tid && $2 !~ /^</ {
        call = $2; sub(/\(.*/, "", call); calls++
        if (call == "ioctl") probes++
        if (call == "sendto") messages += gsub(/nlmsg_type=(0x12|RTM_GETLINK)[^0-9A-Za-z_]/, "&")
      }' "$work/strace" >> "$work/calls"
  done
done

kernel_table() {
  echo "| occupancy | NICs named per call | algorithm | kernel requests per name | syscalls per name |"
  echo "|---:|---:|---|---:|---:|"
  sort -k1,1n -k2,2n -k3,3 "$work/calls" | while read -r occ names algo requests calls; do
    case $algo in
      seed-ioctl) what="seed: SIOCGIFFLAGS, reused socket (ifreq probes)" ;;
      seed-if_nametoindex) what="seed: if_nametoindex (ifreq probes)" ;;
      shim-freenames) what="shim: FreeNames.Take (RTM_GETLINK messages)" ;;
    esac
    echo "| $occ % | $names | $what | $requests | $calls |"
  done
}

{
  echo "## Allocator: naming NICs, the product beside the seed's probe loop"
  echo
  machine_facts
  echo "- command: \`sudo bench/allocator.sh\` (BenchmarkDotNet, in process; the seed's SIOCGIFFLAGS loop is the baseline)"
  echo
  echo "### Time (BenchmarkDotNet)"
  echo
  sed -n '/^|/,$p' "$report"
  echo
  echo "### Kernel calls per name (strace of the naming thread; ${BENCH_KERNEL_OPS:-4 (8 NICs) or 2 (82 NICs)} calls per row)"
  echo
  kernel_table
} > "$results_dir/allocator.md"
echo
cat "$results_dir/allocator.md"
say "written to ${results_dir#"$repo"/}/allocator.md"
