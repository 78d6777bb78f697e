# BlueTAS testbed. `make help` lists the targets.
#
# Objects go under $(BUILD) mirroring the source tree. Every .c under the
# library folders is part of libbluetas.a; every tests/*/test_*.c is one
# cmocka binary. Coverage builds go to build-cov/ so they never mix with a
# normal build.

.DEFAULT_GOAL := all
.SECONDARY: # keep intermediate objects: no rebuild of test objects on every make

# Build on every core by default: `make test` builds five trees (native,
# PIC, ASan, fuzz, aarch64), and serially that is a quarter of its time.
# A -j on the command line wins (`make -j1` for a serial build); the
# recursive makes below share the jobserver.
MAKE_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(MAKE_JOBS)
endif

BUILD    ?= build
CC       ?= gcc
OPT      ?= -O2
CFLAGS_BASE := -std=c11 -Wall -Wextra -Werror -g $(OPT) -D_DEFAULT_SOURCE -fno-strict-aliasing
CFLAGS   += $(CFLAGS_BASE) $(EXTRA_CFLAGS)
CPPFLAGS += -I.
LDLIBS_PCAP  := -lpcap
LDLIBS_TEST  := -lcmocka
LDLIBS   += -lm

LIB_DIRS := core/proto core/util core/nic core/host core/apps transports transports/shm transports/ipc sim hw/hosts
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIB      := $(BUILD)/libbluetas.a

