#!/usr/bin/env bash
# Run every built libFuzzer target for a short time; fail if any crashes.
# Usage: tests/fuzz/run_smoke.sh BUILD_DIR SECONDS
#
# The run is reproducible: a fixed seed (FUZZ_SEED, default 1) and a fixed
# number of executions per target (FUZZ_RUNS overrides the table below, sized
# so that each target finishes in well under SECONDS on an idle 2-core
# machine; SECONDS is only a safety cap). A crash CI finds is therefore found by the same command on
# a developer's machine, and CI never goes red on a new random discovery;
# open-ended random fuzzing is `make fuzz-long`. Every committed seed
# (including regress-* inputs that once crashed) is executed first.
#
# Seeds and dictionaries: tests/fuzz/seeds.sh.
# libFuzzer writes new inputs only into a scratch corpus under /tmp (or
# $FUZZ_WORK/NAME when set, which `make fuzz-long` keeps in BUILD_DIR so long
# runs build on each other), never into the repository. Crash inputs are kept
# in $FUZZ_ARTIFACTS (default BUILD_DIR/fuzz-artifacts) and named in the
# failure message. FUZZ_TARGETS (names, space-separated) limits the run.
#
# Regression rule: when a fuzzer finds a crash, fix it and commit the crash
# input as tests/fuzz/corpus/fuzz_NAME/regress-<what>. `make test` and
# `make asan` replay every corpus file through its target (tests/fuzz/
# replay.c, ctest replay_fuzz_NAME), so the bug cannot come back unseen.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR SECONDS" >&2; exit 2; }
build=$1
secs=$2
here=$(cd "$(dirname "$0")" && pwd)
shared=${QLM_SHARED:-$here/../../../shared}
artifacts=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
. "$here/seeds.sh"
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)

targets=()
for t in "$build"/fuzz_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  if [ -n "${FUZZ_TARGETS:-}" ]; then
    case " $FUZZ_TARGETS " in *" $(basename "$t") "*) ;; *) continue ;; esac
  fi
  targets+=("$t")
done
if [ -n "${FUZZ_TARGETS:-}" ] && [ ${#targets[@]} -ne $(echo $FUZZ_TARGETS | wc -w) ]; then
  echo "fuzz-smoke: FUZZ_TARGETS='$FUZZ_TARGETS' names a target not built in $build" >&2
  exit 1
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz-smoke: no fuzz_* targets in $build (build them with 'make fuzz')" >&2
  exit 1
fi

scratch=$(mktemp -d /tmp/qlm-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
  name=$(basename "$t")
  work=${FUZZ_WORK:+$FUZZ_WORK/$name}
  work=${work:-$scratch/$name/work}
  seeds=$scratch/$name/seeds
  mkdir -p "$work" "$seeds"
  dirs=("$work" "$seeds")
  [ -d "$here/corpus/$name" ] && dirs+=("$here/corpus/$name")
  copy_shared_seeds "$name" "$seeds" || exit 1
  n_seeds=$(find "${dirs[@]}" -type f | wc -l)
  case $name in # executions per target: the slow ones parse megabyte seeds
    fuzz_tok_load) runs=500 ;;
    fuzz_tokenizer) runs=1500 ;;
    fuzz_gguf | fuzz_llama2c) runs=3000 ;;
    fuzz_json) runs=10000 ;;
    fuzz_qlmzst) runs=3000 ;; # writes and fsyncs a file per input
    fuzz_repl) runs=30 ;;     # the sanitized model: ~1 s per input with turns
    fuzz_safetensors | fuzz_cli) runs=20000 ;;
    *) runs=50000 ;;
  esac
  runs=${FUZZ_RUNS:-$runs}
  echo "=== fuzz-smoke: $name: $runs runs, seed ${FUZZ_SEED:-1}, at most ${secs}s ($n_seeds seeds)"
  log=$scratch/$name.log
  dict=$(dict_of "$name")
  if "$t" ${dict:+-dict="$dict"} -seed="${FUZZ_SEED:-1}" -runs="$runs" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$name-" "${dirs[@]}" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*(DONE|cov:)' "$log" | tail -2 || true
  else
    tail -40 "$log" >&2
    echo "fuzz-smoke: $name FAILED; crash input(s): $(ls "$artifacts"/"$name"-* 2>/dev/null | tr '\n' ' ')" >&2
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz-smoke: all ${#targets[@]} targets ran their run counts (cap ${secs}s each) without a crash"
