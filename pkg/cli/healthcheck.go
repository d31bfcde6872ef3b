package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
)

// healthcheckTimeout bounds one check: a container's HEALTHCHECK runs it
// every interval, and a hung server must count as unhealthy, not block.
const healthcheckTimeout = 5 * time.Second

// runHealthcheck is `panelcast healthcheck`: GET /healthz of the serve
// that the same settings (flags, PANELCAST_* variables, --config) describe,
// for images that have no curl. It returns nil on 200 only.
func runHealthcheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var url string
	cfg, _, err := config.FromArgs("panelcast healthcheck", args, environ, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&url, "url", "", "healthz URL to ask (default: http://<addr>/healthz, a wildcard addr asked on loopback)")
	})
	if err != nil {
		return err
	}
	if url == "" {
		if url, err = healthzURL(cfg.Addr); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck URL %q: %w: give a URL like http://127.0.0.1:8081/healthz", url, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w: is panelcast serve running on that address?", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, res.Status, body)
	}
	fmt.Fprintf(stdout, "%s: %s", url, body)
	return nil
}

// healthzURL is where serve listening on addr answers /healthz: a
// wildcard host (0.0.0.0, ::, none) is reached on loopback.
func healthzURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("addr %q: %w: set addr (PANELCAST_ADDR) as serve has it, host:port", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
