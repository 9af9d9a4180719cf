#!/usr/bin/env bash
# Hook calls on a host full of other links: whole-process `prepare` / `release` of a guest with 1 and 82 owned NICs
# while the network namespace holds 0, 4,000 and 16,000 other links, beside `ip -batch` doing the same kernel work in
# the same run, interleaved round by round (the order alternates every round):
#
# - prepare: per NIC `link add link uplink0 name N address M group G type macvtap mode bridge` and
#   `link set N up alias libvirt-shim:UUID@INSTANCE` (the hook creates the link up with its group, looks it up, sets the alias);
# - release: `link del group G` (the hook deletes a single link by ifindex, several as one group).
# iproute2 (6.1) refuses groups above 2^31 - 1, and the hook's have the top bit set: the baseline's links get group
# 1000 + NICs instead (the kernel's work does not depend on the number).
#
# The other links are macvtaps on BENCH_OTHER_LOWERS (default 8) veths of their own, every other one with a group and
# an alias like another libvirt-shim domain's, as on a host of many guests (groups below 2^31, as ip can set);
# BENCH_OTHER_LOWERS=0 puts them all on uplink0, the guest's own lower device. The levels are reached by adding links to
# the same namespace, so they must be given in increasing order.
#
#   sudo bench/host-size.sh [OTHER-LINK-COUNTS...]      default: 0 4000 16000
#
# BENCH_BEFORE=EXECUTABLE adds an earlier hook build as a third variant, interleaved with the two (its own state).
# Each level also times what no hook can go below: /bin/true, and bench/StartFloor, a NativeAOT program that only
# drains stdin (the runtime's start and exit), with the 82-NIC XML on stdin; and, in process, the dump a multi-NIC
# release's group check makes (LinkTable.DumpGroup), which the kernel cannot narrow.
#
# Environment: BENCH_NICS (default "1 82"), BENCH_ROUNDS (rounds per cell; default 9 for 1 NIC, 5 for more),
# BENCH_BEFORE, BENCH_NO_BUILD=1, BENCH_STATE_PARENT (default /dev/shm).
# Results: printed, and written to bench/.build/results/host-size.md (raw times: host-size.tsv beside it).
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

instance=bench-host
rounds_for() {
  [ -n "${BENCH_ROUNDS:-}" ] && { echo "$BENCH_ROUNDS"; return; }
  if [ "$1" = 1 ]; then echo 9; else echo 5; fi
}

