#!/usr/bin/env bash
# Bring up a real libvirt (libvirtd or virtqemud, + virtlogd, qemu driver) on this machine.
#
#   scripts/libvirt-up.sh [start]    install what is missing, configure, start
#                                    what is not running, wait until it answers
#   scripts/libvirt-up.sh restart    restart the daemon only (it reads whether
#     (or --restart)                 /etc/libvirt/hooks/qemu exists only when it
#                                    starts); running guests keep running and
#                                    the daemon reconnects to them ("reconnect"
#                                    hook call). virtlogd is left alone.
#   scripts/libvirt-up.sh status     print what runs; exit 0 if the daemon answers
#     (or --status)
#   scripts/libvirt-up.sh daemon     print which daemon serves qemu:///system
#
# The daemon: the libvirtd or virtqemud that runs (per /run/NAME.pid); when none
# runs, LIBVIRT_UP_DAEMON, else the one installed (libvirtd first: Debian's).
#
# Made for Debian 12 as root without systemd (CI and developer machines).
# Idempotent: on a machine where everything is already up it only checks.
# Environment: LIBVIRT_UP_TIMEOUT (seconds to wait for an answer, default 60).
#
# libvirt's NAT network "default" (virbr0) is never left autostarting or active.
set -euo pipefail
# The daemons started here must not inherit the caller's descriptors: one kept open by a daemon holds, say, the flock
# of the lock file the caller ran under (flock LOCK CMD) for as long as the daemon runs.
for fd in /proc/self/fd/*; do fd=${fd##*/}; if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi; done

readonly URI="qemu:///system"
readonly VIRTLOGD_PID=/run/virtlogd.pid
readonly QEMU_CONF=/etc/libvirt/qemu.conf
readonly TIMEOUT="${LIBVIRT_UP_TIMEOUT:-60}"
# The daemons start with this environment only, whoever runs the script (a
# developer's shell, CI): libvirtd passes PATH and HOME on to the hook.
readonly DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                     HOME=/root)
# tcpdump, iputils-ping, cpio: the end-to-end suite's LAN and booting guests (scripts/guest-image.sh); nftables (nft)
# to read back the guards the hook installs, busybox for a DHCP client on the LAN.
readonly PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
                   qemu-system-x86 iproute2 util-linux tcpdump iputils-ping cpio gzip nftables busybox)

readonly SCRIPT_NAME=libvirt-up
# say, die, now, since, pid_alive, answers, wait_answer, wait_exit
# shellcheck source=scripts/daemon-lib.sh
. "$(dirname "$0")/daemon-lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"

# The daemon to run: set by main once the packages are there.
DAEMON=libvirtd
daemon_pid_file() { echo "/run/$DAEMON.pid"; }

pick_daemon() {
    local d
    for d in libvirtd virtqemud; do
        pid_alive "/run/$d.pid" "$d" >/dev/null && { echo "$d"; return; }
    done
    if [[ -n ${LIBVIRT_UP_DAEMON:-} ]]; then
        [[ $LIBVIRT_UP_DAEMON == libvirtd || $LIBVIRT_UP_DAEMON == virtqemud ]] \
            || die "LIBVIRT_UP_DAEMON must be libvirtd or virtqemud, not '$LIBVIRT_UP_DAEMON'"
        echo "$LIBVIRT_UP_DAEMON"; return
    fi
    for d in libvirtd virtqemud; do
        command -v "$d" >/dev/null && { echo "$d"; return; }
    done
    echo libvirtd
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "packages already installed"
        return
    fi
    local t0; t0=$(now)
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d: no package may start a service during the install.
    local prc=/usr/sbin/policy-rc.d
    if [[ ! -e $prc ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod 755 "$prc"
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    if ! apt-get install -y -qq --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "${missing[@]}" >/tmp/libvirt-up-apt.log 2>&1; then
        tail -n 30 /tmp/libvirt-up-apt.log >&2
        die "apt-get install failed (full log: /tmp/libvirt-up-apt.log)"
    fi
    say "installed in $(since "$t0")s"
}

ensure_users() {
    # The qemu driver parses its default user/group at start even when
    # qemu.conf says root: without them "Failed to parse user 'libvirt-qemu'".
    local g
    for g in kvm libvirt-qemu libvirt; do
        getent group "$g" >/dev/null || { groupadd -r "$g"; say "created group $g"; }
    done
    if ! getent passwd libvirt-qemu >/dev/null; then
        useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
        say "created user libvirt-qemu"
    fi
}

# Writes our settings as one marked block at the end of qemu.conf; any active
# line for the same keys elsewhere is commented out. Prints "changed" if the
# file changed.
ensure_qemu_conf() {
    local begin='# >>> libvirt-shim testbed (scripts/libvirt-up.sh) >>>'
    local end='# <<< libvirt-shim testbed <<<'
    local tmp; tmp=$(mktemp)
    mkdir -p "$(dirname "$QEMU_CONF")"
    touch "$QEMU_CONF"
    awk -v b="$begin" -v e="$end" '
        $0 == b { skip = 1; next }
        $0 == e { skip = 0; next }
        skip { next }
        /^[ \t]*(user|group|security_driver|dynamic_ownership|remember_owner|cgroup_controllers)[ \t]*=/ {
            print "#shim# " $0; next }
        { print }' "$QEMU_CONF" >"$tmp"
    cat >>"$tmp" <<EOF
$begin
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
$end
EOF
    if cmp -s "$tmp" "$QEMU_CONF"; then
        rm -f "$tmp"
    else
        cat "$tmp" >"$QEMU_CONF"; rm -f "$tmp"
        echo changed
    fi
}

# libvirt-daemon-config-network (a Recommends of libvirt-daemon) defines the
# NAT network "default" (virbr0, iptables) and marks it autostart. Never let
# libvirtd start it: drop the autostart link before the daemon starts.
disable_default_net_autostart() {
    local link=/etc/libvirt/qemu/networks/autostart/default.xml
    if [[ -e $link || -L $link ]]; then
        rm -f "$link"
        say "removed autostart of libvirt network 'default' ($link)"
    fi
}

# And, once the daemon answers, make sure it is not active either.
check_default_net() {
    local active
    active=$(timeout 10 virsh -q -c "$URI" net-list --name 2>/dev/null || true)
    if grep -qx default <<<"$active"; then
        timeout 30 virsh -q -c "$URI" net-destroy default >/dev/null
        say "libvirt network 'default' was active: destroyed it (virbr0 gone)"
    fi
    if timeout 10 virsh -q -c "$URI" net-info default 2>/dev/null | grep -q '^Autostart: *yes'; then
        timeout 10 virsh -q -c "$URI" net-autostart --disable default >/dev/null
        say "libvirt network 'default': autostart disabled"
    fi
}

start_virtlogd() {
    local pid
    if pid=$(pid_alive "$VIRTLOGD_PID" virtlogd); then
        say "virtlogd already running (pid $pid)"
        return
    fi
    mkdir -p /run/libvirt /var/log/libvirt
    "${DAEMON_ENV[@]}" virtlogd -d -p "$VIRTLOGD_PID"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -S /run/libvirt/virtlogd-sock ]] && pid=$(pid_alive "$VIRTLOGD_PID" virtlogd) && break
        sleep 0.05
    done
    pid=$(pid_alive "$VIRTLOGD_PID" virtlogd) || die "virtlogd did not start"
    say "started virtlogd (pid $pid, pid file $VIRTLOGD_PID)"
}

