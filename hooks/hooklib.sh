# shellcheck shell=sh
# Shell functions shared by hooks/install.sh, hooks/uninstall.sh and the Debian package's maintainer scripts
# (build.sh copies this file into them). POSIX sh: the maintainer scripts run under dash.

# Every libvirt-shim executable carries this ASCII text (Cli/ShimIdentity.cs).
SHIM_MARKER='libvirt-shim executable (urn:libvirt-shim:macvtap:1)'

# shim_resolve ROOT PATH: PATH with its symlinks followed, absolute targets taken below ROOT ("" for /).
shim_resolve() {
  _r_root=$1 _r_path=$2 _r_hops=0
  while [ -L "$_r_path" ] && [ "$_r_hops" -lt 40 ]; do
    _r_link=$(readlink "$_r_path")
    case $_r_link in
      /*) _r_path=$_r_root$_r_link ;;
      *) _r_path=$(dirname "$_r_path")/$_r_link ;;
    esac
    _r_hops=$((_r_hops + 1))
  done
  printf '%s\n' "$_r_path"
}

# shim_is_shim ROOT PATH: true when PATH is libvirt-shim: a file holding the marker, or a symlink (dangling
# included) to something named libvirt-shim.
shim_is_shim() {
  _s_file=$(shim_resolve "$1" "$2")
  if [ ! -e "$_s_file" ]; then
    [ -L "$2" ] && [ "$(basename "$_s_file")" = libvirt-shim ]
    return
  fi
  [ -f "$_s_file" ] || return 1
  grep -qaF "$SHIM_MARKER" "$_s_file" 2>/dev/null
}

# shim_exists PATH: true for anything at PATH, a dangling symlink included.
shim_exists() { [ -e "$1" ] || [ -L "$1" ]; }

# shim_libvirt_version ROOT: the libvirt version ("9.0.0"), from the library a running libvirtd or virtqemud has
# mapped (only when ROOT is "", the running system), else from the newest libvirt library installed below ROOT.
# Prints nothing when unknown. Asks libvirt nothing.
shim_libvirt_version() {
  _v_lib=
  if [ -z "$1" ]; then
    for _v_dir in /proc/[0-9]*; do
      case $(cat "$_v_dir/comm" 2>/dev/null) in libvirtd|virtqemud) ;; *) continue ;; esac
      _v_lib=$(grep -o 'libvirt\.so\.0\.[0-9]*\.[0-9]*' "$_v_dir/maps" 2>/dev/null | head -n 1)
      [ -n "$_v_lib" ] && break
    done
  fi
  if [ -z "$_v_lib" ]; then
    _v_lib=$(for _v_file in "$1"/usr/lib/*/libvirt.so.0.*.* "$1"/usr/lib64/libvirt.so.0.*.* "$1"/usr/lib/libvirt.so.0.*.*; do
        [ -e "$_v_file" ] && echo "${_v_file##*/}"
      done | sort -t . -k 4,4n -k 5,5n | tail -n 1)
  fi
  [ -n "$_v_lib" ] || return 0
  _v_rest=${_v_lib#libvirt.so.0.}
  _v_combined=${_v_rest%%.*}
  echo "$((_v_combined / 1000)).$((_v_combined % 1000)).${_v_rest#*.}"
}

# shim_version_lt A B: true when version A is older than version B (both MAJOR.MINOR[.MICRO]).
shim_version_lt() {
  [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -t . -k 1,1n -k 2,2n -k 3,3n | head -n 1)" = "$1" ]
}

# shim_reload_libvirt ETC [RECORD]: SIGHUP every libvirtd and virtqemud that reads its configuration from ETC (the same
# directory as /etc/libvirt in its own mount namespace), so it looks for hooks again, and say so, naming the daemons it
# found. Appends "PID SECONDS.NANOSECONDS" to RECORD for each (libvirt-shim doctor reads it). Running guests are not
# affected by SIGHUP.
shim_reload_libvirt() {
  _h_want=$(stat -L -c %d:%i "$1" 2>/dev/null || true)
  _h_sent=0 _h_found=0
  for _h_dir in /proc/[0-9]*; do
    _h_comm=$(cat "$_h_dir/comm" 2>/dev/null) || continue
    case $_h_comm in libvirtd|virtqemud) ;; *) continue ;; esac
    _h_found=1
    _h_pid=${_h_dir#/proc/}
    _h_seen=$(stat -L -c %d:%i "$_h_dir/root/etc/libvirt" 2>/dev/null || true)
    if [ -n "$_h_want" ] && [ "$_h_seen" != "$_h_want" ]; then
      echo "note: $_h_comm (pid $_h_pid) reads another /etc/libvirt (its own mount namespace): not signalled"
      continue
    fi
    if kill -HUP "$_h_pid" 2>/dev/null; then
      echo "sent SIGHUP to $_h_comm (pid $_h_pid): it looks for hooks again (running guests are not affected)"
      if [ -n "${2:-}" ]; then
        if mkdir -p "$(dirname "$2")"; then echo "$_h_pid $(date +%s.%N)" >> "$2" 2>/dev/null || true; fi
      fi
      _h_sent=1
    fi
  done
  if [ "$_h_found" = 0 ]; then
    echo "neither libvirtd nor virtqemud is running: whichever starts looks for hooks then"
  elif [ "$_h_sent" = 0 ]; then
    echo "no libvirtd or virtqemud that reads $1 is running: it looks for hooks when it starts"
  fi
}

