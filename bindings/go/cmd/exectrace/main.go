// Command exectrace prints every exec on this host, one per line, as text or
// JSON (NDJSON), until interrupted. It needs root, or CAP_BPF and
// CAP_PERFMON.
//
//	exectrace [--pid-ns INUM] [--output text|json] [--full-argv]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	exectrace "github.com/libexectrace/libexectrace/bindings/go"
)

func main() {
	fs := flag.NewFlagSet("exectrace", flag.ContinueOnError)
	pidNS := fs.Uint("pid-ns", 0, "only processes in PID namespace `INUM` and its children (see readlink /proc/PID/ns/pid); 0 = all")
	output := fs.String("output", "text", "output format: text or json")
	fullArgv := fs.Bool("full-argv", false, "report every argument in full (not at most 32, each cut at 1021 bytes)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: exectrace [--pid-ns INUM] [--output text|json] [--full-argv]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "exectrace: unexpected arguments: %q\n", fs.Args())
		os.Exit(2)
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(os.Stderr, "exectrace: --output must be text or json, not %q\n", *output)
		os.Exit(2)
	}
	if *pidNS > 1<<32-1 {
		fmt.Fprintf(os.Stderr, "exectrace: --pid-ns %d is out of range\n", *pidNS)
		os.Exit(2)
	}
	if err := run(uint32(*pidNS), *output, *fullArgv); err != nil {
		fmt.Fprintf(os.Stderr, "exectrace: %v\n", err)
		os.Exit(1)
	}
}

func run(pidNS uint32, output string, fullArgv bool) error {
	t, err := exectrace.New(&exectrace.TracerOpts{
		PidNS:    pidNS,
		FullArgv: fullArgv,
		LogFn: func(uid, gid, pid uint32, line string) {
			fmt.Fprintf(os.Stderr, "exectrace: warning: %s\n", line)
		},
	})
	if err != nil {
		return err
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		_ = t.Close() // unblocks Read, which returns io.EOF
	}()

	// Unbuffered: a pipe reader sees each event as it happens.
	w := os.Stdout
	enc := json.NewEncoder(w)
	for {
		ev, err := t.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			_ = t.Close()
			return err
		}
		if output == "json" {
			err = enc.Encode(ev)
		} else {
			_, err = fmt.Fprintf(w, "[%v, comm=%q, uid=%v, gid=%v, filename=%v] %v\n",
				ev.PID, ev.Comm, ev.UID, ev.GID, ev.Filename, strings.Join(ev.Argv, " "))
		}
		if err != nil { // e.g. stdout closed
			_ = t.Close()
			return err
		}
	}
}
