# Thin wrapper over CMake/CTest. `make demo` and `make test` install missing Debian
# packages first (scripts/install-deps.sh, needs root), configure, build, then run.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
SPEC ?= examples/tiny.toml

.PHONY: all deps configure build test demo corpus clean fuzz sanitize

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

corpus: build
	@scripts/prepare-corpus.sh $(BUILD_DIR)/tessera

test: deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

demo: deps
	@$(MAKE) --no-print-directory corpus
	$(BUILD_DIR)/tessera demo --spec $(SPEC)

# libFuzzer targets in build-fuzz/ (clang-14, ASan); run them with bench/fuzz.sh.
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_FUZZ=ON -DTESSERA_CUDA=OFF \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address" -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address"
	cmake --build build-fuzz -j $(JOBS) --target fuzz_submission fuzz_delta fuzz_checkpoint fuzz_substrate

# Every test under AddressSanitizer and UndefinedBehaviorSanitizer (gcc) in build-asan/:
# about an hour to build on two cores, so not part of `make test` (docs/protocol.md). The
# tests keep their own limits (120 s each), which the end-to-end and CLI tests outrun
# under ASan; ctest's --timeout would not raise them, so none is passed.
# Leak checking is off: torch and protobuf keep their registries until exit. ASan's
# quarantine of freed memory is cut to 16 MiB so the tests that bound a node's resident
# memory measure the node, not the quarantine (256 MiB by default); the crash tests
# preload the power-cut shim ahead of the ASan runtime, which ASan allows when told.
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer
sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_CUDA=OFF \
	  -DCMAKE_CXX_FLAGS="$(SANITIZE_FLAGS)" -DCMAKE_C_FLAGS="$(SANITIZE_FLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE_FLAGS)" -DCMAKE_SHARED_LINKER_FLAGS="$(SANITIZE_FLAGS)"
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=16:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR) build-fuzz build-asan
