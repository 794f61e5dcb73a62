# kiln — top-level entry points. `make demo` runs the main job; `make test` runs the whole suite.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
SHARED ?= $(abspath ../shared)

.PHONY: all deps configure build build-tool test demo clean

all: build

deps:
	@if [ "$$(id -u)" -eq 0 ]; then scripts/install-deps.sh; else scripts/install-deps.sh || true; fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DKILN_SHARED_DIR=$(SHARED)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Only the `kiln` command (what the demo needs): a fresh 2-core machine builds it in a few minutes.
build-tool: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kiln

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The main job on the bundled model: FP32/FP16/INT8 engines compared on the 10k test images (scripts/demo.sh).
demo: build-tool
	KILN=$(BUILD_DIR)/tools/kiln scripts/demo.sh

clean:
	rm -rf $(BUILD_DIR) out
