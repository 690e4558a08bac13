# Entry points named in README.md. Each one installs what is missing, builds, then runs.
BUILD ?= build
SAN_BUILD ?= build-san
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

PREFIX ?= /usr/local
.PHONY: install setup build demo test test-sanitize test-tsan fuzz check-style bench selfsoak clean

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2

# The sanitizer build CI runs: -Werror, address and undefined sanitizers, Debug assertions.
# The labelled corpus (label `corpus`) and the real-program corpus (label `real`) are
# release-build checks of numbers: skipped here.
test-sanitize: setup
	@cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOAK_WERROR=ON -DSOAK_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	@cd $(SAN_BUILD) && ctest --output-on-failure -j 2 -LE 'corpus|real|slow'

# The thread-sanitizer build: the same suite but the two corpora (labels `corpus` and `real`:
# numbers in one thread, which TSan slows past its timeouts and has nothing to check in).
TSAN_BUILD ?= build-tsan
test-tsan: setup
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOAK_WERROR=ON -DSOAK_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	@cd $(TSAN_BUILD) && ctest --output-on-failure -j 2 -LE 'corpus|real|slow'

# libFuzzer targets for every parser (fuzz/README.md): a clang build with ASan/UBSan, then each
# target for FUZZ_SECONDS over a copy of its committed corpus; fails on the first crash and
# prints the crashing input's path. -O1 and line tables only: the usual fuzzing build, and the
# Beast-heavy libraries compile in a fraction of -O2 -g's time (the build is part of CI's budget).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_JOBS ?= 2
CCACHE_FLAG := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fuzz: setup
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DSOAK_FUZZ=ON -DSOAK_BUILD_TESTS=OFF -DSOAK_BUILD_BENCH=OFF $(CCACHE_FLAG) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) bash fuzz/run.sh $(FUZZ_BUILD)

# clang-format over every C++ file and no product function over 100 lines (CI runs it).
check-style: build
	@bash scripts/check-style.sh $(BUILD)

bench: build
	@bash scripts/setup.sh bench
	@bash scripts/bench.sh $(BUILD)

# soak's own cost over a long run (bench/selfsoak.cpp): `soak attach` at 10ms and 1ms on a
# steady process and a scenario with load, side by side, each for HOURS (or MINUTES; default 30
# minutes); prints soak's RSS and disk over time and its CPU per sample against the floor.
HOURS ?=
MINUTES ?= 30
SELFSOAK_FLAGS ?=
selfsoak: build
	@$(BUILD)/bench/selfsoak --build $(BUILD) $(if $(HOURS),--hours $(HOURS),--minutes $(MINUTES)) $(SELFSOAK_FLAGS)

# soak, its man page and bash completion, the example servers and scenarios (share/soak/) and the
# reference (share/doc/soak/) under PREFIX (default /usr/local).
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
