# Thin front for CMake. `make` builds build/qlm; `make test` runs the fast suite;
# `make asan` runs it under ASan+UBSan; `make test-slow` runs the slow suite.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
QLM_SHARED ?= $(abspath ../shared)
export QLM_SHARED

.PHONY: all deps qlm install test test-slow test-full asan valgrind fuzz fuzz-smoke fuzz-long clean chat soak

all: qlm

# Installs missing build dependencies (as root, via apt-get) or says what to install.
deps:
	@tools/deps.sh

build/CMakeCache.txt: | deps
	$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=Release

qlm: build/CMakeCache.txt
	$(CMAKE) --build build -j $(JOBS)

# `make install PREFIX=/some/dir`: libqlm.so.0, libqlm.a, qlm.h, qlm.pc, the
# CMake package (find_package(qlm)), the qlm binary and its man page.
PREFIX ?= /usr/local
install: qlm
	$(CMAKE) --install build --prefix "$(PREFIX)"

test: qlm
	cd build && ctest -L fast --output-on-failure -j $(JOBS)

test-slow: qlm
	cd build && ctest -L slow --output-on-failure -j $(JOBS)

# Exhaustive sweeps (all 2^32 inputs of every GPU conversion: ~4 min on an
# idle 2-core machine); the fast suite checks a sample of the same digests.
test-full: qlm
	cd build && ctest -L full --output-on-failure -j $(JOBS)

build-asan/CMakeCache.txt: | deps
	$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQLM_SANITIZE=ON

asan: build-asan/CMakeCache.txt
	$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest -L fast --output-on-failure -j $(JOBS)

# valgrind memcheck on a representative subset of tests and CLI runs: any
# error or definitely lost block fails (tests/valgrind/run.sh says which).
valgrind: qlm
	tests/valgrind/run.sh build

build-fuzz/CMakeCache.txt: | deps
	@tools/deps.sh clang libclang-rt-dev
	CC=clang CFLAGS="-fsanitize=fuzzer-no-link" $(CMAKE) -S . -B build-fuzz \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DQLM_SANITIZE=ON -DQLM_FUZZ=ON -DQLM_TESTS=OFF

fuzz: build-fuzz/CMakeCache.txt
	$(CMAKE) --build build-fuzz -j $(JOBS)

# Every fuzz target on its seed corpus (tests/fuzz/corpus/NAME): a fixed seed
# and run count, so it is reproducible (CI runs this); FUZZ_SECONDS is a cap.
FUZZ_SECONDS ?= 120
fuzz-smoke: fuzz
	tests/fuzz/run_smoke.sh build-fuzz $(FUZZ_SECONDS)

# Open-ended random fuzzing (not run by CI), at the lowest priority:
# `make fuzz-long TARGET=fuzz_json SECONDS=3600` (default: every target, 600 s
# each). The corpus grown in build-fuzz/fuzz-work/ is kept for the next run.
FUZZ_LONG_SECONDS ?= 600
SECONDS ?= $(FUZZ_LONG_SECONDS)
TARGET ?=
fuzz-long: fuzz
	FUZZ_SEED=0 FUZZ_RUNS=-1 FUZZ_TARGETS="$(TARGET)" FUZZ_WORK=$(CURDIR)/build-fuzz/fuzz-work \
		nice -n 19 tests/fuzz/run_smoke.sh build-fuzz $(SECONDS)

# `make chat`: build, get the default model (or MODEL=catalogue-name | path to a
# .qlm/.gguf/HF folder), convert it once, and chat. CHAT_FLAGS go to qlm chat.
MODEL ?=
CHAT_FLAGS ?=
chat: qlm
	@out=$$(QLM=build/qlm models/get.sh "$(MODEL)") || exit 1; \
	model=$$(printf '%s\n' "$$out" | sed -n 1p); tpl=$$(printf '%s\n' "$$out" | sed -n 2p); \
	exec build/qlm chat -m "$$model" --template "$$tpl" $(CHAT_FLAGS)

# 2,000 chat turns in a 64-token context; resident memory must stay flat.
soak: qlm
	cd build && ctest -R '^test_chat_soak$$' --output-on-failure -V

clean:
	rm -rf build build-asan build-fuzz
