package cli

import (
	"crypto/tls"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// A demo left running keeps nothing per request: 10,000 requests to its
// Grafana, each with a 2 KB session cookie and a token (which a demo that
// recorded its requests kept, headers and cookies included: 46 MiB),
// leave the heap where it was.
func TestServeDemoMemoryIsBounded(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	d := startDemoServe(t)
	m := regexp.MustCompile(`demo dashboard on (https://\S+) `).FindStringSubmatch(d.stdout.String())
	if m == nil {
		t.Fatalf("serve named no demo dashboard: %s", d.stdout)
	}
	client := &http.Client{Transport: &http.Transport{
		// The demo's certificate is for another name, on purpose.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer client.CloseIdleConnections()
	cookie := "grafana_session=" + strings.Repeat("s", 2048)
	send := func(n int) {
		t.Helper()
		for i := range n {
			req, err := http.NewRequest("GET", m[1]+"/api/dashboards/uid/demo?request="+strconv.Itoa(i), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Cookie", cookie)
			req.Header.Set("Authorization", "Bearer glsa_someone_else_"+strconv.Itoa(i))
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("request %d with another token: %d, want 401", i, res.StatusCode)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	send(500) // connections, TLS sessions and pools reach their size
	before := heap()
	send(10000)
	after := heap()
	t.Logf("heap in use after GC: %.1f MiB before 10,000 requests, %.1f MiB after", float64(before)/(1<<20), float64(after)/(1<<20))
	if after > before+4<<20 {
		t.Errorf("the heap grew by %.1f MiB over 10,000 requests to the demo, want under 4 MiB: the demo keeps something per request", float64(after-before)/(1<<20))
	}
}
