package exectrace

import (
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"
)

// Read waits in the runtime's poller; without it (raw nil) it blocks in C.
// Both deliver events, and Close wakes both.
func TestReadWithAndWithoutPoller(t *testing.T) {
	for _, poller := range []bool{true, false} {
		tr := newTracer(t, nil)
		impl := tr.(*tracer)
		if impl.raw == nil {
			t.Fatal("the library's fd did not go into the runtime's poller")
		}
		if !poller {
			impl.raw = nil
		}
		c := collect(t, tr)
		mark := marker(t)
		run(t, exec.Command(truePath, mark))
		if ev := c.waitFor(t, mark); ev.Argv[1] != mark {
			t.Errorf("poller %v: Argv = %q", poller, ev.Argv)
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.done:
			if !errors.Is(c.err, io.EOF) {
				t.Errorf("poller %v: Read after Close: %v", poller, c.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("poller %v: Read still blocked 5 s after Close", poller)
		}
	}
}
