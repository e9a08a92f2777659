# Postern: one plain Makefile.
#   make          build build/bin/postern and its command links
#   make run      install deps, build, create ./run/ instance, run the server in the foreground
#   make check    install deps, build with ASan+UBSan, run unit + end-to-end tests + fuzz smoke
#   make bench    side-by-side benchmark against Postfix (see bench/)
#   make fuzz     build libFuzzer targets (clang)
#   make docs     regenerate the parameter table in docs/parameters.md
#   make lint     the truncation lint of src/ (also part of make check)

CC      ?= cc
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Isrc
LDLIBS  := -lssl -lcrypto -llmdb -lpcre2-8 -lcrypt -lpthread -lcares

SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LINKS   := postfix postconf postqueue postcat postsuper postmap postdrop sendmail mailq newaliases \
           postern-passwd
SRCS    := $(shell find src -name '*.c' | sort)
LIBSRCS := $(filter-out src/main.c,$(SRCS))
OBJS    := $(patsubst src/%.c,build/obj/%.o,$(SRCS))
CHKOBJS := $(patsubst src/%.c,build/check/obj/%.o,$(SRCS))
CHKLIB  := $(patsubst src/%.c,build/check/obj/%.o,$(LIBSRCS))
UNITSRC := $(wildcard tests/unit/test_*.c)
UNITBIN := $(patsubst tests/unit/%.c,build/check/unit/%,$(UNITSRC))
FUZZSRC := $(wildcard fuzz/fuzz_*.c)
FUZZBIN := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZSRC))

.PHONY: all deps run check unit e2e fuzz fuzz-smoke bench clean install format docs docs-check torture lint

all: build/bin/postern

deps:
	@sh scripts/install-deps.sh

build/bin/postern: $(OBJS)
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDLIBS)
	@for l in $(LINKS); do ln -sf postern $(@D)/$$l; done

build/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# Sanitized build used by every test.
build/check/bin/postern: $(CHKOBJS)
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(SAN) -o $@ $(CHKOBJS) $(LDLIBS)
	@for l in $(LINKS); do ln -sf postern $(@D)/$$l; done

build/check/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC+SAN  $<"
	@$(CC) $(CFLAGS) $(SAN) -MMD -MP -c -o $@ $<

build/check/unit/%: tests/unit/%.c tests/unit/unit.h tests/unit/unit_queue.h $(CHKLIB)
	@mkdir -p $(@D)
	@echo "  UNIT    $@"
	@$(CC) $(CFLAGS) $(SAN) -Itests/unit -o $@ $< $(CHKLIB) $(LDLIBS)

run: deps all
	@sh scripts/run.sh

unit: $(UNITBIN)
	@sh scripts/run-unit.sh $(UNITBIN)

check: deps
	@$(MAKE) --no-print-directory build/check/bin/postern $(UNITBIN) build/check/tools/param_docs build/torture/fault_shim.so
	@sh scripts/check.sh

# docs/parameters.md's table is generated from src/lib/param_class.def and config_params.c.
build/check/tools/param_docs: tools/param_docs.c $(CHKLIB)
	@mkdir -p $(@D)
	@echo "  TOOL    $@"
	@$(CC) $(CFLAGS) $(SAN) -o $@ $< $(CHKLIB) $(LDLIBS)

docs: build/check/tools/param_docs
	@ASAN_OPTIONS=detect_leaks=0 $< < docs/parameters.md > build/check/parameters.md
	@mv build/check/parameters.md docs/parameters.md

# No silent truncation (issue 11): no ignored snprintf result, no strcpy/strcat/sprintf in src/.
lint:
	@/usr/bin/python3 scripts/lint-truncation.py

docs-check: build/check/tools/param_docs
	@ASAN_OPTIONS=detect_leaks=0 $< < docs/parameters.md | cmp -s - docs/parameters.md || \
	    { echo "docs/parameters.md is stale: run make docs"; exit 1; }

fuzz: $(FUZZBIN)

# Fault injection under load (tests/torture/, docs/reliability.md): the full form; make check
# runs the short form through tests/e2e/test_torture_short.py.
build/torture/fault_shim.so: tests/torture/fault_shim.c
	@mkdir -p $(@D)
	@echo "  SHIM    $@"
	@$(CC) $(CSTD) -Wall -Wextra -Werror -O2 -fPIC -shared -o $@ $< -ldl

torture: deps build/bin/postern build/torture/fault_shim.so
	@POSTERN_BIN=$(CURDIR)/build/bin/postern /usr/bin/python3 tests/torture/torture.py $(TORTURE_ARGS)

# Fuzz targets link against an archive, so each pulls in only the objects it needs.
FUZZCC    := clang
FUZZFLAGS := $(CSTD) -Isrc -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZOBJS  := $(patsubst src/%.c,build/fuzz/obj/%.o,$(LIBSRCS))

build/fuzz/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC  $<"
	@$(FUZZCC) $(FUZZFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/libpostern.a: $(FUZZOBJS)
	@rm -f $@
	@ar rcs $@ $(FUZZOBJS)

build/fuzz/%: fuzz/%.c build/fuzz/libpostern.a
	@echo "  FUZZ    $@"
	@$(FUZZCC) $(CSTD) -Isrc -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/libpostern.a $(LDLIBS)

fuzz-smoke: $(FUZZBIN)
	@sh scripts/fuzz-smoke.sh $(FUZZBIN)

bench: deps all
	@sh bench/run.sh

install: all
	@sh scripts/install.sh

format:
	clang-format -i $(SRCS) $(shell find src tests fuzz -name '*.h') $(UNITSRC)

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(CHKOBJS:.o=.d) $(FUZZOBJS:.o=.d)
