# pgfleet — build, test, install.
#
# Every module is found by wildcard: add common/foo.c and tests/unit/check_foo.c
# (defining "Suite *" and, on the next line, "foo_suite(void)") and both are built and run, no edit here.

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
ifeq ($(origin CC),default)
CC        = gcc
endif
PKGS      = libpq yaml-0.1 openssl libevent libevent_openssl
SANFLAGS ?=

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

CFLAGS   ?= -O2 -g
# Required flags live apart from CFLAGS so that "make CFLAGS=..." keeps them.
REQ_CFLAGS = -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
            -D_GNU_SOURCE -I. $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
ALL_CFLAGS = $(CFLAGS) $(REQ_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm

MAINS    := cli/pgfleet.c scheduler/main.c agent/main.c
LIB_SRC  := $(filter-out $(MAINS),$(wildcard common/*.c transfer/*.c worker/*.c agent/*.c scheduler/*.c cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
MIG_SQL  := $(sort $(wildcard migrations/*.sql))
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BINS     := $(BUILD)/bin/pgfleet $(BUILD)/bin/pgfleet-scheduler $(BUILD)/bin/pgfleet-agent
CHECKBIN := $(BUILD)/bin/check_pgfleet
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/bin/pgfleet-test-%,$(wildcard tests/tools/*.c))

.SECONDARY:
.PHONY: all deps check check-repeat unit valgrind integration faults asan demo bench install clean fuzz \
	fuzz-build fuzz-smoke

all: $(BINS) $(CHECKBIN) $(TOOLS)

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/tests/unit -c -o $@ $<

# migrations/*.sql embedded in the binary, in order (cli/migrate.h).
$(BUILD)/gen/migrations.c: $(MIG_SQL) migrations scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh $(MIG_SQL) > $@.tmp
	mv $@.tmp $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpgfleet.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/pgfleet: $(BUILD)/cli/pgfleet.o $(BUILD)/libpgfleet.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/pgfleet-scheduler: $(BUILD)/scheduler/main.o $(BUILD)/libpgfleet.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/pgfleet-agent: $(BUILD)/agent/main.o $(BUILD)/libpgfleet.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Small programs the integration tests use (tests/tools/x.c -> pgfleet-test-x).
$(BUILD)/bin/pgfleet-test-%: $(BUILD)/tests/tools/%.o $(BUILD)/libpgfleet.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The unit runner learns its suites from the sources: one SUITE(name) per
# "name_suite(void)" definition line.
$(BUILD)/tests/unit/suites.h: $(UNIT_SRC)
	@mkdir -p $(dir $@)
	sed -n 's/^\([a-z0-9_]*\)_suite(void)$$/SUITE(\1)/p' $(UNIT_SRC) | sort > $@.tmp
	mv $@.tmp $@

$(BUILD)/tests/unit/runner.o: $(BUILD)/tests/unit/suites.h

$(CHECKBIN): $(UNIT_OBJ) $(BUILD)/libpgfleet.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) valgrind
	$(MAKE) integration

unit: $(CHECKBIN)
	$(CHECKBIN)

# Leak check of the unit suites (no fork so valgrind sees every case).
valgrind: $(CHECKBIN)
	@if command -v valgrind >/dev/null; then \
	  CK_FORK=no PGFLEET_UNDER_VALGRIND=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=99 --trace-children=no $(CHECKBIN) ; \
	else echo "valgrind: not installed, skipped (scripts/deps.sh installs it as root)"; fi

# The README's first command: a throwaway PostgreSQL, a scheduler and three agents,
# the example batch, its progress and the history report; everything stopped after.
demo: deps
	$(MAKE) all
	BIN=$(abspath $(BUILD)/bin) scripts/demo.sh

integration: $(BINS) $(TOOLS)
	BIN=$(abspath $(BUILD)/bin) tests/integration/run.sh

# The fault suite (not part of check: about ten minutes): kill -9 of every
# process, PostgreSQL restart and outage, hostile agents, floods, full disks, each
# scenario against the real binaries; prints scenario -> held/broke with figures and
# fails when any broke (docs/reliability.md). FAULTS="f_a f_b" runs only those.
FAULTS ?=
faults: $(BINS) $(TOOLS)
	BIN=$(abspath $(BUILD)/bin) tests/faults/run.sh $(FAULTS)

# Flakiness hunt: the unit suites N times, the integration suite M times, and every
# test that failed even once. PGFLEET_TEST_NOW=HH:MM (or an RFC 3339 instant) runs
# the integration fixtures as if it were that time (tests/integration/lib.sh).
N ?= 20
M ?= 3
check-repeat: all
	BIN=$(abspath $(BUILD)/bin) scripts/check-repeat.sh $(N) $(M)

# Benchmarks (not tests): bench/history.sh under pg_virtualenv, several minutes.
asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/bin/check_pgfleet
	BIN=$(abspath build-asan/bin) ASAN_OPTIONS=detect_leaks=0 tests/integration/run.sh

# Benchmarks: every bench/*.sh, each under its own pg_virtualenv (docs/performance.md).
bench: $(BINS)
	@rc=0; for b in bench/*.sh; do echo "== $$b"; BIN=$(abspath $(BUILD)/bin) $$b || rc=1; done; exit $$rc

# libFuzzer targets, one per parser (tests/fuzz/fuzz_<t>.c, seeds in tests/fuzz/<t>/):
# not part of all; check runs each over its seeds once (fuzz-smoke) when clang is
# here. The library is built again with clang and the sanitizers under
# build-fuzz/obj; generated corpora and crash files stay under build-fuzz/.
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_TARGETS ?= wire batch render config journal request
FUZZ_DIR      = build-fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_BINS     = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# What the targets reach: the parsers and the modules they call.
FUZZ_SRC      = $(wildcard common/*.c) agent/request.c agent/control.c agent/exec.c agent/journal.c \
                transfer/fetch.c cli/batch.c cli/args.c worker/render.c
FUZZ_OBJ      = $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj/%.o)

fuzz-build:
	@scripts/fuzz.sh need $(FUZZ_CC)
	$(MAKE) BUILD=$(FUZZ_DIR)/obj CC=$(FUZZ_CC) CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_OBJ)
	$(MAKE) $(FUZZ_BINS)

$(FUZZ_DIR)/libfuzz.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libfuzz.a
	$(FUZZ_CC) -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -D_GNU_SOURCE -I. \
	  $(PKG_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_DIR)/libfuzz.a $(PKG_LIBS) -lm

# Every target for FUZZ_TIME seconds, one after the other, then a table; non-zero on a crash.
fuzz: fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) scripts/fuzz.sh run $(FUZZ_DIR) $(FUZZ_TARGETS)

# Each target over its committed seeds once (seconds): a regression check.
fuzz-smoke:
	@if scripts/fuzz.sh need $(FUZZ_CC) 2>/dev/null; then \
	  $(MAKE) --no-print-directory fuzz-build >/dev/null && \
	  scripts/fuzz.sh smoke $(FUZZ_DIR) $(FUZZ_TARGETS); \
	else scripts/fuzz.sh need $(FUZZ_CC) || echo "fuzz-smoke: skipped"; fi

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pgfleet/migrations
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 migrations/*.sql $(DESTDIR)$(PREFIX)/share/pgfleet/migrations/
	install -d $(DESTDIR)$(PREFIX)/share/pgfleet/config $(DESTDIR)$(PREFIX)/share/doc/pgfleet
	install -m 0644 config/*.yaml config/*.service $(DESTDIR)$(PREFIX)/share/pgfleet/config/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/pgfleet/

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
