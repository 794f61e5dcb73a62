# kiln — top-level entry points. `make demo` runs the main job; `make test` runs the whole suite.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
SHARED ?= $(abspath ../shared)

.PHONY: all deps configure build test demo clean

all: build

deps:
	@if [ "$$(id -u)" -eq 0 ]; then scripts/install-deps.sh; else scripts/install-deps.sh || true; fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DKILN_SHARED_DIR=$(SHARED)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# For now the main job runs the reference runtime on a shared real model (MobileNetV2, a tulip photo)
# and prints its outputs; a later issue turns it into build + compare of FP32/FP16/INT8 engines.
demo: build
	@model=$(SHARED)/models/st_mobilenet_v2_0.35_128_flowers_fp32; \
	if [ ! -d $$model ]; then echo "demo: shared models not found at $(SHARED)/models"; exit 1; fi; \
	mkdir -p out/demo && \
	$(BUILD_DIR)/tools/kiln run $$model/mobilenet_v2_0.35_128_tfs_channel_first.onnx \
	    --input $$model/test_data_set_0/input_0.pb --output-dir out/demo && \
	echo "labels: $$(tr '\n' ' ' < $$model/labels_tf_flowers.txt)"

clean:
	rm -rf $(BUILD_DIR) out
