# The two commands a newcomer runs: `make run` and `make test`.
BUILD_DIR ?= build/release
SAN_DIR   ?= build/sanitize
JOBS      ?= $(shell nproc)
CMAKE_GEN := -G Ninja

.PHONY: run test build bootstrap sanitize-test soak bench fuzz clean format

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/build.ninja: CMakeLists.txt | bootstrap
	cmake -S . -B $(BUILD_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

build: bootstrap $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts the system: `bourse serve` with embedded defaults (127.0.0.1:8080,
# ./data, demo market) until Ctrl-C. SERVE_ARGS adds flags, e.g. --simulate.
SERVE_ARGS ?=
run: build
	$(BUILD_DIR)/bourse serve $(SERVE_ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE soak

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
# alloc_dealloc_mismatch=0: Debian's libsimdjson.so (not instrumented)
# allocates with new[] and frees through an inlined delete[] that reaches
# ASan as free(): a false report from the library boundary, not our code.
sanitize-test: bootstrap
	cmake -S . -B $(SAN_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOURSE_SANITIZE=ON
	cmake --build $(SAN_DIR) -j $(JOBS)
	cd $(SAN_DIR) && BOURSE_TEST_SCALE=sanitize ASAN_OPTIONS=alloc_dealloc_mismatch=0 ctest --output-on-failure -j $(JOBS) -LE soak

# Long randomized runs (>= 10,000,000 commands); not part of `make test`.
soak: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L soak

bench: build
	$(BUILD_DIR)/bourse bench engine

# libFuzzer builds of every parser fuzzer (clang).
fuzz:
	@scripts/bootstrap --fuzz
	CXX=clang++ cmake -S . -B build/fuzz $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOURSE_LIBFUZZER=ON
	cmake --build build/fuzz -j $(JOBS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf build
