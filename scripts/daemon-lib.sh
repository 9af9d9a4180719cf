# Helpers shared by the scripts that run a libvirt daemon (libvirt-up.sh, libvirt-peer.sh, libvirt-next.sh): sourced,
# not run. The sourcing script sets SCRIPT_NAME (the prefix of its messages) before it calls say or die, and URI and
# TIMEOUT (seconds) before answers or wait_answer.
# shellcheck shell=bash

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }
die() { printf '%s: ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# pid_alive PIDFILE COMM -> prints the pid and succeeds if that process runs.
pid_alive() {
    local pid comm
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$2" ]] || return 1
    echo "$pid"
}

answers() { timeout 10 virsh -q -c "$URI" version >/dev/null 2>&1; }

# wait_answer WHO LOGS: wait (bounded by TIMEOUT) until the daemon answers on URI; LOGS is where to look if it does not.
wait_answer() {
    local who=$1 logs=$2 t0 deadline
    t0=$(now); deadline=$(( $(date +%s) + TIMEOUT ))
    until answers; do
        if (( $(date +%s) >= deadline )); then
            die "$who did not answer on $URI within ${TIMEOUT}s (see $logs)"
        fi
        sleep 0.1
    done
    say "$who answers on $URI after $(since "$t0")s"
}

# wait_exit PID NAME: wait (bounded) for a process we signalled to go away.
wait_exit() {
    local pid=$1 name=$2 i
    for ((i = 0; i < 300; i++)); do          # 30 s
        [[ -d /proc/$pid ]] || return 0
        sleep 0.1
    done
    say "$name (pid $pid) still there after 30s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [[ -d /proc/$pid ]] || return 0
        sleep 0.1
    done
    die "$name (pid $pid) does not exit"
}
