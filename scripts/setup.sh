#!/usr/bin/env bash
# Sets up a Debian/Ubuntu machine for pidtree-bcc and builds it into build/:
# packages, kernel headers for BCC, tracefs. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: needs root to install packages: run it with sudo" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config \
  libbpfcc-dev libbpf-dev nlohmann-json3-dev libcli11-dev libgtest-dev \
  libyaml-cpp-dev libcurl4-openssl-dev openssl \
  python3 iproute2 util-linux procps jq
# The package test (tests/package) checks the unit file with systemd-analyze
# and builds the .deb with CPack (dpkg-shlibdeps: dpkg-dev).
apt-get install -y -q --no-install-recommends systemd dpkg-dev file \
  logrotate man-db
# --format text is tested in a terminal as a person sees it: tmux.
apt-get install -y -q --no-install-recommends tmux
# The shipper test (tests/runtime/test_fleet.py) runs its own rsyslogd;
# the package's own service is not started here (policy-rc.d, only while
# installing, and only if the machine has none).
if ! command -v rsyslogd >/dev/null; then
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    status=0
    apt-get install -y -q --no-install-recommends rsyslog || status=$?
    rm -f /usr/sbin/policy-rc.d
    [ "$status" = 0 ]
  else
    apt-get install -y -q --no-install-recommends rsyslog
  fi
fi
# bpftool lets the runtime tests check that nothing is left attached.
apt-get install -y -q --no-install-recommends bpftool ||
  apt-get install -y -q --no-install-recommends linux-tools-common \
    "linux-tools-$(uname -r)" || echo "setup.sh: bpftool not available" >&2

# The fuzz tests (tests/fuzz/) are built with clang's libFuzzer (its
# runtime is in libclang-rt-dev on Debian; in clang's own package on
# Ubuntu).
apt-get install -y -q --no-install-recommends clang
apt-get install -y -q --no-install-recommends libclang-rt-dev 2>/dev/null ||
  true

# The vm test (tests/vm/run-vm.sh, ctest label "vm") boots Debian's stock
# kernel, which has kprobes, under qemu: the kernel and its headers (same
# version), qemu, and what the runner builds the guest's initramfs from
# (static busybox, modprobe, cpio). PIDTREE_SETUP_VM=0 leaves them out; then
# run the tests with `ctest -LE vm`.
if [ "${PIDTREE_SETUP_VM:-1}" != 0 ]; then
  if apt-cache show linux-image-amd64 >/dev/null 2>&1; then
    apt-get install -y -q --no-install-recommends qemu-system-x86 \
      linux-image-amd64 linux-headers-amd64 busybox-static kmod cpio
  else
    echo "setup.sh: Debian's linux-image-amd64 is not available here, so" \
      "the vm test cannot run (leave it out with ctest -LE vm)" >&2
  fi
fi

# The container tests (tests/runtime/test_containers.py) run real Docker
# containers: docker.io (the test starts dockerd when none runs) and
# busybox-static, from which they make their image offline.
# PIDTREE_SETUP_CONTAINERS=0 leaves them out (then those tests fail).
if [ "${PIDTREE_SETUP_CONTAINERS:-1}" != 0 ]; then
  apt-get install -y -q --no-install-recommends docker.io busybox-static
fi

# BCC compiles the BPF program at run time against the running kernel's
# headers. Prefer the exact package; else the distribution's generic ones,
# linked by scripts/kernel-headers.sh (as the Debian package does).
release=$(uname -r)
if [ ! -e "/lib/modules/$release/build/include" ] &&
   [ ! -e /sys/kernel/kheaders.tar.xz ]; then
  if ! apt-get install -y -q --no-install-recommends \
      "linux-headers-$release" 2>/dev/null; then
    apt-get install -y -q --no-install-recommends \
      "linux-headers-$(dpkg --print-architecture)"
    sh scripts/kernel-headers.sh
  fi
fi

if ! [ -d /sys/kernel/tracing/events ] &&
   ! [ -d /sys/kernel/debug/tracing/events ]; then
  mount -t tracefs tracefs /sys/kernel/tracing
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPIDTREE_WERROR=ON
cmake --build build -j"$(nproc)"
echo "setup.sh: built build/pidtree-bcc"
