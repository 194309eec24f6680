#!/usr/bin/env bash
# CI: install libqlm into a temporary prefix, build the examples against the
# installed copy (generate through pkg-config, and through find_package(qlm)),
# and check generate's greedy output on stories260K equals `qlm run --temp 0`.
# usage: examples/ci.sh BUILD_DIR   (QLM_SHARED must be set)
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d /tmp/qlm-examples.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
for ex in generate chat; do
  cc -std=c11 -Wall -Wextra -Werror -o "$tmp/$ex-pc" examples/$ex.c $(pkg-config --cflags --libs qlm)
done
cmake -S examples -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$tmp/ex" >/dev/null
export LD_LIBRARY_PATH="$tmp/prefix/lib"
"$tmp/prefix/bin/qlm" convert "$QLM_SHARED/models/stories260K/stories260K-f32.gguf" -o "$tmp/s.qlm" --type f32 --quiet
prompt="Once upon a time"
"$tmp/prefix/bin/qlm" run -m "$tmp/s.qlm" -p "$prompt" -n 40 --temp 0 >"$tmp/want.txt"
"$tmp/generate-pc" "$tmp/s.qlm" "$prompt" 40 >"$tmp/pc.txt"
"$tmp/ex/generate" "$tmp/s.qlm" "$prompt" 40 >"$tmp/cm.txt"
diff <(tr -d '\n' <"$tmp/want.txt") <(tr -d '\n' <"$tmp/pc.txt")
diff "$tmp/pc.txt" "$tmp/cm.txt"
# chat: two turns, two replies, the find_package build saying the same.
printf 'Hello\nTell me a story\n' | "$tmp/chat-pc" "$tmp/s.qlm" 20 >"$tmp/chat-pc.txt"
printf 'Hello\nTell me a story\n' | "$tmp/ex/chat" "$tmp/s.qlm" 20 >"$tmp/chat-cm.txt"
[ "$(grep -c '^assistant: ' "$tmp/chat-pc.txt")" = 2 ]
diff "$tmp/chat-pc.txt" "$tmp/chat-cm.txt"
echo "examples: pkg-config and find_package builds match qlm run: $(head -c 60 "$tmp/pc.txt")..."
