package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeChromium writes a shell script standing in for the browser: one that
// exits at once, or one that never answers on its DevTools pipe.
func fakeChromium(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func quickRequest() Request {
	return Request{URL: "http://localhost:1/d-solo/x", Width: 10, Height: 10, Scale: 1, Timeout: time.Second, Encoding: PNG}
}

// TestCloseWhileRendersStart runs renders that start while Close is
// called (under -race this is where Add raced Close's Wait) and checks
// that once Close has returned every render is refused.
func TestCloseWhileRendersStart(t *testing.T) {
	for round := 0; round < 5; round++ {
		r, _ := New(context.Background(), Options{ChromiumPath: fakeChromium(t, "exit 1"), Concurrency: 4, QueueLength: 64,
			Limits: testLimits, Logger: testLogger(t)})
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i := 0; i < 16; i++ {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := r.Render(context.Background(), quickRequest()); errors.Is(err, ErrClosed) {
						return
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Render(context.Background(), quickRequest()); !errors.Is(err, ErrClosed) {
			t.Errorf("a render after Close: err = %v, want ErrClosed", err)
		}
		if _, err := r.Probe(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("a probe after Close: err = %v, want ErrClosed", err)
		}
		close(stop)
		wg.Wait()
	}
}

// TestRenderDoesNotWaitPastItsDeadlineForALaunch: a render that needs the
// browser another render is starting waits for that start only until its
// own deadline.
func TestRenderDoesNotWaitPastItsDeadlineForALaunch(t *testing.T) {
	hung := fakeChromium(t, "exec sleep 60") // starts, never answers
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	r, err := New(ctx, Options{ChromiumPath: hung, Concurrency: 2, QueueLength: 2, Limits: testLimits, Logger: testLogger(t)})
	cancel()
	if err == nil {
		t.Fatal("a browser that never answers started")
	}
	slow := quickRequest()
	slow.Timeout = 20 * time.Second
	go r.Render(context.Background(), slow) // starts a browser that will hang
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	_, err = r.Render(context.Background(), quickRequest())
	if took := time.Since(start); took > 2500*time.Millisecond || !errors.Is(err, ErrTimeout) {
		t.Errorf("a render with a 1s timeout ended after %s with %v; want ErrTimeout after about 1s", took, err)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r.Close(closeCtx) // stops the start that hangs
}

// TestCloseWaitsForProbes: a health probe in flight is waited for like a
// render, not cut off by Close killing the browser under it.
func TestCloseWaitsForProbes(t *testing.T) {
	r := newRenderer(t, Options{})
	probed := make(chan error, 1)
	go func() {
		_, err := r.Probe(context.Background())
		probed <- err
	}()
	time.Sleep(30 * time.Millisecond)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-probed:
		if err != nil {
			t.Errorf("the probe Close ran into failed: %v", err)
		}
	default:
		t.Error("Close returned while a probe was still running")
	}
}
