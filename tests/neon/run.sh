#!/usr/bin/env bash
# NEON kernels under qemu: cross-compile the kernel checks for aarch64
# (Debian gcc-aarch64-linux-gnu), run them under qemu-aarch64 (qemu-user),
# and require (1) every NEON kernel bit-identical to the aarch64 scalar
# reference and (2) the aarch64 reference outputs identical to the x86 ones,
# by SHA-256 digest of the same cases run natively. Hence NEON == x86.
set -euo pipefail
cd "$(dirname "$0")/../.."
CC_ARM=${CC_ARM:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
for t in "$CC_ARM" "$QEMU" cc; do
  command -v "$t" >/dev/null || { echo "neon: $t not found (apt-get install gcc-aarch64-linux-gnu qemu-user)" >&2; exit 1; }
done
out=${NEON_BUILD:-build/neon}
mkdir -p "$out"
flags=(-std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -ffp-contract=off -fno-math-errno -I.)
common=(formats/common/err.c formats/common/hash.c simd/ref/*.c simd/cpu.c simd/dispatch.c
        tests/common/kcheck.c tests/neon/kcheck_main.c)

# aarch64: the NEON files get their ISA flags, as CMake gives them
objs=()
for f in simd/arm/neon/*.c; do
  o="$out/$(basename "$f" .c).o"
  "$CC_ARM" "${flags[@]}" -DQLM_HAVE_NEON=1 -march=armv8.2-a+dotprod+fp16 -c "$f" -o "$o"
  objs+=("$o")
done
"$CC_ARM" "${flags[@]}" -DQLM_HAVE_NEON=1 "${common[@]}" "${objs[@]}" -o "$out/kcheck-aarch64" -lm
# host: scalar reference only, for the digest
cc "${flags[@]}" "${common[@]}" -o "$out/kcheck-host" -lm

host=$("$out/kcheck-host")
echo "$host"
arm=$("$QEMU" -L /usr/aarch64-linux-gnu "$out/kcheck-aarch64") || { echo "$arm"; echo "neon: FAILED" >&2; exit 1; }
echo "$arm"
fams="elementwise quant_act mm_quant mm_float"
for f in $fams; do
  grep -q "^neon $f: [1-9][0-9]* passed, 0 failed" <<<"$arm" || { echo "neon: $f did not pass" >&2; exit 1; }
done
hd=$(grep '^reference digest ' <<<"$host" | sort)
ad=$(grep '^reference digest ' <<<"$arm" | sort)
[ "$(wc -l <<<"$hd")" -eq 4 ] && [ "$hd" = "$ad" ] || { echo "neon: aarch64 reference digests differ from the host's" >&2; exit 1; }
echo "neon: all NEON kernels bit-identical to the reference; reference digests equal on aarch64 and host"
