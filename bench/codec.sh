#!/usr/bin/env bash
# State codec benchmark (BenchmarkDotNet, bench/LibvirtShim.Benchmarks, StateCodecBenchmarks): load and save of the
# state file at 0, 1000 and 10000 records of a busy host, beside reading / writing the same bytes (the baseline of
# each category). The file is on tmpfs (/dev/shm), as /run/libvirt/shim is on a systemd host; BENCH_STATE_PARENT
# puts it elsewhere.
#
#   bench/codec.sh [BenchmarkDotNet options, e.g. --job short]
#
# Results: printed, and written to bench/.build/results/codec.md. BENCH_NO_BUILD=1 skips the build.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
build_benchmarks
mkdir -p "$results_dir"
export BENCH_ARTIFACTS="$build_dir/codec"
work=$(mktemp -d /tmp/bench-codec.XXXXXX)
trap 'rm -rf "$work"' EXIT
dotnet "$bench_dll" --filter '*StateCodecBenchmarks*' "$@" | tee "$work/bdn.txt"
report=$(newest "$BENCH_ARTIFACTS"/results/*StateCodecBenchmarks*-report-github.md)
{
  echo "## State file: load and save"
  echo
  machine_facts
  echo "- command: \`bench/codec.sh\` (BenchmarkDotNet, in process, JIT; the state file on $(df --output=fstype "${BENCH_STATE_PARENT:-/dev/shm}" | tail -n 1) ${BENCH_STATE_PARENT:-/dev/shm}; baseline per category: the same bytes read, or written with fsync and rename)"
  echo
  sed -n '/^|/,$p' "$report"
} > "$results_dir/codec.md"
echo
cat "$results_dir/codec.md"
say "written to ${results_dir#"$repo"/}/codec.md"