# ---------------------------------------------------------------------------------------------------------------
# Inside the namespace: the measurements at one level of other links.
if [ "${BENCH_INSIDE_NS:-}" = 1 ]; then
  work=$BENCH_WORK level=$BENCH_LEVEL
  tsv="$work/times.tsv"
  last_us=0
  timed() { # INPUT CMD...: runs CMD with INPUT on stdin, sets last_us
    local input=$1 t0 t1 rc=0; shift
    t0=${EPOCHREALTIME/./}
    "$@" < "$input" > /dev/null 2>> "$work/stderr" || rc=$?
    t1=${EPOCHREALTIME/./}
    last_us=$((t1 - t0))
    if [ "$rc" != 0 ]; then echo "host-size: '$*' exited $rc; stderr:" >&2; tail -n 5 "$work/stderr" >&2; exit 1; fi
  }
  expect() { # COUNT WHAT: the guest's links (mvtapN) in the namespace
    local n; n=$(ip -o link show | grep -c '^[0-9]*: mvtap[0-9]*@' || true)
    [ "$n" = "$1" ] || { echo "host-size: after $2: $n of the guest's links, expected $1" >&2; exit 1; }
  }
  record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$level" "$2" "$3" "$4" "$last_us" >> "$tsv"; }   # ROUND NICS VARIANT CALL
  unit() { # ROUND VARIANT NICS: a prepare + release pair
    local round=$1 variant=$2 nics=$3
    case $variant in
      shim | before)
        local hooks=$work/hooks state=$LIBVIRT_SHIM_STATEDIR
        [ "$variant" = before ] && hooks=$work/hooks-before state=$BENCH_BEFORE_STATE
        LIBVIRT_SHIM_STATEDIR=$state timed "$work/xml/n$nics.xml" "$hooks/qemu" "bench-n$nics" prepare begin -
        record "$round" "$nics" "$variant" prepare
        expect "$nics" "$variant prepare of $nics NICs"
        LIBVIRT_SHIM_STATEDIR=$state timed "$work/xml/n$nics.xml" "$hooks/qemu" "bench-n$nics" release end -
        record "$round" "$nics" "$variant" release ;;
      ip)
        timed "$work/ip/prepare.n$nics" ip -batch -
        record "$round" "$nics" ip prepare
        expect "$nics" "ip prepare of $nics NICs"
        timed /dev/null ip link del group $((1000 + nics))
        record "$round" "$nics" ip release ;;
    esac
    expect 0 "$variant release of $nics NICs"
  }
  floor() { # ROUND: the processes no hook goes below, with the largest XML on stdin
    local xml
    xml=$(find "$work/xml" -name 'n*.xml' -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
    timed "$xml" /bin/true; record "$1" 0 floor true
    timed "$xml" "$work/bin/start-floor"; record "$1" 0 floor nativeaot
  }
  variants=(shim ip)
  [ -n "${BENCH_BEFORE_STATE:-}" ] && variants+=(before)
  for ((r = 0; r <= 9; r++)); do floor "$r"; done
  # The group check of a multi-NIC release alone, in process (JIT-compiled helper; median of 9 after a warm-up).
  last_us=$(dotnet "$bench_dll" group-dump 2147483649 9 | awk '{ printf "%d", $1 * 1000 }')
  record 1 0 dump group-check
  for nics in $BENCH_NICS; do
    rounds=$(rounds_for "$nics")
    echo "host-size: $level other links, $nics NICs: 1 warm-up round + $rounds rounds of ${variants[*]}" >&2
    for variant in "${variants[@]}"; do unit 0 "$variant" "$nics"; done
    for ((r = 1; r <= rounds; r++)); do
      for ((k = 0; k < ${#variants[@]}; k++)); do unit "$r" "${variants[(r + k) % ${#variants[@]}]}" "$nics"; done
    done
  done
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
need_root
ensure_packages iproute2 coreutils
levels=${*:-0 4000 16000}
nic_counts=${BENCH_NICS:-1 82}
other_lowers=${BENCH_OTHER_LOWERS:-8}
build_benchmarks
mkdir -p "$results_dir"
ns="bench-hsize-$$"
work=$(mktemp -d /tmp/bench-hsize.XXXXXX)
states=$(mktemp -d "${BENCH_STATE_PARENT:-/dev/shm}/bench-hsize-state.XXXXXX")
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work" "$states"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/bin" "$work/hooks" "$work/xml" "$work/ip" "$work/run" "$work/etc"
: > "$work/times.tsv"
build_shim_into "$work/bin/libvirt-shim"
ln -s ../bin/libvirt-shim "$work/hooks/qemu"
build_start_floor_into "$work/bin/start-floor"
before_state=
if [ -n "${BENCH_BEFORE:-}" ]; then
  [ -x "$BENCH_BEFORE" ] || die "BENCH_BEFORE=$BENCH_BEFORE is not an executable"
  install -m 0755 "$BENCH_BEFORE" "$work/bin/libvirt-shim-before"
  mkdir -p "$work/hooks-before"
  ln -s ../bin/libvirt-shim-before "$work/hooks-before/qemu"
  before_state="$states/state-before"
  mkdir -m 0700 "$before_state"
fi
printf '{ "Instance": "%s" }\n' "$instance" > "$work/settings.json"
mkdir -m 0700 "$states/state"

# domain_xml NAME UUID N: a disk-less guest with N owned NICs mvtap0..N-1 on uplink0.
domain_xml() {
  local name=$1 uuid=$2 n=$3 i
  printf "<domain type='kvm'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n  <metadata>\n" "$name" "$uuid"
  printf '    <shim:macvtap xmlns:shim="urn:libvirt-shim:macvtap:1">\n'
  for ((i = 0; i < n; i++)); do
    printf "      <shim:link mac='52:54:00:b6:%02x:%02x' source='uplink0' mode='bridge'/>\n" $((i / 256)) $((i % 256))
  done
  printf "    </shim:macvtap>\n  </metadata>\n  <memory unit='MiB'>128</memory>\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n  <devices>\n"
  for ((i = 0; i < n; i++)); do
    printf "    <interface type='ethernet'>\n      <mac address='52:54:00:b6:%02x:%02x'/>\n      <target dev='mvtap%d' managed='no'/>\n    </interface>\n" \
      $((i / 256)) $((i % 256)) "$i"
  done
  printf "  </devices>\n</domain>\n"
}
for nics in $nic_counts; do
  uuid=$(printf '5eedbe0c-0000-4000-8000-%012d' "$nics")
  domain_xml "bench-n$nics" "$uuid" "$nics" > "$work/xml/n$nics.xml"
  read -r _ alias < <(dotnet "$bench_dll" link-marks "$instance" "$uuid")   # the alias LinkMarker gives the guest's links
  for ((i = 0; i < nics; i++)); do
    printf 'link add link uplink0 name mvtap%d address 52:54:00:b6:%02x:%02x group %d type macvtap mode bridge\n' "$i" $((i / 256)) $((i % 256)) $((1000 + nics))
    printf 'link set mvtap%d up alias %s\n' "$i" "$alias"
  done > "$work/ip/prepare.n$nics"
done

netns_with_veth "$ns" uplink0
for ((l = 0; l < other_lowers; l++)); do ip -n "$ns" link add "other$l" type veth peer name "other${l}p"; ip -n "$ns" link set "other$l" up; done

# add_other_links FROM TO: other links hN for N in [FROM, TO); every other macvtap marked as another domain's.
add_other_links() {
  local from=$1 to=$2 i lower
  for ((i = from; i < to; i++)); do
    if [ "$other_lowers" = 0 ]; then lower=uplink0; else lower="other$((i % other_lowers))"; fi
    printf 'link add link %s name h%d address 02:00:%02x:%02x:%02x:01 type macvtap mode bridge\n' "$lower" "$i" $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255))
    if ((i % 2)); then
      printf 'link set h%d group %d alias %s\n' "$i" $((2000 + i / 2 % 64)) "${other_aliases[i / 2 % 64]}"
    fi
  done > "$work/others.batch"
  ip -n "$ns" -batch "$work/others.batch"
}
# 64 other domains' aliases, reused round-robin (each other domain then has many links).
# shellcheck disable=SC2046
mapfile -t other_aliases < <(dotnet "$bench_dll" link-marks "$instance" $(for ((d = 0; d < 64; d++)); do printf '0a0e7d00-0000-4000-8000-%012d ' "$d"; done) | cut -d' ' -f2)

facts=$(machine_facts)
have=0
for level in $levels; do
  [ "$level" -ge "$have" ] || die "levels must increase: $level after $have"
  if [ "$level" -gt "$have" ]; then
    say "adding $((level - have)) other links to reach $level"
    t0=$SECONDS; add_other_links "$have" "$level"; say "added in $((SECONDS - t0)) s"
    have=$level
  fi
  n=$(ip -n "$ns" -o link show | grep -c ': h[0-9]*[@:]' || true)
  [ "$n" = "$level" ] || die "the namespace holds $n other links, expected $level"
  BENCH_INSIDE_NS=1 BENCH_WORK="$work" BENCH_LEVEL="$level" BENCH_NICS="$nic_counts" BENCH_BEFORE_STATE="$before_state" \
    LIBVIRT_SHIM_CONFIG="$work/settings.json" LIBVIRT_SHIM_STATEDIR="$states/state" LIBVIRT_SHIM_LIBVIRTRUNDIR="$work/run" \
    LIBVIRT_SHIM_LIBVIRTCONFIGDIR="$work/etc" LIBVIRT_SHIM_LOGFILE="$work/shim.log" \
    "$repo/scripts/netns-exec.sh" "$ns" "$0"
done
for state in "$states/state" ${before_state:+"$before_state"}; do
  records_after=$(dotnet "$bench_dll" state-count "$state")
  [ "$records_after" = 0 ] || die "$state holds $records_after records after the run: it drifted"
done
cp "$work/times.tsv" "$results_dir/host-size.tsv"

# times.tsv: round, other links, NICs, variant, call, µs; round 0 is the warm-up and is not counted.
med() { awk -F'\t' -v l="$1" -v n="$2" -v v="$3" -v c="$4" '$1 > 0 && $2 == l && $3 == n && $4 == v && $5 == c { print $6 / 1000 }' "$work/times.tsv" | median; }
runs() { awk -F'\t' -v l="$1" -v n="$2" -v c="$3" '$1 > 0 && $2 == l && $3 == n && $4 == "shim" && $5 == c' "$work/times.tsv" | wc -l; }
first=${levels%% *}
floor_ms() { awk -F'\t' -v c="$1" '$1 > 0 && $4 == "floor" && $5 == c { print $6 / 1000 }' "$work/times.tsv" | median; }
{
  echo "## Host size: hook calls beside thousands of other links"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/host-size.sh $levels\` (BENCH_NICS=\"$nic_counts\"; other links: macvtaps on $other_lowers other veths (0: on uplink0), every other one with a group and an alias like another libvirt-shim domain's)${BENCH_BEFORE:+; BENCH_BEFORE: $BENCH_BEFORE}"
  echo "- medians of interleaved rounds (runs per cell in the last column); ip -batch: \`link add ... group G type macvtap\` + \`link set ... up alias A\` per NIC, \`link del group G\`"
  echo "- what no hook goes below, in the same run (XML on stdin): \`/bin/true\` $(num "$(floor_ms true)") ms; bench/StartFloor, a NativeAOT program that only drains stdin, $(num "$(floor_ms nativeaot)") ms"
  checks=""
  for level in $levels; do checks+="${checks:+, }$(num "$(med "$level" 0 dump group-check)") ms at $level"; done
  echo "- the group check of a multi-NIC release alone (LinkTable.DumpGroup in process: every link of the host, read for one group): $checks"
  echo
  if [ -n "$before_state" ]; then
    echo "| call | NICs | other links | libvirt-shim, ms | shim / shim with $first other links | \`ip -batch\`, ms | shim / ip | before, ms | shim / before | runs |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  else
    echo "| call | NICs | other links | libvirt-shim, ms | shim / shim with $first other links | \`ip -batch\`, ms | shim / ip | runs |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  fi
  for call in prepare release; do
    for nics in $nic_counts; do
      base=$(med "$first" "$nics" shim "$call")
      for level in $levels; do
        s=$(med "$level" "$nics" shim "$call"); i=$(med "$level" "$nics" ip "$call")
        before=
        if [ -n "$before_state" ]; then
          b=$(med "$level" "$nics" before "$call"); before=" $(num "$b") | $(ratio "$s" "$b") |"
        fi
        echo "| $call | $nics | $level | $(num "$s") | $(ratio "$s" "$base") | $(num "$i") | $(ratio "$s" "$i") |$before $(runs "$level" "$nics" "$call") |"
      done
    done
  done
} > "$results_dir/host-size.md"
echo
cat "$results_dir/host-size.md"
say "written to ${results_dir#"$repo"/}/host-size.md (raw times in µs: host-size.tsv)"
