#!/usr/bin/env bash
# Hook calls, whole process, as libvirtd makes them (fork, exec hooks/qemu DOMAIN OP SUBOP -, the domain XML on
# stdin), inside a throw-away network namespace with a veth lower device (uplink0). Each call beside its baseline in
# the same run, interleaved round by round (the order rotates every round):
#
# - no-op: `started begin` for a guest with no owned NICs; baseline: a bash hook that only drains stdin (cat).
# - prepare / release of 1, 8, 82 and 500 owned NICs; baseline: a bash hook doing what administrators write today
#   (per NIC `ip link add link uplink0 name N address M type macvtap mode bridge; ip link set N up` at prepare,
#   `ip link del N` at release; it knows its NICs from a list file and drains the XML).
# - the same libvirt-shim calls with 10,000 records of other domains already in the state (written through the
#   product's StateStore by `LibvirtShim.Benchmarks make-state`), beside the same calls on an empty state.
#
# prepare and release are timed as pairs: every prepare is followed by its release, so neither the links nor the
# state drift between runs (checked after every call, outside the timed span, and at the end).
#
#   sudo bench/hook-calls.sh [SIZES...]          default sizes: 1 8 82 500
#
# Environment: BENCH_ROUNDS (rounds per size; default 30 for 1 NIC, 20 for 8, 12 for 82, 4 for 500, 40 for the
# no-op), BENCH_NO_BUILD=1 (use artifacts/libvirt-shim as it is), BENCH_SHIM=PATH (measure that hook executable
# instead, e.g. an earlier build beside this one), BENCH_LINK_ATTRIBUTES (more attributes on every <shim:link>, e.g.
# "mtu='1500' allmulticast='on'"), BENCH_STATE_PARENT (where the state directories go; default /dev/shm, tmpfs like
# /run/libvirt/shim on a systemd host).
# Results: printed, and written to bench/.build/results/hook-calls.md (raw times: hook-calls.tsv beside it).
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

rounds_for() {
  [ -n "${BENCH_ROUNDS:-}" ] && { echo "$BENCH_ROUNDS"; return; }
  case $1 in noop) echo 40 ;; 1) echo 30 ;; 8) echo 20 ;; 82) echo 12 ;; *) echo 4 ;; esac
}

