package exectrace

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func TestSplitArgv(t *testing.T) {
	for _, c := range []struct {
		block string
		count int
		want  []string
	}{
		{"", 0, []string{}},
		{"a\x00", 1, []string{"a"}},
		{"a\x00\x00 \x00b c\x00", 4, []string{"a", "", " ", "b c"}},
		{"a\x00b\x00c\x00", 2, []string{"a", "b"}},
		{"a\x00bc", 2, []string{"a", "bc"}},
	} {
		if got := splitArgv(c.block, c.count); !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitArgv(%q, %d) = %q, want %q", c.block, c.count, got, c.want)
		}
	}
}

func TestCompatArgv(t *testing.T) {
	n := func(k int) string { return strings.Repeat("a", k) }
	cut := n(1021) + "..."
	for _, c := range []struct {
		name      string
		args      []string
		argc      int
		want      []string
		truncated bool
	}{
		{"short", []string{"x", ""}, 2, []string{"x", ""}, false},
		{"1022 bytes kept", []string{n(1022)}, 1, []string{n(1022)}, false},
		{"1023 bytes cut", []string{n(1023)}, 1, []string{cut}, true},
		{"1025 bytes cut", []string{"x", n(1025)}, 2, []string{"x", cut}, true},
		{"32 args kept", make([]string, 32), 32, make([]string, 32), false},
		{"33 args", make([]string, 33), 33, make([]string, 32), true},
		{"library cut the block", []string{"x"}, 40, []string{"x"}, true},
	} {
		got, tr := compatArgv(append([]string(nil), c.args...), c.argc)
		if !reflect.DeepEqual(got, c.want) || tr != c.truncated {
			t.Errorf("%s: got %d args (truncated %v), want %d (truncated %v)", c.name, len(got), tr, len(c.want), c.truncated)
		}
	}
}

func TestEventJSON(t *testing.T) {
	b, err := json.Marshal(Event{Argv: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"filename":"","argv":["a"],"truncated":false,"pid":0,"uid":0,"gid":0,"comm":"",` +
		`"tid":0,"ppid":0,"pid_ns":0}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

// NativeEndian is the byte order the standard library knows for this
// GOARCH, and the one the batch records are decoded in (TestDecodeBatch
// writes them with it).
func TestNativeEndian(t *testing.T) {
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if got, want := NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b); got != want {
		t.Fatalf("NativeEndian reads %#x, binary.NativeEndian %#x (%v)", got, want, NativeEndian)
	}
}

// record lays out one struct exectrace_batch_record as exectrace.h
// documents it: the 128-byte header, then filename, interpreter and argv,
// each string NUL-terminated, padded to 8 bytes.
func record(seq uint64, flags uint32, comm, filename, interp string, argv []string, argc uint32) []byte {
	const hdr = 128
	block := ""
	for _, a := range argv {
		block += a + "\x00"
	}
	ioff := hdr + len(filename) + 1
	aoff := ioff + len(interp) + 1
	size := (aoff + len(block) + 7) &^ 7
	b := make([]byte, size)
	u32 := func(off int, v uint32) { NativeEndian.PutUint32(b[off:], v) }
	u32(0, uint32(size))
	u32(4, hdr)
	u32(8, flags)
	u32(12, 0xffff_fffe) // result: -2
	NativeEndian.PutUint64(b[16:], seq)
	NativeEndian.PutUint64(b[24:], 111)                          // timestamp_ns
	NativeEndian.PutUint64(b[32:], 222)                          // cgroup_id
	for i, v := range []uint32{10, 11, 12, 13, 14, 15, 16, 17} { // pid tid ppid uid gid euid egid pid_ns
		u32(40+4*i, v)
	}
	u32(72, argc)
	u32(76, uint32(len(block))) // argv_size
	u32(80, uint32(len(argv)))
	u32(84, uint32(len(block)))
	u32(88, hdr)
	u32(92, uint32(len(filename)))
	u32(96, uint32(ioff))
	u32(100, uint32(len(interp)))
	u32(104, uint32(aoff))
	copy(b[112:128], comm)
	copy(b[hdr:], filename)
	copy(b[ioff:], interp)
	copy(b[aoff:], block)
	return b
}

func TestDecodeBatch(t *testing.T) {
	const hasInterp, argvCut, truncated = 1 << 4, 1 << 0, 1 << 31
	long := strings.Repeat("L", 1500)
	var buf []byte
	buf = append(buf, record(7, 0, "bash", "/bin/true", "", []string{"/bin/true", "", "a b"}, 3)...)
	buf = append(buf, record(8, hasInterp, "make", "/x.sh", "/bin/sh", []string{"/bin/sh", "/x.sh", long}, 3)...)
	buf = append(buf, record(9, argvCut|truncated, "make", "/bin/echo", "", []string{"/bin/echo", "cu"}, 5)...)
	// The decoder reads the records in place: give it 8-byte aligned memory.
	words := make([]uint64, (len(buf)+7)/8)
	aligned := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	copy(aligned, buf)

	for _, full := range []bool{false, true} {
		tr := &tracer{fullArgv: full}
		evs := tr.decode(aligned, 3)
		want := []Event{
			{Filename: "/bin/true", Argv: []string{"/bin/true", "", "a b"}, PID: 10, UID: 13, GID: 14, Comm: "bash", TID: 11, PPID: 12, PidNS: 17},
			{Filename: "/x.sh", Argv: []string{"/bin/sh", "/x.sh", long}, PID: 10, UID: 13, GID: 14, Comm: "make", TID: 11, PPID: 12, PidNS: 17, Interpreter: "/bin/sh"},
			{Filename: "/bin/echo", Argv: []string{"/bin/echo", "cu"}, Truncated: true, PID: 10, UID: 13, GID: 14, Comm: "make", TID: 11, PPID: 12, PidNS: 17},
		}
		if !full {
			want[1].Argv = []string{"/bin/sh", "/x.sh", long[:1021] + "..."}
			want[1].Truncated = true
		}
		if !reflect.DeepEqual(evs, want) {
			t.Errorf("fullArgv=%v: decoded\n%+v\nwant\n%+v", full, evs, want)
		}
	}
}

func TestLossLogs(t *testing.T) {
	tr := &tracer{}
	if l := tr.lossLogs(0, 0); l != nil {
		t.Errorf("no loss: %q", l)
	}
	if l := tr.lossLogs(3, 0); len(l) != 1 || !strings.Contains(l[0], "dropped 3 exec events (3 in total)") {
		t.Errorf("3 drops: %q", l)
	}
	if l := tr.lossLogs(3, 0); l != nil {
		t.Errorf("nothing new: %q", l)
	}
	if l := tr.lossLogs(5, 1); len(l) != 2 || !strings.Contains(l[0], "dropped 2 exec events (5 in total)") ||
		!strings.Contains(l[1], "skipped 1 malformed") {
		t.Errorf("2 more drops, 1 malformed: %q", l)
	}
}
