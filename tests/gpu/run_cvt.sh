#!/bin/sh
# On the GPU machine, from the repo root: rebuild the CUDA programs and
# regenerate tests/data/gpu/cvt_digests.txt into $OUT (about 25 s on an H200
# with 16 host cores; the host side hashes 60 GiB of codes).
set -e
sh "$(dirname "$0")/build.sh" /tmp/qlm-gpu
nvidia-smi -L
/tmp/qlm-gpu/cvt_digest -d "$OUT/decode.bin" | sort -k1,1 -k2,2n > "$OUT/cvt_digests.txt"
