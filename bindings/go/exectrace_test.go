package exectrace

// Tests against the running kernel, as root. The host runs unrelated
// processes, so every test matches only its own events, by a marker
// argument unique to this process and test. A tracer that cannot be
// created skips the test, or fails it when EXECTRACE_REQUIRE_BPF=1.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	truePath    = "/bin/true"
	waitTimeout = 15 * time.Second
)

// newTracer creates a tracer closed at the end of the test, or skips.
func newTracer(t *testing.T, opts *TracerOpts) Tracer {
	t.Helper()
	tr, err := New(opts)
	if err != nil {
		if os.Getenv("EXECTRACE_REQUIRE_BPF") == "1" {
			t.Fatalf("New: %v", err)
		}
		t.Skipf("cannot create a tracer (set EXECTRACE_REQUIRE_BPF=1 to fail instead): %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

var (
	bpfOnce sync.Once
	bpfErr  error
)

// requireBPF skips (or fails) the test when no tracer can be created, for
// tests that need other privileges before their first New.
func requireBPF(t *testing.T) {
	t.Helper()
	bpfOnce.Do(func() {
		tr, err := New(nil)
		if err == nil {
			err = tr.Close()
		}
		bpfErr = err
	})
	if bpfErr != nil {
		if os.Getenv("EXECTRACE_REQUIRE_BPF") == "1" {
			t.Fatalf("New: %v", bpfErr)
		}
		t.Skipf("cannot create a tracer (set EXECTRACE_REQUIRE_BPF=1 to fail instead): %v", bpfErr)
	}
}

// marker returns an argument no other process on the host uses.
func marker(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("exectrace-go-test-%d-%s-%s", os.Getpid(), name, hex.EncodeToString(b[:]))
}

// collector reads every event of a tracer in the background.
type collector struct {
	events chan *Event
	done   chan struct{} // closed when Read returned an error
	err    error         // that error, readable after done
}

func collect(t *testing.T, tr Tracer) *collector {
	c := &collector{events: make(chan *Event, 4096), done: make(chan struct{})}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		defer close(c.done)
		for {
			ev, err := tr.Read()
			if err != nil {
				c.err = err
				return
			}
			select {
			case c.events <- ev:
			case <-stop:
				return
			}
		}
	}()
	return c
}

func hasArg(ev *Event, arg string) bool {
	for _, a := range ev.Argv {
		if a == arg {
			return true
		}
	}
	return false
}

// waitFor returns the first event whose argv holds mark.
func (c *collector) waitFor(t *testing.T, mark string) *Event {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev := <-c.events:
			if hasArg(ev, mark) {
				return ev
			}
		case <-c.done:
			t.Fatalf("Read failed before the event with %q arrived: %v", mark, c.err)
		case <-timeout:
			t.Fatalf("no event with %q within %v", mark, waitTimeout)
		}
	}
}

// run runs cmd to completion.
func run(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", cmd.Args, err, out)
	}
}

func ownComm(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

func nsOf(t *testing.T, pid int) uint32 {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		t.Fatal(err)
	}
	var ns uint32
	if _, err := fmt.Sscanf(link, "pid:[%d]", &ns); err != nil {
		t.Fatalf("parse %q: %v", link, err)
	}
	return ns
}

// otherNS starts a process in a new PID namespace, killed at the end of
// the test, and returns its pid and namespace.
func otherNS(t *testing.T) (int, uint32) {
	t.Helper()
	requireBPF(t)
	cmd := exec.Command("/bin/sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process in a new pid namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid, nsOf(t, cmd.Process.Pid)
}

func TestBasicEvent(t *testing.T) {
	tr := newTracer(t, nil)
	c := collect(t, tr)
	mark := marker(t)
	// Empty and whitespace-only arguments are kept (the original dropped them).
	args := []string{mark, "two words", " ", "", "tab\there", "ünïcödé"}
	cmd := exec.Command(truePath, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 2000}}
	run(t, cmd)
	ev := c.waitFor(t, mark)

	if ev.Filename != truePath {
		t.Errorf("Filename = %q, want %q", ev.Filename, truePath)
	}
	if want := append([]string{truePath}, args...); !reflect.DeepEqual(ev.Argv, want) {
		t.Errorf("Argv = %q, want %q", ev.Argv, want)
	}
	if ev.Truncated {
		t.Error("Truncated = true")
	}
	if ev.PID == uint32(os.Getpid()) {
		t.Errorf("PID = %d is ours", ev.PID)
	}
	if ev.PID != uint32(cmd.Process.Pid) {
		t.Errorf("PID = %d, want the child's %d", ev.PID, cmd.Process.Pid)
	}
	if ev.TID != ev.PID {
		t.Errorf("TID = %d, want %d (the child's only thread)", ev.TID, ev.PID)
	}
	if ev.PPID != uint32(os.Getpid()) {
		t.Errorf("PPID = %d, want ours %d", ev.PPID, os.Getpid())
	}
	if ev.UID != 1000 || ev.GID != 2000 {
		t.Errorf("UID, GID = %d, %d, want 1000, 2000", ev.UID, ev.GID)
	}
	if want := ownComm(t); ev.Comm != want {
		t.Errorf("Comm = %q, want %q (the process that called exec)", ev.Comm, want)
	}
	if ns, err := GetPidNS(); err != nil || ev.PidNS != ns {
		t.Errorf("PidNS = %d, want %d (%v)", ev.PidNS, ns, err)
	}
	if ev.Interpreter != "" {
		t.Errorf("Interpreter = %q, want none", ev.Interpreter)
	}
}

