package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

// chunked hands out its data a few bytes at a time, as a pipe may.
type chunked struct {
	data []byte
	n    int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestPipeConnReadsWholeMessages(t *testing.T) {
	for _, c := range []struct {
		name   string
		stream string
		chunk  int
		want   []string
		tail   bool // the stream ends inside a message
	}{
		{"one", `{"id":1}` + "\x00", 1 << 10, []string{`{"id":1}`}, false},
		{"several in one read", `{"id":1}` + "\x00" + `{"method":"x"}` + "\x00", 1 << 10, []string{`{"id":1}`, `{"method":"x"}`}, false},
		{"split across reads", `{"id":1,"result":{}}` + "\x00" + `{"id":2}` + "\x00", 3, []string{`{"id":1,"result":{}}`, `{"id":2}`}, false},
		{"empty message", "\x00", 1, []string{""}, false},
		{"cut off", `{"id":1}` + "\x00" + `{"id":`, 2, []string{`{"id":1}`}, true},
		{"nothing", "", 1, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := 0
			p := newPipeConn(io.Discard, &chunked{data: []byte(c.stream), n: c.chunk}, func() { broken++ })
			var got []string
			for {
				m, err := p.Read()
				if err != nil {
					if !errors.Is(err, errPipeClosed) {
						t.Fatalf("err = %v, want errPipeClosed", err)
					}
					break
				}
				if broken > 0 {
					t.Fatal("the connection was reported broken before the stream ended")
				}
				got = append(got, string(m))
			}
			if broken == 0 {
				t.Error("the end of the stream was not reported as a broken connection")
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
				t.Errorf("read %q, want %q", got, c.want)
			}
		})
	}
}

// lockedBuffer is written by many senders at once.
type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func TestPipeConnSendsTerminatedMessagesConcurrently(t *testing.T) {
	var out lockedBuffer
	p := newPipeConn(&out, strings.NewReader(""), func() {})
	var wg sync.WaitGroup
	want := map[string]bool{}
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf(`{"id":%d,"method":"Target.getTargets","params":{"pad":%q}}`, i, strings.Repeat("x", i*97))
		want[msg] = true
		wg.Go(func() {
			if err := p.Send([]byte(msg)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	parts := strings.Split(out.String(), "\x00")
	if parts[len(parts)-1] != "" {
		t.Fatalf("the stream does not end with a terminator")
	}
	parts = parts[:len(parts)-1]
	if len(parts) != len(want) {
		t.Fatalf("%d messages written, want %d", len(parts), len(want))
	}
	for _, m := range parts {
		if !want[m] {
			t.Errorf("message %.60q… was mangled", m)
		}
	}
}

// refusing is a pipe whose reader has gone.
type refusing struct{}

func (refusing) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestPipeConnReportsAFailedWrite: a write the browser's end refuses marks
// the connection broken, as the end of the stream does, so the browser's
// other calls end too.
func TestPipeConnReportsAFailedWrite(t *testing.T) {
	broken := false
	p := newPipeConn(refusing{}, strings.NewReader(""), func() { broken = true })
	if err := p.Send([]byte(`{"id":1}`)); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("err = %v, want EPIPE", err)
	}
	if !broken {
		t.Error("the failed write was not reported as a broken connection")
	}
}

// FuzzPipeConnRead: whatever the browser writes, Read returns exactly the
// NUL-separated messages of the stream, never a cut-off one.
func FuzzPipeConnRead(f *testing.F) {
	f.Add([]byte(`{"id":1}`+"\x00"+`{"id":2`), uint8(3))
	f.Add([]byte("\x00\x00"), uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		p := newPipeConn(io.Discard, &chunked{data: bytes.Clone(stream), n: int(chunk%16) + 1}, func() {})
		want := bytes.Split(stream, []byte{0})
		want = want[:len(want)-1] // after the last terminator: cut off or empty
		for i := 0; ; i++ {
			m, err := p.Read()
			if err != nil {
				if i != len(want) {
					t.Fatalf("stopped after %d messages, want %d: %v", i, len(want), err)
				}
				return
			}
			if i >= len(want) || !bytes.Equal(m, want[i]) {
				t.Fatalf("message %d is %q", i, m)
			}
		}
	})
}

// TestBrowserListensNowhere: DevTools runs over a pipe, so no process of
// the browser holds a listening socket (TCP or unix) that another local
// user could connect to.
func TestBrowserListensNowhere(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	if _, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, 200, 100, 1)); err != nil {
		t.Fatal(err)
	}
	pgid := r.Stats().BrowserPID
	procs := processGroup(t, pgid)
	if len(procs) < 2 {
		t.Fatalf("browser process group %d has %d processes, want the browser and its helpers", pgid, len(procs))
	}
	listening := listeningInodes(t, pgid)
	for _, pid := range procs {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue // it exited meanwhile
		}
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if what, ok := listening[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")]; ok {
				t.Errorf("browser process %d (%s) listens on %s", pid, cmdline(pid), what)
			}
		}
	}
}

// processGroup lists the processes whose process group is pgid (the
// browser is started as its own group's leader).
func processGroup(t *testing.T, pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command, which is in parentheses and may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// listeningInodes maps the inodes of listening TCP and unix sockets in the
// network namespace of pid to a description.
func listeningInodes(t *testing.T, pid int) map[string]string {
	out := map[string]string{}
	for _, proto := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, proto))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" { // TCP_LISTEN
				out[f[9]] = proto + " " + f[1]
			}
		}
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/unix", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode [Path]
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&0x10000 == 0 { // __SO_ACCEPTCON: listening
			continue
		}
		// A unix socket is reached by its name: an abstract one (@…) always,
		// a path while it is there.
		if len(f) > 7 && (strings.HasPrefix(f[7], "@") || isSocket(f[7])) {
			out[f[6]] = "unix " + f[7]
		}
	}
	return out
}

func isSocket(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	s := strings.ReplaceAll(string(b), "\x00", " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// TestNetworkServiceInTheBrowser: the browser runs its network service
// itself (see baseFlags), so a render costs no network process. A
// Chromium that no longer knows the feature would start one again.
func TestNetworkServiceInTheBrowser(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	if _, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, 200, 100, 1)); err != nil {
		t.Fatal(err)
	}
	for _, pid := range processGroup(t, r.Stats().BrowserPID) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(b), "network.mojom.NetworkService") {
			t.Errorf("browser process %d is a network service of its own: %s", pid, cmdline(pid))
		}
	}
}
