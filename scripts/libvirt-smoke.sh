#!/usr/bin/env bash
# End-to-end check of the real-libvirt testbed, with timings:
#   libvirt-up.sh; a disk-less guest with one <interface type='direct'> on a
#   veth (start, domiflist, libvirtd restart while it runs, destroy, undefine);
#   the peer daemon; live migration main -> peer (a throwaway peer hook
#   rewrites <source dev> at "migrate begin"), peer libvirtd restart while the
#   guest runs there, and back (virsh migrate --xml rewrites <source dev>);
#   clean-up of everything it made.
#
#   scripts/libvirt-smoke.sh                 the above
#   scripts/libvirt-smoke.sh --hook-failure  also: a throwaway main hook that
#       fails "prepare", capture virsh's error, remove it (restarts libvirtd
#       twice; refuses if /etc/libvirt/hooks/qemu already exists)
#
# Leaves libvirtd and virtlogd running, no guest, no veth, no hook it made;
# stops the peer if it started it. Links it makes: veth pairs shimtb-a/shimtb-ap
# and shimtb-b/shimtb-bp (host namespace, no addresses). Traffic: loopback only.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
UP="$HERE/libvirt-up.sh"
PEER="$HERE/libvirt-peer.sh"
A=qemu:///system
B=$("$PEER" uri)
GUEST=shimtb-g1
MAC=52:54:00:5a:00:01
DOMTYPE=kvm; [[ -c /dev/kvm ]] || DOMTYPE=qemu
HOOK_FAILURE=0; [[ ${1:-} == --hook-failure ]] && HOOK_FAILURE=1
PEER_STARTED=0
MAIN_HOOK_MADE=0
declare -a TIMES=()

say() { printf 'smoke: %s\n' "$*"; }
now() { date +%s.%N; }
# timed LABEL CMD...: run, record the seconds it took.
timed() {
    local label=$1 t0 dt; shift
    t0=$(now)
    "$@"
    dt=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
    TIMES+=("$(printf '%-44s %6ss' "$label" "$dt")")
    say "$label: ${dt}s"
}
va() { virsh -q -c "$A" "$@"; }
vb() { virsh -q -c "$B" "$@"; }

cleanup() {
    local rc=$?
    set +e
    for d in $(vb list --all --name 2>/dev/null | grep '^shimtb-'); do
        vb destroy "$d" >/dev/null 2>&1; vb undefine "$d" >/dev/null 2>&1
    done
    for d in $(va list --all --name 2>/dev/null | grep '^shimtb-'); do
        va destroy "$d" >/dev/null 2>&1; va undefine "$d" >/dev/null 2>&1
    done
    ((PEER_STARTED)) && "$PEER" stop >/dev/null
    if ((MAIN_HOOK_MADE)); then
        rm -f /etc/libvirt/hooks/qemu
        "$UP" --restart >/dev/null
    fi
    for l in shimtb-a shimtb-b; do
        ip link show "$l" >/dev/null 2>&1 && ip link del "$l"
    done
    rm -rf "$WORK"
    exit $rc
}
WORK=$(mktemp -d)
trap cleanup EXIT

domain_xml() { # NAME SOURCE_DEV
    cat <<EOF
<domain type='$DOMTYPE'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='direct'>
      <mac address='$MAC'/>
      <source dev='$2' mode='bridge'/>
    </interface>
  </devices>
</domain>
EOF
}

veth() { # NAME PEERNAME: a veth pair, both ends up, no addresses
    ip link show "$1" >/dev/null 2>&1 || ip link add "$1" type veth peer name "$2"
    ip link set "$1" up; ip link set "$2" up
}

source_dev_of() { # URI-FUNC NAME -> the source of its first NIC
    "$1" domiflist "$2" | awk 'NR == 1 { print $3 }'
}

wait_no_links_of_mac() { # macvtaps of our MAC gone (bounded)
    local i
    for ((i = 0; i < 50; i++)); do
        ip -o link | grep -qi "$MAC" || return 0
        sleep 0.1
    done
    say "links with $MAC still there:"; ip -o link | grep -i "$MAC"; return 1
}

# ---------------------------------------------------------------- main daemon
timed "libvirt-up.sh (already up: check only)" "$UP" >/dev/null
veth shimtb-a shimtb-ap
veth shimtb-b shimtb-bp
domain_xml "$GUEST" shimtb-a >"$WORK/g1.xml"
va define "$WORK/g1.xml" >/dev/null
timed "virsh start (main)" va start "$GUEST" >/dev/null
say "domiflist on main:"; va domiflist "$GUEST"
[[ $(source_dev_of va "$GUEST") == shimtb-a ]]
TAP=$(va domiflist "$GUEST" | awk 'NR == 1 { print $1 }')
ip -d link show "$TAP" | grep -q macvtap
timed "libvirt-up.sh --restart (1 guest running)" "$UP" --restart >/dev/null
[[ $(va domstate "$GUEST") == running ]] || { say "guest not running after restart"; exit 1; }
say "guest still running after the libvirtd restart"
timed "virsh destroy (main)" va destroy "$GUEST" >/dev/null
wait_no_links_of_mac
va undefine "$GUEST" >/dev/null

