# BlueTAS testbed. `make help` lists the targets.
#
# Objects go under $(BUILD) mirroring the source tree. Every .c under the
# library folders is part of libbluetas.a; every tests/*/test_*.c is one
# cmocka binary. Coverage builds go to build-cov/ so they never mix with a
# normal build.

BUILD    ?= build
CC       ?= gcc
OPT      ?= -O2
CFLAGS_BASE := -std=c11 -Wall -Wextra -Werror -g $(OPT) -D_DEFAULT_SOURCE -fno-strict-aliasing
CFLAGS   += $(CFLAGS_BASE) $(EXTRA_CFLAGS)
CPPFLAGS += -I.
LDLIBS_PCAP  := -lpcap
LDLIBS_TEST  := -lcmocka
LDLIBS   += -lm

LIB_DIRS := core/proto core/util core/nic core/host core/apps transports transports/shm sim
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIB      := $(BUILD)/libbluetas.a

CLI_SRCS := $(wildcard sim/cli/*.c)
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
CLI      := $(BUILD)/bluetas

TEST_SRCS := $(wildcard tests/unit/test_*.c tests/e2e/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_SUPPORT_SRCS := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SUPPORT_SRCS))

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

DEPS_STAMP := $(BUILD)/.deps-installed

.PHONY: all help run test test-quick bench coverage valgrind deps clean lib cli tests benches

all: cli tests benches

help:
	@echo "BlueTAS testbed targets:"
	@echo "  make run        build, then run the default simulation and print its result table"
	@echo "  make test       install missing Debian packages, build, run every test (cmocka)"
	@echo "  make bench      stack vs Linux TCP echo benchmark and simulator speed"
	@echo "  make coverage   gcov build, run the suite, lcov HTML in build-cov/coverage/"
	@echo "  make valgrind   end-to-end tests under valgrind (leaks and invalid accesses fail)"
	@echo "  make deps       install the Debian packages the project needs (ci/install-deps.sh)"
	@echo "  make all        build library, CLI ($(CLI)), tests and benchmarks"
	@echo "  make clean      remove build/ and build-cov/"
	@echo "Variables: BUILD=dir OPT=-O0 EXTRA_CFLAGS=... TESTS='unit/test_proto ...'"

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

run: $(CLI)
	./$(CLI) sim

test: $(DEPS_STAMP) $(TEST_BINS) $(CLI)
	@bash tests/run-tests.sh $(BUILD) $(TESTS)

bench: $(DEPS_STAMP) $(BENCH_BINS) $(CLI)
	@bash tests/bench/run-bench.sh $(BUILD)

valgrind: $(DEPS_STAMP) $(TEST_BINS)
	@bash tests/run-valgrind.sh $(BUILD)

coverage: $(DEPS_STAMP)
	@bash ci/coverage.sh

clean:
	rm -rf build build-cov

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_BINS:=.d) $(TEST_SUPPORT_OBJS:.o=.d)
