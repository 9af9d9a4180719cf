#!/usr/bin/env bash
# A newer libvirt beside this machine's own: Debian 13 (trixie: libvirt 11.3, QEMU 10.0) installed into a tree by mmdebstrap,
# its libvirtd chrooted there in its own mount and UTS namespace and listening on loopback TCP. It shares the kernel
# and the network namespace with the host, so a hook installed in the tree creates real links; the tree has its own
# /etc/libvirt, /run (hook state, status XML), /var/lib/libvirt and /var/log/libvirt.
#
#   scripts/libvirt-next.sh build               mmdebstrap the tree with libvirt (reused when present)
#   scripts/libvirt-next.sh start               build if needed, configure, start virtlogd and libvirtd, wait for an answer
#   scripts/libvirt-next.sh stop                stop the tree's libvirtd (and virtlogd, unless guests still run)
#   scripts/libvirt-next.sh restart             restart libvirtd only: running guests keep running ("reconnect" hook)
#   scripts/libvirt-next.sh install-hook [EXE]  install EXE (default artifacts/libvirt-shim) as the tree's hook with
#                                               hooks/install.sh, write its settings, SIGHUP the tree's libvirtd
#   scripts/libvirt-next.sh status              what runs; exit 0 when the daemon answers
#   scripts/libvirt-next.sh uri | version       print the URI / the daemon's libvirt and QEMU versions
#   scripts/libvirt-next.sh mirror              the Debian mirror and proxy the build would use, and where they come from
#   scripts/libvirt-next.sh virsh ARGS...       virsh against the tree's daemon
#   scripts/libvirt-next.sh run CMD...          CMD chrooted in the tree, in its libvirtd's mount namespace (as the
#                                               hook runs: e.g. run libvirt-shim doctor), or a fresh one when it is down
#
# Environment (defaults in brackets):
#   LIBVIRT_NEXT_TREE [/var/lib/libvirt-shim-next/trixie]   the tree
#   LIBVIRT_NEXT_PORT [16520]                               tcp_port of its libvirtd (listen_addr 127.0.0.1)
#   LIBVIRT_NEXT_UUID [6c1b7c3e-5a0f-4d6b-9c1e-1105a7e11003] its host_uuid (different from any other daemon's)
#   LIBVIRT_NEXT_HOSTNAME [libvirt-next]                    the host name its libvirtd sees
#   LIBVIRT_NEXT_PREFIX [nxtap]                             NamePrefix of the tree's hook (distinct from the host's)
#   LIBVIRT_NEXT_INSTANCE [libvirt-next]                    Instance of the tree's hook (its links' marks)
#   LIBVIRT_NEXT_SETTINGS                                   a settings file to install instead of the generated one
#   LIBVIRT_NEXT_BIND                                       host directories (space-separated) bind-mounted at the same
#                                                           path in the tree for its daemons (what guests' XML names:
#                                                           kernel, initrd, console file); read at start and restart
#   LIBVIRT_NEXT_SUITE [trixie]
#   LIBVIRT_NEXT_MIRROR                                     the Debian mirror to build from; by default the host's, read
#                                                           from its apt sources (sources.list, sources.list.d/*.list and
#                                                           *.sources, as apt-config locates them), with apt's
#                                                           Acquire::http(s)::Proxy
#   LIBVIRT_NEXT_TIMEOUT [60]                               seconds to wait for the daemon to answer
# Root only. Never touches the host's libvirtd, /etc/libvirt or /run/libvirt; stops only the daemons whose root is the tree.
set -euo pipefail
# The daemons started here must not inherit the caller's descriptors: one kept open by a daemon holds, say, the flock
# of the lock file the caller ran under (flock LOCK CMD) for as long as the daemon runs.
for fd in /proc/self/fd/*; do fd=${fd##*/}; if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi; done

here=$(cd "$(dirname "$0")" && pwd)
readonly HERE=$here
readonly TREE=${LIBVIRT_NEXT_TREE:-/var/lib/libvirt-shim-next/trixie}
readonly PORT=${LIBVIRT_NEXT_PORT:-16520}
readonly HOST_UUID=${LIBVIRT_NEXT_UUID:-6c1b7c3e-5a0f-4d6b-9c1e-1105a7e11003}
readonly NEXT_HOSTNAME=${LIBVIRT_NEXT_HOSTNAME:-libvirt-next}
readonly PREFIX=${LIBVIRT_NEXT_PREFIX:-nxtap}
readonly INSTANCE=${LIBVIRT_NEXT_INSTANCE:-libvirt-next}
readonly SUITE=${LIBVIRT_NEXT_SUITE:-trixie}
readonly TIMEOUT=${LIBVIRT_NEXT_TIMEOUT:-60}
readonly URI="qemu+tcp://127.0.0.1:$PORT/system"
# passwd: groupadd/useradd for the qemu driver's user (not Essential); the network driver: macvtap pools (net-create).
readonly PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-driver-network libvirt-clients qemu-system-x86
                   iproute2 passwd)