# The CLI: the simulator commands (sim/cli/) and the real-time programs
# (hw/: the NIC daemon, the host application, their shared runner).
HW_CLI_DIRS := hw/nicd hw/hostapp hw/rt hw/backends hw/preflight hw/promote
CLI_SRCS := $(wildcard sim/cli/*.c $(addsuffix /*.c,$(HW_CLI_DIRS)))
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
CLI      := $(BUILD)/bluetas

TEST_SRCS := $(wildcard tests/unit/test_*.c tests/e2e/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_SUPPORT_SRCS := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SUPPORT_SRCS))

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

DEPS_STAMP := $(BUILD)/.deps-installed

# ---- DPDK (transports/dpdk, `bluetas nic`) ------------------------------
# The DPDK netif links into the CLI only: libbluetas.a and the test binaries
# never depend on DPDK. Its flags come from Debian's libdpdk.pc, evaluated
# when a DPDK object is built (after `make deps` installed the package);
# they carry -march=corei7 and -include rte_config.h, which only these
# objects see. -DALLOW_EXPERIMENTAL_API is not needed: only stable APIs
# are used.
DPDK_SRCS := $(wildcard transports/dpdk/*.c)
DPDK_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(DPDK_SRCS))
DPDK_CFLAGS = $(shell pkg-config --cflags libdpdk 2>/dev/null)
DPDK_LIBS = $(shell pkg-config --libs libdpdk 2>/dev/null)

$(DPDK_OBJS): $(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@pkg-config --exists libdpdk || { echo "DPDK not found by pkg-config (libdpdk): run make deps, or apt-get install libdpdk-dev" >&2; exit 1; }
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DPDK_CFLAGS) -MMD -MP -c $< -o $@

CLI_OBJS += $(DPDK_OBJS)
$(CLI): $(DPDK_OBJS)
$(CLI): LDLIBS += $(DPDK_LIBS)

# `make interop`: the Linux interop suite alone (also part of `make test`).
# `make bench-tap`: Linux peer vs `bluetas nic` on net_tap, next to Linux
# over a veth, with the ratios (also the last part of `make bench`).
.PHONY: interop bench-tap
interop: $(DEPS_STAMP) $(CLI)
	@bash tests/interop/run.sh $(BUILD)
bench-tap: $(DEPS_STAMP) $(CLI) $(BUILD)/bench/bench_tap_peer
	@bash tests/bench/run-bench-tap.sh $(BUILD)
# ---- end DPDK ------------------------------------------------------------

# ---- verbs (transports/verbs: the RDMA channel; `bluetas app`; tests/rxe) --
# libibverbs/librdmacm link into the CLI and the tests/rxe binaries only:
# libbluetas.a and the unit/e2e tests never depend on them. The tests/rxe
# binaries go to $(BUILD)/rxe/ (not $(BUILD)/tests/, so `make test` on a
# machine without RDMA does not run them); they are meant to run inside
# the Soft-RoCE VM (ci/rxe-vm.sh, tests/rxe/run.sh). `make verbs-bins`
# builds them; `all` does too.
VERBS_SRCS := $(wildcard transports/verbs/*.c)
VERBS_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(VERBS_SRCS))
VERBS_LIB  := $(BUILD)/libbluetas_verbs.a
LDLIBS_VERBS := -libverbs -lrdmacm -lpthread
VERBS_BIN_SRCS := $(wildcard tests/rxe/test_*.c tests/rxe/bench_*.c)
VERBS_BINS := $(patsubst tests/rxe/%.c,$(BUILD)/rxe/%,$(VERBS_BIN_SRCS))

$(VERBS_LIB): $(VERBS_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(CLI): $(VERBS_LIB)
$(CLI): LDLIBS += $(VERBS_LIB) $(LDLIBS_VERBS)

# The channel conformance suite (tests/support/chan_suite.c) runs in the
# verbs test too: one source for every backend.
CHAN_SUITE_OBJ := $(BUILD)/tests/support/chan_suite.o
$(BUILD)/rxe/%: $(BUILD)/tests/rxe/%.o $(CHAN_SUITE_OBJ) $(VERBS_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(CHAN_SUITE_OBJ) $(VERBS_LIB) $(LIB) $(LDLIBS_TEST) $(LDLIBS_VERBS) $(LDLIBS) $(LDFLAGS)

.PHONY: verbs-bins
verbs-bins: $(VERBS_BINS)
all: verbs-bins
-include $(VERBS_OBJS:.o=.d) $(patsubst tests/rxe/%.c,$(BUILD)/tests/rxe/%.d,$(VERBS_BIN_SRCS))
# ---- end verbs ------------------------------------------------------------

.PHONY: all help run test test-quick bench coverage valgrind deps clean lib cli tests benches

all: cli tests benches

help:
	@echo "BlueTAS testbed targets:"
	@echo "  make run        build, then run the default simulation and print its result table"
	@echo "  make test       install missing Debian packages, build, run every test (cmocka)"
	@echo "  make bench      echo RPC vs Linux TCP (pinned, unpinned) and simulator bulk speed, 3 runs each"
	@echo "  make bench-ns3  the simulator bulk workload in ns-3 3.37 next to ours (installs ns3 with --ns3)"
	@echo "  make bench-cg   callgrind: our NIC receive path vs lwIP 2.1.3 per 1448 B segment"
	@echo "  make coverage   gcov build, run the suite, lcov HTML in build-cov/coverage/"
	@echo "  make valgrind   every test binary and a CLI run under valgrind (leaks and invalid accesses fail)"
	@echo "  make sanitize   unit and e2e suites and a short sweep built with ASan+UBSan (build-san/; part of make test)"
	@echo "  make fuzz       every libFuzzer target for FUZZ_SECONDS (default 300) from tests/fuzz/corpus/ (build-fuzz/)"
	@echo "  make interop    bluetas nic on DPDK net_tap against Linux TCP (root; part of make test)"
	@echo "  make bench-tap  Linux peer <-> bluetas over net_tap next to Linux <-> Linux over veth (root)"
	@echo "  make test-rxe   the Soft-RoCE suite: natively where rdma_rxe exists, else in a qemu VM"
	@echo "  make bench-apps redis-server and iperf3 -s on the stack (LD_PRELOAD) vs on Linux: rates, p99, CPU per request (root)"
	@echo "  make conformance  packetdrill's and FreeBSD's TCP corpora against the stack (PACKETDRILL_SRC=, TCP_TESTSUITE_SRC=)"
	@echo "  make cross-arm64  build library, CLI (DPDK, verbs) and unit tests for aarch64 (sysroot from Debian)"
	@echo "  make test-arm64   the aarch64 build under qemu-aarch64-static (part of make test; ARM64=0 skips)"
	@echo "  make promote HOSTS=FILE  this tree to the BlueField of FILE: build, run, fetch, report (PROMOTE_ARGS=...)"
	@echo "  make test-promote the promotion rehearsed against an sshd in a netns (root; part of make test; PROMOTE=0 skips)"
	@echo "  make deps       install the Debian packages the project needs (ci/install-deps.sh)"
	@echo "  make all        build library, CLI ($(CLI)), tests and benchmarks"
	@echo "  make clean      remove build/ and build-cov/"
	@echo "Variables: BUILD=dir OPT=-O0 EXTRA_CFLAGS=... TESTS='unit/test_proto ...' SANITIZE=0 FUZZ=0 FUZZ_SECONDS=N ARM64=0"

deps: $(DEPS_STAMP)
$(DEPS_STAMP): ci/install-deps.sh
	@bash ci/install-deps.sh
	@mkdir -p $(@D) && touch $@

lib: $(LIB)
cli: $(CLI)
tests: $(TEST_BINS)
benches: $(BENCH_BINS)

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS_PCAP) $(LDLIBS) $(LDFLAGS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(LIB) $(LDLIBS_TEST) $(LDLIBS_PCAP) $(LDLIBS) $(LDFLAGS)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS_PCAP) $(LDLIBS) -lpthread $(LDFLAGS)

# ---- make bench-cg: callgrind, our NIC receive path vs lwIP ----------------
# tests/bench/cg: bench_cg_rx feeds our NIC (through the test harness) and
# bench_lwip_rx feeds lwIP 2.1.3 (Debian's liblwip-dev, a shared library) the
# same in-order 1448 B data segments; tests/bench/run-bench-cg.sh runs both
# under callgrind and prints instructions per segment, with and without the
# checksum. Both are built by `make benches` (and so by `make test`).
CG_BIN   := $(BUILD)/bench/bench_cg_rx
LWIP_BIN := $(BUILD)/bench/bench_lwip_rx
$(CG_BIN): $(BUILD)/tests/bench/cg/bench_cg_rx.o $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(LIB) $(LDLIBS_TEST) $(LDLIBS_PCAP) $(LDLIBS) $(LDFLAGS)
$(BUILD)/tests/bench/cg/bench_lwip_rx.o: CPPFLAGS += -I/usr/include/lwip
$(LWIP_BIN): $(BUILD)/tests/bench/cg/bench_lwip_rx.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) -llwip $(LDLIBS) $(LDFLAGS)
benches: $(CG_BIN) $(LWIP_BIN)
.PHONY: bench-cg
bench-cg: $(DEPS_STAMP) $(CG_BIN) $(LWIP_BIN)
	@bash tests/bench/run-bench-cg.sh $(BUILD)
-include $(BUILD)/tests/bench/cg/bench_cg_rx.d $(BUILD)/tests/bench/cg/bench_lwip_rx.d
# ---- end bench-cg -----------------------------------------------------------

# ---- make bench-ns3: the simulator bulk workload in ns-3 ----------------------
# tests/bench/ns3/ns3_bulk.cc against Debian's ns-3 3.37 (ns3, libns3-dev:
# large, so not in the default deps: `make bench-ns3` installs them through
# `ci/install-deps.sh --ns3`, and says so and skips where it cannot). Where
# ns-3 is installed, `make benches` (and so `make test`) builds the program
# too, so it does not rot.
NS3_MODULES := ns3-core ns3-network ns3-internet ns3-applications ns3-point-to-point
NS3_LIBS    := -lns3-point-to-point -lns3-applications -lns3-internet -lns3-network -lns3-core
NS3_BIN     := $(BUILD)/bench/ns3_bulk
CXX         ?= g++
$(NS3_BIN): tests/bench/ns3/ns3_bulk.cc
	@pkg-config --exists $(NS3_MODULES) || { echo "ns-3 not found by pkg-config ($(NS3_MODULES)): run ci/install-deps.sh --ns3" >&2; exit 1; }
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -Wall -Wextra -Werror $$(pkg-config --cflags $(NS3_MODULES)) -o $@ $< $(NS3_LIBS)
ifneq ($(shell pkg-config --exists $(NS3_MODULES) 2>/dev/null && echo yes),)
benches: $(NS3_BIN)
endif
.PHONY: bench-ns3
bench-ns3: $(DEPS_STAMP) $(BENCH_BINS)
	@bash ci/install-deps.sh --ns3 || true
	@if pkg-config --exists $(NS3_MODULES); then $(MAKE) --no-print-directory $(NS3_BIN); fi
	@bash tests/bench/run-bench-ns3.sh $(BUILD)
# ---- end bench-ns3 ----------------------------------------------------------

run: $(CLI)
	./$(CLI) sim

test: $(DEPS_STAMP) $(TEST_BINS) $(CLI) verbs-bins benches $(if $(filter 0,$(ARM64)),,cross-arm64)
	@bash tests/run-tests.sh $(BUILD) $(TESTS)

bench: $(DEPS_STAMP) $(BENCH_BINS) $(CLI)
	@bash tests/bench/run-bench.sh $(BUILD)

valgrind: $(DEPS_STAMP) $(TEST_BINS)
	@bash tests/run-valgrind.sh $(BUILD)

coverage: $(DEPS_STAMP)
	@bash ci/coverage.sh

clean:
	rm -rf build build-cov build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_BINS:=.d) $(TEST_SUPPORT_OBJS:.o=.d)
# The benchmark programs too: bench_stack built against an older struct
# scenario wrote past the end of its calloc'd scenario after a header change.
-include $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%.d,$(BENCH_SRCS))

# ---- conformance (make conformance: packetdrill corpora; docs/conformance.md)
# packetdrill and the two corpora are external: PACKETDRILL_SRC (a tarball
# or a checkout of github.com/google/packetdrill) and TCP_TESTSUITE_SRC
# (github.com/freebsd-net/tcp-testsuite); .ci/run points both at
# ../shared/third_party. Everything is built and unpacked under
# $(BUILD)/packetdrill, never in the tree; without PACKETDRILL_SRC the
# target says so and skips. The shim is a shared object, so it and the
# library objects it needs are built a second time with -fPIC under
# $(BUILD)/pic (the simulator's own files are not needed).
PD_BUILD   := $(BUILD)/packetdrill
PD_SRC_DIR := $(PD_BUILD)/src/gtests/net/packetdrill
PIC_SRCS   := $(foreach d,$(filter-out sim,$(LIB_DIRS)),$(wildcard $(d)/*.c))
PIC_OBJS   := $(patsubst %.c,$(BUILD)/pic/%.o,$(PIC_SRCS))
PIC_LIB    := $(BUILD)/pic/libbluetas_pic.a
SHIM_SRCS  := $(wildcard tests/packetdrill/*.c)
SHIM_OBJS  := $(patsubst %.c,$(BUILD)/pic/%.o,$(SHIM_SRCS))
PD_SHIM    := $(PD_BUILD)/bluetas_pd.so

$(BUILD)/pic/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(PIC_LIB): $(PIC_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# packetdrill.h comes from the unpacked packetdrill source (its interface);
# -idirafter, as that folder also holds an assert.h of its own.
$(SHIM_OBJS): CPPFLAGS += -idirafter $(PD_SRC_DIR) -D_GNU_SOURCE
$(SHIM_OBJS): $(PD_SRC_DIR)/packetdrill.h

$(PD_SHIM): $(SHIM_OBJS) $(PIC_LIB)
	$(CC) -shared -o $@ $(SHIM_OBJS) $(PIC_LIB) -lpthread $(LDLIBS)

.PHONY: conformance pd-shim
pd-shim: $(PD_SHIM)
conformance: $(DEPS_STAMP)
	@bash tests/packetdrill/run-conformance.sh $(BUILD)
-include $(PIC_OBJS:.o=.d) $(SHIM_OBJS:.o=.d)
# ---- end conformance --------------------------------------------------------

# ---- Soft-RoCE suite (make test-rxe) --------------------------------------
# tests/rxe/run.sh inside the emu topology: natively where the kernel has
# rdma_rxe, otherwise in Debian's kernel under qemu (ci/rxe-vm.sh; see
# docs/emu.md). When the suite runs project binaries, add them as
# prerequisites here so they are built on the host before the VM boots.
.PHONY: test-rxe test-rxe-check
test-rxe: $(CLI) verbs-bins $(BUILD)/bench/bench_tap_peer
	@bash ci/rxe-vm.sh --wire-ns bt-wire bash tests/rxe/run.sh

# the environment alone: boot (or native), topology, RDMA smoke test
test-rxe-check:
	@bash ci/rxe-vm.sh --check
# ---- end Soft-RoCE suite --------------------------------------------------

# ---- emu latency benchmark (make bench-rxe) --------------------------------
# One boot of the Soft-RoCE topology (ci/rxe-vm.sh, with the wire peer's
# namespace): perftest ib_send_lat/ib_write_lat, the verbs channel
# (bench_verbs_chan), Linux TCP across the same veth, and the 64 B echo RPC
# through `bluetas app` -> `bluetas nic` -> net_af_packet (BENCH_RXE_PMDS) -> Linux, in one table
# with ratios (tests/rxe/bench.sh; docs/emu.md).
.PHONY: bench-rxe
bench-rxe: $(CLI) verbs-bins $(BUILD)/bench/bench_tap_peer
	@bash ci/rxe-vm.sh --wire-ns bt-wire bash tests/rxe/bench.sh
# ---- end emu latency benchmark ---------------------------------------------

# ---- sanitizers and fuzzing (make sanitize, make fuzz) --------------------
# `make sanitize`: the library, CLI and cmocka suites again in build-san/
# with AddressSanitizer + UndefinedBehaviorSanitizer (any report aborts
# the binary); tests/run-tests.sh runs the unit and e2e suites and a short
# sweep from there (SANITIZE=0 skips the build and the run).
# `make fuzz-bins`: libFuzzer targets (clang) in build-fuzz/fuzz/, the
# library built with -fsanitize=fuzzer-no-link,address,undefined; `make
# fuzz` runs each for FUZZ_SECONDS (default 300) from tests/fuzz/corpus/,
# `make test` for FUZZ_TEST_SECONDS each (tests/fuzz/run.sh; FUZZ=0 skips).
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CC    ?= clang
SANITIZE   ?= 1
FUZZ       ?= 1
FUZZ_SECONDS ?= 300
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
.PHONY: sanitize sanitize-bins fuzz fuzz-bins fuzz-targets

ifeq ($(SANITIZE),1)
test: sanitize-bins
endif
ifeq ($(FUZZ),1)
test: fuzz-bins
endif

# The sub-makes wait for the dependency check, so a fresh machine runs
# ci/install-deps.sh once, not once per tree at the same time.
sanitize-bins: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory BUILD=build-san OPT=-O1 EXTRA_CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" cli tests
sanitize: sanitize-bins
	@bash tests/run-sanitized.sh build-san

fuzz-bins: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=$(FUZZ_CC) OPT=-O1 EXTRA_CFLAGS="$(FUZZ_FLAGS)" fuzz-targets
# the targets of the current BUILD (called with BUILD=build-fuzz above)
fuzz-targets: $(FUZZ_BINS)
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(TEST_SUPPORT_OBJS) $(LIB) $(LDLIBS_TEST) $(LDLIBS_PCAP) $(LDLIBS) $(LDFLAGS)
fuzz: fuzz-bins
	@FUZZ_TEST_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh build-fuzz
# ---- end sanitizers and fuzzing --------------------------------------------
-include $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%.d,$(FUZZ_SRCS))
# ---- LD_PRELOAD library (hw/preload/, docs/sockets.md) ------------------------
# libbluetas_preload.so: the host library, the ipc and verbs channels and
# the socket interposer, compiled position-independent with hidden
# visibility (only the intercepted libc names are exported, so nothing of
# ours can collide with a program's own symbols).
PRELOAD_SRCS := $(wildcard hw/preload/*.c) $(wildcard core/host/*.c) core/util/appendf.c core/util/spin_policy.c transports/channel.c transports/chan_signal.c transports/clock_mono.c \
	$(wildcard transports/ipc/*.c) $(VERBS_SRCS)
# objects of their own: under $(BUILD)/pic/ the conformance shim's pattern
# rule (no -fvisibility=hidden, no -DPL_WITH_VERBS) shadowed this one, and the
# library had every symbol exported and no verbs channel
PRELOAD_OBJS := $(patsubst %.c,$(BUILD)/preload/%.o,$(PRELOAD_SRCS))
PRELOAD := $(BUILD)/libbluetas_preload.so

$(BUILD)/preload/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -DPL_WITH_VERBS -MMD -MP -c $< -o $@

$(PRELOAD): $(PRELOAD_OBJS)
	$(CC) -shared -Wl,-z,defs -o $@ $^ -ldl -lpthread $(LDLIBS_VERBS)

.PHONY: preload
preload: $(PRELOAD)
all: $(PRELOAD)
-include $(PRELOAD_OBJS:.o=.d)
test: $(PRELOAD)
# tests/rxe/apps.sh runs programs with the preload library in the VM
test-rxe: $(PRELOAD)

# `make apps`: unmodified programs (nc, curl, redis-cli) on the stack via
# LD_PRELOAD and the ipc channel against Linux (also part of `make test`).
.PHONY: apps
apps: $(DEPS_STAMP) $(CLI) $(PRELOAD)
	bash tests/apps/run.sh $(BUILD)

# `make bench-apps`: redis-server under redis-benchmark and iperf3 -s on the
# stack (preload + ipc + bluetas nic on net_tap) next to the same servers on
# Linux TCP, same run: rates, latency, server CPU per request / per GB
# (tests/bench/run-bench-apps.sh; docs/benchmarks.md). Root.
.PHONY: bench-apps
bench-apps: $(DEPS_STAMP) $(CLI) $(PRELOAD)
	@bash tests/bench/run-bench-apps.sh $(BUILD)
# ---- aarch64 cross build (make cross-arm64, make test-arm64) ---------------
# The BlueField's ARM cores run the NIC daemon: the library, the CLI (with
# DPDK and verbs) and the unit tests are built for aarch64 against a sysroot
# that ci/arm64-sysroot.sh unpacks from Debian's arm64 packages (cached in
# $(ARM64_SYSROOT): a second run costs nothing), and run under
# qemu-aarch64-static (tests/arm64/run.sh; docs/hardware.md). An x86-only
# construct (inline asm, x86 intrinsics, rdtsc) does not compile for
# aarch64, and ci/check-objects.sh fails the build when -march= from DPDK's
# pkg-config reached an object outside transports/dpdk/.
ARM64_SYSROOT ?= $(CURDIR)/build/arm64-sysroot
ARM64_BUILD ?= $(BUILD)/arm64
ARM64_CC ?= aarch64-linux-gnu-gcc
ARM64_PKG_ENV = PKG_CONFIG_SYSROOT_DIR=$(ARM64_SYSROOT) \
	PKG_CONFIG_LIBDIR=$(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu/pkgconfig:$(ARM64_SYSROOT)/usr/share/pkgconfig
.PHONY: arm64-sysroot cross-arm64 test-arm64
arm64-sysroot: $(DEPS_STAMP)
	@bash ci/arm64-sysroot.sh $(ARM64_SYSROOT)
cross-arm64: arm64-sysroot
	+@env $(ARM64_PKG_ENV) $(MAKE) --no-print-directory BUILD=$(ARM64_BUILD) CC=$(ARM64_CC) \
		EXTRA_CFLAGS="--sysroot=$(ARM64_SYSROOT) $(EXTRA_CFLAGS)" lib cli tests verbs-bins
	@bash ci/check-objects.sh $(ARM64_BUILD) $(ARM64_CC)
test-arm64: cross-arm64 $(TEST_BINS)
	@bash tests/arm64/run.sh $(BUILD) $(ARM64_BUILD) $(ARM64_SYSROOT)
# ---- end aarch64 cross build -----------------------------------------------
# ---- promotion (bluetas promote, docs/hardware.md "Promotion") ------------
# `make promote HOSTS=FILE [PROMOTE_ARGS='--stack-ip A.B.C.D/LEN ...']`: this
# tree to the BlueField of FILE. `make test-promote`: the rehearsal against a
# stand-in DPU (an sshd in a network namespace; root), also part of make test
# (PROMOTE=0 skips it there).
.PHONY: promote test-promote
promote: $(CLI)
	@test -n "$(HOSTS)" || { echo "usage: make promote HOSTS=FILE [PROMOTE_ARGS='--stack-ip A.B.C.D/LEN ...']" >&2; exit 2; }
	$(CLI) promote --hosts $(HOSTS) $(PROMOTE_ARGS)
test-promote: $(CLI)
	@bash tests/promote/run.sh $(BUILD)
# ---- end promotion ---------------------------------------------------------
