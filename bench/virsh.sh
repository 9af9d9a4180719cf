#!/usr/bin/env bash
# virsh against a real libvirtd (scripts/libvirt-up.sh): start-to-running and destroy-to-gone of three disk-less
# guests in one run, interleaved round by round (the order rotates every round):
#   bench-owned82   82 owned NICs (ethernet, target managed='no'), created and deleted by libvirt-shim
#   bench-direct82  82 of libvirt's own <interface type='direct'> macvtaps
#   bench-nonics    no NIC at all
# all on the veth bench-up0 (made here, deleted after). The NIC overhead of a guest is its time minus the NIC-less
# guest's time in the same round (median over the rounds).
#   start-to-running: `virsh start` until it returns (libvirt returns once the guest runs; checked after).
#   destroy-to-gone:  `virsh destroy` until it returns and no link with the guest's MACs is left (polled).
#
#   sudo bench/virsh.sh
#
# For the run the hook is installed with hooks/install.sh (libvirtd restarted so it sees it), with a settings file
# written for the run; afterwards the guests are destroyed and undefined, the hook uninstalled (unless it was
# installed before), the settings file put back, libvirtd restarted. The hook is installed for all three guests, as
# on a host that uses it: the NIC-less and direct guests pay its calls too (no-ops, and recording libvirt's names).
# Never at the same time as the end-to-end suite: holds its lock (/run/lock/libvirt-shim-e2e.lock) throughout.
# Environment: BENCH_ROUNDS (default 7), BENCH_NO_BUILD=1 (use artifacts/libvirt-shim as it is).
# Results: printed, and written to bench/.build/results/virsh.md (raw times: virsh.tsv beside it).
set -euo pipefail
export LC_ALL=C
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_root
rounds=${BENCH_ROUNDS:-7}
nics=82
uri="qemu:///system"
lower=bench-up0
guests=(bench-owned82 bench-direct82 bench-nonics)
settings=/etc/libvirt/libvirt-shim.json
manifest=/usr/local/lib/libvirt-shim/installed
statedir=/run/libvirt/shim
lock=/run/lock/libvirt-shim-e2e.lock
virsh() { command virsh -q -c "$uri" "$@"; }

if pgrep -f LibvirtShim.EndToEnd >/dev/null; then die "the end-to-end suite is running (pgrep -f LibvirtShim.EndToEnd): try later"; fi
mkdir -p "$(dirname "$lock")"
exec 9>>"$lock"
say "taking $lock (the end-to-end suite's lock)"
flock -w 900 9 || die "$lock is held for over 15 minutes (the end-to-end suite?)"

mkdir -p "$results_dir"
work=$(mktemp -d /tmp/bench-virsh.XXXXXX)
settings_existed=0; [ -f "$settings" ] && { settings_existed=1; cp -p "$settings" "$work/settings.orig"; }
installed_before=0; [ -f "$manifest" ] && installed_before=1
state_existed=0; [ -d "$statedir" ] && state_existed=1
we_installed=0

