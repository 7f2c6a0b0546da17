# libexectrace: `make run` traces execs, `make test` runs every test.
# Both install missing Debian packages first (scripts/install-deps.sh).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
DESTDIR    ?=
CARGO      ?= cargo

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# What a static link of libexectrace.a needs besides libc: `cargo rustc --release
# --lib --crate-type staticlib -- --print native-static-libs` (libbpf, libelf and
# zlib are inside libexectrace.a: libbpf-rs feature `vendored`, Cargo.toml).
LIBS_PRIVATE := -lgcc_s -lutil -lrt -lpthread -lm -ldl
REL := target/release
# pkg-config for the source tree (make pc): PKG_CONFIG_PATH=$(CURDIR)/$(REL)/pkgconfig
PC_UNINSTALLED := $(REL)/pkgconfig/exectrace-uninstalled.pc

.PHONY: all deps build pc run test test-rust test-kernels header install uninstall bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --release --locked
	@$(MAKE) --no-print-directory pc

pc:
	@mkdir -p $(REL)/pkgconfig
	@sed -e 's|@SRCDIR@|$(CURDIR)|' -e 's|@LIBDIR@|$(CURDIR)/$(REL)|' \
	     -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' \
	     pkgconfig/exectrace-uninstalled.pc.in > $(PC_UNINSTALLED)

# Trace every exec on this host (as root), one line each.
run: build
	$(REL)/exectrace $(ARGS)

test: deps
	@tests/run-all.sh

test-rust: deps
	@tests/run-rust.sh

# The kernel tests on Debian's 5.10, 6.1 and 6.12 kernels under QEMU, and
# on the host: one result line per kernel (tests/kernels/run.sh).
test-kernels: deps
	@tests/kernels/run.sh $(KERNELS)

header:
	EXECTRACE_UPDATE_HEADER=1 $(CARGO) test --locked -q --test header

install: build
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(REL)/libexectrace.so $(DESTDIR)$(LIBDIR)/libexectrace.so.$(VERSION)
	ln -sf libexectrace.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libexectrace.so.0
	ln -sf libexectrace.so.0 $(DESTDIR)$(LIBDIR)/libexectrace.so
	install -m 0644 $(REL)/libexectrace.a $(DESTDIR)$(LIBDIR)/libexectrace.a
	install -m 0644 include/exectrace.h $(DESTDIR)$(INCLUDEDIR)/exectrace.h
	install -m 0755 $(REL)/exectrace $(DESTDIR)$(BINDIR)/exectrace
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' \
	    pkgconfig/exectrace.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/exectrace.pc
	@case "$(DESTDIR):$(LIBDIR)" in :/usr/lib|:/usr/local/lib|:/usr/lib64|:/usr/local/lib64) \
	    [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null && ldconfig || true ;; esac

# The benchmark program (bench/): `make bench ARGS=--quick`, `ARGS="--soak 600"`.
bench: build
	bench/run.sh $(ARGS)

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libexectrace.so* $(DESTDIR)$(LIBDIR)/libexectrace.a \
	      $(DESTDIR)$(INCLUDEDIR)/exectrace.h $(DESTDIR)$(LIBDIR)/pkgconfig/exectrace.pc \
	      $(DESTDIR)$(BINDIR)/exectrace

clean:
	$(CARGO) clean
