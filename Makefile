# Portico build. Dependencies come from pkg-config; llhttp's C sources are compiled
# from the Debian package (node-llhttp) into build/, never copied into the tree.
#
#   make            build build/portico
#   make run        install missing packages, build, start on the embedded defaults
#   make test       install missing packages, build, run every test
#   make fuzz       build the libFuzzer harnesses (clang)
#   SANITIZE=address,undefined make test    the same under ASan/UBSan (own build dir)

CC       ?= cc
PKGS     := libuv jansson yaml-0.1 openssl
LLHTTP_SRC_DIR ?= /usr/share/llhttp
LLHTTP_INC_DIR ?= /usr/share/include/llhttp

ifeq ($(SANITIZE),)
BUILD    ?= build
SANFLAGS :=
else
BUILD    ?= build/san
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
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS := -D_GNU_SOURCE -Isrc -I$(LLHTTP_INC_DIR) $(PKG_CFLAGS)
CFLAGS   := -std=c11 $(OPT) -g $(WARN) $(SANFLAGS) -MMD -MP
LDFLAGS  := $(SANFLAGS)
LDLIBS   := $(PKG_LIBS) -lpthread -lm

SRCS     := $(shell find src -name '*.c' ! -path src/main.c | sort)
OBJS     := $(SRCS:%.c=$(BUILD)/%.o)
LLHTTP_OBJS := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
LIB      := $(BUILD)/libportico.a
BIN      := $(BUILD)/portico

UNIT_SRCS := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
FUZZ_SRCS := $(shell find tests/fuzz -name 'fuzz_*.c' 2>/dev/null | sort)

.PHONY: all run test unit fuzz deps clean bench
all: $(BIN)

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Third-party parser: strict mode, its own warnings are not ours to fix.
$(BUILD)/llhttp/%.o: $(LLHTTP_SRC_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC_DIR) -DLLHTTP_STRICT_MODE=1 -std=c11 $(OPT) -g $(SANFLAGS) -w -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(BIN) serve

test: deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run.sh

# libFuzzer harnesses: clang only, always with ASan/UBSan.
FUZZ_BUILD := build/fuzz
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
fuzz: $(FUZZ_BINS)
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(SRCS) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -DPT_NO_ARENA -w \
	  -o $@ $< $(SRCS) $(LLHTTP_SRC_DIR)/llhttp.c $(LLHTTP_SRC_DIR)/api.c $(LLHTTP_SRC_DIR)/http.c \
	  -DLLHTTP_STRICT_MODE=1 $(LDLIBS)

bench: all
	bench/proxy.sh

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(BUILD)/src/main.d