cleanup() {
  set +e
  for g in "${guests[@]}"; do
    virsh domstate "$g" >/dev/null 2>&1 || continue
    virsh destroy "$g" >/dev/null 2>&1
    virsh undefine "$g" >/dev/null 2>&1
  done
  ip link del "$lower" 2>/dev/null    # its peer and any macvtap left on it go with it
  if [ "$we_installed" = 1 ]; then
    if [ "$installed_before" = 1 ]; then
      say "note: the hook was installed before this run: left installed (now this build)"
      [ -x /usr/local/sbin/libvirt-shim ] && /usr/local/sbin/libvirt-shim seed >/dev/null 2>&1
    else
      "$repo/hooks/uninstall.sh" >/dev/null
    fi
  fi
  if [ "$settings_existed" = 1 ]; then cp -p "$work/settings.orig" "$settings"
  elif [ "$installed_before" = 0 ]; then rm -f "$settings"; fi
  [ "$state_existed" = 0 ] && rm -rf "$statedir"
  [ "$we_installed" = 1 ] && "$repo/scripts/libvirt-up.sh" --restart >/dev/null 9>&-
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Daemons started here must not inherit the lock's descriptor (fd 9), or they would hold the lock for good.
"$repo/scripts/libvirt-up.sh" >&2 9>&-
build_shim_into "$work/libvirt-shim"
for g in "${guests[@]}"; do
  virsh domstate "$g" >/dev/null 2>&1 && die "a guest $g exists already (a leftover of an interrupted run?): remove it first"
done

# The lower device: a veth in the host namespace (libvirt and the hook work there), both ends up.
ip link show "$lower" >/dev/null 2>&1 && die "$lower exists already: remove it first (ip link del $lower)"
ip link add "$lower" type veth peer name "${lower}p"
ip link set "$lower" up
ip link set "${lower}p" up

we_installed=1
"$repo/hooks/install.sh" --binary "$work/libvirt-shim" --no-reload --no-watch >&2
cat > "$settings" <<JSON
{
  "StateDir": "$statedir",
  "AllowedLowerDevices": ["$lower"],
  "Instance": "bench",
  "LogFile": "/var/log/libvirt/shim.log",
  "LogLevel": "Information"
}
JSON
"$repo/scripts/libvirt-up.sh" --restart >&2 9>&-
/usr/local/sbin/libvirt-shim seed >/dev/null

domain_type=qemu; [ -e /dev/kvm ] && domain_type=kvm
guest_xml() { # NAME KIND(owned|direct|none) GROUP
  local name=$1 kind=$2 group=$3 i mac
  printf "<domain type='%s'>\n  <name>%s</name>\n" "$domain_type" "$name"
  if [ "$kind" = owned ]; then
    printf '  <metadata>\n    <shim:macvtap xmlns:shim="urn:libvirt-shim:macvtap:1">\n'
    for ((i = 0; i < nics; i++)); do printf "      <shim:link mac='52:54:00:be:%02x:%02x' source='%s' mode='bridge'/>\n" "$group" "$i" "$lower"; done
    printf '    </shim:macvtap>\n  </metadata>\n'
  fi
  printf "  <memory unit='MiB'>64</memory>\n  <vcpu>1</vcpu>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
  printf "  <on_crash>destroy</on_crash>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
  for ((i = 0; i < nics; i++)); do
    mac=$(printf '52:54:00:be:%02x:%02x' "$group" "$i")
    case $kind in
      owned) printf "    <interface type='ethernet'><mac address='%s'/><target dev='mvtap%d' managed='no'/><model type='virtio'/></interface>\n" "$mac" $((7100 + i)) ;;
      direct) printf "    <interface type='direct'><mac address='%s'/><source dev='%s' mode='bridge'/><model type='virtio'/></interface>\n" "$mac" "$lower" ;;
    esac
  done
  printf "    <memballoon model='none'/>\n  </devices>\n</domain>\n"
}
guest_xml bench-owned82 owned 1 > "$work/bench-owned82.xml"
guest_xml bench-direct82 direct 2 > "$work/bench-direct82.xml"
guest_xml bench-nonics none 3 > "$work/bench-nonics.xml"
for g in "${guests[@]}"; do virsh define "$work/$g.xml" >/dev/null; done

mac_group() { case $1 in bench-owned82) echo 01 ;; bench-direct82) echo 02 ;; *) echo 03 ;; esac; }
links_of() { ip -o link show | grep -c "link/ether 52:54:00:be:$(mac_group "$1"):" || true; }
expected_links() { [ "$1" = bench-nonics ] && echo 0 || echo "$nics"; }