func TestScriptReportsInterpreter(t *testing.T) {
	dir := t.TempDir()
	script := dir + "/script.sh"
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr := newTracer(t, nil)
	c := collect(t, tr)
	mark := marker(t)
	run(t, exec.Command(script, mark))
	ev := c.waitFor(t, mark)
	if ev.Filename != script || ev.Interpreter != "/bin/sh" {
		t.Errorf("Filename, Interpreter = %q, %q; want %q, /bin/sh", ev.Filename, ev.Interpreter, script)
	}
	// As the kernel runs it: interpreter, script, arguments.
	if want := []string{"/bin/sh", script, mark}; !reflect.DeepEqual(ev.Argv, want) {
		t.Errorf("Argv = %q, want %q", ev.Argv, want)
	}
}

func manyArgs(mark string, n int) []string {
	args := []string{mark}
	for i := len(args); i < n; i++ {
		args = append(args, "arg"+strconv.Itoa(i))
	}
	return args
}

func TestTooManyArgs(t *testing.T) {
	tr := newTracer(t, nil)
	c := collect(t, tr)
	mark := marker(t)
	argv := append([]string{truePath}, manyArgs(mark, 32)...) // 33 in all
	run(t, exec.Command(truePath, argv[1:]...))
	ev := c.waitFor(t, mark)
	if !reflect.DeepEqual(ev.Argv, argv[:32]) {
		t.Errorf("Argv = %q, want the first 32 of %q", ev.Argv, argv)
	}
	if !ev.Truncated {
		t.Error("Truncated = false")
	}
}

func TestExactly32ArgsNotTruncated(t *testing.T) {
	tr := newTracer(t, nil)
	c := collect(t, tr)
	mark := marker(t)
	argv := append([]string{truePath}, manyArgs(mark, 31)...)
	run(t, exec.Command(truePath, argv[1:]...))
	ev := c.waitFor(t, mark)
	if !reflect.DeepEqual(ev.Argv, argv) || ev.Truncated {
		t.Errorf("Argv, Truncated = %q, %v; want %q, false", ev.Argv, ev.Truncated, argv)
	}
}

func TestLongArg(t *testing.T) {
	tr := newTracer(t, nil)
	c := collect(t, tr)
	mark := marker(t)
	long := strings.Repeat("x", 1025)
	run(t, exec.Command(truePath, mark, long, "after"))
	ev := c.waitFor(t, mark)
	want := []string{truePath, mark, strings.Repeat("x", 1021) + "...", "after"}
	if !reflect.DeepEqual(ev.Argv, want) {
		t.Errorf("Argv = %q, want %q", ev.Argv, want)
	}
	if !ev.Truncated {
		t.Error("Truncated = false")
	}
}

func TestFullArgv(t *testing.T) {
	tr := newTracer(t, &TracerOpts{FullArgv: true})
	c := collect(t, tr)
	mark := marker(t)
	args := append(manyArgs(mark, 40), strings.Repeat("y", 5000), " ", "")
	run(t, exec.Command(truePath, args...))
	ev := c.waitFor(t, mark)
	if want := append([]string{truePath}, args...); !reflect.DeepEqual(ev.Argv, want) {
		t.Errorf("Argv has %d args, want %d: %q", len(ev.Argv), len(want), ev.Argv)
	}
	if ev.Truncated {
		t.Error("Truncated = true")
	}

	// Beyond the library's 32 KiB per event: cut, and said so.
	mark2 := marker(t) + "-big"
	big := []string{mark2}
	for i := 0; i < 10; i++ {
		big = append(big, strings.Repeat(strconv.Itoa(i), 4000))
	}
	run(t, exec.Command(truePath, big...))
	ev = c.waitFor(t, mark2)
	if !ev.Truncated {
		t.Error("argv of 40 KB: Truncated = false")
	}
	if len(ev.Argv) < 2 || len(ev.Argv) > len(big) || ev.Argv[1] != mark2 {
		t.Errorf("argv of 40 KB: got %d args", len(ev.Argv))
	}
}

