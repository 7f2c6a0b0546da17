// Package exectrace reports every exec on a Linux host. It is a drop-in
// replacement for the Go package exectrace, built on libexectrace (a BPF
// tracer with a C ABI): switch the import path and nothing else.
//
//	t, err := exectrace.New(nil) // needs root, or CAP_BPF and CAP_PERFMON
//	if err != nil { ... }
//	defer t.Close()
//	for {
//		ev, err := t.Read() // blocks; an error wrapping io.EOF once t is closed
//		if err != nil { ... }
//		fmt.Println(ev.PID, ev.Filename, ev.Argv)
//	}
//
// The library (libexectrace.so) is found through pkg-config at build time
// and by the dynamic loader at run time; see README.md.
package exectrace

/*
#cgo pkg-config: exectrace
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <exectrace.h>

#define GO_ET_MSG_LEN 1024

// What a tracer owns on the C side, allocated once in New and freed by
// Close: the results of a batch read besides the records (which go to a
// Go-owned buffer), and the message of the last failed call
// (exectrace_last_error is per thread, and a goroutine may move between
// threads from one cgo call to the next, so the message is copied in the
// same call).
struct go_et_state {
	uint64_t drops;
	uint64_t malformed;
	size_t needed;
	char msg[GO_ET_MSG_LEN];
};

static struct go_et_state *go_et_alloc(void)
{
	return calloc(1, sizeof(struct go_et_state));
}

static void go_et_msg(struct go_et_state *b, int rc)
{
	if (exectrace_last_error(b->msg, sizeof(b->msg)) <= 0)
		snprintf(b->msg, sizeof(b->msg), "%s", exectrace_strerror(rc));
}

static int go_et_new(const struct exectrace_opts *o, struct exectrace **out, struct go_et_state *b)
{
	int rc = exectrace_new(o, out);
	if (rc)
		go_et_msg(b, rc);
	return rc;
}

// One cgo call per batch: the records, then the loss counters in the
// same call.
static int go_et_read_batch(struct exectrace *t, void *buf, size_t cap, int timeout_ms,
			    struct go_et_state *b)
{
	int n = exectrace_read_batch(t, buf, cap, timeout_ms, &b->needed);
	if (n > 0) {
		struct exectrace_stats st = { .size = sizeof(st) };
		if (exectrace_get_stats(t, &st) == 0) {
			b->drops = st.drops;
			b->malformed = st.malformed;
		}
	} else if (n != -ECANCELED) {
		go_et_msg(b, n);
	}
	return n;
}

static int go_et_stats(const struct exectrace *t, uint64_t *drops, uint64_t *malformed)
{
	struct exectrace_stats st = { .size = sizeof(st) };
	int rc = exectrace_get_stats(t, &st);
	if (rc == 0) {
		*drops = st.drops;
		*malformed = st.malformed;
	}
	return rc;
}

static int go_et_pid_ns(uint32_t *out, char *msg, size_t len)
{
	int rc = exectrace_pid_ns(out);
	if (rc && exectrace_last_error(msg, len) <= 0)
		snprintf(msg, len, "%s", exectrace_strerror(rc));
	return rc;
}
*/
import "C"

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// TracerOpts contains all of the configuration options for the tracer. All
// are optional; the zero value (or a nil *TracerOpts) means the defaults.
type TracerOpts struct {
	// PidNS filters all processes that are in the given PID namespace or in
	// the child namespace tree of this given namespace. This is very useful
	// for Docker containers, as you can read all processes in a container
	// (or in child containers).
	//
	// You can read the PID namespace ID for a given process by running
	// `readlink /proc/x/ns/pid`, or for this process with GetPidNS.
	//
	// This filter runs in the kernel. 0 means all namespaces.
	PidNS uint32

	// LogFn is called with the tracer's warnings, such as events that were
	// dropped because the reader fell behind. It is called from Read, after
	// Read has released its locks (so LogFn may call Close). uid, gid and
	// pid are 0 for messages that do not concern one process (all current
	// ones).
	//
	// If unspecified, a default log function is used that logs to the
	// standard logger (package log).
	LogFn func(uid, gid, pid uint32, logLine string)

	// FullArgv reports each event's argv without the original package's
	// limits (at most 32 arguments, each cut at 1021 bytes plus "..."):
	// every argument, up to the library's per-event argv limit of 32 KiB
	// (Truncated is set when that limit cut anything).
	FullArgv bool

	// IncludeEnv also captures each new process's environment
	// (Event.Env), read from its memory after exec as argv is. Off by
	// default: environments are large and often hold secrets.
	IncludeEnv bool

	// EnvBudget is the environment bytes captured per exec (NULs
	// included) with IncludeEnv; 0 means 32768, at most 2 MiB. Beyond it
	// Event.EnvTruncated is set and Event.EnvSize is still the true size.
	EnvBudget uint32

	// Paths also resolves Event.ExePath (the file that runs, symlinks
	// resolved) and Event.Cwd, by a bounded walk in the kernel. Off by
	// default: it costs per path component.
	Paths bool
}

