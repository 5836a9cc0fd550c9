#!/usr/bin/env bash
# Sets the machine up (scripts/setup.sh), builds, and runs every test: unit
# tests (no root) and runtime tests (root, the real kernel). CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
ctest --test-dir build --output-on-failure "$@"
