#!/usr/bin/env bash
# The fork + exit storm, without and with the tracer (all three probes and
# both plugins: bench/run.py's PLUGINS_CONFIG), in
# alternating 5 s rounds: the load's rate and `perf stat` of its CPU, then
# one system-wide `perf record` of each state, for `perf report -i
# OUT/perf.STATE.data --sort sym`. A diagnostic beside bench/run.py's
# containers phase (which measures the target): where a fork's time goes.
# Usage: sudo bench/fork_profile.sh [BINARY] [ROUNDS] [OUT]   (needs perf)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/pidtree-bcc}
rounds=${2:-4}
out=${3:-/tmp/pidtree-fork-profile}
load=build/bench/loadgen
mkdir -p "$out"
# The containers phase's own configuration, so that both measure the same.
python3 -c 'import sys; sys.path.insert(0, "bench"); import run
sys.stdout.write(run.PLUGINS_CONFIG)' >"$out/config.yml"
tracer=0
start() {
  "$bin" -c "$out/config.yml" -f /dev/null \
    2>"$out/tracer.err" &
  tracer=$!
  for _ in $(seq 100); do
    grep -q "Ctrl-C" "$out/tracer.err" 2>/dev/null && return
    sleep 0.1
  done
  echo "the tracer did not start: $(cat "$out/tracer.err")" >&2
  exit 1
}
stop() {
  kill -INT "$tracer"
  wait "$tracer" || true
}
trap 'kill -KILL $tracer 2>/dev/null || true' EXIT
rate() { sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$1"; }
echo "round off/s on/s on/off"
for r in $(seq "$rounds"); do
  off=$(perf stat -x, -e task-clock "$load" fork --workers 2 --duration 5 2>&1)
  start
  on=$(perf stat -x, -e task-clock "$load" fork --workers 2 --duration 5 2>&1)
  stop
  awk -v r="$r" -v a="$(rate "$off")" -v b="$(rate "$on")" \
    'BEGIN { printf "%d %.0f %.0f %.1f%%\n", r, a, b, 100 * b / a }'
done
for state in off on; do
  [ "$state" = on ] && start
  perf record -q -a -F 1999 -o "$out/perf.$state.data" -- \
    "$load" fork --workers 2 --duration 6 >/dev/null 2>&1
  [ "$state" = on ] && stop
done
echo "profiles: $out/perf.off.data $out/perf.on.data"
