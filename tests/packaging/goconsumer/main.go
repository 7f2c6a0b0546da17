// A Go consumer of the binding for tests/packaging/run.sh: starts a tracer,
// runs `/bin/true MARKER` and waits (at most 20 s) for that exec's event.
// Exit 0 when it came, 77 when no tracer could be created (no BPF or no
// privilege: a skip), 1 otherwise.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	exectrace "github.com/libexectrace/libexectrace/bindings/go"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goconsumer MARKER")
		os.Exit(2)
	}
	marker := os.Args[1]
	t, err := exectrace.New(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goconsumer: cannot create a tracer:", err)
		os.Exit(77)
	}
	// Close wakes a blocked Read, which then returns io.EOF.
	timer := time.AfterFunc(20*time.Second, func() { t.Close() })
	cmd := exec.Command("/bin/true", marker)
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "goconsumer:", err)
		os.Exit(1)
	}
	pid := uint32(cmd.Process.Pid)
	for {
		ev, err := t.Read()
		if err != nil {
			fmt.Fprintf(os.Stderr, "goconsumer: no event for /bin/true %s within 20 s: %v\n", marker, err)
			os.Exit(1)
		}
		if ev.PID == pid && slices.Contains(ev.Argv, marker) {
			fmt.Printf("goconsumer: event pid=%d filename=%s\n", ev.PID, ev.Filename)
			timer.Stop()
			t.Close()
			return
		}
	}
}
