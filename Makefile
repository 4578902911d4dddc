# hookd: `make run` starts everything on localhost, `make test` proves it.

SHELL      := /bin/bash
BUILD      ?= build
NGX_SRC    ?= /usr/share/nginx/src
NGX_BUILD  := $(BUILD)/nginx
PORT       ?= 8080

CC         ?= cc
WARN       := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS     ?= -O2 -g
PG_INC     := $(shell pg_config --includedir 2>/dev/null)
HOOKD_LIBS := -lpq -ljansson -lcrypto -lcurl -lev -lm -pthread
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all

MODULE_SRCS := $(wildcard ngx_module/*.c ngx_module/*.h ngx_module/shared/*) config
# ngx_module/shared/: compiled into both the module and hookd
SHARED_SRCS := $(wildcard ngx_module/shared/*.c)
WORKER_SRCS := $(wildcard worker/*.c) $(SHARED_SRCS)
WORKER_HDRS := $(wildcard worker/*.h) $(wildcard ngx_module/shared/*.h)
MIGRATIONS  := $(sort $(wildcard sql/migrations/*.sql))
# ids.sql holds the id generator that column defaults call: it is applied
# before the migrations, every other function file after them
EARLY_FUNCS := sql/functions/ids.sql
FUNCTIONS   := $(filter-out $(EARLY_FUNCS),$(sort $(wildcard sql/functions/*.sql)))
UNIT_TESTS  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps build run test unit integration fuzz bench clean

all: build

deps:
	@sh conf/scripts/deps.sh

build: deps $(BUILD)/ngx_http_hookd_module.so $(BUILD)/hookd $(BUILD)/web/index.html

# the dashboard: static files, served by stock nginx at /ui/ (docs/dashboard.md)
WEB_SRCS := $(wildcard web/*.html web/*.css web/js/*.js)
$(BUILD)/web/index.html: $(WEB_SRCS)
	rm -rf $(BUILD)/web && mkdir -p $(BUILD) && cp -r web $(BUILD)/web

# The module is built against Debian's nginx sources (nginx-dev) with the
# same configure flags as /usr/sbin/nginx, so that the stock binary loads it.
$(NGX_BUILD)/objs/Makefile: config
	rm -rf $(NGX_BUILD) && mkdir -p $(BUILD) && cp -r $(NGX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && . ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='-g -O2 -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wall -Wextra -Werror' \
	    --with-ld-opt='-Wl,-z,relro -Wl,-z,now -fPIC' \
	    --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	    || { tail -20 configure.log; exit 1; }

$(BUILD)/ngx_http_hookd_module.so: $(NGX_BUILD)/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -s -C $(NGX_BUILD) -f objs/Makefile modules
	cp $(NGX_BUILD)/objs/ngx_http_hookd_module.so $@

# sql/ is compiled into hookd so that `hookd migrate` needs no files. The
# directories too: a file removed or renamed changes only their mtime.
$(BUILD)/migrations.c: $(MIGRATIONS) $(EARLY_FUNCS) $(FUNCTIONS) sql/migrations \
                       sql/functions conf/scripts/embed-sql.sh
	@mkdir -p $(BUILD)
	sh conf/scripts/embed-sql.sh $(MIGRATIONS) -- $(EARLY_FUNCS) -- $(FUNCTIONS) > $@

$(BUILD)/hookd: $(WORKER_SRCS) $(WORKER_HDRS) $(BUILD)/migrations.c
	$(CC) $(CFLAGS) $(WARN) -std=gnu11 -I$(PG_INC) -Iworker -Ingx_module/shared -o $@ \
	    $(WORKER_SRCS) $(BUILD)/migrations.c $(HOOKD_LIBS)

# Unit tests: cmocka, under AddressSanitizer and UndefinedBehaviorSanitizer.
$(BUILD)/unit/test_validate: tests/unit/test_validate.c ngx_module/shared/hookd_validate.c
$(BUILD)/unit/test_key: tests/unit/test_key.c ngx_module/shared/hookd_key.c
$(BUILD)/unit/test_secret: tests/unit/test_secret.c worker/secret.c worker/util.c ngx_module/shared/hookd_seal.c
$(BUILD)/unit/test_sign: tests/unit/test_sign.c worker/sign.c worker/secret.c worker/util.c ngx_module/shared/hookd_seal.c
$(BUILD)/unit/test_retry: tests/unit/test_retry.c worker/retry.c
$(BUILD)/unit/test_ssrf: tests/unit/test_ssrf.c worker/ssrf.c
$(BUILD)/unit/test_conninfo: tests/unit/test_conninfo.c ngx_module/shared/hookd_conninfo.c
$(BUILD)/unit/test_verify: tests/unit/test_verify.c ngx_module/hookd_verify.c ngx_module/shared/hookd_seal.c
$(BUILD)/unit/test_form: tests/unit/test_form.c ngx_module/hookd_form.c
$(BUILD)/unit/test_filter: tests/unit/test_filter.c ngx_module/shared/hookd_filter.c
$(BUILD)/unit/test_headers: tests/unit/test_headers.c ngx_module/shared/hookd_headers.c ngx_module/shared/hookd_seal.c
$(BUILD)/unit/test_classify: tests/unit/test_classify.c ngx_module/shared/hookd_classify.c ngx_module/shared/hookd_classify_rules.c
$(BUILD)/unit/%:
	@mkdir -p $(BUILD)/unit
	$(CC) -O1 -g $(WARN) $(SAN) -std=gnu11 -Ingx_module/shared -Ingx_module -Iworker -I$(PG_INC) \
	    -o $@ $^ -lcmocka -ljansson -lcrypto -lpq -lcurl -lm

unit: deps $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# libFuzzer on every parser of untrusted input; a short pass in `make test`.
FUZZ_RUNS ?= 100000
FUZZERS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzz/fuzz_validate: tests/fuzz/fuzz_validate.c ngx_module/shared/hookd_validate.c
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_module/shared -o $@ $^ -ljansson

$(BUILD)/fuzz/fuzz_verify: tests/fuzz/fuzz_verify.c ngx_module/hookd_verify.c ngx_module/shared/hookd_seal.c ngx_module/hookd_form.c
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_module/shared -Ingx_module -o $@ $^ -lcrypto -ljansson

$(BUILD)/fuzz/fuzz_classify: tests/fuzz/fuzz_classify.c ngx_module/shared/hookd_classify.c ngx_module/shared/hookd_classify_rules.c
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_module/shared -o $@ $^ -ljansson

$(BUILD)/fuzz/fuzz_filter: tests/fuzz/fuzz_filter.c ngx_module/shared/hookd_filter.c
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_module/shared -o $@ $^ -ljansson

fuzz: deps $(FUZZERS)
	@set -e; for f in $(FUZZERS); do n=$${f##*/fuzz_}; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    $$f -runs=$(FUZZ_RUNS) -max_len=4096 $(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n \
	        2>&1 | tail -1; done

# the libraries pinned in tests/js/package-lock.json (npm's standardwebhooks,
# playwright-core for the dashboard's tests in Debian's chromium)
tests/js/node_modules/.package-lock.json: tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

integration: build tests/js/node_modules/.package-lock.json
	/usr/bin/python3 -m pytest -q tests/integration

test: unit fuzz integration

run: build
	PORT=$(PORT) sh conf/scripts/run.sh

$(BUILD)/curl_client: tests/bench/curl_client.c
	$(CC) -O2 $(WARN) -o $@ $< -lcurl

bench: build $(BUILD)/curl_client
	sh tests/bench/bench.sh

clean:
	rm -rf $(BUILD) .pytest_cache
