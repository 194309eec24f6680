#!/bin/sh
# On the GPU machine, from the repo root: rebuild the CUDA programs and write
# the outputs of the SIMT reference GEMMs (GC_CASES cases per path) to $OUT.
# Here: for p in w4a16 fp8 nvfp4 mxfp4 f32 bf16 w4a16z fp8g128; do
#           zstd -19 -f OUT/gemm_$p.f32 -o tests/data/gpu/gemm_$p.f32.zst; done
# (w4a16z / fp8g128: the contract variants of docs/GPU-NUMERICS.md section 5,
# written by the --ext run.)
set -e
sh "$(dirname "$0")/build.sh" /tmp/qlm-gpu
nvidia-smi -L
/tmp/qlm-gpu/gemm_ref "$OUT"
/tmp/qlm-gpu/gemm_ref "$OUT" --ext
