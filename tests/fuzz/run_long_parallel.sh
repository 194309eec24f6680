#!/usr/bin/env bash
# Long parallel fuzzing on a bigger machine: every fuzz target at once, each
# with libFuzzer's fork mode (-fork=JOBS_PER_TARGET worker processes), for
# SECONDS, then a summary table.
# Usage: tests/fuzz/run_long_parallel.sh BUILD_DIR OUTDIR SECONDS JOBS_PER_TARGET
#
#   BUILD_DIR  where `make fuzz` put the fuzz_* binaries (build-fuzz)
#   OUTDIR     created; per target NAME: OUTDIR/NAME/corpus (its own copy of
#              the seeds, grown by the run), OUTDIR/NAME/crashes (crash-*,
#              timeout-*, oom-*, leak-* inputs), OUTDIR/NAME/log;
#              OUTDIR/summary.txt is the table printed at the end
#   SECONDS    wall time per target (all targets run at the same time)
#   JOBS_PER_TARGET  fork-mode workers per target: targets x jobs processes
#              run at once, so about (cores / number of targets) per target
#
# Each target gets a fixed -seed (1000 + its index in name order), so a run
# on the same machine and build repeats its first steps; the fork-mode
# parent derives its workers' seeds from it. Crashes, timeouts and OOMs do
# not stop a target (-ignore_crashes etc.): every one is kept in crashes/.
# Needs $QLM_SHARED (default ../shared beside the checkout) for the seeds
# listed in corpus/*.shared and for fuzz_cli/fuzz_repl's model files.
# FUZZ_TARGETS (names, space-separated) runs only those.
# Exit status: 0 if no target left a crash file, 1 if any did, 2 on misuse.
# Nothing is left in /tmp: the targets clean up their scratch folders
# (fuzz_scratch.h), including when this script is interrupted.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BUILD_DIR OUTDIR SECONDS JOBS_PER_TARGET" >&2; exit 2; }
build=$1
out=$2
secs=$3
jobs=$4
case $secs$jobs in *[!0-9]*) echo "$0: SECONDS and JOBS_PER_TARGET must be whole numbers" >&2; exit 2 ;; esac
if [ "$secs" -lt 1 ] || [ "$jobs" -lt 1 ]; then
  echo "$0: SECONDS and JOBS_PER_TARGET must be at least 1" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
shared=${QLM_SHARED:-$here/../../../shared}
[ -d "$shared" ] || { echo "$0: QLM_SHARED=$shared is not a folder" >&2; exit 2; }
QLM_SHARED=$(cd "$shared" && pwd)
export QLM_SHARED
. "$here/seeds.sh"

targets=()
for t in "$build"/fuzz_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  case " ${FUZZ_TARGETS:-$(basename "$t")} " in *" $(basename "$t") "*) ;; *) continue ;; esac
  targets+=("$(cd "$(dirname "$t")" && pwd)/$(basename "$t")")
done
[ ${#targets[@]} -gt 0 ] || { echo "$0: no fuzz_* targets in $build (build them with 'make fuzz')" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

for t in "${targets[@]}"; do # every seed in place before anything starts
  name=$(basename "$t")
  mkdir -p "$out/$name/corpus" "$out/$name/crashes"
  [ -d "$here/corpus/$name" ] && cp -r "$here/corpus/$name/." "$out/$name/corpus/"
  copy_shared_seeds "$name" "$out/$name/corpus" || exit 2
done

pids=()
trap 'kill -INT "${pids[@]}" 2>/dev/null; wait' INT TERM
i=0
for t in "${targets[@]}"; do
  name=$(basename "$t")
  dir=$out/$name
  dict=$(dict_of "$name")
  # Fork mode writes new inputs into the corpus folder (an absolute path:
  # fuzz_cli and fuzz_repl change folder); -close_fd_mask=1
  # drops the targets' stdout (fuzz_cli's and fuzz_repl's command output).
  (cd "$dir" && exec "$t" ${dict:+-dict="$dict"} -fork="$jobs" -seed=$((1000 + i)) -max_total_time="$secs" \
      -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=20 -rss_limit_mb=2560 \
      -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$dir/crashes/" "$dir/corpus" >"$dir/log" 2>&1) &
  pids+=($!)
  i=$((i + 1))
done
echo "run_long_parallel: ${#targets[@]} targets x $jobs workers for ${secs}s; logs in $out/*/log"
status=0
wait "${pids[@]}" || true

# The last status line of a fork-mode run: "#EXECS: cov: N ft: N corp: ...".
stat_of() { # LOG FIELD
  grep -aE '^#[0-9]+.* cov: ' "$1" | tail -1 | tr ' ' '\n' | awk -v f="$2:" 'prev == f { print; exit } { prev = $0 }'
}
{
  printf '%-20s %14s %8s %8s %8s\n' target execs cov ft crashes
  for t in "${targets[@]}"; do
    name=$(basename "$t")
    log=$out/$name/log
    execs=$(grep -aE '^#[0-9]+.* cov: ' "$log" | tail -1 | sed -E 's/^#([0-9]+).*/\1/')
    crashes=$(find "$out/$name/crashes" -type f | wc -l)
    [ "$crashes" -eq 0 ] || status=1
    printf '%-20s %14s %8s %8s %8s\n' "$name" "${execs:-?}" "$(stat_of "$log" cov)" "$(stat_of "$log" ft)" "$crashes"
  done
} | tee "$out/summary.txt"
[ $status -eq 0 ] || echo "run_long_parallel: crash inputs in $out/*/crashes (replay: BUILD/replay_fuzz_NAME FILE)" >&2
exit $status
