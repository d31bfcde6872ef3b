package server

import (
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// TestRendersRightAfterTheBrowserIsKilled: the OOM killer takes the browser
// of a running server, and two renders arrive at once. Both are answered
// with their picture, from one new browser.
func TestRendersRightAfterTheBrowserIsKilled(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := newFixture(t, nil) // its own browser: the shared one stays alive
	pid := f.svc.RendererStats().BrowserPID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		res response
		err error
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			req, err := http.NewRequest(http.MethodGet, f.ts.URL+"/render?"+f.query(grafanatest.ScenarioScenes, 400, 200, 1).Encode(), nil)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			req.Header = authorized()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			answers <- answer{response{res.StatusCode, res.Header, body}, err}
		}()
	}
	for range 2 {
		a := <-answers
		if a.err != nil {
			t.Errorf("render: %v", a.err)
			continue
		}
		if a.res.status != http.StatusOK {
			t.Errorf("render: %s, want 200 with the picture", a.res)
			continue
		}
		wantColor(t, decodePNG(t, a.res.body), 0.5, 0.75, grafanatest.SeriesColor, "panel body")
	}
	if s := f.svc.RendererStats(); s.BrowserPID == pid || s.Restarts != 1 {
		t.Errorf("browser pid %d (was %d), restarts %d; want a new browser and one restart", s.BrowserPID, pid, s.Restarts)
	}
}