// Tracer allows consumers to read exec events from the kernel via an eBPF
// program. A Tracer is safe for concurrent use.
// errClosed is what Read returns once the tracer is closed: an error
// wrapping io.EOF, with the original package's text.
var errClosed = fmt.Errorf("tracer closed: %w", io.EOF)

type Tracer interface {
	// Close stops tracing, unblocks every Read (which then returns an error
	// wrapping io.EOF)
	// and frees the tracer. A second Close returns an error.
	io.Closer

	// Read blocks until an exec event is available and returns it. After
	// Close, it returns an error wrapping io.EOF ("tracer closed: EOF", as
	// the original package's): test it with errors.Is.
	Read() (*Event, error)

	// FD returns the file descriptor of the loaded BPF program, or -1 once
	// the tracer is closed. It is owned by the tracer: do not close it.
	FD() int
}

// Event contains data about each exec event with many fields for easy
// filtering and logging.
type Event struct {
	// Filename is the path passed to exec.
	Filename string `json:"filename"`
	// Argv contains the argv the new process received, including argv[0]
	// (which is equal to `filepath.Base(e.Filename)` in most
	// circumstances). For a script it starts with the interpreter (see
	// Interpreter), as the kernel rewrote it.
	Argv []string `json:"argv"`
	// Truncated is true if Argv does not hold every argument in full: more
	// than 32 arguments, an argument cut at 1021 bytes plus "...", or the
	// library's limits (see TracerOpts.FullArgv). It is also set when the
	// filename or interpreter was cut.
	Truncated bool `json:"truncated"`

	// These values are of the new process. PID is its process id (in the
	// initial PID namespace), also when a non-main thread called exec.
	PID uint32 `json:"pid"`
	// UID and GID are the real user and group id.
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`

	// Comm is the "name" of the process that called exec (before exec),
	// usually the filename of its executable (but not always).
	Comm string `json:"comm"`

	// Fields below are not in the original package.

	// TID is the id of the thread that called exec.
	TID uint32 `json:"tid"`
	// PPID is the parent process id (initial PID namespace).
	PPID uint32 `json:"ppid"`
	// PidNS is the inode of the process's PID namespace.
	PidNS uint32 `json:"pid_ns"`
	// Interpreter is the interpreter of a script ("#!" line) or binfmt_misc
	// program, or "".
	Interpreter string `json:"interpreter,omitempty"`

	// ExePath is the absolute path of the file that runs (for a script,
	// its interpreter), symlinks resolved, as /proc/PID/exe names it,
	// relative to the exec'ing task's root (chroot, container) in its
	// mount namespace. Only with TracerOpts.Paths; "" otherwise and when it
	// was cut (ExePathCut) or cannot be named (ExePathUnresolved): never a
	// wrong or partial path.
	ExePath string `json:"exe_path,omitempty"`
	// Cwd is the working directory at exec, as ExePath (TracerOpts.Paths).
	Cwd string `json:"cwd,omitempty"`
	// LoginUID is the audit login uid (/proc/PID/loginuid), 4294967295
	// when unset; nil when the kernel has no audit support.
	LoginUID *uint32 `json:"loginuid,omitempty"`
	// SessionID is the audit session id (/proc/PID/sessionid), 4294967295
	// when unset; nil as LoginUID.
	SessionID *uint32 `json:"sessionid,omitempty"`
	// TTY is the controlling terminal, named as under /dev ("pts/3");
	// "" when there is none.
	TTY string `json:"tty,omitempty"`
	// ExeInode and ExeDev are the inode and device of the file that runs,
	// as stat(2) gives them (st_ino, st_dev); 0 for a failed exec.
	ExeInode uint64 `json:"exe_inode,omitempty"`
	ExeDev   uint64 `json:"exe_dev,omitempty"`
	// ExeMemfd is true when the program runs from a memfd (fileless).
	ExeMemfd bool `json:"exe_memfd,omitempty"`
	// ExeUpperLayer tells whether the program file is in an overlayfs
	// upper layer (added or changed in a container after it started):
	// false for any other file; nil for an overlayfs file whose layer this
	// kernel cannot tell.
	ExeUpperLayer *bool `json:"exe_upper_layer,omitempty"`
	// Env is the new process's environment ("NAME=value" strings), with
	// TracerOpts.IncludeEnv; nil otherwise.
	Env []string `json:"env,omitempty"`
	// EnvSize is the true environment size in bytes (NULs included), also
	// when Env was cut; 0 unless asked.
	EnvSize uint32 `json:"env_size,omitempty"`
	// EnvTruncated: Env is only a prefix (cut at TracerOpts.EnvBudget, the
	// last string maybe cut short), or could not be read.
	EnvTruncated bool `json:"env_truncated,omitempty"`
	// ExePathCut and CwdCut: the path was deeper or longer than the
	// kernel walk's bounds (64 components, 4096 bytes); it is "".
	ExePathCut bool `json:"exe_path_cut,omitempty"`
	CwdCut     bool `json:"cwd_cut,omitempty"`
	// ExePathUnresolved and CwdUnresolved: the path cannot be named from
	// the task's root (a memfd, a file outside a chroot); it is "".
	ExePathUnresolved bool `json:"exe_path_unresolved,omitempty"`
	CwdUnresolved     bool `json:"cwd_unresolved,omitempty"`
	// ExeDeleted and CwdDeleted: the file or directory had been deleted;
	// the path is the name it had.
	ExeDeleted bool `json:"exe_deleted,omitempty"`
	CwdDeleted bool `json:"cwd_deleted,omitempty"`
}

// GetPidNS returns the inum of the PID namespace of the current process,
// the value of `readlink /proc/self/ns/pid` (pid:[inum]).
func GetPidNS() (uint32, error) {
	var ns C.uint32_t
	var msg [256]C.char
	rc := C.go_et_pid_ns(&ns, &msg[0], C.size_t(len(msg)))
	if rc != 0 {
		return 0, fmt.Errorf("exectrace: get pid namespace: %s: %w", C.GoString(&msg[0]), syscall.Errno(-rc))
	}
	return uint32(ns), nil
}

func defaultLogFn(uid, gid, pid uint32, logLine string) {
	log.Printf("log from exectrace tracer (uid=%v, gid=%v, pid=%v): %s", uid, gid, pid, logLine)
}

type tracer struct {
	logFn    func(uid, gid, pid uint32, logLine string)
	fullArgv bool
	// createdAt is the stack of New's caller, for the finalizer's warning.
	createdAt []uintptr

	// closeMu guards closed; the Close that sets it is the one that frees.
	closeMu sync.Mutex
	closed  bool
	// isClosed is set by Close before it wakes the readers: Read returns
	// io.EOF from then on, also with events still queued.
	isClosed atomic.Bool

	// mu is held for reading around every C call on handle, and for
	// writing by Close while it frees handle and state (after shutdown
	// woke the readers), so no call can use a freed handle.
	mu     sync.RWMutex
	handle *C.struct_exectrace
	state  *C.struct_go_et_state
	// poll is a dup of the library's pollable fd (exectrace_fd) in the Go
	// runtime's poller, where Read waits while no events come (see
	// batch). nil if that is not possible.
	poll *os.File

	// readMu serialises Read. The fields below are only used under it.
	readMu sync.Mutex
	// raw waits on poll unless loaded; nil once waiting there failed
	// (Read only blocks in C).
	raw syscall.RawConn
	// loaded: events come often enough for Read to wait in C (see batch).
	loaded bool
	// yielded is when yieldIfDue last rescheduled.
	yielded time.Time
	// buf receives the records of a batch (uint64s: 8-byte aligned).
	buf []uint64
	// queue holds the decoded events of the last batch from head on.
	queue         []Event
	head          int
	lastComm      string
	seenDrops     uint64
	seenMalformed uint64
}

// batchBufSize is the initial size of a tracer's batch buffer; it grows
// when one event needs more.
const batchBufSize = 256 << 10

var _ Tracer = (*tracer)(nil)

// New creates a tracer and starts tracing: every exec from now on is
// reported by Read. opts may be nil. The tracer must be closed when no
// longer needed. While the kernel verifies the BPF program (milliseconds),
// the calling thread holds back signals, which a pending signal would
// make fail.
func New(opts *TracerOpts) (Tracer, error) {
	if opts == nil {
		opts = &TracerOpts{}
	}
	t := &tracer{
		logFn:    opts.LogFn,
		fullArgv: opts.FullArgv,
	}
	if t.logFn == nil {
		t.logFn = defaultLogFn
	}
	pcs := make([]uintptr, 32)
	t.createdAt = pcs[:runtime.Callers(2, pcs)]

	t.state = C.go_et_alloc()
	if t.state == nil {
		return nil, fmt.Errorf("exectrace: allocate tracer state: %w", syscall.ENOMEM)
	}
	var o C.struct_exectrace_opts
	o.size = C.uint32_t(unsafe.Sizeof(o))
	o.pid_ns = C.uint32_t(opts.PidNS)
	if opts.IncludeEnv {
		o.flags |= C.EXECTRACE_OPT_INCLUDE_ENV
	}
	if opts.Paths {
		o.flags |= C.EXECTRACE_OPT_PATHS
	}
	o.env_budget = C.uint32_t(opts.EnvBudget)
	var h *C.struct_exectrace
	if rc := C.go_et_new(&o, &h, t.state); rc != 0 {
		msg := C.GoString(&t.state.msg[0])
		C.free(unsafe.Pointer(t.state))
		return nil, fmt.Errorf("exectrace: create tracer: %s: %w", msg, syscall.Errno(-rc))
	}
	t.handle = h
	t.poll, t.raw = pollable(int(C.exectrace_fd(h)))
	runtime.SetFinalizer(t, (*tracer).finalize)
	return t, nil
}

func (t *tracer) finalize() {
	var b strings.Builder
	frames := runtime.CallersFrames(t.createdAt)
	for {
		f, more := frames.Next()
		fmt.Fprintf(&b, "\n\t%s\n\t\t%s:%d", f.Function, f.File, f.Line)
		if !more {
			break
		}
	}
	log.Printf("exectrace: tracer was garbage collected without Close, created at:%s", b.String())
	log.Print("exectrace: tracers must be closed when finished with to avoid leaked resources")
	_ = t.Close()
}

// Close implements Tracer.
func (t *tracer) Close() error {
	t.closeMu.Lock()
	if t.closed {
		t.closeMu.Unlock()
		return fmt.Errorf("exectrace: tracer is already closed: %w", os.ErrClosed)
	}
	t.closed = true
	t.isClosed.Store(true)
	t.closeMu.Unlock()
	runtime.SetFinalizer(t, nil)

	// Wake blocked reads (they return -ECANCELED and release mu). The
	// handle is still valid: only this call frees it, below.
	C.exectrace_shutdown(t.handle)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.poll != nil {
		_ = t.poll.Close()
		t.poll = nil
	}
	C.exectrace_close(t.handle)
	t.handle = nil
	C.free(unsafe.Pointer(t.state))
	t.state = nil
	return nil
}

// FD implements Tracer.
func (t *tracer) FD() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.handle == nil {
		return -1
	}
	fd := int(C.exectrace_prog_fd(t.handle))
	if fd < 0 {
		return -1
	}
	return fd
}

// Read implements Tracer.
func (t *tracer) Read() (*Event, error) {
	ev, logs, err := t.read()
	for _, line := range logs {
		t.logFn(0, 0, 0, line)
	}
	return ev, err
}

func (t *tracer) read() (*Event, []string, error) {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	if t.isClosed.Load() {
		return nil, nil, errClosed
	}
	var logs []string
	if t.head == len(t.queue) {
		var err error
		if logs, err = t.readBatch(); err != nil {
			return nil, nil, err
		}
	}
	ev := &t.queue[t.head]
	t.head++
	return ev, logs, nil
}

// readBatch blocks until events are ready and queues them, with one cgo
// call (two when the buffer must grow for an event). It returns warnings
// for new drops and malformed records.
func (t *tracer) readBatch() ([]string, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.handle == nil {
		return nil, errClosed
	}
	if t.buf == nil {
		t.buf = make([]uint64, batchBufSize/8)
	}
	for {
		n := t.batch()
		switch {
		case n > 0:
			t.queue = t.decode(unsafe.Slice((*byte)(unsafe.Pointer(&t.buf[0])), len(t.buf)*8), int(n))
			t.head = 0
			return t.lossLogs(uint64(t.state.drops), uint64(t.state.malformed)), nil
		case n == -C.ECANCELED:
			return nil, errClosed
		case n == -C.ENOSPC:
			t.buf = make([]uint64, (uint64(t.state.needed)+7)/8)
		default:
			return nil, fmt.Errorf("exectrace: read: %s: %w", C.GoString(&t.state.msg[0]), syscall.Errno(-n))
		}
	}
}

// batch reads the events that are ready into buf, waiting until there
// are some. The caller holds readMu and mu.
//
// Under load it waits in C (a wake-up comes within the library's 4 ms
// linger): a goroutine in a cgo call keeps its P, so sysmon does not go
// into its deep sleep, which every cgo call after a wake-up in the
// runtime's poller interrupts (most of the poller path's CPU per
// wake-up). Otherwise it waits in the poller: no thread is held in C, and
// sysmon, woken by the cgo call after the wake-up, sleeps again as soon as
// the goroutine parks (while it is in C, sysmon polls every 20 µs for
// 1 ms, then less and less often: too much for sparse events).
func (t *tracer) batch() C.int {
	call := func(timeout C.int) C.int {
		return C.go_et_read_batch(t.handle, unsafe.Pointer(&t.buf[0]), C.size_t(len(t.buf)*8), timeout, t.state)
	}
	if t.raw == nil {
		t.yieldIfDue()
		return call(-1)
	}
	if t.loaded {
		t.yieldIfDue()
		if n := call(busyWaitMs); n != 0 {
			return n
		}
		t.loaded = false
	}
	var n C.int
	// The fd polls readable when events may be ready or the tracer
	// was shut down; each look takes what is ready without waiting.
	err := t.raw.Read(func(uintptr) bool {
		n = call(0)
		return n != 0
	})
	if err == nil {
		t.loaded = n >= loadedBatch
		return n
	}
	t.raw = nil
	return call(-1)
}

// busyWaitMs bounds a wait in C: above the library's default linger
// (4 ms), and short enough that with yieldIfDue the goroutine reschedules
// within sysmon's 10 ms preemption bound.
const busyWaitMs = 5

// loadedBatch is the batch from the poller (events of up to a 4 ms
// linger) from which Read waits in C, until a wait there finds no event.
const loadedBatch = 16

// yieldIfDue reschedules the reading goroutine when it has not for a few
// ms. A goroutine that only ever runs Go code and waits in C never does,
// and sysmon treats it as running for 10 ms: it preempts it and takes its
// P, then polls every 20 µs for a while, which costs more than a
// Gosched.
func (t *tracer) yieldIfDue() {
	if now := time.Now(); now.Sub(t.yielded) >= 5*time.Millisecond {
		runtime.Gosched()
		t.yielded = now
	}
}

// pollable returns a dup of fd in the runtime's poller and a way to wait
// on it, or nils.
func pollable(fd int) (*os.File, syscall.RawConn) {
	if fd < 0 {
		return nil, nil
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, nil
	}
	syscall.CloseOnExec(dup)
	// Non-blocking makes os.NewFile register it with the poller (an epoll
	// fd's flag does not change how the library's epoll_wait waits).
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return nil, nil
	}
	f := os.NewFile(uintptr(dup), "exectrace")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil
	}
	return f, raw
}

// lossLogs returns warnings for the drops and malformed records counted
// since the last call.
func (t *tracer) lossLogs(drops, malformed uint64) []string {
	var logs []string
	if drops > t.seenDrops {
		logs = append(logs, fmt.Sprintf("dropped %d exec events (%d in total): the ring buffer was full, Read is not called often enough", drops-t.seenDrops, drops))
		t.seenDrops = drops
	}
	if malformed > t.seenMalformed {
		logs = append(logs, fmt.Sprintf("skipped %d malformed event records (%d in total; a libexectrace bug, please report)", malformed-t.seenMalformed, malformed))
		t.seenMalformed = malformed
	}
	return logs
}

// stats returns the library's counters of events dropped in the kernel and
// of malformed records. The caller holds mu for reading and handle is set.
func (t *tracer) stats() (drops, malformed uint64, err error) {
	var d, m C.uint64_t
	if rc := C.go_et_stats(t.handle, &d, &m); rc != 0 {
		return 0, 0, fmt.Errorf("exectrace: stats: %w", syscall.Errno(-rc))
	}
	return uint64(d), uint64(m), nil
}

// decode converts the n records at the start of buf (the layout of
// struct exectrace_batch_record in exectrace.h) into events. A batch
// takes three allocations: the events, one string holding the records'
// strings (filenames, interpreters and arguments are substrings of it)
// and the arguments' backing array, so an event kept keeps its batch's.
func (t *tracer) decode(buf []byte, n int) []Event {
	end, nargs, nstr := 0, 0, 0
	for i := 0; i < n; i++ {
		r := recordAt(buf, end)
		nargs += int(r.argv_count)
		if hasRich(r) {
			nargs += int(r.env_count)
		}
		nstr += int(r.size) - int(r.hdr_size)
		end += int(r.size)
	}
	// Without the headers, most of a small record: less for the GC.
	strs := make([]byte, 0, nstr)
	for off := 0; off < end; {
		r := recordAt(buf, off)
		strs = append(strs, buf[off+int(r.hdr_size):off+int(r.size)]...)
		off += int(r.size)
	}
	recs := unsafe.String(unsafe.SliceData(strs), len(strs))
	argv := make([]string, 0, nargs)
	evs := make([]Event, n)
	// The audit ids and layer flags the events point to, one array each
	// per batch.
	ids := make([]uint32, 2*n)
	layers := make([]bool, n)
	off, base := 0, 0
	for i := range evs {
		r := recordAt(buf, off)
		// The string at offset o of the record, n bytes.
		at := base - int(r.hdr_size)
		str := func(o, n C.uint32_t) string { return recs[at+int(o) : at+int(o)+int(n)] }
		off += int(r.size)
		base += int(r.size) - int(r.hdr_size)
		flags := uint32(r.flags)
		from := len(argv)
		argv = appendArgv(argv, str(r.argv_off, r.argv_len), int(r.argv_count))
		// Capacity cut at the end: appending to one event's Argv leaves
		// the next event's alone.
		args := argv[from:len(argv):len(argv)]
		truncated := flags&C.EXECTRACE_EVENT_TRUNCATED != 0
		if !t.fullArgv {
			var cut bool
			args, cut = compatArgv(args, int(r.argc))
			truncated = truncated || cut
		}
		e := &evs[i]
		*e = Event{
			Filename:  str(r.filename_off, r.filename_len),
			Argv:      args,
			Truncated: truncated,
			PID:       uint32(r.pid),
			UID:       uint32(r.uid),
			GID:       uint32(r.gid),
			Comm:      t.comm(r.comm[:]),
			TID:       uint32(r.tid),
			PPID:      uint32(r.ppid),
			PidNS:     uint32(r.pid_ns),
		}
		if flags&C.EXECTRACE_EVENT_HAS_INTERP != 0 {
			e.Interpreter = str(r.interp_off, r.interp_len)
		}
		if !hasRich(r) {
			continue // a library older than the header: no such fields
		}
		e.ExePath = str(r.exe_path_off, r.exe_path_len)
		e.Cwd = str(r.cwd_off, r.cwd_len)
		e.TTY = str(r.tty_off, r.tty_len)
		e.ExeInode = uint64(r.exe_inode)
		e.ExeDev = uint64(r.exe_dev)
		if flags&C.EXECTRACE_EVENT_AUDIT_UNKNOWN == 0 {
			ids[2*i], ids[2*i+1] = uint32(r.loginuid), uint32(r.sessionid)
			e.LoginUID, e.SessionID = &ids[2*i], &ids[2*i+1]
		}
		if flags&C.EXECTRACE_EVENT_EXE_UPPER_UNKNOWN == 0 {
			layers[i] = flags&C.EXECTRACE_EVENT_EXE_UPPER_LAYER != 0
			e.ExeUpperLayer = &layers[i]
		}
		e.ExeMemfd = flags&C.EXECTRACE_EVENT_EXE_MEMFD != 0
		if flags&C.EXECTRACE_EVENT_HAS_ENV != 0 {
			from := len(argv)
			argv = appendArgv(argv, str(r.env_off, r.env_len), int(r.env_count))
			e.Env = argv[from:len(argv):len(argv)]
			e.EnvSize = uint32(r.env_size)
			e.EnvTruncated = flags&(C.EXECTRACE_EVENT_ENV_TRUNCATED|C.EXECTRACE_EVENT_ENV_FAULT) != 0
		}
		e.ExePathCut = flags&C.EXECTRACE_EVENT_EXE_PATH_CUT != 0
		e.CwdCut = flags&C.EXECTRACE_EVENT_CWD_CUT != 0
		e.ExePathUnresolved = flags&C.EXECTRACE_EVENT_EXE_PATH_UNRESOLVED != 0
		e.CwdUnresolved = flags&C.EXECTRACE_EVENT_CWD_UNRESOLVED != 0
		e.ExeDeleted = flags&C.EXECTRACE_EVENT_EXE_DELETED != 0
		e.CwdDeleted = flags&C.EXECTRACE_EVENT_CWD_DELETED != 0
	}
	return evs
}

// recordAt returns the header of the record at buf[off:]. A record from a
// library older than the header can be shorter than the header's struct:
// at the end of buf, it is copied rather than pointed into (a pointer to
// the struct must not reach past buf); only the fields its hdr_size
// covers are read.
func recordAt(buf []byte, off int) *C.struct_exectrace_batch_record {
	var r C.struct_exectrace_batch_record
	if len(buf)-off >= int(unsafe.Sizeof(r)) {
		return (*C.struct_exectrace_batch_record)(unsafe.Pointer(&buf[off]))
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r)), buf[off:])
	return &r
}

// hasRich reports whether record r has the fields appended for the exe
// path, cwd, tty, audit ids, exe inode and environment (hdr_size covers
// them: a library as new as the header).
func hasRich(r *C.struct_exectrace_batch_record) bool {
	return uintptr(r.hdr_size) >= unsafe.Offsetof(r.tty_len)+unsafe.Sizeof(r.tty_len)
}

// comm returns the NUL-terminated name in c as a string, reusing the last
// one when it is the same (most events come from a few programs).
func (t *tracer) comm(c []C.char) string {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&c[0])), len(c))
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if string(b) != t.lastComm {
		t.lastComm = string(b)
	}
	return t.lastComm
}
