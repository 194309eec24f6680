#!/usr/bin/env bash
# valgrind memcheck on a representative subset (issue #10): the .qlm reader
# and its malformed-input suite, both tokenizers, the template engine, the
# fuzz-corpus replays of the JSON/GGUF/safetensors parsers, and the CLI end
# to end: convert, run (prompt + generation on stories260K), template,
# tokenize. Any memcheck error or definitely lost block fails the run
# (--error-exitcode); "possibly lost" (OpenMP's thread pool) is reported but
# not an error.
# Usage: tests/valgrind/run.sh BUILD_DIR     (make valgrind)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../..
shared=${QLM_SHARED:-$src/../shared}
export QLM_SHARED=$shared QLM_BIN=$build/qlm
# main() re-executes itself to set this; under valgrind set it up front.
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)" >&2; exit 1; }
scratch=$(mktemp -d /tmp/qlm-valgrind.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
vg=(valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
    --error-exitcode=99 --track-fds=no --quiet)
n=0
failed=()
check() { # expected exit status, label, command...
  local want=$1 label=$2 rc=0 t0=$SECONDS; shift 2
  n=$((n + 1))
  "${vg[@]}" --log-file="$scratch/vg-$n.log" "$@" >"$scratch/out-$n.log" 2>&1 || rc=$?
  echo "=== valgrind: $label ($((SECONDS - t0)) s)"
  if [ "$rc" -ne "$want" ]; then
    echo "valgrind: $label: exit $rc, expected $want" >&2
    cat "$scratch/vg-$n.log" >&2
    tail -20 "$scratch/out-$n.log" >&2
    failed+=("$label")
  fi
}
cd "$build"
c=$src/tests/fuzz/corpus
for t in test_qlmfile test_qlmfile_malformed test_tokenizer_spm test_tokenizer_bpe test_template_engine; do
  check 0 "$t" "$build/$t"
done
for t in json gguf safetensors template template_msgs; do
  check 0 "replay fuzz_$t" "$build/replay_fuzz_$t" $(ls -d "$c/fuzz_$t" "$c/fuzz_$t.shared" 2>/dev/null)
done
m=$shared/models/stories260K
check 0 "qlm convert (llama2.c -> q8)" "$build/qlm" convert "$m/stories260K.bin" --tokenizer "$m/tok512.bin" \
  -o "$scratch/s.qlm" --quiet
check 0 "qlm convert (GGUF q4_0)" "$build/qlm" convert "$m/stories260K-q4_0.gguf" -o "$scratch/g.qlm" --quiet
check 0 "qlm run" "$build/qlm" run -m "$scratch/s.qlm" -p "Once upon a time" -n 24 --temp 0.8 --seed 7
check 0 "qlm run (invalid UTF-8 prompt)" "$build/qlm" run -m "$scratch/g.qlm" -p $'\xff\xc3( x' -n 4 --temp 0
check 0 "qlm inspect --verify" "$build/qlm" inspect --verify "$scratch/s.qlm"
printf '%s' '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
 "add_generation_prompt": true}' >"$scratch/vars.json"
for tpl in chatml llama3 qwen3; do
  check 0 "qlm template $tpl" "$build/qlm" template "$tpl" "$scratch/vars.json"
done
check 0 "qlm tokenize" "$build/qlm" tokenize -m "$shared/models/tokenizers/smollm2-135m-instruct/tokenizer.json" \
  --pieces "Hello <|im_start|> world ü 12345"
truncate -s 5000 "$scratch/s.qlm"
check 1 "qlm run on a truncated model (error path)" "$build/qlm" run -m "$scratch/s.qlm" -n 1
if [ ${#failed[@]} -gt 0 ]; then
  echo "valgrind: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "valgrind: $n runs, no memcheck errors, no definite leaks"
