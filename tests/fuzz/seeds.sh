# shellcheck shell=bash
# shellcheck disable=SC2154 # $here and $shared come from the script that sources this
# Sourced by run_smoke.sh and run_long_parallel.sh: where a target's seeds
# and dictionary come from. Needs $here (tests/fuzz) and $shared ($QLM_SHARED).
#
# Seeds for target fuzz_NAME (any number of these may exist):
#   tests/fuzz/corpus/fuzz_NAME/      committed seed files (small, generated)
#   tests/fuzz/corpus/fuzz_NAME.shared  one path per line, relative to
#                                     $QLM_SHARED (e.g. small real GGUFs);
#                                     a listed file that is missing fails the run
#   tests/fuzz/dict/*.dict          libFuzzer dictionary (-dict) for the text
#                                     formats, chosen by dict_of below
max_seed_bytes=$((4 << 20))

dict_of() {
  case $1 in
    fuzz_json|fuzz_tok_load|fuzz_cli) echo "$here/dict/json.dict" ;;
    fuzz_template|fuzz_template_msgs) echo "$here/dict/template.dict" ;;
    fuzz_repl) echo "$here/dict/repl.dict" ;;
  esac
}

# copy_shared_seeds NAME DEST: the $QLM_SHARED files listed for NAME into DEST.
copy_shared_seeds() {
  local name=$1 dest=$2 rel src size
  [ -f "$here/corpus/$name.shared" ] || return 0
  while IFS= read -r rel; do
    case $rel in ''|'#'*) continue ;; esac
    src=$shared/$rel
    [ -f "$src" ] || { echo "$name: seed $src missing (set QLM_SHARED)" >&2; return 1; }
    size=$(stat -c %s "$src")
    [ "$size" -le $max_seed_bytes ] || { echo "$name: seed $src is $size bytes (limit $max_seed_bytes)" >&2; return 1; }
    cp "$src" "$dest/$(echo "$rel" | tr / _)"
  done < "$here/corpus/$name.shared"
}
