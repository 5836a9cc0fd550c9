#!/usr/bin/env bash
# Sets the machine up (scripts/setup.sh), builds, and runs every test: unit
# tests (no root), runtime tests (root, the real kernel) and the vm test
# (Debian's stock kernel under qemu, for the kprobe backend). CI runs this.
# Extra arguments go to ctest (e.g. -LE vm to leave the VM test out).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
status=0
ctest --test-dir build --output-on-failure "$@" || status=$?
# What the VM test checked, per case and backend (ctest keeps a passing
# test's output only in its log).
log=build/Testing/Temporary/LastTest.log
if [ -f "$log" ] && grep -q '^checked on kernel' "$log"; then
  echo "--- backends checked, per kernel (runtime_backends here; vm: the stock kernel) ---"
  awk '/^checked on kernel/{f=1; print; next} f && /^  /{print; next} {f=0}' "$log"
  grep '^vm: guest command exit code' "$log" || true
fi
exit "$status"
