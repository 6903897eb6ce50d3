# pgfleet — build, test, install.
#
# Every module is found by wildcard: add common/foo.c and tests/unit/check_foo.c
# (defining "Suite *" and, on the next line, "foo_suite(void)") and both are built and run, no edit here.

VERSION  ?= $(shell cat VERSION 2>/dev/null || echo unknown)
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
# --as-needed: each program records only the libraries it calls (the agent never needs libpq);
# -z relro -z now: every symbol bound at start, the table read-only after (the agent's
# task processes, forked from it, then bind nothing per process)
LDFLAGS  += $(SANFLAGS) -Wl,--as-needed -Wl,-z,relro -Wl,-z,now
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(REQ_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm

MAINS    := cli/pgfleet.c scheduler/main.c agent/main.c web/main.c
LIB_SRC  := $(filter-out $(MAINS),$(wildcard common/*.c transfer/*.c worker/*.c agent/*.c scheduler/*.c cli/*.c web/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
MIG_SQL  := $(sort $(wildcard migrations/*.sql))
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BINS     := $(BUILD)/bin/pgfleet $(BUILD)/bin/pgfleet-scheduler $(BUILD)/bin/pgfleet-agent \
            $(BUILD)/bin/pgfleet-web
CHECKBIN := $(BUILD)/bin/check_pgfleet
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/bin/pgfleet-test-%,$(wildcard tests/tools/*.c))

.SECONDARY:
.PHONY: FORCE install-dirs bins deb package-test all deps check check-repeat check-clock lint unit valgrind integration fleet-large faults faults-quick asan demo bench install clean fuzz \
	fuzz-build fuzz-smoke

all: $(BINS) $(CHECKBIN) $(TOOLS)

# the three programs alone (the Debian packages build these)
bins: $(BINS)

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/tests/unit -c -o $@ $<

# Only version.o knows the version, so a new one rebuilds one file; the stamp
# changes only when the version does (make VERSION=... included).
$(BUILD)/gen/version.txt: FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

$(BUILD)/common/version.o: common/version.c $(BUILD)/gen/version.txt
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DPGFLEET_VERSION='"$(VERSION)"' -c -o $@ $<

FORCE:

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

$(BUILD)/bin/pgfleet-web: $(BUILD)/web/main.o $(BUILD)/libpgfleet.a
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
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) valgrind
	$(MAKE) integration
	$(MAKE) faults-quick
	$(MAKE) package-test

# Cheap checks of the sources, run first by check: no production function over 80 lines.
lint:
	scripts/funclen.sh

unit: $(CHECKBIN)
	$(CHECKBIN)

# Leak check of the unit suites (no fork so valgrind sees every case).
valgrind: $(CHECKBIN)
	@if command -v valgrind >/dev/null; then \
	  CK_FORK=no PGFLEET_UNDER_VALGRIND=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=99 --trace-children=no $(CHECKBIN) ; \
	else echo "valgrind: not installed, skipped (scripts/deps.sh installs it as root)"; fi

# The README's first command: a throwaway PostgreSQL, a scheduler and three agents,
# the web console, the example batch, its progress and the history report; everything
# stopped after.
# KEEP=1 keeps it all running (the web console too) until Ctrl-C.
KEEP ?=
demo: deps
	$(MAKE) all
	BIN=$(abspath $(BUILD)/bin) PGFLEET_DEMO_KEEP=$(KEEP) scripts/demo.sh

integration: $(BINS) $(TOOLS)
	BIN=$(abspath $(BUILD)/bin) tests/integration/run.sh

# The large-fleet test at a size make check does not run (FLEET_N simulated computers,
# default 2,000; make check runs 1,000; one simulator process needs about FLEET_N + 200
# open files).
FLEET_N ?= 2000
fleet-large: $(BINS) $(TOOLS)
	FLEET_N=$(FLEET_N) PGFLEET_TEST_TIMEOUT=3600 BIN=$(abspath $(BUILD)/bin) tests/integration/run.sh t_fleet_large

# The fault suite (about ten minutes; check runs the reduced set faults-quick): kill -9 of every
# process, PostgreSQL restart and outage, hostile agents, floods, full disks, each
# scenario against the real binaries; prints scenario -> held/broke with figures and
# fails when any broke (docs/reliability.md). FAULTS="f_a f_b" runs only those.
FAULTS ?=
faults: deps
	$(MAKE) $(BINS) $(TOOLS)
	BIN=$(abspath $(BUILD)/bin) tests/faults/run.sh $(FAULTS)

# The reduced fault set make check runs (about 2 minutes): a killed worker, a killed
# scheduler parent, a PostgreSQL restart and a flood of the transfer port.
FAULTS_QUICK := f_kill_worker f_kill_sched_parent f_pg_restart f_flood_transfer
faults-quick: $(BINS) $(TOOLS)
	BIN=$(abspath $(BUILD)/bin) tests/faults/run.sh $(FAULTS_QUICK)

# Flakiness hunt: the unit suites N times, the integration suite M times, and every
# test that failed even once. PGFLEET_TEST_NOW=HH:MM (or an RFC 3339 instant) runs
# the integration fixtures as if it were that time (tests/integration/lib.sh).
N ?= 20
M ?= 3
check-repeat: all
	BIN=$(abspath $(BUILD)/bin) scripts/check-repeat.sh $(N) $(M)

# The tests that compute with dates and hours, run as if the clock said a midnight
# that ends a month and a year, the first hour of a day, the end of February and the
# night of a summer-time change (libfaketime shifts every process's clock, PostgreSQL's
# too; scripts/check-clock.sh, about 12 minutes). TESTS="t_a t_b" runs those instead;
# CLOCK_AT="2027-01-01T00:30:00Z ..." chooses the instants.
TESTS ?=
check-clock: all
	PGFLEET_DEPS_EXTRA=faketime scripts/deps.sh
	BIN=$(abspath $(BUILD)/bin) scripts/check-clock.sh $(TESTS)

# Everything again under build-asan/ with ASan and UBSan (the first finding aborts):
# the unit suites with leak detection, then the integration suite on those binaries.
# There, PGFLEET_TEST_SLOW=3 scales the tests' deadlines to the sanitizers' pace, and
# ASan writes each report to build-asan/reports/asan.PID (log_path): a daemon's stderr
# goes to a test directory that a passing test deletes, and a worker that aborts is
# respawned, so a report could pass unseen; any file there fails the target. gcc's
# UBSan ignores log_path next to ASan: its reports are caught in the test logs
# (tests/integration/lib.sh). detect_leaks=0 there: leaks are the unit suites' check
# (here and under valgrind); test tools such as pgfleet-test-push exit holding their
# TLS contexts.
ASAN_REPORTS = $(abspath build-asan/reports)
asan: deps
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/bin/check_pgfleet
	rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	@rc=0; BIN=$(abspath build-asan/bin) PGFLEET_TEST_SLOW=3 \
	  ASAN_OPTIONS=detect_leaks=0:log_path=$(ASAN_REPORTS)/asan UBSAN_OPTIONS=print_stacktrace=1 \
	  tests/integration/run.sh || rc=1; \
	if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then \
	  echo "asan: sanitizer reports in $(ASAN_REPORTS):"; head -n 40 $(ASAN_REPORTS)/*; rc=1; \
	else echo "asan: no sanitizer report in $(ASAN_REPORTS)"; fi; exit $$rc

# Benchmarks: every bench/*.sh, each under its own pg_virtualenv (docs/performance.md).
bench: deps
	$(MAKE) $(BINS)
	@rc=0; for b in bench/*.sh; do echo "== $$b"; BIN=$(abspath $(BUILD)/bin) $$b || rc=1; done; exit $$rc

# libFuzzer targets, one per parser (tests/fuzz/fuzz_<t>.c, seeds in tests/fuzz/<t>/):
# not part of all; check runs each over its seeds once (fuzz-smoke) when clang is
# here. The library is built again with clang and the sanitizers under
# build-fuzz/obj; generated corpora and crash files stay under build-fuzz/.
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_TARGETS ?= wire batch render config journal request enrol
FUZZ_DIR      = build-fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_BINS     = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# What the targets reach: the parsers and the modules they call.
FUZZ_SRC      = $(wildcard common/*.c) agent/request.c agent/control.c agent/copy.c agent/exec.c agent/journal.c agent/jpool.c agent/workdir.c \
                transfer/fetch.c $(wildcard cli/batch*.c) cli/args.c worker/render.c
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
fuzz: deps
	$(MAKE) fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) scripts/fuzz.sh run $(FUZZ_DIR) $(FUZZ_TARGETS)

# Each target over its committed seeds once (seconds): a regression check.
fuzz-smoke:
	@if scripts/fuzz.sh need $(FUZZ_CC) 2>/dev/null; then \
	  $(MAKE) --no-print-directory fuzz-build >/dev/null && \
	  scripts/fuzz.sh smoke $(FUZZ_DIR) $(FUZZ_TARGETS); \
	else scripts/fuzz.sh need $(FUZZ_CC) || echo "fuzz-smoke: skipped"; fi

# Where make install puts things; a source install goes under /usr/local and
# /etc/pgfleet (existing configs are kept), and makes the runtime directories.
BINDIR        ?= $(PREFIX)/bin
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
DOCDIR        ?= $(DATADIR)/doc/pgfleet
SYSCONFDIR    ?= /etc
UNITDIR       ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR   ?= $(PREFIX)/lib/tmpfiles.d
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
UNITS    := config/pgfleet-scheduler.service config/pgfleet-agent.service config/pgfleet-web.service
MANPAGES := $(wildcard docs/man/*.1)

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/pgfleet/migrations $(DESTDIR)$(DOCDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(SYSCONFDIR)/pgfleet $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	  $(DESTDIR)$(DOCDIR)/examples/scripts $(DESTDIR)$(DOCDIR)/examples/files \
	  $(DESTDIR)$(DOCDIR)/examples/files/issue
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 migrations/*.sql $(DESTDIR)$(DATADIR)/pgfleet/migrations/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(wildcard examples/*.yaml examples/*.json) $(DESTDIR)$(DOCDIR)/examples/
	install -m 0755 examples/scripts/* $(DESTDIR)$(DOCDIR)/examples/scripts/
	install -m 0644 $(filter-out examples/files/issue,$(wildcard examples/files/*)) $(DESTDIR)$(DOCDIR)/examples/files/
	install -m 0644 examples/files/issue/* $(DESTDIR)$(DOCDIR)/examples/files/issue/
	$(if $(MANPAGES),install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/)
	install -m 0644 config/bash-completion/pgfleet $(DESTDIR)$(COMPLETIONDIR)/
	ln -sf pgfleet $(DESTDIR)$(COMPLETIONDIR)/pgfleet-scheduler
	ln -sf pgfleet $(DESTDIR)$(COMPLETIONDIR)/pgfleet-agent
	ln -sf pgfleet $(DESTDIR)$(COMPLETIONDIR)/pgfleet-web
	for u in $(UNITS); do sed 's|/usr/bin/|$(BINDIR)/|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	install -m 0644 config/pgfleet.sysusers $(DESTDIR)$(SYSUSERSDIR)/pgfleet.conf
	install -m 0644 config/pgfleet-web.sysusers $(DESTDIR)$(SYSUSERSDIR)/pgfleet-web.conf
	install -m 0644 config/pgfleet.tmpfiles $(DESTDIR)$(TMPFILESDIR)/pgfleet.conf
	install -m 0644 config/pgfleet-agent.tmpfiles $(DESTDIR)$(TMPFILESDIR)/pgfleet-agent.conf
	install -m 0644 config/pgfleet.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/pgfleet
	install -m 0644 config/pgfleet-agent.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/pgfleet-agent
	for f in scheduler.yaml agent.yaml; do \
	  [ -e $(DESTDIR)$(SYSCONFDIR)/pgfleet/$$f ] || install -m 0640 config/$$f $(DESTDIR)$(SYSCONFDIR)/pgfleet/; done
	install -d $(DESTDIR)$(SYSCONFDIR)/default
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/pgfleet-web ] || \
	  install -m 0644 config/pgfleet-web.default $(DESTDIR)$(SYSCONFDIR)/default/pgfleet-web
	@if [ -z "$(DESTDIR)" ]; then $(MAKE) --no-print-directory install-dirs; fi

# A source install as root also makes the user and directories the packages make.
install-dirs:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "install: not root: make the users pgfleet and pgfleet_web and /var/lib/pgfleet, /var/log/pgfleet, /var/lib/pgfleet-agent, /var/log/pgfleet-agent yourself"; \
	elif command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then \
	  systemd-sysusers $(SYSUSERSDIR)/pgfleet.conf $(SYSUSERSDIR)/pgfleet-web.conf && \
	  systemd-tmpfiles --create $(TMPFILESDIR)/pgfleet.conf $(TMPFILESDIR)/pgfleet-agent.conf; \
	else mkdir -p /var/lib/pgfleet/spool /var/log/pgfleet /var/lib/pgfleet-agent /var/log/pgfleet-agent; fi

# Debian packages into build/deb (dpkg-buildpackage -us -uc -b on a copy of the
# tree, then lintian): docs/operations.md.
deb:
	JOBS=2 scripts/deb.sh $(abspath $(BUILD))/deb

# make deb, then the packages' contents, and as root dpkg -i, the installed programs,
# remove and purge inside throw-away overlays (tests/package/t_deb.sh).
package-test: $(TOOLS)
	$(MAKE) deb
	BIN=$(abspath $(BUILD)/bin) tests/package/t_deb.sh $(abspath $(BUILD))/deb

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
