//go:build exectrace_static

package exectrace

// Built with -tags exectrace_static, the program carries libexectrace.a (and
// so libbpf, libelf and zlib) and needs only libc and libgcc_s at run time.
// exectrace.go's `#cgo pkg-config: exectrace` still gives -L and
// -lexectrace; the flags below come before them on the link line: the
// archive is linked first (-l: names the file; GNU ld applies every -L to
// every -l) and --as-needed keeps the then unused libexectrace.so out of
// the program's dependencies. `pkg-config --static` adds Libs.private.

/*
#cgo pkg-config: --static exectrace
#cgo LDFLAGS: -Wl,--as-needed -l:libexectrace.a
*/
import "C"