# The listener (libvirt-shim watch) where no service manager runs it: started in its own session with a pid file, and
# stopped by the pid that file names, only while that process is a libvirt-shim watch.
# shellcheck disable=SC2034 # used by the scripts that source this file
SHIM_WATCH_PIDFILE=/run/libvirt-shim/watch.pid
# shellcheck disable=SC2034 # used by the scripts that source this file
SHIM_WATCH_UNIT=libvirt-shim-watch.service

# shim_listener_pid PIDFILE: prints the pid PIDFILE names when that process is a running 'libvirt-shim watch'; fails otherwise.
shim_listener_pid() {
  _p_pid=$(cat "$1" 2>/dev/null) || return 1
  case $_p_pid in ''|*[!0-9]*) return 1 ;; esac
  tr '\0' ' ' < "/proc/$_p_pid/cmdline" 2>/dev/null | grep -q 'libvirt-shim watch ' || return 1
  echo "$_p_pid"
}

# shim_start_listener EXE PIDFILE: starts 'EXE watch --pid-file PIDFILE' in the background, detached from this script, and
# says so; waits (5 s at most) until it has written its pid. Its messages go to its log (the LogFile setting).
shim_start_listener() {
  if _l_pid=$(shim_listener_pid "$2"); then
    echo "the listener (libvirt-shim watch, pid $_l_pid) runs already"
    return 0
  fi
  mkdir -p "$(dirname "$2")"
  # Its own session, and none of this script's descriptors: one a caller holds (dpkg's status pipe, the flock of a
  # 'flock LOCK CMD') must not stay open for as long as the listener runs. bash, since dash cannot close a descriptor above 9.
  bash -c 'for fd in /proc/self/fd/*; do fd=${fd##*/}; if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi; done
    exec setsid "$0" watch --pid-file "$1"' "$1" "$2" </dev/null >/dev/null 2>&1 &
  _l_tries=0
  while [ "$_l_tries" -lt 50 ]; do
    if _l_pid=$(shim_listener_pid "$2"); then
      echo "started the listener (libvirt-shim watch, pid $_l_pid, pid file $2): links follow their guests' vCPUs once it reaches libvirt"
      return 0
    fi
    sleep 0.1
    _l_tries=$((_l_tries + 1))
  done
  echo "WARNING: the listener (libvirt-shim watch) did not start; see its log, and 'libvirt-shim doctor'"
  return 1
}

# shim_stop_listener PIDFILE: stops (SIGTERM) the listener PIDFILE names, waiting (10 s at most) until it is gone, and says so.
shim_stop_listener() {
  if ! _s_pid=$(shim_listener_pid "$1"); then
    rm -f "$1"
    return 0
  fi
  kill -TERM "$_s_pid" 2>/dev/null || true
  _s_tries=0
  while [ "$_s_tries" -lt 100 ] && shim_listener_pid "$1" >/dev/null; do
    sleep 0.1
    _s_tries=$((_s_tries + 1))
  done
  if shim_listener_pid "$1" >/dev/null; then
    echo "WARNING: the listener (libvirt-shim watch, pid $_s_pid) did not stop within 10 s"
    return 1
  fi
  rm -f "$1"
  echo "stopped the listener (libvirt-shim watch, pid $_s_pid)"
}

# shim_systemd_runs: true when systemd manages this machine (the running system).
shim_systemd_runs() { [ -d /run/systemd/system ]; }

# shim_watch_unit EXE: the listener's systemd unit, running EXE.
shim_watch_unit() {
  cat <<UNIT
[Unit]
Description=libvirt-shim listener: macvtap links follow their guests' vCPUs
# Whichever daemon this host runs; neither is required: the listener waits for libvirt and reconnects when it restarts.
After=libvirtd.service virtqemud.service

[Service]
ExecStart=$1 watch
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target
UNIT
}
