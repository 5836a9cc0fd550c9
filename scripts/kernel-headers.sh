#!/bin/sh
# BCC compiles the BPF program at run time against the running kernel's
# headers (/lib/modules/$(uname -r)/build). When the kernel has none of its
# own (no exact linux-headers package, no /sys/kernel/kheaders.tar.xz),
# this links the newest of the distribution's generic headers installed
# (linux-headers-<arch>; fine for the tracepoint backend, whose layouts
# come from tracefs and BTF). Installs nothing: scripts/setup.sh installs
# the packages, and the Debian package's postinst runs this. Safe to run
# again; exit status 1 when there is nothing to link.
set -eu
release=$(uname -r)
if [ -e "/lib/modules/$release/build/include" ] ||
   [ -e /sys/kernel/kheaders.tar.xz ]; then
  exit 0
fi
arch=$(dpkg --print-architecture)
headers=$(ls -d /usr/src/linux-headers-*-"$arch" 2>/dev/null | sort -V |
          tail -n 1)
if [ -z "$headers" ]; then
  echo "kernel-headers.sh: no kernel headers for $release and no" \
    "linux-headers-$arch installed: install one of them" >&2
  exit 1
fi
common=${headers%-"$arch"}-common
mkdir -p "/lib/modules/$release"
ln -sfn "$headers" "/lib/modules/$release/build"
if [ -d "$common" ]; then
  ln -sfn "$common" "/lib/modules/$release/source"
fi
echo "kernel-headers.sh: no headers packaged for $release;" \
  "linked $(basename "$headers") instead" >&2