readonly READY=$TREE/.libvirt-next-ready
# What the daemons and the hook get, whoever runs this script.
readonly DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C)

readonly SCRIPT_NAME=libvirt-next
# say, die, now, answers (not pid_alive or the waits: daemon_pid also checks a daemon's root, start waits itself)
# shellcheck source=scripts/daemon-lib.sh
. "$HERE/daemon-lib.sh"
# Its own since: tenths of a second, where daemon-lib's prints hundredths.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
case $TREE in /?*) ;; *) die "LIBVIRT_NEXT_TREE must be an absolute path, not '$TREE'" ;; esac

# in_tree CMD...: CMD chrooted in the tree, in a mount and UTS namespace of its own with /dev, /sys and a fresh /proc.
# Processes that outlive the command (daemons) keep that namespace; nothing is mounted on the host.
in_tree() {
    unshare --mount --uts --propagation private -- "$0" __inside "$@"
}

inside() {
    hostname "$NEXT_HOSTNAME"
    mount --rbind /dev "$TREE/dev"
    mount --rbind /sys "$TREE/sys"
    mount -t proc proc "$TREE/proc"
    local dir
    for dir in ${LIBVIRT_NEXT_BIND:-}; do
        [[ $dir == /?* && -d $dir ]] || { echo "libvirt-next: LIBVIRT_NEXT_BIND: $dir is not an absolute directory" >&2; exit 1; }
        mkdir -p "$TREE$dir"
        mount --bind "$dir" "$TREE$dir"
    done
    exec "${DAEMON_ENV[@]}" chroot "$TREE" "$@"
}

# The host's apt sources, in the order apt reads them: sources.list, then sources.list.d/ (*.list and deb822 *.sources)
# by name. APT_CONFIG and Dir::Etc are honoured, as apt-config reports them.
apt_source_files() {
    local list parts f
    eval "$(apt-config shell list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
    [[ -n ${list:-} && -f $list ]] && printf '%s\n' "$list"
    [[ -n ${parts:-} && -d $parts ]] || return 0
    for f in "$parts"*; do
        case $f in *.list | *.sources) [[ -f $f ]] && printf '%s\n' "$f" ;; esac
    done
}

