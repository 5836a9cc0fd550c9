#!/usr/bin/env bash
# Runs inside the VM (tests/vm/run-vm.sh), as root, in the directory the
# runner was started from: checks that this is the kernel the tests are for,
# then runs its arguments.
set -euo pipefail
release=$(uname -r)
echo "guest: kernel $release, $(nproc) CPU(s)," \
  "$(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
grep -E '^CONFIG_(KPROBES|NET_NS)=' "/boot/config-$release" || true
if [ ! -e "/lib/modules/$release/build/Makefile" ]; then
  echo "guest: no kernel headers at /lib/modules/$release/build" >&2
  exit 2
fi
# BCC's compile runs on an emulated CPU here: tens of seconds per program.
export PIDTREE_READY_TIMEOUT=${PIDTREE_READY_TIMEOUT:-400}
ip link set lo up
exec "$@"
