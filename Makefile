# ngx_cs_module: build, test, run and install.
#   make run    build and serve /api/service on 127.0.0.1:8080
#   make test   build and run the Test::Nginx suite against its own Redis,
#               the schema unit tests and the fuzzer's replay

NGX_SRC     ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
BUILD       := $(CURDIR)/build
MODULE      := $(BUILD)/ngx_http_cs_module.so
# ngx_devel_kit (libnginx-mod-http-ndk): the module uses its functions, so
# nginx loads it first
NDK_MODULE  := /usr/lib/nginx/modules/ndk_http_module.so
SOURCES     := config $(wildcard ngx_cs_module/*.c ngx_cs_module/*.h \
                                 ngx_cs_module/*.lua ngx_cs_module/*.sh)
CC_OPT      := -g -O2 -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
               -Wall -Wextra -Werror
LD_OPT      := -Wl,-z,relro -Wl,-z,now -fPIC

# the project's runner only when the real Test::Nginx is not installed
PROVE_INC   := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                 || echo "-I $(CURDIR)/t/compat")
TEST_ENV    := TEST_NGINX_BINARY=$(NGINX) \
               TEST_NGINX_LOAD_MODULES="$(NDK_MODULE) $(MODULE)"
TESTS       ?= t/*.t
VALGRIND_CI_TESTS := t/003-body.t t/007-redis-faults.t t/008-abort.t \
                     t/009-workers.t t/012-privacy.t

MODDIR      := /usr/lib/nginx/modules
AVAILDIR    := /usr/share/nginx/modules-available
ENABLEDDIR  := /etc/nginx/modules-enabled
# the agents' page, where conf/nginx.conf's location /desk/ aliases it
DESKDIR     := /usr/share/nginx/cs-desk
DESKFILES   := conf/desk/index.html conf/desk/desk.js conf/desk/desk.css

# what build needs first: deps installs the missing Debian packages; empty
# (make install DEPS=) builds with what is there and never runs apt-get, as
# t/013-install.t does from inside the suite
DEPS        ?= deps

.PHONY: all deps build test test-valgrind run install uninstall bench clean \
        unit fuzz fuzz-ci fuzz-replay chaos soak

all: build

deps:
	@scripts/deps.sh build

build: $(DEPS) $(MODULE)

# nginx-dev's tree only configures: build the module in a scratch copy
$(BUILD)/nginx/objs/Makefile: config $(wildcard ngx_cs_module/*.lua ngx_cs_module/*.sh) Makefile
	@rm -rf $(BUILD)/nginx && mkdir -p $(BUILD)
	@cp -a $(NGX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && bash -c '. ./conf_flags && ./configure \
	    "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="$(CC_OPT)" \
	    --with-ld-opt="$(LD_OPT)" --add-dynamic-module=$(CURDIR)' \
	    > $(BUILD)/configure.log 2>&1 \
	    || { tail -n 30 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile $(SOURCES)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	@# a running nginx maps the old file: replace it, never rewrite it
	cp $(BUILD)/nginx/objs/ngx_http_cs_module.so $@.tmp && mv -f $@.tmp $@

test: build
	@scripts/deps.sh test
	$(TEST_ENV) prove $(PROVE_INC) $(TESTS)
	@t/unit/run.sh
	@fuzz/run.sh ci
	@# the paths that free on faults and aborts, under valgrind (the whole
	@# suite is make test-valgrind, about 8 minutes)
	@$(MAKE) -s test-valgrind TESTS="$(VALGRIND_CI_TESTS)"

# every schema's verdicts, codes, fields, messages and values, split anyhow
unit: deps
	@t/unit/run.sh

# the validator against an independent reference, with libFuzzer
fuzz:
	@fuzz/run.sh fuzz

fuzz-ci:
	@fuzz/run.sh ci

fuzz-replay:
	@fuzz/run.sh replay

# Redis killed, paused and flushed under load: nothing lost or doubled
chaos: build
	@scripts/deps.sh test
	@chaos/run.sh

# 10 minutes at 80% of the measured maximum: RSS, errors and p99 over time
soak: build
	@scripts/deps.sh test
	@soak/run.sh

# the real Test::Nginx only prefixes valgrind; its logs are scanned here
test-valgrind: build
	@scripts/deps.sh test valgrind
	@rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	$(TEST_ENV) TEST_NGINX_USE_VALGRIND="-q --tool=memcheck \
	    --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite \
	    --suppressions=$(CURDIR)/valgrind.suppress \
	    --log-file=$(BUILD)/valgrind/%p.log" \
	    prove $(PROVE_INC) $(TESTS); rc=$$?; \
	    scripts/valgrind-check.sh $(BUILD)/valgrind || rc=1; exit $$rc

run: build
	@scripts/deps.sh run
	@scripts/run.sh

install: build
	install -d $(DESTDIR)$(MODDIR) $(DESTDIR)$(AVAILDIR) \
	    $(DESTDIR)$(ENABLEDDIR) $(DESTDIR)$(DESKDIR)
	install -m 0644 $(MODULE) $(DESTDIR)$(MODDIR)/
	install -m 0644 $(DESKFILES) $(DESTDIR)$(DESKDIR)/
	echo "load_module modules/ngx_http_cs_module.so;" \
	    > $(DESTDIR)$(AVAILDIR)/mod-http-cs.conf
	@# nginx includes modules-enabled/*.conf in name order: NDK's package
	@# enables its snippet as 10-mod-http-ndk.conf, so 50- loads after it
	ln -sf $(AVAILDIR)/mod-http-cs.conf \
	    $(DESTDIR)$(ENABLEDDIR)/50-mod-http-cs.conf
	@scripts/check-ndk-order.sh $(ENABLEDDIR) 50-mod-http-cs.conf \
	    $(if $(DESTDIR),warn)

uninstall:
	rm -f $(DESTDIR)$(ENABLEDDIR)/50-mod-http-cs.conf \
	    $(DESTDIR)$(AVAILDIR)/mod-http-cs.conf \
	    $(DESTDIR)$(MODDIR)/ngx_http_cs_module.so
	rm -rf $(DESTDIR)$(DESKDIR)

bench: build
	@scripts/deps.sh bench
	@bench/run.sh

clean:
	rm -rf $(BUILD) t/servroot .run
