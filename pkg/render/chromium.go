package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/cdp"
	"github.com/go-rod/rod/lib/proto"
)

// ErrNoChromium means no browser binary could be found. It names the
// command that installs Chromium on this machine's distribution, which the
// plugin's health check and start log show to whoever set Grafana up.
var ErrNoChromium = errors.New("no Chromium found: install it (" + installCommand(osRelease("/etc/os-release")) + ") or set chromium_path / PANELCAST_CHROMIUM to the browser")

// installCommand is the command that installs Chromium on the distribution
// /etc/os-release describes (its ID, then ID_LIKE; Ubuntu ships Chromium
// as a snap only), Debian's where it names none that is known.
func installCommand(release map[string]string) string {
	commands := map[string]string{
		"debian":   "apt-get install chromium-headless-shell",
		"raspbian": "apt-get install chromium",
		"ubuntu":   "snap install chromium",
		"alpine":   "apk add chromium",
		"fedora":   "dnf install chromium",
		"rhel":     "dnf install chromium, from EPEL",
		"suse":     "zypper install chromium",
		"opensuse": "zypper install chromium",
		"arch":     "pacman -S chromium",
	}
	for _, id := range append([]string{release["ID"]}, strings.Fields(release["ID_LIKE"])...) {
		if c, ok := commands[id]; ok {
			return c
		}
	}
	return "the chromium package; on Debian: apt-get install chromium-headless-shell"
}

// osRelease reads the KEY=value lines of an os-release file, quotes
// removed; a missing file is an empty map.
func osRelease(path string) map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && !strings.HasPrefix(k, "#") {
			m[k] = strings.Trim(v, `"'`)
		}
	}
	return m
}

// FindChromium returns the browser to use: the configured path, else
// PANELCAST_CHROMIUM, else the first of chromium-headless-shell,
// chrome-headless-shell, chromium, chromium-browser, google-chrome(-stable)
// on the PATH. Chromium's headless shell comes first: the same engine
// without the browser's windows, tabs and profile services, it takes half
// the CPU per render and about 130 MiB less memory (see
// docs/performance.md). It never downloads one.
func FindChromium(configured string) (string, error) {
	for _, p := range []string{configured, os.Getenv("PANELCAST_CHROMIUM")} {
		if p == "" {
			continue
		}
		if !isExecutable(p) {
			return "", fmt.Errorf("chromium %q is not an executable file: install the chromium-headless-shell or chromium package or fix chromium_path", p)
		}
		return p, nil
	}
	for _, name := range []string{"chromium-headless-shell", "chrome-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return shellBinary(p), nil
		}
	}
	return "", ErrNoChromium
}