func TestPidNSOwn(t *testing.T) {
	ns, err := GetPidNS()
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracer(t, &TracerOpts{PidNS: ns})
	c := collect(t, tr)
	mark := marker(t)
	cmd := exec.Command(truePath, mark)
	run(t, cmd)
	ev := c.waitFor(t, mark)
	if ev.PID != uint32(cmd.Process.Pid) || ev.PidNS != ns {
		t.Errorf("PID, PidNS = %d, %d; want %d, %d", ev.PID, ev.PidNS, cmd.Process.Pid, ns)
	}
}

func TestPidNSChild(t *testing.T) {
	ns, err := GetPidNS()
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracer(t, &TracerOpts{PidNS: ns})
	c := collect(t, tr)
	mark := marker(t)
	cmd := exec.Command(truePath, mark)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	run(t, cmd)
	ev := c.waitFor(t, mark)
	if ev.PID != uint32(cmd.Process.Pid) {
		t.Errorf("PID = %d, want %d (the pid as seen from the initial namespace)", ev.PID, cmd.Process.Pid)
	}
	if ev.PidNS == ns {
		t.Errorf("PidNS = %d, want the child's new namespace", ev.PidNS)
	}
}

func TestPidNSOther(t *testing.T) {
	holder, ns := otherNS(t)
	tr := newTracer(t, &TracerOpts{PidNS: ns})
	c := collect(t, tr)
	mark := marker(t)
	run(t, exec.Command(truePath, mark))

	// A process inside that namespace is seen (when nsenter is here):
	// the filter lets events through, just not ours.
	inside := marker(t) + "-inside"
	if nsenter, err := exec.LookPath("nsenter"); err == nil {
		run(t, exec.Command(nsenter, "-t", strconv.Itoa(holder), "-p", "--", truePath, inside))
	} else {
		inside = ""
		t.Log("no nsenter: the positive check inside the namespace is skipped")
	}

	deadline := time.After(5 * time.Second)
	sawInside := inside == ""
	for {
		select {
		case ev := <-c.events:
			if hasArg(ev, mark) {
				t.Fatalf("saw our process outside namespace %d: %+v", ns, ev)
			}
			if inside != "" && hasArg(ev, inside) {
				sawInside = true
				if ev.PidNS != ns {
					t.Errorf("inside event: PidNS = %d, want %d", ev.PidNS, ns)
				}
			}
			if ev.PidNS != ns {
				t.Errorf("event from namespace %d passed the filter for %d: %+v", ev.PidNS, ns, ev)
			}
		case <-c.done:
			t.Fatalf("Read failed: %v", c.err)
		case <-deadline:
			if !sawInside {
				t.Error("the process inside the namespace was not seen")
			}
			return
		}
	}
}

// quietTracer traces a namespace where nothing execs, so Read blocks.
func quietTracer(t *testing.T) Tracer {
	_, ns := otherNS(t)
	return newTracer(t, &TracerOpts{PidNS: ns})
}

func TestCloseUnblocksRead(t *testing.T) {
	tr := quietTracer(t)
	const readers = 3
	errs := make(chan error, readers)
	for i := 0; i < readers; i++ {
		go func() {
			ev, err := tr.Read()
			if err == nil {
				err = fmt.Errorf("unexpected event %+v", ev)
			}
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond) // let them block in the library
	select {
	case err := <-errs:
		t.Fatalf("Read returned before Close: %v", err)
	default:
	}
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i := 0; i < readers; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, io.EOF) {
				t.Errorf("Read after Close: %v, want io.EOF", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Read still blocked 5 s after Close")
		}
	}
	t.Logf("Close and wake-up took %v", time.Since(start))
}

