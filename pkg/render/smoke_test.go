package render

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><body style="margin:0;background:#123456"><div id=x>hi</div><script>
		setTimeout(()=>{window.__grafanaSceneContext={};window.__grafanaRunningQueryCount=1;
		setTimeout(()=>{document.body.style.background='#00ff00';window.__grafanaRunningQueryCount=0},300)},200)</script></body></html>`)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	r, err := New(context.Background(), Options{Concurrency: 2, QueueLength: 4, Limits: Limits{MaxWidth: 3000, MaxHeight: 3000, MaxScale: 4, MaxTimeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		png, err := r.Render(context.Background(), Request{URL: u, Width: 400, Height: 200, Scale: 1, Timeout: 10 * time.Second, Encoding: PNG})
		t.Log(time.Since(t0), len(png), err)
		os.WriteFile("/tmp/smoke/out.png", png, 0o644)
	}
}
