package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-rod/rod/lib/proto"
)

// download catches the one file a CSV export page offers.
type download struct {
	dir      string
	mu       sync.Mutex
	guid     string
	filename string
	state    proto.BrowserDownloadProgressState
	done     chan struct{}
	stop     func()
}

// RenderCSV loads a page that offers a CSV download (Grafana's table
// export) and returns the file and its suggested name.
func (r *Renderer) RenderCSV(ctx context.Context, req Request) ([]byte, string, error) {
	req.Encoding = PNG // validated like an image render; nothing is captured
	if req.Width == 0 {
		req.Width, req.Height = 1000, 500
	}
	if req.Scale == 0 {
		req.Scale = 1
	}
	if err := req.Validate(r.opts.Limits); err != nil {
		return nil, "", err
	}
	var data []byte
	var name string
	err := r.run(ctx, req, true, func(ctx context.Context, s *session) error {
		s.setStage("waiting for the page to offer its CSV download")
		var err error
		data, name, err = s.download.wait(ctx)
		return err
	})
	return data, name, err
}

// prepareDownload routes the context's downloads into a private folder and
// listens for the one started by this page.
func (s *session) prepareDownload(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "panelcast-csv-")
	if err != nil {
		return fmt.Errorf("create a download folder: %w: check that TMPDIR is writable", err)
	}
	d := &download{dir: dir, done: make(chan struct{})}
	s.download = d
	err = proto.BrowserSetDownloadBehavior{Behavior: proto.BrowserSetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: s.ctx.BrowserContextID, DownloadPath: dir, EventsEnabled: true}.Call(s.b.rod.Context(ctx))
	if err != nil {
		return fmt.Errorf("allow downloads: %w", err)
	}
	evCtx, cancel := context.WithCancel(s.b.life)
	d.stop = cancel
	frame := proto.PageFrameID(s.page.TargetID)
	wait := s.b.rod.Context(evCtx).EachEvent(
		func(e *proto.BrowserDownloadWillBegin) {
			d.mu.Lock()
			defer d.mu.Unlock()
			if e.FrameID == frame && d.guid == "" {
				d.guid, d.filename = e.GUID, e.SuggestedFilename
			}
		},
		func(e *proto.BrowserDownloadProgress) {
			d.mu.Lock()
			defer d.mu.Unlock()
			if e.GUID != d.guid || e.State == proto.BrowserDownloadProgressStateInProgress || d.state != "" {
				return
			}
			d.state = e.State
			close(d.done)
		},
	)
	go wait()
	return nil
}

func (d *download) wait(ctx context.Context) ([]byte, string, error) {
	select {
	case <-ctx.Done():
		return nil, "", ctx.Err()
	case <-d.done:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != proto.BrowserDownloadProgressStateCompleted {
		return nil, "", fmt.Errorf("the CSV download was %s", d.state)
	}
	data, err := os.ReadFile(filepath.Join(d.dir, d.guid))
	if err != nil {
		return nil, "", fmt.Errorf("read the downloaded CSV: %w", err)
	}
	name := filepath.Base(d.filename)
	if name == "." || name == "/" || name == "" || !strings.HasSuffix(strings.ToLower(name), ".csv") {
		name = "data.csv"
	}
	return data, name, nil
}

func (d *download) cleanup() {
	if d.stop != nil {
		d.stop()
	}
	os.RemoveAll(d.dir)
}
