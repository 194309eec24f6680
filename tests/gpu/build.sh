#!/bin/sh
# Build the CUDA reference programs into ${1:-build/gpu}. Run from the repo root.
# -fmad=false: no implicit FMA contraction (qlm is compiled with -ffp-contract=off;
# the kernels call fmaf where their contract says so).
set -e
out=${1:-build/gpu}
src=$(dirname "$0")
mkdir -p "$out"
gcc -std=c11 -O2 -I. -c formats/common/hash.c -o "$out/hash.o"
gcc -std=c11 -O2 -I. -c tests/common/gpu_cases.c -o "$out/gpu_cases.o"
nvcc -std=c++17 -O2 -arch=sm_90a -fmad=false -I. -Xcompiler -fopenmp \
    "$src/cvt_digest.cu" "$out/hash.o" -o "$out/cvt_digest"
nvcc -std=c++17 -O2 -arch=sm_90a -fmad=false -I. \
    "$src/gemm_ref.cu" "$out/gpu_cases.o" -o "$out/gemm_ref"