# mirror_in FILE: the first Debian archive FILE names for binary packages (type deb) of a release (a suite without '-':
# not -security, -updates, -backports), over http, https or file; nothing when there is none.
mirror_in() {
    case $1 in
        *.sources) awk -v RS= '
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"; key = ""
                n = split($0, lines, "\n")
                for (i = 1; i <= n; i++) {
                    line = lines[i]
                    if (line ~ /^#/) continue
                    if (line ~ /^[ \t]/ && key != "") { value[key] = value[key] " " line; continue }
                    if (!match(line, /^[A-Za-z0-9-]+:/)) continue
                    key = tolower(substr(line, 1, RLENGTH - 1)); value[key] = substr(line, RLENGTH + 1)
                }
                types = value["types"]; uris = value["uris"]; suites = value["suites"]
                if ("enabled" in value) enabled = value["enabled"]
                delete value
                if (tolower(enabled) ~ /^[ \t]*no/ || (" " types " ") !~ /[ \t]deb[ \t]/) next
                release = 0
                m = split(suites, s, /[ \t]+/)
                for (i = 1; i <= m; i++) if (s[i] != "" && s[i] !~ /-/ && s[i] !~ /\/$/) release = 1
                if (!release) next
                m = split(uris, u, /[ \t]+/)
                for (i = 1; i <= m; i++) if (u[i] ~ /^(https?|file):/) { print u[i]; exit }
            }' "$1" ;;
        *) awk '
            { sub(/#.*/, ""); gsub(/\[[^]]*\]/, "") }
            $1 == "deb" && $2 ~ /^(https?|file):/ && $3 != "" && $3 !~ /-/ && $3 !~ /\/$/ { print $2; exit }' "$1" ;;
    esac
}

# find_mirror: sets MIRROR and MIRROR_FROM (LIBVIRT_NEXT_MIRROR, or the first of the host's apt sources that names a
# Debian mirror), and PROXY (apt's Acquire::http::Proxy, else Acquire::https::Proxy; empty when none or DIRECT).
find_mirror() {
    local file found http https
    MIRROR=${LIBVIRT_NEXT_MIRROR:-} MIRROR_FROM=LIBVIRT_NEXT_MIRROR
    if [[ -z $MIRROR ]]; then
        local files=()
        mapfile -t files < <(apt_source_files)
        for file in "${files[@]}"; do
            found=$(mirror_in "$file")
            if [[ -n $found ]]; then MIRROR=${found%/} MIRROR_FROM=$file; break; fi
        done
        [[ -n $MIRROR ]] || die "no Debian mirror in the host's apt sources (${files[*]:-none found}): set LIBVIRT_NEXT_MIRROR," \
            "e.g. LIBVIRT_NEXT_MIRROR=http://deb.debian.org/debian"
    fi
    eval "$(apt-config shell http Acquire::http::Proxy https Acquire::https::Proxy)"
    PROXY=${http:-${https:-}}
    [[ ${PROXY,,} != direct ]] || PROXY=
}

# One mmdebstrap run: Essential + apt + the packages, without recommends, dpkg without fsync (the tree is rebuilt, not
# repaired, after a crash); faster and smaller than debootstrap followed by apt-get (bench/RESULTS.md). The mirror and
# the proxy are the host's apt's (find_mirror); apt in the tree keeps the proxy.
build() {
    if [[ -f $READY ]]; then
        say "tree $TREE already built ($(cat "$READY"))"
        add_missing_packages
        return
    fi
    if ! command -v mmdebstrap >/dev/null; then
        say "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/tmp/libvirt-next-apt.log 2>&1 \
            || { tail -n 20 /tmp/libvirt-next-apt.log >&2; die "apt-get install mmdebstrap failed (full log: /tmp/libvirt-next-apt.log)"; }
    fi
    local partial=$TREE.partial t0 include proxy=()
    find_mirror
    [[ -z $PROXY ]] || proxy=(--aptopt="Acquire::http::Proxy \"$PROXY\"" --aptopt="Acquire::https::Proxy \"$PROXY\"")
    rm -rf "$partial"
    mkdir -p "$(dirname "$TREE")"
    t0=$(now)
    include=$(IFS=,; echo "${PACKAGES[*]}")
    say "mmdebstrap $SUITE into $partial ($MIRROR, from $MIRROR_FROM${PROXY:+, proxy $PROXY}): $include"
    if ! mmdebstrap --mode=root --variant=apt --quiet --dpkgopt=force-unsafe-io --aptopt='APT::Install-Recommends "false"' \
            "${proxy[@]}" --include="$include" "$SUITE" "$partial" "$MIRROR" >/tmp/libvirt-next-mmdebstrap.log 2>&1; then
        tail -n 20 /tmp/libvirt-next-mmdebstrap.log >&2
        die "mmdebstrap failed (full log: /tmp/libvirt-next-mmdebstrap.log)"
    fi
    local versions
    versions=$(chroot "$partial" dpkg-query -W -f="\${Package} \${Version}\n" libvirt-daemon qemu-system-x86 | tr '\n' ' ')
    echo "$SUITE: ${versions% }; mmdebstrap $(since "$t0")s, $(du -sh "$partial" | cut -f1)" >"$partial/.libvirt-next-ready"
    mv -T "$partial" "$TREE"
    say "built $TREE: $(cat "$READY")"
}

# A tree built before PACKAGES grew gets what it lacks (no service may start in it meanwhile).
add_missing_packages() {
    local missing=() p t0
    for p in "${PACKAGES[@]}"; do
        chroot "$TREE" dpkg-query -W -f="\${Status}" "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} > 0)) || return 0
    t0=$(now)
    say "adding to the tree: ${missing[*]}"
    printf '#!/bin/sh\nexit 101\n' >"$TREE/usr/sbin/policy-rc.d"
    chmod 755 "$TREE/usr/sbin/policy-rc.d"
    if ! "$0" run sh -c "DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends ${missing[*]} && apt-get clean" >/tmp/libvirt-next-apt.log 2>&1; then
        rm -f "$TREE/usr/sbin/policy-rc.d"
        tail -n 20 /tmp/libvirt-next-apt.log >&2
        die "apt-get in the tree failed (full log: /tmp/libvirt-next-apt.log)"
    fi
    rm -f "$TREE/usr/sbin/policy-rc.d" "$TREE"/var/lib/apt/lists/*_* 2>/dev/null || true
    say "added in $(since "$t0")s"
}

# ensure_block FILE NAME LINES: LINES as one marked block at the end of FILE (replacing an earlier block); earlier
# active lines for the same keys are commented out.
ensure_block() {
    local file=$1 name=$2 lines=$3
    local begin="# >>> libvirt-shim $name (scripts/libvirt-next.sh) >>>" end="# <<< libvirt-shim $name <<<"
    local keys; keys=$(printf '%s\n' "$lines" | sed -n 's/^\([a-z_]*\) *=.*/\1/p' | paste -sd'|')
    touch "$file"
    awk -v b="$begin" -v e="$end" -v keys="^[ \t]*($keys)[ \t]*=" '
        $0 == b { skip = 1; next }
        $0 == e { skip = 0; next }
        skip { next }
        $0 ~ keys { print "#shim# " $0; next }
        { print }' "$file" >"$file.new"
    printf '%s\n%s\n%s\n' "$begin" "$lines" "$end" >>"$file.new"
    chmod --reference="$file" "$file.new"
    mv -f "$file.new" "$file"
}

configure() {
    local etc=$TREE/etc/libvirt
    # shellcheck disable=SC2016 # $g is the inner shell's, in the tree
    chroot "$TREE" sh -c 'for g in kvm libvirt-qemu libvirt; do getent group $g >/dev/null || groupadd -r $g; done
        getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu'
    # namespaces = [ ]: libvirt 11's per-guest mount namespace fails in a chroot ("Failed disable mount propagation").
    ensure_block "$etc/qemu.conf" testbed 'user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]'
    ensure_block "$etc/libvirtd.conf" testbed "listen_tls = 0
listen_tcp = 1
tcp_port = \"$PORT\"
listen_addr = \"127.0.0.1\"
auth_tcp = \"none\"
host_uuid = \"$HOST_UUID\""
    rm -f "$etc/qemu/networks/autostart/default.xml"
    mkdir -p "$TREE/run/libvirt" "$TREE/var/log/libvirt" "$TREE/var/lib/libvirt" "$TREE/var/cache/libvirt"
}

# daemon_pid NAME: the pid of the tree's NAME (from its pid file, checked against the process's name and root).
daemon_pid() {
    local pid comm
    pid=$(cat "$TREE/run/$1.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$1" && $(readlink "/proc/$pid/root") == "$TREE" ]] || return 1
    echo "$pid"
}