start_daemon() {
    local t0 pid pidfile; pidfile=$(daemon_pid_file)
    mkdir -p /run/libvirt /var/log/libvirt /var/lib/libvirt /var/cache/libvirt
    t0=$(now)
    "${DAEMON_ENV[@]}" "$DAEMON" -d -p "$pidfile"
    wait_answer "$DAEMON" /var/log/libvirt/
    pid=$(pid_alive "$pidfile" "$DAEMON") || die "$DAEMON answers but $pidfile names no $DAEMON"
    say "started $DAEMON (pid $pid, pid file $pidfile) in $(since "$t0")s"
}

stop_daemon() {
    local pid pidfile; pidfile=$(daemon_pid_file)
    pid=$(pid_alive "$pidfile" "$DAEMON") || return 0
    local t0; t0=$(now)
    kill -TERM "$pid"
    wait_exit "$pid" "$DAEMON"
    say "stopped $DAEMON (pid $pid) in $(since "$t0")s; running guests keep running"
}

ensure_daemon() {
    local pid pidfile; pidfile=$(daemon_pid_file)
    if pid=$(pid_alive "$pidfile" "$DAEMON"); then
        if [[ ${1:-} == changed ]]; then
            say "qemu.conf changed: restarting $DAEMON so it reads it"
            stop_daemon
            start_daemon
        else
            wait_answer "$DAEMON" /var/log/libvirt/
            say "$DAEMON already running (pid $pid)"
        fi
    elif answers; then
        say "something answers on $URI but $pidfile names no $DAEMON: leaving it alone"
    else
        start_daemon
    fi
}

status() {
    local pid rc=0
    if pid=$(pid_alive "$VIRTLOGD_PID" virtlogd); then say "virtlogd running (pid $pid)"
    else say "virtlogd not running"; fi
    if pid=$(pid_alive "$(daemon_pid_file)" "$DAEMON"); then say "$DAEMON running (pid $pid)"
    else say "$DAEMON not running (per $(daemon_pid_file))"; fi
    if answers; then
        say "$DAEMON answers: $(virsh -q -c "$URI" version 2>/dev/null | tr '\n' ';' | tr -s ' ')"
    else
        say "nothing answers on $URI"; rc=3
    fi
    return $rc
}

main() {
    local t0; t0=$(now)
    case "${1:-}" in
    ""|start)
        install_packages
        DAEMON=$(pick_daemon)
        ensure_users
        local changed
        changed=$(ensure_qemu_conf)
        [[ -n $changed ]] && say "wrote settings block in $QEMU_CONF"
        disable_default_net_autostart
        start_virtlogd
        ensure_daemon "$changed"
        check_default_net
        ;;
    restart|--restart)
        DAEMON=$(pick_daemon)
        command -v "$DAEMON" >/dev/null || die "libvirt not installed: run $0 first"
        disable_default_net_autostart
        start_virtlogd
        stop_daemon
        start_daemon
        check_default_net
        ;;
    status|--status)
        DAEMON=$(pick_daemon)
        status; return
        ;;
    daemon)
        pick_daemon; return
        ;;
    -h|--help)
        sed -n '2,22s/^# \{0,1\}//p' "$0"
        return
        ;;
    *)
        die "usage: $0 [start|restart|status|daemon]"
        ;;
    esac
    say "done in $(since "$t0")s"
}

main "$@"
