# apflow: build, run, test.
#
#   make            installs what is missing, builds ./apflow (release, -O2)
#   make run        ... and runs the whole flow on the bundled sample
#   make test       ... builds the sanitizer build and runs every test
#   make test-unit  only the unit tests; make test-cli the command-line, HTTP and browser ones
#   make fuzz       builds the libFuzzer targets into build/fuzz/ (docs/internals/fuzzing.md)
#   make bench      runs the benchmarks in bench/
#   make clean

CC      ?= cc
TOP     := $(CURDIR)
DUCKDB  := $(TOP)/third_party/duckdb
# Linked: what every command uses.  Headers only: libraries loaded when
# first needed (dlopen, apflow/dl.h), under the soname of the installed
# library: libcurl (src/core/http.c), libmicrohttpd (the server), Tesseract
# (src/core/ocr.c).  DuckDB's headers too: src/core/duckdb_dl.c loads
# libduckdb.so (dlopen) from the executable's RUNPATH, which the rpath
# below sets.
PKGS     := jansson libpcre2-8 libcrypto
PKGS_DL  := libcurl libmicrohttpd tesseract lept
soname    = $(shell objdump -p "$$(pkg-config --variable=libdir $(1) 2>/dev/null)/$(2)" 2>/dev/null | awk '/SONAME/ {print $$2}')
TESS_SONAME := $(call soname,tesseract,libtesseract.so)
CURL_SONAME := $(call soname,libcurl,libcurl.so)
MHD_SONAME  := $(call soname,libmicrohttpd,libmicrohttpd.so)

WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-missing-field-initializers
CPPFLAGS_ALL = -D_GNU_SOURCE -Iinclude -Isrc -Ibuild/gen -isystem $(DUCKDB)/include \
           $(shell pkg-config --cflags $(PKGS) $(PKGS_DL) mupdf 2>/dev/null) \
           $(if $(TESS_SONAME),-DAPF_TESSERACT_SONAME='"$(TESS_SONAME)"') \
           $(if $(CURL_SONAME),-DAPF_CURL_SONAME='"$(CURL_SONAME)"') \
           $(if $(MHD_SONAME),-DAPF_MHD_SONAME='"$(MHD_SONAME)"')
LIBS_ALL = -Wl,-rpath,$(DUCKDB)/lib \
           -lmupdf -lmupdf-third -lmujs -lgumbo -lopenjp2 -ljbig2dec -ljpeg -lfreetype -lharfbuzz -lpng16 -lz -lm \
           $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

CORE_SRC := $(sort $(wildcard src/core/*.c src/server/*.c))
CMD_SRC  := $(sort $(wildcard src/cmd/*.c)) src/main.c
WEB      := $(sort $(wildcard web/*))
SQL      := $(sort $(wildcard sql/motherduck/*.sql))
CONFIG   := $(sort $(wildcard config/*.json config/gazetteers/*.tsv config/gazetteers/*.txt))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

REL := build/release
SAN := build/asan
REL_CFLAGS := -O2 -g $(WARN)
SAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all $(WARN)

.PHONY: all deps run test test-unit test-cli bench clean distclean fuzz
all: apflow

# install-deps.sh --check is cheap; the full script runs only when something is missing.
deps:
	@scripts/install-deps.sh --check || scripts/install-deps.sh

# The files of web/, sql/motherduck/ and config/ are compiled into the
# binary, in one table (apflow/asset.h).  The list file changes when a file
# is added, renamed or removed.
ASSETS := $(WEB) $(SQL) $(CONFIG)
build/gen/assets.list: FORCE
	@mkdir -p $(@D)
	@echo '$(ASSETS)' | cmp -s - $@ || echo '$(ASSETS)' >$@
build/gen/assets.c: $(ASSETS) build/gen/assets.list scripts/embed.sh | deps
	scripts/embed.sh --root web/ --root sql/motherduck/ --root config/ $@ $(ASSETS)
FORCE:

# The DuckDB functions apflow calls are listed once, in src/core/duckdb_dl.h
# (X(name) lines); the #defines that call each name through its pointer
# are made from that list.  Every object waits for it (order only; -MMD
# then records who includes it).
# libmicrohttpd's, in src/server/mhd_dl.h, the same way.
define dl_names
	@mkdir -p $(@D)
	@{ echo '/* made from $< by the Makefile */'; \
	  sed -n 's/^[[:space:]]*X(\($(1)[A-Za-z0-9_]*\))[[:space:]\\]*$$/#define \1 (*apf_dl_\1)/p' $<; } >$@.tmp
	@mv $@.tmp $@
endef
GEN_H := build/gen/duckdb_dl_names.h build/gen/mhd_dl_names.h
build/gen/duckdb_dl_names.h: src/core/duckdb_dl.h
	$(call dl_names,duckdb_)
build/gen/mhd_dl_names.h: src/server/mhd_dl.h
	$(call dl_names,MHD_)

$(REL)/%.o: %.c | deps $(GEN_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS_ALL) $(REL_CFLAGS) -MMD -MP -c $< -o $@
$(SAN)/%.o: %.c | deps $(GEN_H)
	@mkdir -p $(@D)
	@echo "  CC asan $<"
	@$(CC) $(CPPFLAGS_ALL) $(SAN_CFLAGS) -MMD -MP -c $< -o $@

$(REL)/libapflow.a: $(CORE_SRC:%.c=$(REL)/%.o) $(REL)/build/gen/assets.o
	@ar rcs $@ $^
$(SAN)/libapflow.a: $(CORE_SRC:%.c=$(SAN)/%.o) $(SAN)/build/gen/assets.o
	@ar rcs $@ $^

$(REL)/apflow: $(CMD_SRC:%.c=$(REL)/%.o) $(REL)/libapflow.a
	@echo "  LD      $@"
	@$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS_ALL)
$(SAN)/apflow: $(CMD_SRC:%.c=$(SAN)/%.o) $(SAN)/libapflow.a
	@echo "  LD asan $@"
	@$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS_ALL)