# Processes chrooted in the tree (guests' QEMU, daemons).
tree_processes() {
    local dir
    for dir in /proc/[0-9]*; do
        [[ $(readlink "$dir/root" 2>/dev/null) == "$TREE" ]] && echo "${dir#/proc/} $(cat "$dir/comm" 2>/dev/null)"
    done
    return 0
}

start() {
    local t0 pid
    build
    configure
    if pid=$(daemon_pid libvirtd); then
        say "libvirtd of the tree already runs (pid $pid) on $URI"
        return
    fi
    if pid=$(daemon_pid virtlogd); then
        bind_into "$pid"
    else
        rm -f "$TREE/run/virtlogd.pid"
        in_tree virtlogd -d -p /run/virtlogd.pid
    fi
    rm -f "$TREE/run/libvirtd.pid"
    t0=$(now)
    in_tree libvirtd -l -d -p /run/libvirtd.pid
    local deadline=$(( $(date +%s) + TIMEOUT ))
    until answers; do
        (( $(date +%s) < deadline )) || die "libvirtd of the tree did not answer on $URI within ${TIMEOUT}s (see $TREE/var/log/libvirt/)"
        sleep 0.1
    done
    pid=$(daemon_pid libvirtd) || die "something answers on $URI but $TREE/run/libvirtd.pid names no libvirtd of the tree"
    say "libvirtd of the tree (pid $pid: $(version)) answers on $URI after $(since "$t0")s"
}

# bind_into PID: LIBVIRT_NEXT_BIND's directories bind-mounted into the mount namespace of a tree daemon started before
# them. virtlogd outlives libvirtd while guests run, and it writes their serial console files: without the binds of
# this start it cannot open a console file in them, and the guests' consoles stay empty.
bind_into() {
    local dir
    for dir in ${LIBVIRT_NEXT_BIND:-}; do
        [[ $dir == /?* && -d $dir ]] || die "LIBVIRT_NEXT_BIND: $dir is not an absolute directory"
        # shellcheck disable=SC2016 # the inner shell expands its own arguments
        nsenter -t "$1" -m -- sh -c 'mountpoint -q "$2" || { mkdir -p "$2" && mount --bind "$1" "$2"; }' bind "$dir" "$TREE$dir"
    done
}

