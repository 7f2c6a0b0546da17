package exectrace

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// readProcU32 reads a number from /proc/self/<name> (inherited by children).
func readProcU32(t *testing.T, name string) (uint32, bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/" + name)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		t.Fatalf("/proc/self/%s: %v", name, err)
	}
	return uint32(v), true
}

// The fields beyond the original's, against stat(2) and /proc: with Paths
// and IncludeEnv, then with a small EnvBudget, then with the defaults
// (no environment, no paths).
func TestRichFields(t *testing.T) {
	dir := t.TempDir()
	dirReal, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	exeReal, err := filepath.EvalSymlinks(truePath)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(truePath, &st); err != nil {
		t.Fatal(err)
	}
	env := []string{"XTA_AAAAAA=1", "XTB_BBBBBB=2", "XTC_CCCCCC=3"}
	spawn := func(tr Tracer) *Event {
		c := collect(t, tr)
		mark := marker(t)
		cmd := exec.Command(truePath, mark)
		cmd.Dir = dir
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling tty
		run(t, cmd)
		return c.waitFor(t, mark)
	}

	ev := spawn(newTracer(t, &TracerOpts{Paths: true, IncludeEnv: true}))
	if ev.ExePath != exeReal || ev.Cwd != dirReal {
		t.Errorf("ExePath, Cwd = %q, %q, want %q, %q", ev.ExePath, ev.Cwd, exeReal, dirReal)
	}
	if ev.ExeInode != st.Ino || ev.ExeDev != st.Dev {
		t.Errorf("ExeInode, ExeDev = %d, %d, want stat's %d, %d", ev.ExeInode, ev.ExeDev, st.Ino, st.Dev)
	}
	if ev.TTY != "" || ev.ExeMemfd {
		t.Errorf("TTY, ExeMemfd = %q, %v, want \"\", false", ev.TTY, ev.ExeMemfd)
	}
	if ev.ExeUpperLayer != nil && *ev.ExeUpperLayer {
		t.Error("ExeUpperLayer set for /bin/true")
	}
	if login, ok := readProcU32(t, "loginuid"); ok {
		sess, _ := readProcU32(t, "sessionid")
		if ev.LoginUID == nil || ev.SessionID == nil || *ev.LoginUID != login || *ev.SessionID != sess {
			t.Errorf("LoginUID, SessionID = %v, %v, want %d, %d", ev.LoginUID, ev.SessionID, login, sess)
		}
	}
	if !reflect.DeepEqual(ev.Env, env) || ev.EnvSize != 39 || ev.EnvTruncated {
		t.Errorf("Env = %q (size %d, truncated %v), want %q (39)", ev.Env, ev.EnvSize, ev.EnvTruncated, env)
	}
	if ev.ExePathCut || ev.CwdCut || ev.ExePathUnresolved || ev.CwdUnresolved || ev.ExeDeleted || ev.CwdDeleted {
		t.Errorf("path flags set: %+v", ev)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"exe_path", "cwd", "exe_inode", "exe_dev", "env"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, b)
		}
	}

	ev = spawn(newTracer(t, &TracerOpts{IncludeEnv: true, EnvBudget: 20}))
	if want := []string{"XTA_AAAAAA=1", "XTB_BBB"}; !reflect.DeepEqual(ev.Env, want) || ev.EnvSize != 39 || !ev.EnvTruncated {
		t.Errorf("EnvBudget 20: Env = %q (size %d, truncated %v), want %q (39, true)", ev.Env, ev.EnvSize, ev.EnvTruncated, want)
	}
	if ev.Truncated || ev.ExePath != "" {
		t.Errorf("EnvBudget 20: Truncated %v, ExePath %q", ev.Truncated, ev.ExePath)
	}

	ev = spawn(newTracer(t, nil))
	if ev.Env != nil || ev.EnvSize != 0 || ev.ExePath != "" || ev.Cwd != "" {
		t.Errorf("defaults: Env %q (size %d), ExePath %q, Cwd %q", ev.Env, ev.EnvSize, ev.ExePath, ev.Cwd)
	}
	if ev.ExeInode != st.Ino {
		t.Errorf("defaults: ExeInode = %d, want %d", ev.ExeInode, st.Ino)
	}
}
