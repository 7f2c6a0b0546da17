// Command exectrace-bench-consumer-go is the benchmark's Go consumer
// (bench/src/consumers.rs): a tracer with the defaults and a blocking Read
// loop, as a user of the drop-in writes it, counting the events whose argv
// holds MARKER.
//
//	exectrace-bench-consumer-go MARKER END
//
// It prints "ready" once tracing, "done EVENTS MARKED" when it reads the
// event of a process with END in its argv, then waits for stdin to close.
package main

import (
	"fmt"
	"io"
	"os"

	exectrace "github.com/libexectrace/libexectrace/bindings/go"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: exectrace-bench-consumer-go MARKER END")
		os.Exit(2)
	}
	mark, end := os.Args[1], os.Args[2]
	t, err := exectrace.New(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	var events, marked uint64
	for {
		ev, err := t.Read()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		events++
		for _, a := range ev.Argv {
			if a == mark {
				marked++
				break
			}
			if a == end {
				fmt.Printf("done %d %d\n", events, marked)
				_, _ = io.Copy(io.Discard, os.Stdin)
				_ = t.Close()
				return
			}
		}
	}
}
