// Command dev is the console's development stand-in for Panelcast: it
// serves the page (embedded, or a dist folder while `npm run watch`
// rebuilds it) with a mock of the API contract, and can take the
// console's screenshots and measure its first paint in real Chromium.
// It is never shipped.
//
//	go run ./src/console/dev                         # http://127.0.0.1:8090
//	go run ./src/console/dev -token secret           # with the sign-in form
//	go run ./src/console/dev -shots shots            # 4 PNGs + page figures, then exit
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"

	"github.com/panelcast/panelcast/pkg/console"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	dir := flag.String("dir", "", "serve the page from this folder (pkg/console/dist) instead of the embedded build")
	token := flag.String("token", "", "require this API token (shows the sign-in form)")
	shots := flag.String("shots", "", "write screenshots to this folder, print page figures, and exit")
	chromium := flag.String("chromium", "/usr/bin/chromium", "Chromium for -shots")
	flag.Parse()

	if *shots != "" {
		*addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: handler(newMock(*token), *dir)}
	go func() { _ = srv.Serve(ln) }()
	base := fmt.Sprintf("http://%s/", ln.Addr())

	if *shots != "" {
		err := takeShots(base, *chromium, *shots)
		_ = srv.Close()
		if err != nil {
			log.Fatal(err)
		}
		return
	}
	fmt.Printf("console with the mock API on %s (Ctrl-C stops)\n", base)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	_ = srv.Shutdown(context.Background())
}

func handler(m *mock, dir string) http.Handler {
	mux := m.routes()
	page := console.Handler()
	if dir != "" {
		page = http.FileServer(http.Dir(dir))
	}
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /console/", page)
	// The floor first paint is measured against: one line of text.
	mux.HandleFunc("GET /dev/baseline", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>baseline</title><p>Panelcast</p>"))
	})
	return mux
}