// shellBinary is the program behind Debian's /usr/bin/chromium-headless-shell,
// /usr/lib/chromium/chromium-headless-shell, where it is installed beside the
// found one that way: that wrapper script runs it without exec, so it would
// stand between the browser and the signals meant for it. Other finds are
// themselves.
func shellBinary(found string) string {
	if filepath.Base(found) != "chromium-headless-shell" {
		return found
	}
	real := filepath.Join(filepath.Dir(found), "..", "lib", "chromium", "chromium-headless-shell")
	if isExecutable(real) {
		return filepath.Clean(real)
	}
	return found
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// baseFlags are the headless flags for a server without a display or
// network access; background networking stays off so Chromium does not
// call home. --no-sandbox is added only where the sandbox cannot work (see
// decideSandbox).
var baseFlags = []string{
	"--headless", "--disable-gpu", "--disable-dev-shm-usage",
	"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--disable-default-apps",
	"--disable-extensions", "--disable-breakpad", "--disable-crash-reporter",
	"--disable-client-side-phishing-detection", "--disable-popup-blocking",
	"--disable-prompt-on-repost", "--disable-hang-monitor", "--disable-domain-reliability",
	"--disable-background-timer-throttling", "--disable-renderer-backgrounding",
	"--disable-backgrounding-occluded-windows", "--disable-ipc-flooding-protection",
	// One process for all sites keeps a render's memory low and lets a page's
	// certificate handler see its iframes. Every context gets a window, and
	// a window preloads its omnibox popups' WebUIs, each in a renderer of its
	// own (~35 MiB and a page load of CPU per render): those features are off.
	"--disable-features=site-per-process,Translate,MediaRouter,OptimizationHints,WebUIOmniboxPopup,WebUIOmniboxAimPopup",
	"--disable-site-isolation-trials",
	// The network service in the browser process rather than a process of
	// its own (unsandboxed on Linux either way): 15 MiB less at rest and at
	// the peak of 8 renders, and no hop between two processes for every
	// request a render makes.
	"--enable-features=NetworkServiceInProcess2",
	"--force-color-profile=srgb", "--hide-scrollbars", "--mute-audio",
	"--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
	"--font-render-hinting=none",
	// DevTools on fds 3 and 4 (see pipeConn): a port, even on loopback,
	// would let any local user drive a browser that holds render keys.
	"--remote-debugging-pipe",
}

// errBrowserGone ends every CDP call of a browser that crashed or was
// killed (see browser.life).
var errBrowserGone = errors.New("the browser died (it crashed, or was killed, e.g. by the out-of-memory killer)")

// browser is one running Chromium process and its CDP connection.
type browser struct {
	cmd     *exec.Cmd
	rod     *rod.Browser
	dataDir string
	version string
	keys    []string      // certificate keys it accepts whatever their names
	exited  chan struct{} // closed once the main process has exited
	// life ends, with errBrowserGone, the moment the browser cannot answer
	// any more: its process exited, its DevTools pipe broke, or it was
	// killed. Every CDP call is bound to it (see bind): go-rod fails only
	// the calls pending when its reader sees the pipe end, and a call made
	// just after can wait for an answer that never comes.
	life context.Context
	end  context.CancelCauseFunc
	gone sync.Once
	log  *slog.Logger

	mu       sync.Mutex
	active   int             // renders using it now
	renders  int             // renders started on it
	retiring bool            // no new renders; closed when active drops to 0
	started  bool            // launch returned it
	closed   bool            // killed on purpose
	spares   []chan *session // sessions for the next renders, being made or ready
	// viewport is the last render's, which the spares get in advance:
	// resizing a page is the slowest call of a render's setup.
	viewport proto.EmulationSetDeviceMetricsOverride
}

// launch starts Chromium as a child that dies with us (browserProcAttr).
func launch(ctx context.Context, bin string, extra []string, log *slog.Logger) (*browser, error) {
	dataDir, err := os.MkdirTemp("", "panelcast-chromium-")
	if err != nil {
		return nil, fmt.Errorf("create the browser profile folder: %w: check that TMPDIR is writable", err)
	}
	p, err := openLaunchPipes()
	if err != nil {
		os.RemoveAll(dataDir)
		return nil, err
	}
	cmd, err := startChromium(bin, extra, dataDir, p)
	if err != nil {
		p.close()
		os.RemoveAll(dataDir)
		return nil, err
	}
	out := &tailWriter{max: 4096}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		_, _ = io.Copy(out, p.logR)
		p.logR.Close()
	}()
	b := &browser{cmd: cmd, dataDir: dataDir, exited: make(chan struct{}), log: log}
	b.life, b.end = context.WithCancelCause(context.Background())
	go func() {
		_ = cmd.Wait()
		close(b.exited)
		b.lost("the browser exited")
		// Ends go-rod's reader, should the pipe outlive the process.
		p.cmdW.Close()
		p.outR.Close()
	}()
	if err := b.connect(ctx, p, out, logged); err != nil {
		return nil, err
	}
	unlinkSingleton(dataDir)
	b.mu.Lock()
	b.started = true
	b.mu.Unlock()
	log.Info("browser started", "pid", cmd.Process.Pid, "version", b.version)
	return b, nil
}