# ------------------------------------------------------------------ migration
if ! "$PEER" status >/dev/null 2>&1; then
    timed "libvirt-peer.sh start" "$PEER" start >/dev/null
    PEER_STARTED=1
fi
PEER_HOOKS="${LIBVIRT_PEER_DIR:-/var/lib/libvirt-shim-peer}/etc/hooks"
[[ ! -e $PEER_HOOKS/qemu ]] || { say "the peer already has a hook: not touching it"; exit 1; }
cat >"$PEER_HOOKS/qemu" <<'EOF'
#!/bin/sh
# throwaway smoke-test hook: the peer's uplink is shimtb-b
if [ "$2" = migrate ] && [ "$3" = begin ]; then
    exec sed "s/dev='shimtb-a'/dev='shimtb-b'/"
fi
cat >/dev/null
EOF
chmod 755 "$PEER_HOOKS/qemu"
timed "libvirt-peer.sh restart (notice its hook)" "$PEER" restart >/dev/null

va define "$WORK/g1.xml" >/dev/null
timed "virsh start (main, for migration)" va start "$GUEST" >/dev/null
timed "migrate --live main -> peer (hook rewrites)" \
    va migrate --live "$GUEST" "$B" --migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1
say "domiflist on the peer:"; vb domiflist "$GUEST"
[[ $(source_dev_of vb "$GUEST") == shimtb-b ]]
[[ $(vb domstate "$GUEST") == running ]]
[[ $(va domstate "$GUEST") == "shut off" ]]
say "peer's status file (read through libvirt-peer.sh exec):"
"$PEER" exec cat "/run/libvirt/qemu/$GUEST.xml" | grep -E "<domstatus|source dev|target dev" | sed 's/^ */  /'
timed "libvirt-peer.sh restart (1 guest running)" "$PEER" restart >/dev/null
[[ $(vb domstate "$GUEST") == running ]] || { say "guest not running after the peer restart"; exit 1; }
say "guest still running on the peer after its libvirtd restart"

vb dumpxml --migratable "$GUEST" | sed "s/dev='shimtb-b'/dev='shimtb-a'/" >"$WORK/back.xml"
timed "migrate --live peer -> main (--xml rewrites)" \
    vb migrate --live "$GUEST" "$A" --migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1 \
        --xml "$WORK/back.xml"
say "domiflist on main after coming back:"; va domiflist "$GUEST"
[[ $(source_dev_of va "$GUEST") == shimtb-a ]]
[[ $(va domstate "$GUEST") == running ]]
[[ -z $(vb list --all --name) ]]
timed "virsh destroy (main, after migrations)" va destroy "$GUEST" >/dev/null
wait_no_links_of_mac
va undefine "$GUEST" >/dev/null
rm -f "$PEER_HOOKS/qemu"

# ------------------------------------------------------------ failing hook
if ((HOOK_FAILURE)); then
    [[ ! -e /etc/libvirt/hooks/qemu ]] || { say "/etc/libvirt/hooks/qemu exists: not touching it"; exit 1; }
    mkdir -p /etc/libvirt/hooks
    cat >/etc/libvirt/hooks/qemu <<'EOF'
#!/bin/sh
# throwaway smoke-test hook: refuse prepare
cat >/dev/null
if [ "$2" = prepare ]; then
    echo "shim-smoke: refusing prepare of $1" >&2
    exit 1
fi
exit 0
EOF
    chmod 755 /etc/libvirt/hooks/qemu
    MAIN_HOOK_MADE=1
    timed "libvirt-up.sh --restart (notice hook)" "$UP" --restart >/dev/null
    va define "$WORK/g1.xml" >/dev/null
    if va start "$GUEST" >"$WORK/out" 2>"$WORK/err"; then
        say "start succeeded despite the failing hook"; exit 1
    fi
    say "virsh start with a hook failing prepare printed (stderr):"
    sed 's/^/  | /' "$WORK/err"
    [[ $(va domstate "$GUEST") == "shut off" ]]
    va undefine "$GUEST" >/dev/null
    rm -f /etc/libvirt/hooks/qemu
    rmdir /etc/libvirt/hooks 2>/dev/null || true
    timed "libvirt-up.sh --restart (hook removed)" "$UP" --restart >/dev/null
    MAIN_HOOK_MADE=0
fi

if ((PEER_STARTED)); then
    timed "libvirt-peer.sh stop" "$PEER" stop >/dev/null
    PEER_STARTED=0
fi
ip link del shimtb-a; ip link del shimtb-b
say "timings:"
printf '  %s\n' "${TIMES[@]}"
say "OK"
