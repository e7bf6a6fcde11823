# ocspxy: a caching OCSP proxy. See README.md.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
sysconfdir ?= /etc
DESTDIR	?=
BUILD	?= build
CC	?= cc
CFLAGS	?= -O2 -g
PKGS	 = fcgi hiredis libcurl openssl
WARN	 = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow \
	   -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wpointer-arith
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Isrc -MMD -MP
# The version, from one place: the first line of debian/changelog,
# "ocspxy (VERSION) ...". The programs show it with -V (ocspxy --version).
VERSION	:= $(shell sed -n '1s/^[^ ]* (\(.*\)) .*/\1/p' debian/changelog)

MODULES	 = log config prog ocsp cache sentinel upstream store gate breaker mem \
	   http proxy refresh metrics admin haproxy
OBJS	 = $(MODULES:%=$(BUILD)/%.o)
LIB	 = $(BUILD)/libocspxy.a
PROGS	 = $(BUILD)/ocspxy-fcgi $(BUILD)/ocspxy-refresh $(BUILD)/ocspxy

.PHONY: all check unit deps run install uninstall clean format bench fuzz \
	deb check-deb

all: $(PROGS) $(BUILD)/test-unit

$(BUILD)/%.o: src/%.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/%.o: tests/%.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/prog.o: ALL_CFLAGS += -DOCSPXY_VERSION='"$(VERSION)"'
$(BUILD)/prog.o: debian/changelog

$(LIB): $(OBJS)
	rm -f $@
	$(AR) rcs $@ $(OBJS)

$(BUILD)/ocspxy-%: $(BUILD)/ocspxy-%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/ocspxy: $(BUILD)/ocspxy.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/test-unit: $(BUILD)/unit.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# Installs the Debian packages the build and the tests need, when missing.
deps:
	@sh tests/deps.sh

# The whole suite with the normal build, then again with AddressSanitizer
# and UndefinedBehaviorSanitizer (tests/t_fuzz.sh runs the fuzz smoke).
ASAN_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=all
check: deps
	$(MAKE) all
	$(MAKE) BUILD=build-asan CFLAGS='$(ASAN_CFLAGS)' all
	bash tests/run.sh --both

# libFuzzer targets (ASan, UBSan) for FUZZ_TIME seconds each.
FUZZ_TIME ?= 60
fuzz: deps
	sh tests/fuzz/run.sh $(FUZZ_TIME)

run: deps all
	sh tests/run-local.sh

# Programs, units, the example config and the web server snippets. Units,
# snippets and ocspxy-spawn's page name @SBINDIR@ and @SYSCONFDIR@, filled
# in here.
DATADIR	?= $(PREFIX)/share/ocspxy
MANDIR	?= $(PREFIX)/share/man
UNITDIR	?= $(PREFIX)/lib/systemd/system
SUBST	 = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(sysconfdir)|g'
SNIPPETS = $(wildcard nginx/* apache/* lighttpd/* haproxy/*)
UNITS	 = $(wildcard fcgi/*.service fcgi/*.socket)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(sysconfdir)/ocspxy
	install -m 0755 $(BUILD)/ocspxy-fcgi $(BUILD)/ocspxy-refresh \
	    $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/ocspxy $(DESTDIR)$(BINDIR)/
	$(SUBST) fcgi/ocspxy-spawn > $(DESTDIR)$(SBINDIR)/ocspxy-spawn
	chmod 0755 $(DESTDIR)$(SBINDIR)/ocspxy-spawn
	set -e; for f in $(UNITS); do \
	    $(SUBST) $$f > $(DESTDIR)$(UNITDIR)/$${f#fcgi/}; \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$${f#fcgi/}; done
	set -e; for f in $(SNIPPETS); do \
	    install -d $(DESTDIR)$(DATADIR)/$${f%/*}; \
	    $(SUBST) $$f > $(DESTDIR)$(DATADIR)/$$f; done
	install -m 0644 fcgi/ocspxy.conf $(DESTDIR)$(DATADIR)/ocspxy.conf.example
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/ocspxy.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/ocspxy.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/ocspxy-fcgi.8 man/ocspxy-refresh.8 \
	    $(DESTDIR)$(MANDIR)/man8/
	$(SUBST) man/ocspxy-spawn.8 > $(DESTDIR)$(MANDIR)/man8/ocspxy-spawn.8
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/ocspxy-spawn.8
	test -e $(DESTDIR)$(sysconfdir)/ocspxy/ocspxy.conf || \
	    install -m 0644 fcgi/ocspxy.conf $(DESTDIR)$(sysconfdir)/ocspxy/ocspxy.conf

# Leaves a config the operator may have edited in place.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ocspxy-fcgi $(DESTDIR)$(SBINDIR)/ocspxy-refresh
	rm -f $(DESTDIR)$(BINDIR)/ocspxy $(DESTDIR)$(SBINDIR)/ocspxy-spawn
	rm -f $(UNITS:fcgi/%=$(DESTDIR)$(UNITDIR)/%)
	rm -rf $(DESTDIR)$(DATADIR)
	rm -f $(DESTDIR)$(MANDIR)/man1/ocspxy.1 \
	    $(DESTDIR)$(MANDIR)/man5/ocspxy.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/ocspxy-fcgi.8 \
	    $(DESTDIR)$(MANDIR)/man8/ocspxy-refresh.8 \
	    $(DESTDIR)$(MANDIR)/man8/ocspxy-spawn.8
	cmp -s fcgi/ocspxy.conf $(DESTDIR)$(sysconfdir)/ocspxy/ocspxy.conf && \
	    rm -f $(DESTDIR)$(sysconfdir)/ocspxy/ocspxy.conf || true
	rmdir $(DESTDIR)$(sysconfdir)/ocspxy 2>/dev/null || true

# The Debian package (debian/), built by dpkg-buildpackage -us -uc -b in a
# copy of the tree, $(DEBDIR)/ocspxy-VERSION/, so that neither its clean
# step nor the files it writes beside the source folder touch the tree.
# Leaves $(DEBDIR)/ocspxy_VERSION_ARCH.deb, and its -dbgsym package,
# .buildinfo and .changes beside it. Installs the build dependencies of
# debian/control when any is missing.
DEBDIR	 = build-deb
deb:
	@sh tests/deps.sh deb
	rm -rf $(DEBDIR)
	mkdir -p $(DEBDIR)/ocspxy-$(VERSION)
	tar -c --exclude=./.git --exclude='./build' --exclude='./build-*' \
	    --exclude=./run . | tar -x -C $(DEBDIR)/ocspxy-$(VERSION)
	cd $(DEBDIR)/ocspxy-$(VERSION) && dpkg-buildpackage -us -uc -b -Jauto
	@ls $(DEBDIR)/ocspxy_$(VERSION)_*.deb

# The package's test alone: build, lintian, install, use, purge.
check-deb:
	bash tests/run.sh t_deb

clean:
	rm -rf build build-asan build-fuzz build-deb run

format:
	clang-format -i src/*.c src/*.h tests/*.c tests/fuzz/*.c tests/bench/*.c

-include $(OBJS:.o=.d) $(BUILD)/unit.d $(PROGS:=.d)

include tests/bench/bench.mk
