#!/usr/bin/env bash
# One fuzz test: runs TARGET for SECONDS over a scratch copy of its
# committed corpus (every committed input, regressions included, runs
# first), plus, for fuzz_records, seeds made from bpf/event.h. Fails on a
# crash, a leak, a timeout (10 s per input), memory past 2 GiB or a failed
# check; the input that did it is kept in $PIDTREE_FUZZ_ARTIFACTS (default
# BUILD/artifacts) and named on stderr. New inputs stay in the scratch
# corpus, not in the tree.
#   run.sh TARGET CORPUS SECONDS [MAKE_RECORD_SEEDS]
set -euo pipefail
target=$1 corpus=$2 seconds=$3 make_seeds=${4:-}
name=$(basename "$target")
artifacts=${PIDTREE_FUZZ_ARTIFACTS:-$(dirname "$target")/../../artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d /tmp/pidtree-fuzz-corpus.XXXXXX)
shm=/dev/shm
[ -w "$shm" ] || shm=/tmp
# Where the target writes the files it parses (fuzz_util.h).
export PIDTREE_FUZZ_SCRATCH
PIDTREE_FUZZ_SCRATCH=$(mktemp -d "$shm/pidtree-fuzz.XXXXXX")
trap 'rm -rf "$work" "$PIDTREE_FUZZ_SCRATCH"' EXIT
if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
  echo "run.sh: no seed corpus at $corpus" >&2
  exit 1
fi
cp "$corpus"/* "$work"/
if [ "$name" = fuzz_records ] && [ -n "$make_seeds" ]; then
  "$make_seeds" "$work"
fi
echo "fuzzing $name for ${seconds}s from $(ls "$work" | wc -l) inputs"
status=0
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$artifacts/$name-" "$work" >"$work.log" 2>&1 ||
  status=$?
# The start (what was loaded) and the end (a report, or the final stats).
head -n 12 "$work.log"
echo "..."
tail -n 60 "$work.log"
rm -f "$work.log"
if [ "$status" != 0 ]; then
  echo "run.sh: $name failed (exit $status); inputs in $artifacts:" >&2
  ls -1 "$artifacts" | grep "^$name-" >&2 || true
fi
exit "$status"
