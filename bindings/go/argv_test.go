package exectrace

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
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

func TestNativeEndian(t *testing.T) {
	if NativeEndian != binary.LittleEndian && NativeEndian != binary.BigEndian {
		t.Fatalf("NativeEndian = %v", NativeEndian)
	}
	var x uint32 = 0x01020304
	b := make([]byte, 4)
	NativeEndian.PutUint32(b, x)
	if NativeEndian.Uint32(b) != x {
		t.Fatal("round trip")
	}
}
