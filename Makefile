# Portico build. Dependencies come from pkg-config; llhttp's C sources are compiled
# from the Debian package (node-llhttp) into build/, never copied into the tree.
#
#   make            build build/portico
#   make run        install what running needs, build, start on the embedded defaults
#   make test       install what building and testing need, build, run every test
#   make deps       install what running, testing and benchmarking need (scripts/deps.sh)
#   make fuzz       build the libFuzzer harnesses (clang)
#   SANITIZE=address,undefined make test    the same under ASan/UBSan (in build/san-address-undefined)

CC       ?= cc
PKGS     := libuv jansson yaml-0.1 openssl sqlite3 libargon2 libnghttp2 hiredis libpq
LLHTTP_SRC_DIR ?= /usr/share/llhttp
LLHTTP_INC_DIR ?= /usr/share/include/llhttp

ifeq ($(SANITIZE),)
BUILD    ?= build
SANFLAGS :=
else
comma    := ,
BUILD    ?= build/san-$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -DPT_NO_ARENA
endif

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN     += -Werror
endif
ifeq ($(WERROR),1)
WARN     += -Werror
endif

OPT      ?= -O2
NPROC    := $(shell nproc 2>/dev/null || echo 2)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS := -D_GNU_SOURCE -Isrc -I$(LLHTTP_INC_DIR) $(PKG_CFLAGS)
CFLAGS   := -std=c11 $(OPT) -g $(WARN) $(SANFLAGS) -MMD -MP
LDFLAGS  := $(SANFLAGS)
LDLIBS   := $(PKG_LIBS) -lpthread -lm

SRCS     := $(shell find src -name '*.c' ! -path src/main.c | sort)
# The web console's files, embedded as a generated table (scripts/embed_assets.c); the list
# file changes when a file is added or removed, so the table follows either.
CONSOLE_FILES := $(shell find console -type f | LC_ALL=C sort)
CONSOLE_GEN   := $(BUILD)/gen/console_assets.c
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/console_assets.o
LLHTTP_OBJS := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
LIB      := $(BUILD)/libportico.a
BIN      := $(BUILD)/portico

UNIT_SRCS := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
# Test-support programs (seeding a store, ...), built with the binary for the black-box tests.
SUPPORT_SRCS := $(shell find tests/support -name '*.c' 2>/dev/null | sort)
SUPPORT_BINS := $(SUPPORT_SRCS:tests/support/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(shell find tests/fuzz -name 'fuzz_*.c' 2>/dev/null | sort)

.PHONY: all run test unit fuzz deps clean bench FORCE
all: $(BIN) $(SUPPORT_BINS)

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/embed_assets: scripts/embed_assets.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -Wall -Wextra -o $@ $<

$(BUILD)/gen/console_files.txt: FORCE
	@mkdir -p $(dir $@)
	@echo '$(CONSOLE_FILES)' | cmp -s - $@ || echo '$(CONSOLE_FILES)' > $@

$(CONSOLE_GEN): $(BUILD)/gen/embed_assets $(BUILD)/gen/console_files.txt $(CONSOLE_FILES)
	$(BUILD)/gen/embed_assets $@ console $(CONSOLE_FILES)

$(BUILD)/gen/console_assets.o: $(CONSOLE_GEN)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

FORCE:

# Third-party parser: strict mode, its own warnings are not ours to fix.
$(BUILD)/llhttp/%.o: $(LLHTTP_SRC_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC_DIR) -DLLHTTP_STRICT_MODE=1 -std=c11 $(OPT) -g $(SANFLAGS) -w -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/support/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

unit: $(UNIT_BINS)

deps:
	@scripts/deps.sh run test bench

run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@echo "Web console: http://127.0.0.1:9080/console/ (unless portico.yaml moves admin.listen)."
	@echo "First sign-in: choose 'Sign in with the bootstrap token' and paste portico-data/admin-token,"
	@echo "then set a password for admin (the console, or PATCH /admin/v1/users/admin)."
	./$(BIN) serve

test:
	@scripts/deps.sh run test
	@$(MAKE) --no-print-directory -j$(NPROC) all unit
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run.sh

# libFuzzer harnesses: clang only, always with ASan/UBSan. The sources are compiled
# once with fuzzer instrumentation into build/fuzz/obj; each harness links against them.
FUZZ_BUILD := build/fuzz
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CFLAGS := -std=c11 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -DPT_NO_ARENA -w
FUZZ_OBJS  := $(SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) \
              $(FUZZ_BUILD)/obj/llhttp/llhttp.o $(FUZZ_BUILD)/obj/llhttp/api.o $(FUZZ_BUILD)/obj/llhttp/http.o \
              $(FUZZ_BUILD)/obj/gen/console_assets.o
FUZZ_LIB   := $(FUZZ_BUILD)/libportico-fuzz.a
fuzz: $(FUZZ_BINS)
$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/obj/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(FUZZ_BUILD)/obj/gen/console_assets.o: $(CONSOLE_GEN)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC_DIR)/%.c
	@mkdir -p $(dir $@)
	clang -I$(LLHTTP_INC_DIR) -DLLHTTP_STRICT_MODE=1 $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -Itests/unit $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LDLIBS)

bench: all
	bench/proxy.sh

clean:
	rm -rf build

# unit tests too: a test binary that includes a header (server_harness.h, a module's own
# header) is rebuilt when that header changes, not only when the library does
-include $(OBJS:.o=.d) $(BUILD)/src/main.d $(wildcard $(FUZZ_BUILD)/obj/src/*/*.d) $(UNIT_BINS:=.d)