tsv="$work/times.tsv"
: > "$tsv"
# cycle ROUND GUEST: start (timed), checks, destroy (timed until its links are gone), checks.
cycle() {
  local round=$1 g=$2 t0 t1 n
  t0=${EPOCHREALTIME/./}
  virsh start "$g" >/dev/null
  t1=${EPOCHREALTIME/./}
  [ "$round" -gt 0 ] && printf '%s\t%s\tstart\t%s\n' "$round" "$g" $((t1 - t0)) >> "$tsv"
  [ "$(virsh domstate "$g")" = running ] || die "$g is $(virsh domstate "$g") after virsh start"
  n=$(links_of "$g"); [ "$n" = "$(expected_links "$g")" ] || die "$g runs with $n links, expected $(expected_links "$g")"
  sleep 1
  t0=${EPOCHREALTIME/./}
  virsh destroy "$g" >/dev/null
  while [ "$(links_of "$g")" != 0 ]; do
    (( ${EPOCHREALTIME/./} - t0 < 120000000 )) || die "$g: links still there 120 s after virsh destroy"
  done
  t1=${EPOCHREALTIME/./}
  [ "$round" -gt 0 ] && printf '%s\t%s\tdestroy\t%s\n' "$round" "$g" $((t1 - t0)) >> "$tsv"
  [ "$(virsh domstate "$g")" = "shut off" ] || die "$g is $(virsh domstate "$g") after virsh destroy"
  sleep 0.5
}

facts=$(machine_facts)
libvirt_version=$(virsh version 2>/dev/null | awk '/Running hypervisor|Using library/ { printf "%s%s", sep, $0; sep = "; " }')
say "warm-up: one start/destroy of each guest"
for g in "${guests[@]}"; do cycle 0 "$g"; done
for ((r = 1; r <= rounds; r++)); do
  say "round $r/$rounds"
  for ((k = 0; k < ${#guests[@]}; k++)); do cycle "$r" "${guests[(r + k) % ${#guests[@]}]}"; done
done
cp "$tsv" "$results_dir/virsh.tsv"

med() { awk -F'\t' -v g="$1" -v c="$2" '$2 == g && $3 == c { print $4 / 1000 }' "$tsv" | median; }
# Overhead: per round, the guest's time minus the NIC-less guest's time in that round; the median of those.
overhead() {
  awk -F'\t' -v g="$1" -v c="$2" '$3 == c && $2 == g { t[$1] = $4 } $3 == c && $2 == "bench-nonics" { z[$1] = $4 }
    END { for (r in t) if (r in z) print (t[r] - z[r]) / 1000 }' "$tsv" | median
}
{
  echo "## virsh, real libvirt: the 82-NIC guest"
  echo
  echo "$facts"
  echo "- libvirt: $libvirt_version; domain type $domain_type; $rounds interleaved rounds after a warm-up"
  echo "- command: \`sudo bench/virsh.sh\` (hook installed with hooks/install.sh for the run; all three guests on the veth $lower)"
  echo "- overhead = the guest's time minus the NIC-less guest's time in the same round, median over the rounds"
  echo
  echo "| | start-to-running, ms | start NIC overhead, ms | destroy-to-gone, ms | destroy NIC overhead, ms |"
  echo "|---|---:|---:|---:|---:|"
  for g in "${guests[@]}"; do
    case $g in
      bench-owned82) label="82 owned NICs (libvirt-shim)" ;;
      bench-direct82) label="82 \`direct\` NICs (libvirt's own macvtaps)" ;;
      *) label="no NICs" ;;
    esac
    if [ "$g" = bench-nonics ]; then so="—"; do_="—"; else so=$(num "$(overhead "$g" start)"); do_=$(num "$(overhead "$g" destroy)"); fi
    echo "| $label | $(num "$(med "$g" start)") | $so | $(num "$(med "$g" destroy)") | $do_ |"
  done
  so=$(overhead bench-owned82 start); sd=$(overhead bench-direct82 start)
  dox=$(overhead bench-owned82 destroy); dd=$(overhead bench-direct82 destroy)
  echo
  echo "- destroy NIC overhead, direct / owned: $(ratio "$dd" "$dox")× (target: at least 10×)"
  echo "- start NIC overhead, owned / direct: $(ratio "$so" "$sd") (target: at most 1)"
} > "$results_dir/virsh.md"
echo
cat "$results_dir/virsh.md"
say "written to ${results_dir#"$repo"/}/virsh.md (raw times in µs: virsh.tsv)"