// launchPipes are the browser's DevTools pipe (it reads commands from its
// fd 3 and writes answers to its fd 4) and its output. Its output goes to
// a pipe of ours, not to one exec.Cmd copies from: Wait would then also
// wait for the browser's helper processes, which share the output and
// outlive a killed browser, and the exit would be noticed late.
type launchPipes struct {
	cmdR, cmdW, outR, outW, logR, logW *os.File
}

func openLaunchPipes() (*launchPipes, error) {
	p := &launchPipes{}
	var err error
	if p.cmdR, p.cmdW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("create the DevTools pipe: %w", err)
	}
	if p.outR, p.outW, err = os.Pipe(); err != nil {
		p.close()
		return nil, fmt.Errorf("create the DevTools pipe: %w", err)
	}
	if p.logR, p.logW, err = os.Pipe(); err != nil {
		p.close()
		return nil, fmt.Errorf("create the browser's output pipe: %w", err)
	}
	return p, nil
}

// close closes every end still open.
func (p *launchPipes) close() {
	for _, f := range []*os.File{p.cmdR, p.cmdW, p.outR, p.outW, p.logR, p.logW} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// startChromium starts the browser on the pipes and closes the ends the
// child has: ours would keep the pipes open after it dies.
func startChromium(bin string, extra []string, dataDir string, p *launchPipes) (*exec.Cmd, error) {
	args := append(append([]string{}, baseFlags...), extra...)
	args = append(args, "--user-data-dir="+dataDir, "about:blank")
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = browserProcAttr()
	cmd.ExtraFiles = []*os.File{p.cmdR, p.outW}
	cmd.Stderr, cmd.Stdout = p.logW, p.logW
	err := cmd.Start()
	p.cmdR.Close()
	p.outW.Close()
	p.logW.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w: check that the file is a Chromium binary", bin, err)
	}
	return cmd, nil
}

// connect speaks to the started browser over its pipe: the connection's
// context is the browser's life, so go-rod's event loop stops when it
// ends; the first call is bounded by the launch's ctx. A browser that does
// not answer is killed, and the error quotes its output (out, complete
// once logged is closed) when it exited.
func (b *browser) connect(ctx context.Context, p *launchPipes, out *tailWriter, logged <-chan struct{}) error {
	rb := rod.New().Client(cdp.New().Start(newPipeConn(p.cmdW, p.outR, func() { b.lost("the browser's DevTools pipe broke") }))).
		NoDefaultDevice().Context(b.life)
	vctx, unbind := b.bind(ctx)
	v, err := proto.BrowserGetVersion{}.Call(rb.Context(vctx))
	unbind()
	if err != nil {
		b.kill()
		select {
		case <-b.exited:
			select { // the tail, once the helpers the kill ended have let go of it
			case <-logged:
			case <-time.After(time.Second):
			}
			return fmt.Errorf("chromium exited at start: %s", strings.TrimSpace(out.String()))
		default:
		}
		if ctx.Err() != nil {
			return fmt.Errorf("chromium did not start in time: %w", ctx.Err())
		}
		return fmt.Errorf("talk to chromium over its DevTools pipe: %w", err)
	}
	if err := rb.Connect(); err != nil {
		b.kill()
		return fmt.Errorf("connect to chromium: %w", err)
	}
	b.rod, b.version = rb, v.Product
	return nil
}

// lost ends b's life, once: every CDP call on it fails at once. Unless b
// was killed on purpose, it kills b's helper processes now (they hold
// memory and CPU the new browser needs) and says why, with the exit status
// ("signal: killed" is what the OOM killer leaves).
func (b *browser) lost(why string) {
	b.gone.Do(func() {
		b.mu.Lock()
		crashed := b.started && !b.closed
		b.mu.Unlock()
		b.end(errBrowserGone)
		if !crashed {
			return
		}
		go func() {
			b.kill()
			status := "still running"
			select {
			case <-b.exited:
				status = b.cmd.ProcessState.String()
			default:
			}
			b.log.Warn(why+"; the renders on it are retried on a new one", "pid", b.pid(), "exit", status)
		}()
	})
}

