#!/usr/bin/env bash
# Sets the machine up (scripts/setup.sh), builds, and runs every test: unit
# tests (no root), runtime tests (root, the real kernel) and the vm test
# (Debian's stock kernel under qemu, for the kprobe backend); then the unit
# and runtime tests again in a clang build with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/), and each fuzz target (libFuzzer,
# same build) for a bounded time. CI runs this.
# Extra arguments go to the first ctest (e.g. -LE vm to leave the VM test
# out). PIDTREE_TESTS_SANITIZE=0 and PIDTREE_TESTS_FUZZ=0 leave those two
# stages out (for a quick run by hand; CI runs both).
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

# One clang build (build-asan/) with AddressSanitizer and
# UndefinedBehaviorSanitizer, any report fatal, and libFuzzer's coverage
# instrumentation: the unit and runtime tests run in it, then each fuzz
# target for a bounded time.
if [ "${PIDTREE_TESTS_SANITIZE:-1}" != 0 ] || [ "${PIDTREE_TESTS_FUZZ:-1}" != 0 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DPIDTREE_SANITIZE=ON -DPIDTREE_FUZZ=ON
  cmake --build build-asan -j"$(nproc)"
fi
if [ "${PIDTREE_TESTS_SANITIZE:-1}" != 0 ]; then
  echo "--- unit and runtime tests under ASan and UBSan (build-asan) ---"
  # Every report fails the test that made it (the tracer exits non-zero);
  # the suppressions file says why each entry is there.
  ASAN_OPTIONS=detect_leaks=1:exitcode=99:detect_stack_use_after_return=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -LE 'vm|fuzz|package' ||
    status=$?
fi
if [ "${PIDTREE_TESTS_FUZZ:-1}" != 0 ]; then
  echo "--- fuzz targets (build-asan) ---"
  # One target per core: each is a single process.
  ctest --test-dir build-asan --output-on-failure -L fuzz -j"$(nproc)" ||
    status=$?
fi
exit "$status"
