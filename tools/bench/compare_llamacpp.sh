#!/usr/bin/env bash
# qlm vs llama.cpp, side by side in one sitting, on the same weights.
#
#   tools/bench/compare_llamacpp.sh LLAMA_BUILD_DIR OUTDIR [ROWS]
#
# For each row (shape:type, default: the seven of issue #6 and README
# "Performance"): `qlm synth` (synthetic weights, real shape, seed 1) ->
# `qlm convert --type q4|q8` -> build/qlm2gguf, then, alternating which runs
# first from row to row,
#   qlm bench   -m X.qlm  -p $PP -n $TG -t $THREADS -r $REPS --json
#   llama-bench -m X.gguf -p $PP -n $TG -t $THREADS -r $REPS -o json
# and tools/bench/compare_report.py collects everything into
# OUTDIR/results.json and prints (and writes OUTDIR/results.md) the table.
#
# Both programs get the same environment: nothing is pinned and no OpenMP
# variable is set unless you export one (it is recorded in results.json).
# Waiting threads: llama.cpp built with GGML_OPENMP synchronises with OpenMP
# barriers, so libgomp's default applies (spin ~300,000 rounds, then sleep);
# qlm's CLI sets GOMP_SPINCOUNT=10000 (spin briefly, then sleep) unless
# OMP_WAIT_POLICY or GOMP_SPINCOUNT is set; export either to give both the
# same policy. Run it on an otherwise idle machine.
#
# ROWS: comma-separated shape:type, shapes smollm2-135m qwen2.5-0.5b
# qwen3-0.6b llama-3.2-1b, types q4 q8 (e.g. smollm2-135m:q4,qwen3-0.6b:q8).
# Environment: REPS (5), THREADS (1,2), PP (512), TG (128), QLM (build/qlm),
# QLM2GGUF (build/qlm2gguf), QLM_SHARED (../shared), NICE (a command prefix
# for the benchmarks, e.g. "nice -n 19" on a shared box; empty by default).
# Model files stay in OUTDIR and a later run reuses those newer than build/qlm
# and build/qlm2gguf (the weights are deterministic); the synthetic bf16
# Hugging Face folders are deleted.
set -euo pipefail

die() { echo "compare_llamacpp: $*" >&2; exit 1; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
llama_build=$(cd "$1" && pwd) || die "no directory $1"
outdir=$2
rows=${3:-smollm2-135m:q4,smollm2-135m:q8,qwen2.5-0.5b:q4,qwen2.5-0.5b:q8,qwen3-0.6b:q4,qwen3-0.6b:q8,llama-3.2-1b:q4}
REPS=${REPS:-5} THREADS=${THREADS:-1,2} PP=${PP:-512} TG=${TG:-128} NICE=${NICE:-}
QLM=${QLM:-$root/build/qlm}
QLM2GGUF=${QLM2GGUF:-$root/build/qlm2gguf}
QLM_SHARED=${QLM_SHARED:-$root/../shared}
export QLM_SHARED

llama_bench=$llama_build/bin/llama-bench
[ -x "$llama_bench" ] || die "$llama_bench not found: build llama.cpp's llama-bench first (README: Comparing with llama.cpp)"
[ -x "$QLM" ] || die "$QLM not found: run make"
[ -x "$QLM2GGUF" ] || die "$QLM2GGUF not found: run make"
[ -f "$QLM_SHARED/golden/synth.json" ] || die "no $QLM_SHARED/golden/synth.json (set QLM_SHARED)"
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# The Llama-3.2-1B shape (not in synth.json): 16 layers, dim 2048, ffn 8192,
# 32 heads, 8 KV heads, vocab 128256, tied embeddings. No llama3 RoPE scaling
# (qlm2gguf does not export it); the cost of RoPE does not depend on it.
# SmolLM2's tokenizer stands in for Llama 3's (padded to 128256 rows).
llama1b_config() {
    cat > "$1" <<'EOF'
{"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192,
 "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
 "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
 "tie_word_embeddings": true}
EOF
}

tokenizer_of() {
    case $1 in
    smollm2-135m|llama-3.2-1b) echo "$QLM_SHARED/models/tokenizers/smollm2-135m-instruct" ;;
    qwen2.5-0.5b|qwen3-0.6b) echo "$QLM_SHARED/models/tokenizers/qwen3-0.6b" ;;
    *) die "unknown shape '$1' (smollm2-135m qwen2.5-0.5b qwen3-0.6b llama-3.2-1b)" ;;
    esac
}