// dead reports whether b's life has ended.
func (b *browser) dead() bool { return b.life.Err() != nil }

// bind returns ctx, ended also when b dies, and its release.
func (b *browser) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(b.life, func() { cancel(errBrowserGone) })
	return ctx, func() { stop(); cancel(nil) }
}

// take counts a render on b, unless b is on its way out; the render that
// reaches recycleAfter is its last.
func (b *browser) take(recycleAfter int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retiring || b.closed || b.dead() {
		return false
	}
	b.active++
	b.renders++
	if recycleAfter > 0 && b.renders >= recycleAfter {
		b.retiring = true
	}
	return true
}

// retire stops new renders on b and kills it once the last one ends.
func (b *browser) retire() {
	b.mu.Lock()
	b.retiring = true
	idle := b.active == 0
	b.mu.Unlock()
	if idle {
		go b.kill()
	}
}

// unlinkSingleton removes the name of the unix socket Chromium listens on
// so that a second start with the same profile hands it its command line
// (ProcessSingleton; there is no switch to go without it). Nothing starts
// a second browser on a throwaway profile, and without its name the
// socket cannot be reached by anyone: a browser that only its pipe drives.
func unlinkSingleton(dataDir string) {
	link := filepath.Join(dataDir, "SingletonSocket")
	if target, err := os.Readlink(link); err == nil {
		os.Remove(target)
		if dir := filepath.Dir(target); strings.HasPrefix(filepath.Base(dir), "org.chromium.") {
			os.RemoveAll(dir) // Chromium's folder for it, which it leaves behind when killed
		}
	}
	os.Remove(link)
}

// kill ends the whole process group at once: a graceful Browser.close buys
// nothing for a throwaway profile, and it can hang on a wedged browser.
func (b *browser) kill() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	spares := b.spares
	b.spares = nil
	b.mu.Unlock()
	b.lost("")
	for _, ch := range spares {
		go func() { // their event loops end with their contexts
			if s := <-ch; s != nil {
				s.cancel()
			}
		}()
	}
	if b.cmd.Process != nil {
		killGroup(b.cmd.Process)
		_ = b.cmd.Process.Kill()
	}
	select { // its exit closes our ends of the pipes
	case <-b.exited:
	case <-time.After(5 * time.Second):
	}
	os.RemoveAll(b.dataDir)
}

func (b *browser) pid() int {
	if b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// tailWriter keeps the last bytes of the browser's output for error messages.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = w.buf[len(w.buf)-w.max:]
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// spares is how many sessions a browser keeps ready. One is enough for
// renders one after another (the next is made while a render waits for its
// page); each more would cost a renderer process's memory at rest.
const spares = 1

// takeSession returns a session made ready in advance, or a new one.
// Creating a context and page costs a renderer process start (~100-300 ms);
// replacements are made once a render is over (prepareSpares), because
// making them during a render slows the render's own CDP calls.
func (b *browser) takeSession(ctx context.Context, opts Options) (*session, error) {
	b.mu.Lock()
	var ready chan *session
	if len(b.spares) > 0 {
		ready, b.spares = b.spares[0], b.spares[1:]
	}
	b.mu.Unlock()
	if ready != nil {
		select {
		case s := <-ready:
			if s != nil {
				return s, nil
			}
		case <-ctx.Done():
			go func() {
				if s := <-ready; s != nil {
					s.close()
				}
			}()
			return nil, ctx.Err()
		}
	}
	return newSession(ctx, b, opts)
}

// prepareSpares makes sessions in the background up to spares, unless the
// browser is on its way out.
func (b *browser) prepareSpares(opts Options) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.spares) < spares && !b.retiring && !b.closed {
		ch := make(chan *session, 1)
		b.spares = append(b.spares, ch)
		go func() {
			ctx, cancel := context.WithTimeout(b.life, 30*time.Second)
			defer cancel()
			s, err := newSession(ctx, b, opts)
			if err != nil {
				s = nil
			}
			ch <- s
		}()
	}
}
