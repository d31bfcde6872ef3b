package render

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/tlspolicy"
)

// remoteHost stands for a Grafana on another machine. Chromium reaches it
// through --host-resolver-rules and Go through mapRemote, both on the
// stand-in's loopback port, so the policy sees a name that is not loopback.
const remoteHost = "grafana.test"

func mapRemote(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == remoteHost {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
}

var remoteArgs = []string{"--host-resolver-rules=MAP " + remoteHost + " 127.0.0.1"}

func startStandIn(t testing.TB, o grafanatest.Options) *grafanatest.Server {
	t.Helper()
	o.TLS = true
	g, err := grafanatest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func originOf(g *grafanatest.Server) string {
	u, _ := url.Parse(g.URL)
	return u.Scheme + "://" + u.Host
}

func renderOn(r *Renderer, g *grafanatest.Server, host string) error {
	req := panelRequest(g, grafanatest.ScenarioScenes, 400, 200, 1)
	req.Cookies[0].Domain = host
	_, err := r.Render(context.Background(), req)
	return err
}

// TestTLSPolicyBrowserAndGoClientAgree renders stand-ins for a loopback and
// a remote Grafana with each policy, and asks the policy's Go client (the
// dashboard API's) the same: both must accept and refuse alike, and a
// browser refusal must name the origin, the certificate's names and the
// setting that would accept it.
func TestTLSPolicyBrowserAndGoClientAgree(t *testing.T) {
	ca, err := grafanatest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue(remoteHost)
	if err != nil {
		t.Fatal(err)
	}
	loopback := startStandIn(t, grafanatest.Options{})
	remote := startStandIn(t, grafanatest.Options{Host: remoteHost})
	remoteCA := startStandIn(t, grafanatest.Options{Host: remoteHost, Certificate: &issued})
	remoteKey := tlspolicy.KeyHash(remote.Certificate())
	for _, c := range []struct {
		name     string
		o        tlspolicy.Options
		g        *grafanatest.Server
		host     string
		want     []string // parts of the refusal; nil: accepted
		restarts int64    // browser restarts the render needs
	}{
		{"callback forgives loopback", tlspolicy.Options{Mode: tlspolicy.Callback}, loopback, "localhost", nil, 0},
		{"callback refuses remote", tlspolicy.Options{Mode: tlspolicy.Callback}, remote, remoteHost,
			[]string{originOf(remote) + " presented a certificate for " + grafanatest.CertificateName + " that this machine does not trust",
				"set grafana_ca_file to its CA, grafana_cert_sha256 = " + remoteKey, "or tls_mode = insecure"}, 0},
		// Chromium does not know the CA: the render teaches it the key the
		// CA vouched for, which takes one browser restart.
		{"callback with CA file", tlspolicy.Options{Mode: tlspolicy.Callback, CAFile: caFile}, remoteCA, remoteHost, nil, 1},
		{"CA file vouches only for its own", tlspolicy.Options{Mode: tlspolicy.Callback, CAFile: caFile}, remote, remoteHost,
			[]string{originOf(remote) + " presented a certificate for " + grafanatest.CertificateName, "the CA that issued it"}, 0},
		{"callback with pin", tlspolicy.Options{Mode: tlspolicy.Callback, Pins: []string{remoteKey}}, remote, remoteHost, nil, 0},
		{"insecure", tlspolicy.Options{Mode: tlspolicy.Insecure}, remote, remoteHost, nil, 0},
		{"strict refuses loopback", tlspolicy.Options{Mode: tlspolicy.Strict}, loopback, "localhost",
			[]string{originOf(loopback) + " presented a certificate for " + grafanatest.CertificateName, "tls_mode = callback"}, 0},
		{"strict with CA file", tlspolicy.Options{Mode: tlspolicy.Strict, CAFile: caFile}, remoteCA, remoteHost, nil, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.DialContext = mapRemote
			p := policy(t, c.o)
			r := newRenderer(t, Options{TLS: p, ChromiumArgs: remoteArgs})
			before := len(c.g.Visits())
			browserErr := renderOn(r, c.g, c.host)
			resp, goErr := p.Client(5 * time.Second).Get(c.g.URL + "/login")
			if goErr == nil {
				resp.Body.Close()
			}
			if c.want == nil {
				if browserErr != nil || goErr != nil {
					t.Fatalf("refused: browser %v; Go client %v", browserErr, goErr)
				}
				if got := r.Stats().Restarts; got != c.restarts {
					t.Errorf("%d browser restarts, want %d", got, c.restarts)
				}
				// Once learned, a key needs no more restarts.
				if err := renderOn(r, c.g, c.host); err != nil || r.Stats().Restarts != c.restarts {
					t.Errorf("second render: %v, %d restarts", err, r.Stats().Restarts)
				}
				return
			}
			var refused *tlspolicy.RefusedError
			if browserErr == nil || !errors.As(goErr, &refused) {
				t.Fatalf("accepted: browser %v; Go client %v", browserErr, goErr)
			}
			for _, w := range c.want {
				if !strings.Contains(browserErr.Error(), w) {
					t.Errorf("browser refusal %q does not say %q", browserErr, w)
				}
				if !strings.Contains(goErr.Error(), w) {
					t.Errorf("Go client refusal %q does not say %q", goErr, w)
				}
			}
			for _, v := range c.g.Visits()[before:] {
				if v.Cookies["renderKey"] != "" {
					t.Errorf("the render key reached %s although its certificate was refused", c.g.URL)
				}
			}
		})
	}
}
