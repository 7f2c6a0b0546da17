package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	exectrace "github.com/libexectrace/libexectrace/bindings/go"
)

// The test binary is the command when this variable is set.
const beMain = "EXECTRACE_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func requireBPF(t *testing.T) {
	tr, err := exectrace.New(nil)
	if err != nil {
		if os.Getenv("EXECTRACE_REQUIRE_BPF") == "1" {
			t.Fatalf("New: %v", err)
		}
		t.Skipf("cannot create a tracer (set EXECTRACE_REQUIRE_BPF=1 to fail instead): %v", err)
	}
	_ = tr.Close()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCLI starts the command with args, runs /bin/true with a marker until
// the marker shows in its output, stops it with SIGINT and returns the
// output line with the marker.
func runCLI(t *testing.T, args ...string) string {
	requireBPF(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	mark := fmt.Sprintf("exectrace-cli-test-%d-%s", os.Getpid(), hex.EncodeToString(b[:]))

	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), beMain+"=1")
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), mark) {
		if time.Now().After(deadline) {
			t.Fatalf("marker not printed; stderr: %s", stderr.String())
		}
		if err := exec.Command("/bin/true", mark).Run(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v; stderr: %s", err, stderr.String())
	}
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), mark) {
			return sc.Text()
		}
	}
	t.Fatal("marker line lost")
	return ""
}

func TestJSON(t *testing.T) {
	ns, err := exectrace.GetPidNS()
	if err != nil {
		t.Fatal(err)
	}
	line := runCLI(t, "--output", "json", "--pid-ns", fmt.Sprint(ns))
	var ev exectrace.Event
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if ev.Filename != "/bin/true" || len(ev.Argv) != 2 || ev.PPID != uint32(os.Getpid()) || ev.PidNS != ns {
		t.Errorf("event %+v", ev)
	}
}

func TestText(t *testing.T) {
	line := runCLI(t)
	if !strings.HasPrefix(line, "[") || !strings.Contains(line, "filename=/bin/true] /bin/true exectrace-cli-test-") {
		t.Errorf("text line %q", line)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--output", "xml"}, {"--nope"}, {"extra"}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), beMain+"=1")
		cmd.Stdout = io.Discard
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("%q: %v, want exit status 2", args, err)
		}
	}
}
