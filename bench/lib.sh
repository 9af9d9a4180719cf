# Shared by bench/*.sh (sourced, not run). Every script: root check, what it needs installed (idempotently, like
# scripts/libvirt-up.sh), builds, machine facts for the results, medians.
# shellcheck shell=bash

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
build_dir="$bench_dir/.build"
# shellcheck disable=SC2034 # for the scripts that source this file
results_dir="$build_dir/results"
bench_dll="$build_dir/bin/LibvirtShim.Benchmarks/release/LibvirtShim.Benchmarks.dll"

# newest FILE...: the most recently modified of the files that exist (nothing when none does).
newest() {
    local f best=
    for f in "$@"; do
        if [[ -e $f && ( -z $best || $f -nt $best ) ]]; then best=$f; fi
    done
    [[ -z $best ]] || printf '%s\n' "$best"
}

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root (network namespaces, links); run it with sudo"; }

# ensure_packages PKG...: installs the missing ones (apt-get), says nothing when all are there.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# with_retries WHAT CMD...: other engineers edit and build the same tree; a build that fails on their half-done
# change is retried a few times (BENCH_BUILD_RETRIES, default 5, a minute apart).
with_retries() {
  local what=$1 i; shift
  for ((i = 1; ; i++)); do
    "$@" && return 0
    [ "$i" -ge "${BENCH_BUILD_RETRIES:-5}" ] && die "$what failed $i times"
    say "$what failed (a concurrent change in the tree?); retrying in 60 s ($i/${BENCH_BUILD_RETRIES:-5})"
    sleep 60
  done
}

# The BenchmarkDotNet project, Release, with its own obj/bin (bench/.build): never races builds of src/ elsewhere.
build_benchmarks() {
  [ "${BENCH_NO_BUILD:-0}" = 1 ] && [ -f "$bench_dll" ] && return 0
  say "building bench/LibvirtShim.Benchmarks (Release, into bench/.build)"
  with_retries "dotnet build bench/LibvirtShim.Benchmarks" \
    dotnet build "$bench_dir/LibvirtShim.Benchmarks" -c Release --artifacts-path "$build_dir" -nologo -v:q -clp:ErrorsOnly
}

# The NativeAOT hook as shipped (./build.sh), copied to $1 so a concurrent rebuild cannot swap it mid-run.
build_shim_into() {
  if [ "${BENCH_NO_BUILD:-0}" != 1 ] || [ ! -x "$repo/artifacts/libvirt-shim" ]; then
    say "building the hook (./build.sh)"
    with_retries "./build.sh" "$repo/build.sh" >/dev/null
  fi
  install -m 0755 "$repo/artifacts/libvirt-shim" "$1"
}

# bench/StartFloor (a NativeAOT program that only drains stdin, built as the hook is) published to $1: what any
# NativeAOT hook pays to start and exit.
build_start_floor_into() {
  say "building bench/StartFloor (NativeAOT, into bench/.build)"
  with_retries "dotnet publish bench/StartFloor" \
    dotnet publish "$bench_dir/StartFloor" -c Release -r linux-x64 --artifacts-path "$build_dir" -o "$build_dir/start-floor" \
    -nologo -v:q -clp:ErrorsOnly >/dev/null
  install -m 0755 "$build_dir/start-floor/start-floor" "$1"
}

# domain_xml NAME UUID NICS [ATTRIBUTES]: a domain of NICS owned NICs (mvtap0..., MACs 52:54:00:ab:HI:LO, lower device
# uplink0), every <shim:link> carrying ATTRIBUTES, a printf format given the NIC's number as HI LO HI LO (for addresses).
domain_xml() {
  local name=$1 uuid=$2 nics=$3 attributes=${4:-} i
  printf "<domain type='kvm'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n  <metadata>\n" "$name" "$uuid"
  printf '    <shim:macvtap xmlns:shim="urn:libvirt-shim:macvtap:1">\n'
  for ((i = 0; i < nics; i++)); do
    # shellcheck disable=SC2059
    printf "      <shim:link mac='52:54:00:ab:%02x:%02x' source='uplink0' mode='bridge'%s/>\n" $((i / 256)) $((i % 256)) \
      "$(printf "${attributes:+ $attributes}" $((i / 256)) $((i % 256)) $((i / 256)) $((i % 256)))"
  done
  printf "    </shim:macvtap>\n  </metadata>\n  <memory unit='MiB'>128</memory>\n  <devices>\n"
  for ((i = 0; i < nics; i++)); do
    printf "    <interface type='ethernet'>\n      <mac address='52:54:00:ab:%02x:%02x'/>\n      <target dev='mvtap%d' managed='no'/>\n    </interface>\n" \
      $((i / 256)) $((i % 256)) "$i"
  done
  printf "  </devices>\n</domain>\n"
}

# netns_with_veth NS DEV: a new network namespace NS holding a veth pair DEV / DEVp, both ends up.
netns_with_veth() {
  ip netns add "$1"
  ip -n "$1" link add "$2" type veth peer name "${2}p"
  ip -n "$1" link set "$2" up
  ip -n "$1" link set "${2}p" up
}

# Machine facts for the results file.
machine_facts() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf -- '- machine: %s, %s cores, %s MiB RAM, kernel %s, %s\n' "$cpu" "$(nproc)" \
    "$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" "$(uname -r)" "$(. /etc/os-release && echo "$PRETTY_NAME")"
  printf -- '- load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf -- '- .NET SDK %s; commit %s%s\n' "$(dotnet --version 2>/dev/null || echo '?')" \
    "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ has uncommitted changes)')"
}

# median: the median of the numbers on stdin, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.2f", a / b }'; }

# num X: three significant digits at most (all the noise allows), no exponent.
num() { awk -v v="$1" 'BEGIN { if (v == "nan") print "nan"; else if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'; }