# ---------------------------------------------------------------------------------------------------------------
# Inside the namespace: the measurements. Everything it needs comes from the environment set up below.
if [ "${BENCH_INSIDE_NS:-}" = 1 ]; then
  work=$BENCH_WORK
  tsv="$work/times.tsv"
  : > "$tsv"
  last_us=0

  # timed INPUT CMD...: runs CMD with INPUT on stdin, sets last_us; no fork outside the command itself.
  timed() {
    local input=$1 t0 t1 rc=0; shift
    t0=${EPOCHREALTIME/./}
    "$@" < "$input" > /dev/null 2>> "$work/stderr" || rc=$?
    t1=${EPOCHREALTIME/./}
    last_us=$((t1 - t0))
    if [ "$rc" != 0 ]; then echo "hook-calls: '$*' exited $rc; stderr:" >&2; tail -n 5 "$work/stderr" >&2; exit 1; fi
  }

  macvtaps() { ip -o link show type macvtap | wc -l; }
  expect_links() { # COUNT WHAT
    local n; n=$(macvtaps)
    [ "$n" = "$1" ] || { echo "hook-calls: after $2: $n macvtaps, expected $1" >&2; exit 1; }
  }

  shim_env() { # VARIANT: the state directory of the variant
    case $1 in shim) export LIBVIRT_SHIM_STATEDIR="$BENCH_STATE_EMPTY" ;; shim10k) export LIBVIRT_SHIM_STATEDIR="$BENCH_STATE_10K" ;; esac
  }

  # One measured unit of VARIANT for SIZE: the no-op call, or a prepare + release pair.
  unit() { # ROUND VARIANT SIZE
    local round=$1 variant=$2 size=$3 hook
    if [ "$size" = noop ]; then
      case $variant in
        bash) timed "$work/xml/noop.xml" "$work/hooks-bash/drain" bench-noop started begin - ;;
        *) shim_env "$variant"; timed "$work/xml/noop.xml" "$work/hooks/qemu" bench-noop started begin - ;;
      esac
      printf '%s\t%s\t%s\t%s\t%s\n' "$round" noop "$variant" started "$last_us" >> "$tsv"
      return
    fi
    local xml="$work/xml/n$size.xml" domain="bench-n$size"
    case $variant in
      bash) hook="$work/hooks-bash/qemu" ;;
      *) shim_env "$variant"; hook="$work/hooks/qemu" ;;
    esac
    timed "$xml" "$hook" "$domain" prepare begin -
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$size" "$variant" prepare "$last_us" >> "$tsv"
    expect_links "$size" "$variant prepare of $size NICs"
    timed "$xml" "$hook" "$domain" release end -
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$size" "$variant" release "$last_us" >> "$tsv"
    expect_links 0 "$variant release of $size NICs"
  }

  variants=(bash shim shim10k)
  for size in noop $BENCH_SIZES; do
    rounds=$(rounds_for "$size")
    echo "hook-calls: $size: 1 warm-up round + $rounds rounds of ${variants[*]}" >&2
    for variant in "${variants[@]}"; do unit 0 "$variant" "$size"; done   # warm-up (also seeds the empty state)
    : > "$work/warm"; grep -v '^0	' "$tsv" > "$work/warm" || true; mv "$work/warm" "$tsv"
    for ((r = 1; r <= rounds; r++)); do
      for ((k = 0; k < ${#variants[@]}; k++)); do
        unit "$r" "${variants[(r + k) % ${#variants[@]}]}" "$size"
      done
    done
  done
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
# Outside: set up the namespace, the hooks, the XML, the states; run the above inside; summarise; clean up.
need_root
ensure_packages iproute2 coreutils
sizes=${*:-1 8 82 500}
build_benchmarks
mkdir -p "$results_dir"
ns="bench-hook-$$"
work=$(mktemp -d /tmp/bench-hook.XXXXXX)
state_parent=${BENCH_STATE_PARENT:-/dev/shm}
states=$(mktemp -d "$state_parent/bench-hook-state.XXXXXX")
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work" "$states"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/bin" "$work/hooks" "$work/hooks-bash" "$work/xml" "$work/run" "$work/etc" "$work/nics"
if [ -n "${BENCH_SHIM:-}" ]; then install -m 0755 "$BENCH_SHIM" "$work/bin/libvirt-shim"; else build_shim_into "$work/bin/libvirt-shim"; fi
ln -s ../bin/libvirt-shim "$work/hooks/qemu"    # libvirt runs .../hooks/qemu: argv[0] makes it a hook call
echo '{}' > "$work/settings.json"
mkdir -m 0700 "$states/empty"
dotnet "$bench_dll" make-state "$states/10k" 10000

cat > "$work/hooks-bash/drain" <<'HOOK'
#!/bin/bash
# A hook with nothing to do: drains the domain XML libvirt writes to it.
cat > /dev/null
HOOK
cat > "$work/hooks-bash/qemu" <<'HOOK'
#!/bin/bash
# What administrators write today: one macvtap per NIC at prepare, deleted one by one at release.
nics="$BENCH_WORK/nics/$1.nics"
cat > /dev/null
case "$2/$3" in
  prepare/begin)
    while read -r name mac lower mode; do
      ip link add link "$lower" name "$name" address "$mac" type macvtap mode "$mode"
      ip link set "$name" up
    done < "$nics" ;;
  release/end)
    while read -r name mac lower mode; do
      ip link del "$name"
    done < "$nics" ;;
esac
HOOK
chmod 0755 "$work/hooks-bash/drain" "$work/hooks-bash/qemu"

# domain_xml NAME UUID-SUFFIX N: a disk-less guest with N owned NICs mvtap0..N-1 on uplink0 (what libvirt passes).
domain_xml() {
  local name=$1 uuid=$2 n=$3 i mac
  printf "<domain type='kvm'>\n  <name>%s</name>\n  <uuid>5eedbe0c-0000-4000-8000-%012d</uuid>\n" "$name" "$uuid"
  if [ "$n" -gt 0 ]; then
    printf '  <metadata>\n    <shim:macvtap xmlns:shim="urn:libvirt-shim:macvtap:1">\n'
    for ((i = 0; i < n; i++)); do
      mac=$(printf '52:54:00:b5:%02x:%02x' $((i / 256)) $((i % 256)))
      printf "      <shim:link mac='%s' source='uplink0' mode='bridge'%s/>\n" "$mac" "${BENCH_LINK_ATTRIBUTES:+ $BENCH_LINK_ATTRIBUTES}"
    done
    printf '    </shim:macvtap>\n  </metadata>\n'
  fi
  printf "  <memory unit='MiB'>128</memory>\n  <vcpu placement='static'>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
  printf "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n  <devices>\n"
  printf "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
  for ((i = 0; i < n; i++)); do
    mac=$(printf '52:54:00:b5:%02x:%02x' $((i / 256)) $((i % 256)))
    printf "    <interface type='ethernet'>\n      <mac address='%s'/>\n      <target dev='mvtap%d' managed='no'/>\n      <model type='virtio'/>\n    </interface>\n" "$mac" "$i"
  done
  printf "    <memballoon model='none'/>\n  </devices>\n</domain>\n"
}
domain_xml bench-noop 0 0 > "$work/xml/noop.xml"
for size in $sizes; do
  domain_xml "bench-n$size" "$size" "$size" > "$work/xml/n$size.xml"
  for ((i = 0; i < size; i++)); do
    printf 'mvtap%d 52:54:00:b5:%02x:%02x uplink0 bridge\n' "$i" $((i / 256)) $((i % 256))
  done > "$work/nics/bench-n$size.nics"
done

netns_with_veth "$ns" uplink0

facts=$(machine_facts)
say "measuring in network namespace $ns (sizes: $sizes)"
BENCH_INSIDE_NS=1 BENCH_WORK="$work" BENCH_SIZES="$sizes" BENCH_STATE_EMPTY="$states/empty" BENCH_STATE_10K="$states/10k" \
  LIBVIRT_SHIM_CONFIG="$work/settings.json" LIBVIRT_SHIM_LIBVIRTRUNDIR="$work/run" \
  LIBVIRT_SHIM_LIBVIRTCONFIGDIR="$work/etc" LIBVIRT_SHIM_LOGFILE="$work/shim.log" \
  "$repo/scripts/netns-exec.sh" "$ns" "$0"

records_after=$(dotnet "$bench_dll" state-count "$states/10k")
[ "$records_after" = 10000 ] || die "the 10,000-record state holds $records_after records after the run: it drifted"
empty_after=$(dotnet "$bench_dll" state-count "$states/empty")
[ "$empty_after" = 0 ] || die "the empty state holds $empty_after records after the run: it drifted"
cp "$work/times.tsv" "$results_dir/hook-calls.tsv"

med() { awk -F'\t' -v s="$1" -v v="$2" -v c="$3" '$2 == s && $3 == v && $4 == c { print $5 / 1000 }' "$work/times.tsv" | median; }
n_of() { awk -F'\t' -v s="$1" -v v="$2" -v c="$3" '$2 == s && $3 == v && $4 == c' "$work/times.tsv" | wc -l; }
{
  echo "## Hook calls, whole process"
  echo
  echo "$facts"
  echo "- command: \`sudo bench/hook-calls.sh\` (network namespace, veth lower device; state on $(df --output=fstype "$state_parent" | tail -n 1) $state_parent; hook = ${BENCH_SHIM:-artifacts/libvirt-shim from ./build.sh}, run as .../hooks/qemu${BENCH_LINK_ATTRIBUTES:+; every <shim:link> with $BENCH_LINK_ATTRIBUTES})"
  echo "- medians of interleaved rounds (runs per cell in the last column); the no-op guest has no NICs; the 10,000-record state holds other domains' names (70 % created macvtaps, 5 % held for definitions, 25 % libvirt's direct NICs)"
  echo
  echo "| call | NICs | baseline: bash hook, ms | libvirt-shim, ms | baseline / shim | shim, 10,000 records in the state, ms | 10,000 records / empty | runs |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  b=$(med noop bash started); s=$(med noop shim started); k=$(med noop shim10k started)
  echo "| no-op (\`started\`, no owned NICs); baseline drains stdin | 0 | $(num "$b") | $(num "$s") | $(ratio "$b" "$s") | $(num "$k") | $(ratio "$k" "$s") | $(n_of noop shim started) |"
  for call in prepare release; do
    for size in $sizes; do
      b=$(med "$size" bash "$call"); s=$(med "$size" shim "$call"); k=$(med "$size" shim10k "$call")
      echo "| $call | $size | $(num "$b") | $(num "$s") | $(ratio "$b" "$s") | $(num "$k") | $(ratio "$k" "$s") | $(n_of "$size" shim "$call") |"
    done
  done
} > "$results_dir/hook-calls.md"
echo
cat "$results_dir/hook-calls.md"
say "written to ${results_dir#"$repo"/}/hook-calls.md (raw times in µs: hook-calls.tsv)"