apflow: $(REL)/apflow
	cp $< $@

# tests/unit/isolate.c runs each test of a binary in a process of its own.
$(SAN)/tests/unit/%: $(SAN)/tests/unit/%.o $(SAN)/tests/unit/isolate.o $(SAN)/libapflow.a
	@echo "  LD asan $@"
	@$(CC) $(SAN_CFLAGS) -Wl,--wrap=_cmocka_run_group_tests -o $@ $^ $(LIBS_ALL) $(shell pkg-config --libs cmocka)

UNIT_BIN := $(UNIT_SRC:%.c=$(SAN)/%)

# libFuzzer targets (fuzz/fuzz_*.c, docs/internals/fuzzing.md), built with
# Debian's clang under AddressSanitizer and UndefinedBehaviorSanitizer:
# the core is compiled again with coverage instrumentation into
# build/fuzz/libapflow.a.  `make fuzz` also makes the PDF seeds the
# repository does not commit (fuzz/gen-pdf-seeds.sh); tests/fuzz/ runs
# each target for a few seconds within `make test`.
FUZZ     := build/fuzz
FUZZ_CC  ?= clang
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(FUZZ)/%)
# gcc's build holds the code to -Werror; clang's own extra warnings are
# shown here but do not stop the fuzz build.
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
           $(filter-out -Werror,$(WARN)) -Wno-string-concatenation -Wno-string-plus-int
# The upload target's fakes replace server.c's and ingest.c's functions of the same names.
FUZZ_LDFLAGS_fuzz_upload := -Wl,--allow-multiple-definition -lmicrohttpd

$(FUZZ)/obj/%.o: %.c | deps $(GEN_H)
	@mkdir -p $(@D)
	@echo "  CC fuzz $<"
	@$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ)/libapflow.a: $(CORE_SRC:%.c=$(FUZZ)/obj/%.o) $(FUZZ)/obj/build/gen/assets.o
	@ar rcs $@ $^
$(FUZZ)/fuzz_%: $(FUZZ)/obj/fuzz/fuzz_%.o $(FUZZ)/libapflow.a
	@echo "  LD fuzz $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LDFLAGS_$(notdir $@)) $(LIBS_ALL)
$(FUZZ)/seeds/pdf/.done: fuzz/gen-pdf-seeds.sh scripts/gen-corpus.sh tests/lib/mkpdf.sh | deps
	@fuzz/gen-pdf-seeds.sh $(@D)
	@touch $@

fuzz: $(FUZZ_BIN) $(FUZZ)/seeds/pdf/.done

test: deps $(SAN)/apflow $(UNIT_BIN) apflow fuzz
	@tests/run.sh
# Parts of `make test`: the unit tests; the command-line, HTTP and browser
# scripts (tests/run.sh PATTERN runs any subset, e.g. tests/run.sh t0410).
test-unit: deps $(UNIT_BIN)
	@tests/run.sh unit/
test-cli: deps $(SAN)/apflow apflow
	@tests/run.sh cli/ && tests/run.sh http/ && tests/run.sh browser/

run: deps apflow
	@scripts/run-sample.sh

bench: deps apflow
	@for b in bench/*.sh; do echo "== $$b"; $$b || exit 1; done

clean:
	rm -rf build apflow
distclean: clean
	rm -rf third_party data

-include $(shell find build -name '*.d' 2>/dev/null)

# Keep intermediate objects (unit-test .o files) so rebuilds stay incremental.
.SECONDARY:
