#!/usr/bin/env bash
# A second libvirtd ("host B") on this machine, for live-migration tests.
#
#   scripts/libvirt-peer.sh start     start it (fresh); waits until it answers
#   scripts/libvirt-peer.sh stop      destroy its guests, stop its daemons, remove
#                                     its state so the next start is fresh
#   scripts/libvirt-peer.sh restart   restart only its libvirtd (to notice a hook
#                                     newly put in $LIBVIRT_PEER_DIR/etc/hooks);
#                                     its guests keep running
#   scripts/libvirt-peer.sh status    exit 0 if it answers, 3 if not
#   scripts/libvirt-peer.sh uri       print its URI
#   scripts/libvirt-peer.sh exec CMD [ARG...]
#                                     run CMD in its mount and UTS namespace,
#                                     where /etc/libvirt, /run/libvirt, ... are
#                                     the peer's own
#
# It runs virtlogd and libvirtd inside `unshare --mount --uts --propagation
# private`, over bind mounts of private directories (seen from the host at):
#   $LIBVIRT_PEER_DIR/etc    -> /etc/libvirt      (hooks: etc/hooks/qemu, qemu.d/)
#   $LIBVIRT_PEER_DIR/run    -> /run/libvirt      (status XML: run/qemu/NAME.xml)
#   $LIBVIRT_PEER_DIR/lib    -> /var/lib/libvirt
#   $LIBVIRT_PEER_DIR/log    -> /var/log/libvirt  (log/libvirtd.log, log/qemu/NAME.log)
#   $LIBVIRT_PEER_DIR/cache  -> /var/cache/libvirt
# and listens on qemu+tcp://127.0.0.1:$LIBVIRT_PEER_PORT/system (auth none,
# loopback only) with its own host_uuid and hostname. It shares the host's
# network namespace (both daemons see the same links) and kernel.
#
# Anything else is shared with the host's daemon (and so with its hook). To
# give the peer private copies of more directories (say, where the hook keeps
# its settings or state), list them in LIBVIRT_PEER_PRIVATE_DIRS (absolute
# paths, space-separated): each P is created on the host if missing, and the
# peer sees $LIBVIRT_PEER_DIR/private/P there (empty unless filled before start).
#
# The peer's hook: its hooks directory starts empty (the host's hooks are not
# copied). Put a hook at $LIBVIRT_PEER_DIR/etc/hooks/qemu before `start`
# (a non-empty etc/hooks left there while the peer is stopped is kept), or
# after `start` followed by `restart`. `stop` removes all of $LIBVIRT_PEER_DIR.
#
# Environment: LIBVIRT_PEER_DIR (default /var/lib/libvirt-shim-peer),
# LIBVIRT_PEER_PRIVATE_DIRS (none),
# LIBVIRT_PEER_PORT (16510), LIBVIRT_PEER_HOSTNAME (libvirt-shim-peer),
# LIBVIRT_PEER_TIMEOUT (seconds to wait for an answer, 60).
# Needs scripts/libvirt-up.sh to have installed and configured libvirt.
set -euo pipefail
# The daemons started here must not inherit the caller's descriptors: one kept open by a daemon holds, say, the flock
# of the lock file the caller ran under (flock LOCK CMD) for as long as the daemon runs.
for fd in /proc/self/fd/*; do fd=${fd##*/}; if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi; done

readonly DIR="${LIBVIRT_PEER_DIR:-/var/lib/libvirt-shim-peer}"
readonly PORT="${LIBVIRT_PEER_PORT:-16510}"
readonly PEER_HOSTNAME="${LIBVIRT_PEER_HOSTNAME:-libvirt-shim-peer}"
readonly TIMEOUT="${LIBVIRT_PEER_TIMEOUT:-60}"
readonly URI="qemu+tcp://127.0.0.1:$PORT/system"
# The daemons start with this environment only (libvirtd passes PATH and HOME
# on to the hook), like scripts/libvirt-up.sh's.
readonly DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                     HOME=/root)
readonly LIBVIRTD_PID="$DIR/libvirtd.pid"
readonly VIRTLOGD_PID="$DIR/virtlogd.pid"
readonly MNTNS_FILE="$DIR/mntns"
# private directory -> where it is mounted inside the peer's namespace
readonly -A MOUNTS=([etc]=/etc/libvirt [run]=/run/libvirt [lib]=/var/lib/libvirt
                    [log]=/var/log/libvirt [cache]=/var/cache/libvirt)