func TestCloseWhileBusy(t *testing.T) {
	// Readers on a busy tracer (every exec on the host, plus ours) and a
	// Close in the middle: no crash, no race, every reader ends with EOF.
	tr := newTracer(t, nil)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := tr.Read(); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Errorf("Read: %v", err)
					}
					return
				}
				_ = tr.FD()
			}
		}()
	}
	mark := marker(t)
	for i := 0; i < 20; i++ {
		run(t, exec.Command(truePath, mark))
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestUseAfterClose(t *testing.T) {
	tr := newTracer(t, nil)
	fd := tr.FD()
	if fd < 0 {
		t.Fatalf("FD = %d", fd)
	}
	if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil || link != "anon_inode:bpf-prog" {
		t.Errorf("FD %d is %q (%v), want a BPF program", fd, link, err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i := 0; i < 2; i++ {
		ev, err := tr.Read()
		if !errors.Is(err, io.EOF) || ev != nil {
			t.Errorf("Read after Close = %v, %v; want nil, io.EOF", ev, err)
		}
		// As the original: an error that wraps io.EOF, not io.EOF itself.
		if err == io.EOF || err.Error() != "tracer closed: EOF" {
			t.Errorf("Read after Close = %q, want the wrapping \"tracer closed: EOF\"", err)
		}
	}
	if err := tr.Close(); err == nil {
		t.Error("second Close returned nil")
	} else if !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close = %v, want os.ErrClosed", err)
	}
	if fd := tr.FD(); fd != -1 {
		t.Errorf("FD after Close = %d, want -1", fd)
	}
}

func TestNilOptsAndDefaultLogFn(t *testing.T) {
	tr := newTracer(t, nil)
	if tr.(*tracer).logFn == nil {
		t.Fatal("no default LogFn")
	}
	var buf syncBuffer
	log.SetOutput(&buf)
	defer log.SetOutput(os.Stderr)
	tr.(*tracer).logFn(1, 2, 3, "hello")
	if !strings.Contains(buf.String(), "hello") {
		t.Errorf("default LogFn wrote %q", buf.String())
	}
}

func TestDropsAreLogged(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	tr := newTracer(t, &TracerOpts{LogFn: func(uid, gid, pid uint32, line string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, line)
	}})
	// Fill the ring while nobody reads (~30 KB of argv per exec) until
	// the library counts drops.
	mark := marker(t)
	filler := strings.Repeat("f", 30000)
	impl := tr.(*tracer)
	for i := 0; ; i++ {
		impl.mu.RLock()
		drops, _, err := impl.stats()
		impl.mu.RUnlock()
		if err != nil {
			t.Fatal(err)
		}
		if drops > 0 {
			t.Logf("%d drops after %d execs", drops, i)
			break
		}
		if i == 5000 {
			t.Fatal("no drops after 5000 execs of 30 KB without reading")
		}
		if err := exec.Command(truePath, mark, filler).Run(); err != nil {
			t.Fatal(err)
		}
	}
	c := collect(t, tr)
	last := marker(t) + "-last"
	run(t, exec.Command(truePath, last))
	c.waitFor(t, last)
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, l := range lines {
		if strings.Contains(l, "dropped") {
			found = true
			t.Logf("LogFn: %s", l)
		}
	}
	if !found {
		t.Errorf("no drop warning; LogFn got %q", lines)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFinalizerWarns(t *testing.T) {
	var buf syncBuffer
	log.SetOutput(&buf)
	defer log.SetOutput(os.Stderr)
	// Not closed, and nothing references it once this returns.
	func() {
		tr, err := New(nil)
		if err != nil {
			newTracer(t, nil) // skips, or fails with EXECTRACE_REQUIRE_BPF=1
		}
		_ = tr
	}()
	for i := 0; i < 100 && !strings.Contains(buf.String(), "without Close"); i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	out := buf.String()
	if !strings.Contains(out, "without Close") || !strings.Contains(out, "TestFinalizerWarns") ||
		!strings.Contains(out, "exectrace_test.go") {
		t.Errorf("finalizer warning missing or without the creation site: %q", out)
	}
}

func TestGetPidNS(t *testing.T) {
	ns, err := GetPidNS()
	if err != nil {
		t.Fatal(err)
	}
	if want := nsOf(t, os.Getpid()); ns != want {
		t.Errorf("GetPidNS = %d, want %d", ns, want)
	}
}

// The Go runtime preempts goroutines with SIGURG and catches SIGCHLD, so
// the thread loading the BPF program may get signals, and the kernel's
// verifier gives up when one is pending. Loads must succeed anyway: here
// the loading thread gets SIGURG back to back.
func TestNewWhileSignalled(t *testing.T) {
	requireBPF(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, tid := os.Getpid(), syscall.Gettid()
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			if err := syscall.Tgkill(pid, tid, syscall.SIGURG); err == nil {
				n++
			}
		}
	}()
	var errs []error
	for i := 0; i < 5; i++ {
		tr, err := New(nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := tr.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	close(stop)
	n := <-sent
	if len(errs) > 0 {
		t.Errorf("%d of 5 loads failed with signals arriving; first: %v", len(errs), errs[0])
	}
	if n < 100 {
		t.Errorf("only %d signals sent during the loads: the test did not do what it says", n)
	}
}
