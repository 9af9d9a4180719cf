#!/usr/bin/env bash
# Runs a command in network namespace NETNS, as `ip netns exec` does (its own sysfs), and in a mount namespace of its
# own whose /dev is an empty tmpfs (with null, zero, random and urandom): the hook makes the tap node of each link it
# creates (/dev/tapIFINDEX), and a link of another network namespace has the ifindex of some link of the host, whose
# node in the host's /dev (a running guest's) it must never replace. The tmpfs goes with the command.
#   scripts/netns-exec.sh NETNS COMMAND [ARGUMENTS...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 NETNS COMMAND [ARGUMENTS...]" >&2; exit 2; }
exec unshare --mount --propagation private sh -c '
  mount -t tmpfs -o mode=755 tmpfs /dev &&
  mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 &&
  mknod -m 666 /dev/random c 1 8 && mknod -m 666 /dev/urandom c 1 9 &&
  exec ip netns exec "$@"' netns-exec "$@"
