# provisiond: the one entry point for people. Everything here wraps CMake
# and the scripts under dev/, tests/, fuzz/ and bench/.
#
#   make demo    install deps, build, start the dev stack, show jobs flowing
#   make test    install deps, build, start a stack, run every test
#   make up      start the dev stack (writes .dev/env, .dev/provisiond.conf)
#   make down    stop the dev stack
#   make bench   run the benchmarks, each against its baseline
#   make deb     build the Debian packages into build-deb/packages/
#   make fuzz    run every fuzz target FUZZ_SECONDS (60) each (build-fuzz/)
#   make coverage  line and branch coverage of `make test` (build-cov/)
#   make chaos   the chaos suite alone (SEED=..., DURATION=..., Apache Kafka)
#   make soak    the soak: DURATION=2h (or 1800, 30m), faults, growth checks
#
# KAFKA=apache uses a real Apache Kafka broker instead of kafka-mock.
# SANITIZE=1 builds with ASan+UBSan (into build-asan/).
# make test runs the fuzz targets too (FUZZ_SECONDS each); FUZZ=0 skips them.

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
# chaos and soak stop and start the broker: Apache Kafka unless KAFKA is given
CHAOS_KAFKA := $(or $(KAFKA),apache)
KAFKA ?= mock
BUILD_TYPE ?= RelWithDebInfo
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
CMAKE_EXTRA += -DPV_SANITIZE=ON
else
BUILD_DIR ?= build
endif
ifneq ($(CI),)
CMAKE_EXTRA += -DCMAKE_COMPILE_WARNING_AS_ERROR=ON
endif
JOBS ?= $(shell nproc)

export KAFKA BUILD_DIR

.PHONY: all deps build up down demo test chaos soak bench deb fuzz coverage clean help

all: build

help:
	@sed -n '2,15p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@dev/deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_EXTRA) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

up: build
	@dev/stack.sh up

down:
	@dev/demo.sh stop
	@dev/stack.sh down

demo: up
	@dev/demo.sh

test: build
	@tests/run.sh

# SEED, DURATION, RATE, WORKERS, POISON: see tests/run.sh
chaos: build
	@KAFKA=$(CHAOS_KAFKA) tests/run.sh chaos

soak: build
	@KAFKA=$(CHAOS_KAFKA) tests/run.sh soak

bench: build
	@bench/run.sh

deb: deps
	@deploy/debian/build-deb.sh build-deb
	@lintian --fail-on error,warning build-deb/packages/*.deb 2>/dev/null && echo "lintian: no error, no warning"

fuzz: deps
	@fuzz/run.sh

# gcc --coverage, -O0 so lines map one to one; the mock pass of make test
# (KAFKA=mock), then gcovr over the production code. tests/coverage.sh.
coverage: deps
	@cmake -S . -B build-cov -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS=--coverage -DCMAKE_EXE_LINKER_FLAGS=--coverage >/dev/null
	@cmake --build build-cov -j $(JOBS)
	@tests/coverage.sh

clean:
	@dev/stack.sh down >/dev/null 2>&1 || true
	rm -rf build build-asan build-deb build-fuzz build-cov .dev