readonly SCRIPT_NAME=libvirt-peer
# say, die, now, since, pid_alive, answers, wait_answer, wait_exit
# shellcheck source=scripts/daemon-lib.sh
. "$(dirname "$0")/daemon-lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
case "$DIR" in
/|/etc|/etc/*|/run|/run/libvirt*|/var/lib/libvirt|/var/lib/libvirt/*|/var/log/libvirt*|/var/cache/libvirt*|/usr*)
    die "LIBVIRT_PEER_DIR=$DIR is not a private directory" ;;
/?*) ;;
*) die "LIBVIRT_PEER_DIR must be an absolute path" ;;
esac

# A live process in the peer's namespaces, to nsenter into.
anchor_pid() {
    pid_alive "$VIRTLOGD_PID" virtlogd || pid_alive "$LIBVIRTD_PID" libvirtd
}

in_ns() {
    local anchor
    anchor=$(anchor_pid) || die "peer is not running"
    nsenter --mount --uts --target "$anchor" -- "$@"
}

# Processes in the peer's mount namespace (its daemons, its QEMUs).
ns_pids() {
    local ns p
    ns=$(cat "$MNTNS_FILE" 2>/dev/null) || return 0
    [[ -n $ns ]] || return 0
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/ns/mnt" 2>/dev/null) == "$ns" ]] && echo "${p#/proc/}"
    done
    return 0
}

prepare_dir() {
    local keep_hooks=""
    { command -v libvirtd >/dev/null && [[ -f /etc/libvirt/qemu.conf ]]; } \
        || die "libvirt is not installed/configured: run scripts/libvirt-up.sh first"
    if [[ -d $DIR/etc/hooks ]] && [[ -n $(ls -A "$DIR/etc/hooks") ]]; then
        keep_hooks=$(mktemp -d)
        cp -a "$DIR/etc/hooks/." "$keep_hooks/"
    fi
    rm -rf "${DIR:?}"/{etc,run,lib,log,cache} "$LIBVIRTD_PID" "$VIRTLOGD_PID" "$MNTNS_FILE"
    mkdir -p "$DIR"/{etc,run,lib,log,cache} "$DIR/etc/hooks"
    # The host's configuration without its hooks, definitions, secrets, pools.
    tar -C /etc/libvirt --exclude=./hooks --exclude=./qemu --exclude=./storage \
        --exclude=./secrets -cf - . | tar -C "$DIR/etc" -xf -
    if [[ -n $keep_hooks ]]; then
        cp -a "$keep_hooks/." "$DIR/etc/hooks/"; rm -rf "$keep_hooks"
        say "kept hooks already in $DIR/etc/hooks: $(find "$DIR/etc/hooks" -mindepth 1 -maxdepth 1 -printf '%f ')"
    fi
    # QEMU capabilities cache: saves the ~7 s probe of qemu at first start
    # (libvirt re-validates it against the binary, kernel and CPU anyway).
    if [[ -d /var/cache/libvirt/qemu/capabilities ]]; then
        mkdir -p "$DIR/cache/qemu"
        cp -a /var/cache/libvirt/qemu/capabilities "$DIR/cache/qemu/"
    fi
    local conf="$DIR/etc/libvirtd.conf" uuid
    uuid=$(cat /proc/sys/kernel/random/uuid)
    touch "$conf"
    sed -i -E 's/^[[:space:]]*(listen_tls|listen_tcp|tcp_port|listen_addr|auth_tcp|host_uuid)[[:space:]]*=/#peer# &/' "$conf"
    cat >>"$conf" <<EOF
# libvirt-shim peer (scripts/libvirt-peer.sh)
listen_tls = 0
listen_tcp = 1
tcp_port = "$PORT"
listen_addr = "127.0.0.1"
auth_tcp = "none"
host_uuid = "$uuid"
EOF
    say "prepared $DIR (host_uuid $uuid)"
}

start_daemons() {
    local t0 src script
    t0=$(now)
    for src in "${!MOUNTS[@]}"; do
        mkdir -p "${MOUNTS[$src]}"      # mount points (libvirt's own dirs)
    done
    # Runs inside the new namespaces. The daemons double-fork and stay there.
    # shellcheck disable=SC2016 # the script's variables are the inner shell's
    script='set -eu
        dir=$1 host=$2; shift 2
        while [ $# -gt 0 ]; do mount --bind "$dir/$1" "$2"; shift 2; done
        hostname "$host"
        virtlogd -d -p "$dir/virtlogd.pid"
        i=0
        while [ ! -S /run/libvirt/virtlogd-sock ]; do
            i=$((i + 1)); [ $i -lt 200 ] || { echo "virtlogd did not start" >&2; exit 1; }
            sleep 0.05
        done
        readlink /proc/self/ns/mnt >"$dir/mntns"
        libvirtd -l -d -p "$dir/libvirtd.pid"'
    local args=() p
    for src in "${!MOUNTS[@]}"; do args+=("$src" "${MOUNTS[$src]}"); done
    for p in ${LIBVIRT_PEER_PRIVATE_DIRS:-}; do
        [[ $p == /?* && $p != *..* ]] || die "LIBVIRT_PEER_PRIVATE_DIRS: $p is not an absolute path"
        p=${p%/}
        mkdir -p "$p" "$DIR/private$p"
        args+=("private$p" "$p")
    done
    "${DAEMON_ENV[@]}" unshare --mount --uts --propagation private -- \
        /bin/sh -c "$script" peer-setup "$DIR" "$PEER_HOSTNAME" "${args[@]}"
    wait_answer "peer libvirtd" "$DIR/log/libvirtd.log"
    local lp vp
    lp=$(pid_alive "$LIBVIRTD_PID" libvirtd) || die "peer libvirtd answers but $LIBVIRTD_PID names none"
    vp=$(pid_alive "$VIRTLOGD_PID" virtlogd) || die "peer virtlogd is not running"
    say "started peer virtlogd (pid $vp) and libvirtd (pid $lp) in $(since "$t0")s"
}

start_libvirtd_in_ns() {
    local t0 lp; t0=$(now)
    in_ns "${DAEMON_ENV[@]}" libvirtd -l -d -p "$LIBVIRTD_PID"
    wait_answer "peer libvirtd" "$DIR/log/libvirtd.log"
    lp=$(pid_alive "$LIBVIRTD_PID" libvirtd) || die "peer libvirtd did not start"
    say "started peer libvirtd (pid $lp) in $(since "$t0")s"
}

stop_libvirtd() {
    local pid t0
    pid=$(pid_alive "$LIBVIRTD_PID" libvirtd) || return 0
    t0=$(now)
    kill -TERM "$pid"
    wait_exit "$pid" "peer libvirtd"
    say "stopped peer libvirtd (pid $pid) in $(since "$t0")s"
}

cmd_start() {
    local lp vp
    lp=$(pid_alive "$LIBVIRTD_PID" libvirtd) || lp=""
    vp=$(pid_alive "$VIRTLOGD_PID" virtlogd) || vp=""
    if [[ -n $lp && -n $vp ]] && answers; then
        say "already running (virtlogd $vp, libvirtd $lp) on $URI"
        return
    fi
    if [[ -n $lp || -n $vp ]]; then
        say "half running (virtlogd '${vp}', libvirtd '${lp}'): stopping it first"
        cmd_stop
    fi
    if [[ -n $(ns_pids) ]]; then
        say "processes left in an old peer namespace: stopping them first"
        cmd_stop
    fi
    prepare_dir
    start_daemons
}

cmd_stop() {
    local t0 doms d p pids
    t0=$(now)
    if pid_alive "$LIBVIRTD_PID" libvirtd >/dev/null && answers; then
        doms=$(timeout 20 virsh -q -c "$URI" list --name 2>/dev/null || true)
        for d in $doms; do
            if timeout 30 virsh -q -c "$URI" destroy "$d" >/dev/null 2>&1; then say "destroyed peer guest $d"
            else say "could not destroy peer guest $d"; fi
        done
    fi
    # Both take about 2 s to shut down: signal them together.
    local lp vp
    lp=$(pid_alive "$LIBVIRTD_PID" libvirtd) || lp=""
    vp=$(pid_alive "$VIRTLOGD_PID" virtlogd) || vp=""
    [[ -z $lp ]] || kill -TERM "$lp"
    [[ -z $vp ]] || kill -TERM "$vp"
    [[ -z $lp ]] || { wait_exit "$lp" "peer libvirtd"; say "stopped peer libvirtd (pid $lp)"; }
    [[ -z $vp ]] || { wait_exit "$vp" "peer virtlogd"; say "stopped peer virtlogd (pid $vp)"; }
    # Anything still in the peer's mount namespace is the peer's (e.g. a QEMU).
    pids=$(ns_pids)
    if [[ -n $pids ]]; then
        say "killing processes left in the peer namespace: ${pids//$'\n'/ }"
        for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
        for p in $pids; do wait_exit "$p" "pid $p"; done
    fi
    # The bind mounts lived only in the peer's namespace: gone with its last
    # process. Remove the state so the next start is fresh.
    if [[ -d $DIR ]]; then
        rm -rf "${DIR:?}"/{etc,run,lib,log,cache,private} "$LIBVIRTD_PID" "$VIRTLOGD_PID" "$MNTNS_FILE"
        rmdir "$DIR" 2>/dev/null || true
    fi
    say "stopped in $(since "$t0")s; $DIR removed"
}

cmd_restart() {
    anchor_pid >/dev/null || die "peer is not running: use start"
    if ! pid_alive "$VIRTLOGD_PID" virtlogd >/dev/null; then
        in_ns "${DAEMON_ENV[@]}" virtlogd -d -p "$VIRTLOGD_PID"
        say "restarted peer virtlogd"
    fi
    stop_libvirtd
    # virtlogd still holds the namespace: start the new libvirtd inside it.
    start_libvirtd_in_ns
}

cmd_status() {
    local lp vp
    if vp=$(pid_alive "$VIRTLOGD_PID" virtlogd); then say "virtlogd running (pid $vp)"; else say "virtlogd not running"; fi
    if lp=$(pid_alive "$LIBVIRTD_PID" libvirtd); then say "libvirtd running (pid $lp)"; else say "libvirtd not running"; fi
    say "dir $DIR, hostname $PEER_HOSTNAME, uri $URI"
    if answers; then
        say "answers; guests: $(virsh -q -c "$URI" list --all --name 2>/dev/null | tr '\n' ' ')"
    else
        say "does not answer"; return 3
    fi
}

case "${1:-}" in
start)   cmd_start ;;
stop)    cmd_stop ;;
restart) cmd_restart ;;
status)  cmd_status ;;
uri)     echo "$URI" ;;
exec)    shift; (($#)) || die "usage: $0 exec CMD [ARG...]"; in_ns "$@" ;;
-h|--help) sed -n '2,44s/^# \{0,1\}//p' "$0" ;;
*) die "usage: $0 start|stop|restart|status|uri|exec CMD..." ;;
esac