# OUTDIR/SHAPE-TYPE.qlm and .gguf, made again only when older than the
# programs that make them (a rebuilt qlm may write another layout).
prepare() {
    local shape=$1 type=$2 qlm=$outdir/$1-$2.qlm gguf=$outdir/$1-$2.gguf hf=$outdir/hf-$1
    if [ ! -f "$qlm" ] || [ "$QLM" -nt "$qlm" ]; then
        if [ ! -f "$hf/model.safetensors" ]; then
            local config="$QLM_SHARED/golden/synth.json#$shape"
            if [ "$shape" = llama-3.2-1b ]; then
                config=$outdir/llama-3.2-1b-config.json
                llama1b_config "$config"
            fi
            echo "== synth $shape" >&2
            "$QLM" synth --config "$config" --tokenizer "$(tokenizer_of "$shape")" --seed 1 -o "$hf" >&2
        fi
        echo "== convert $shape $type" >&2
        "$QLM" convert "$hf" -o "$qlm" --type "$type" --quiet >&2
    fi
    if [ ! -f "$gguf" ] || [ "$qlm" -nt "$gguf" ] || [ "$QLM2GGUF" -nt "$gguf" ]; then
        echo "== qlm2gguf $shape $type" >&2
        "$QLM2GGUF" "$qlm" "$gguf" >&2
    fi
}

# A row's two benchmarks; $3 = 1: llama.cpp first.
bench_row() {
    local shape=$1 type=$2 llama_first=$3 base=$outdir/$1-$2
    local run_qlm=("$QLM" bench -m "$base.qlm" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" --json)
    local run_llama=("$llama_bench" -m "$base.gguf" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" -o json)
    local order="qlm llama"
    [ "$llama_first" = 1 ] && order="llama qlm"
    for who in $order; do
        local t0 t1
        t0=$(date +%s.%N)
        if [ "$who" = qlm ]; then
            echo "== qlm bench $shape $type" >&2
            $NICE "${run_qlm[@]}" > "$base.qlm.jsonl"
        else
            echo "== llama-bench $shape $type" >&2
            $NICE "${run_llama[@]}" > "$base.llama.json" 2> "$base.llama.log" ||
                { tail -5 "$base.llama.log" >&2; die "llama-bench failed on $base.gguf (log: $base.llama.log)"; }
        fi
        t1=$(date +%s.%N)
        echo "$who $(awk "BEGIN { print $t1 - $t0 }")" >> "$base.seconds"
    done
}

IFS=, read -r -a row_list <<< "$rows"
for r in "${row_list[@]}"; do
    case $r in *:q4|*:q8) ;; *) die "bad row '$r' (want shape:q4 or shape:q8)" ;; esac
    tokenizer_of "${r%:*}" > /dev/null
done

start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
i=0
for r in "${row_list[@]}"; do
    shape=${r%:*} type=${r#*:}
    prepare "$shape" "$type"
    # The bf16 folder is needed again only for the shape's other type.
    if ! printf '%s\n' "${row_list[@]:i+1}" | grep -q "^$shape:"; then
        rm -rf "$outdir/hf-$shape"
    fi
    rm -f "$outdir/$shape-$type.seconds"
    bench_row "$shape" "$type" $((i % 2))
    i=$((i + 1))
done

python3 "$here/compare_report.py" --outdir "$outdir" --rows "$rows" --llama-build "$llama_build" --qlm "$QLM" \
    --source "$root" --start "$start" --load-before "$load_before" --reps "$REPS" --threads "$THREADS" \
    --pp "$PP" --tg "$TG" --nice "$NICE"