# stop_daemon NAME: SIGTERM to the tree's NAME, then wait (bounded) for it to go.
stop_daemon() {
    local pid i
    pid=$(daemon_pid "$1") || return 0
    kill -TERM "$pid"
    for ((i = 0; i < 300; i++)); do
        [[ -d /proc/$pid ]] || { say "stopped $1 of the tree (pid $pid)"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    say "$1 of the tree (pid $pid) ignored SIGTERM for 30s: killed"
}

stop() {
    stop_daemon libvirtd
    local guests; guests=$(tree_processes | awk '$2 ~ /^qemu/ { print $1 }' | paste -sd' ')
    if [[ -n $guests ]]; then
        say "guests still run in the tree (QEMU pids $guests): virtlogd left running; 'virsh destroy' them, then stop again"
        return
    fi
    stop_daemon virtlogd
}

install_hook() {
    local exe=${1:-$HERE/../artifacts/libvirt-shim} settings=$TREE/etc/libvirt/libvirt-shim.json
    [[ -f $READY ]] || die "no tree at $TREE yet: run '$0 start' first"
    "$HERE/../hooks/install.sh" --root "$TREE" --binary "$exe" --no-reload --no-watch | grep -v 'notices a new hook' | sed 's/^/libvirt-next: /'
    if [[ -n ${LIBVIRT_NEXT_SETTINGS:-} ]]; then
        install -m 0644 "$LIBVIRT_NEXT_SETTINGS" "$settings"
    else
        sed -e "s/\"NamePrefix\": \"[^\"]*\"/\"NamePrefix\": \"$PREFIX\"/" -e "s/\"Instance\": \"[^\"]*\"/\"Instance\": \"$INSTANCE\"/" \
            "$HERE/../hooks/libvirt-shim.json" >"$settings.new"
        chmod 0644 "$settings.new"
        mv -f "$settings.new" "$settings"
    fi
    say "hook settings: $settings (NamePrefix $(sed -n 's/.*"NamePrefix": "\([^"]*\)".*/\1/p' "$settings"))"
    # SIGHUP to the daemon whose /etc/libvirt is the tree's (noted for the tree's libvirt-shim doctor), no other.
    # shellcheck source=hooks/hooklib.sh
    (. "$HERE/../hooks/hooklib.sh"; shim_reload_libvirt "$TREE/etc/libvirt" "$TREE/run/libvirt-shim/sighup") | grep -v '^note:' \
        | sed 's/^/libvirt-next: /' || true
}

# "libvirt 11.3.0, QEMU 10.0.13": the daemon's versions (the host's virsh is the client).
version() {
    local text
    text=$(timeout 10 virsh -c "$URI" version --daemon) || return 1
    printf 'libvirt %s, QEMU %s\n' "$(sed -n 's/^Running against daemon: *//p' <<<"$text")" \
        "$(sed -n 's/^Running hypervisor: *QEMU *//p' <<<"$text")"
}

status() {
    local pid
    if pid=$(daemon_pid virtlogd); then say "virtlogd of the tree runs (pid $pid)"; else say "virtlogd of the tree is not running"; fi
    if pid=$(daemon_pid libvirtd); then say "libvirtd of the tree runs (pid $pid)"; else say "libvirtd of the tree is not running"; fi
    if [[ -f $READY ]]; then say "tree $TREE: $(cat "$READY")"; else say "no tree at $TREE"; fi
    if answers; then say "$URI answers: $(version)"; else say "nothing answers on $URI"; return 3; fi
}

case "${1:-}" in
    __inside) shift; inside "$@" ;;
    build) build ;;
    start) start ;;
    stop) stop ;;
    restart) stop_daemon libvirtd; start ;;
    install-hook) shift; install_hook "$@" ;;
    status) status ;;
    uri) echo "$URI" ;;
    mirror) find_mirror; say "mirror $MIRROR (from $MIRROR_FROM)"; say "proxy ${PROXY:-none}" ;;
    version) version ;;
    virsh) shift; exec virsh -c "$URI" "$@" ;;
    run) shift; [[ -d $TREE/usr ]] || die "no tree at $TREE"
        if pid=$(daemon_pid libvirtd); then exec nsenter --target "$pid" --mount --uts -- "${DAEMON_ENV[@]}" chroot "$TREE" "$@"; fi
        in_tree "$@" ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" ;;
    *) die "usage: $0 build|start|stop|restart|install-hook [EXE]|status|uri|version|mirror|virsh ARGS|run CMD (see --help)" ;;
esac
