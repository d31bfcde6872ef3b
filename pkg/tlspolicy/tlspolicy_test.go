package tlspolicy

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

func TestParsePin(t *testing.T) {
	sum := sha256.Sum256([]byte("a key"))
	hexPin := hex.EncodeToString(sum[:])
	var colons []string
	for i := 0; i < len(hexPin); i += 2 {
		colons = append(colons, strings.ToUpper(hexPin[i:i+2]))
	}
	for _, c := range []struct {
		in string
		ok bool
	}{
		{hexPin, true},
		{strings.Join(colons, ":"), true},
		{base64.StdEncoding.EncodeToString(sum[:]), true},
		{base64.RawStdEncoding.EncodeToString(sum[:]), true},
		{base64.URLEncoding.EncodeToString(sum[:]), true},
		{"sha256//" + base64.StdEncoding.EncodeToString(sum[:]), true},
		{"  " + hexPin + " ", true},
		{hexPin[:62], false},
		{base64.StdEncoding.EncodeToString(sum[:31]), false},
		{"", false},
		{strings.Repeat("z", 64), false},
	} {
		pin, err := ParsePin(c.in)
		if c.ok && (err != nil || pin != sum) {
			t.Errorf("ParsePin(%q) = %x, %v; want %x", c.in, pin, err, sum)
		}
		if !c.ok && err == nil {
			t.Errorf("ParsePin(%q) accepted %x", c.in, pin)
		}
	}
}

func FuzzParsePin(f *testing.F) {
	f.Add("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	f.Add("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	f.Add("AB:CD")
	f.Fuzz(func(t *testing.T, s string) {
		pin, err := ParsePin(s)
		if err != nil {
			if !strings.Contains(err.Error(), "SHA-256") {
				t.Fatalf("refusal does not say what is wanted: %v", err)
			}
			return
		}
		// Whatever was accepted is a hash that reads back the same in
		// both forms the README documents.
		for _, again := range []string{hex.EncodeToString(pin[:]), base64.StdEncoding.EncodeToString(pin[:])} {
			if p2, err := ParsePin(again); err != nil || p2 != pin {
				t.Fatalf("%q parsed to %x, but %q reads as %x, %v", s, pin, again, p2, err)
			}
		}
	})
}

func TestNewRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	for _, c := range []struct {
		name string
		o    Options
		key  string
	}{
		{"mode", Options{Mode: "lenient"}, "tls_mode"},
		{"missing CA", Options{Mode: Callback, CAFile: filepath.Join(dir, "nope.pem")}, "grafana_ca_file"},
		{"CA not PEM", Options{Mode: Callback, CAFile: notPEM}, "grafana_ca_file"},
		{"bad pin", Options{Mode: Callback, Pins: []string{"abc"}}, "grafana_cert_sha256"},
		{"pin in strict", Options{Mode: Strict, Pins: []string{hex.EncodeToString(sum[:])}}, "grafana_cert_sha256"},
	} {
		_, err := New(c.o)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != c.key {
			t.Errorf("%s: err = %v, want a %s error", c.name, err, c.key)
		}
	}
}

func TestLoopback(t *testing.T) {
	for origin, want := range map[string]bool{
		"https://localhost:3000": true, "https://LOCALHOST.:3000": true, "https://127.0.0.1:3000": true,
		"https://127.8.9.10": true, "https://[::1]:3000": true, "https://grafana.test:3000": false,
		"https://10.0.0.1:3000": false, "https://localhost.example.com": false, "https://[::2]:3000": false,
	} {
		if got := Loopback(origin); got != want {
			t.Errorf("Loopback(%s) = %v, want %v", origin, got, want)
		}
	}
}

// remoteHost stands for a Grafana on another machine; the dialer maps it
// onto the stand-in's loopback port.
const remoteHost = "grafana.test"

