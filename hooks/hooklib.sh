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