func mapRemote(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == remoteHost {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
}

type stands struct {
	loopback, remoteSelf, remoteCA, remoteCAOther *grafanatest.Server
	caFile                                        string
}

func startStands(t *testing.T) stands {
	t.Helper()
	ca, err := grafanatest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	forRemote, err := ca.Issue(remoteHost)
	if err != nil {
		t.Fatal(err)
	}
	forOther, err := ca.Issue("other.example")
	if err != nil {
		t.Fatal(err)
	}
	start := func(o grafanatest.Options) *grafanatest.Server {
		o.TLS, o.NoAuth = true, true
		g, err := grafanatest.Start(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		return g
	}
	s := stands{
		loopback:      start(grafanatest.Options{}),
		remoteSelf:    start(grafanatest.Options{Host: remoteHost}),
		remoteCA:      start(grafanatest.Options{Host: remoteHost, Certificate: &forRemote}),
		remoteCAOther: start(grafanatest.Options{Host: remoteHost, Certificate: &forOther}),
		caFile:        filepath.Join(t.TempDir(), "ca.pem"),
	}
	if err := os.WriteFile(s.caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func origin(g *grafanatest.Server) string {
	u, _ := url.Parse(g.URL)
	return u.Scheme + "://" + u.Host
}

// TestClientDecisions runs the policy's HTTP client against stand-ins: a
// loopback Grafana and "remote" ones with a self-signed certificate for
// another name, a certificate from an operator's CA, and one from that CA
// for another name.
func TestClientDecisions(t *testing.T) {
	s := startStands(t)
	selfKey := KeyHash(s.remoteSelf.Certificate())
	for _, c := range []struct {
		name   string
		o      Options
		server *grafanatest.Server
		want   []string // parts of the refusal; nil: accepted
	}{
		{"callback forgives loopback", Options{Mode: Callback}, s.loopback, nil},
		{"callback refuses remote", Options{Mode: Callback}, s.remoteSelf,
			[]string{origin(s.remoteSelf) + " presented a certificate for " + grafanatest.CertificateName, "does not trust",
				"set grafana_ca_file to its CA", "grafana_cert_sha256 = " + selfKey, "tls_mode = insecure"}},
		{"callback with CA file", Options{Mode: Callback, CAFile: s.caFile}, s.remoteCA, nil},
		{"CA file does not vouch for another issuer", Options{Mode: Callback, CAFile: s.caFile}, s.remoteSelf,
			[]string{"the CA that issued it", "grafana_cert_sha256 = " + selfKey}},
		{"CA file checks names", Options{Mode: Callback, CAFile: s.caFile}, s.remoteCAOther,
			[]string{"certificate for other.example", "not " + remoteHost}},
		{"callback with pin", Options{Mode: Callback, Pins: []string{selfKey}}, s.remoteSelf, nil},
		{"pin of another key", Options{Mode: Callback, Pins: []string{KeyHash(s.remoteCA.Certificate())}}, s.remoteSelf,
			[]string{"grafana_cert_sha256 = " + selfKey}},
		{"insecure", Options{Mode: Insecure}, s.remoteSelf, nil},
		{"strict refuses loopback", Options{Mode: Strict}, s.loopback,
			[]string{origin(s.loopback) + " presented a certificate for " + grafanatest.CertificateName, "tls_mode = callback"}},
		{"strict with CA file", Options{Mode: Strict, CAFile: s.caFile}, s.remoteCA, nil},
		{"strict with CA file checks names", Options{Mode: Strict, CAFile: s.caFile}, s.remoteCAOther, []string{"other.example"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.DialContext = mapRemote
			p, err := New(c.o)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Client(5 * time.Second).Get(c.server.URL + "/login")
			if err == nil {
				resp.Body.Close()
			}
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestInspectThenVerify is what the browser does after a refusal: fetch
// the certificate and judge it on its merits, loopback not forgiven.
func TestInspectThenVerify(t *testing.T) {
	s := startStands(t)
	p, err := New(Options{Mode: Callback, CAFile: s.caFile, DialContext: mapRemote})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []struct {
		g    *grafanatest.Server
		want bool
	}{{s.remoteCA, true}, {s.remoteSelf, false}, {s.loopback, false}} {
		chain, err := p.Inspect(ctx, origin(c.g))
		if err != nil {
			t.Fatal(err)
		}
		if KeyHash(chain[0]) != KeyHash(c.g.Certificate()) {
			t.Errorf("%s: inspected another certificate", c.g.URL)
		}
		if err := p.Verify(origin(c.g), chain); (err == nil) != c.want {
			t.Errorf("Verify(%s) = %v, want accepted %v", c.g.URL, err, c.want)
		}
	}
	if !p.Forgives(origin(s.loopback), true) || p.Forgives(origin(s.loopback), false) || p.Forgives(origin(s.remoteSelf), true) {
		t.Error("callback forgives exactly a loopback callback origin")
	}
}
