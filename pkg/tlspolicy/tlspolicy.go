// Package tlspolicy decides which TLS certificates Panelcast accepts from
// Grafana, in one place for the browser (pkg/render) and for every Go client
// that talks to Grafana. It knows nothing about browsers.
//
// In tls_mode callback (the default) a certificate error on a loopback
// callback origin (localhost, 127.0.0.0/8, ::1) is forgiven without any
// configuration: intercepting it takes local access. Any other origin must
// verify against the system's roots, or against grafana_ca_file, or present
// a key whose SHA-256 is in grafana_cert_sha256. strict forgives nothing
// and takes no pins; insecure accepts everything.
package tlspolicy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Mode says which certificate errors are tolerated.
type Mode string

const (
	// Callback forgives loopback callback origins and trusts what a CA or
	// a pinned key vouches for.
	Callback Mode = "callback"
	// Strict verifies every certificate, loopback included.
	Strict Mode = "strict"
	// Insecure accepts every certificate (the old renderer's
	// rendering_ignore_https_errors = true).
	Insecure Mode = "insecure"
)

// Options are the operator's settings.
type Options struct {
	Mode Mode
	// CAFile is a PEM bundle of CAs that vouch for Grafana's certificate
	// besides the system's roots (grafana_ca_file).
	CAFile string
	// Pins are SHA-256 hashes of a leaf's SubjectPublicKeyInfo, hex or
	// base64 (grafana_cert_sha256).
	Pins []string
	// DialContext reaches origins; nil is a net.Dialer. Tests map names
	// onto loopback with it.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Policy is the decision. It is safe for concurrent use.
type Policy struct {
	mode  Mode
	roots *x509.CertPool // nil: the system's
	pins  [][sha256.Size]byte
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
}

// KeyError is a setting that cannot be used; Key names it.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// New checks the options and builds the policy. Errors are *KeyError.
func New(o Options) (*Policy, error) {
	p := &Policy{mode: o.Mode, dial: o.DialContext}
	switch o.Mode {
	case Callback, Strict, Insecure:
	case "":
		p.mode = Callback
	default:
		return nil, &KeyError{"tls_mode", fmt.Errorf("%q is not one of callback, strict, insecure", o.Mode)}
	}
	if p.dial == nil {
		p.dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	if o.CAFile != "" {
		roots, err := loadCAs(o.CAFile)
		if err != nil {
			return nil, &KeyError{"grafana_ca_file", err}
		}
		p.roots = roots
	}
	for _, s := range o.Pins {
		pin, err := ParsePin(s)
		if err != nil {
			return nil, &KeyError{"grafana_cert_sha256", err}
		}
		p.pins = append(p.pins, pin)
	}
	if len(p.pins) > 0 && p.mode == Strict {
		return nil, &KeyError{"grafana_cert_sha256", errors.New("a pinned key is trusted whatever names its certificate has, and tls_mode = strict checks names: use tls_mode = callback with the pin, or grafana_ca_file")}
	}
	return p, nil
}

// loadCAs reads a PEM bundle on top of the system's roots, so that a
// Grafana with a public certificate still verifies.
func loadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: point it at a readable PEM file of the CA that issued Grafana's certificate", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s holds a certificate that does not parse (%v): export the CA again as PEM", path, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----): export the CA as PEM", path)
	}
	return pool, nil
}

// ParsePin reads a SHA-256 of a SubjectPublicKeyInfo written as 64 hex
// digits (colons allowed, as openssl prints fingerprints) or as base64
// (standard or URL alphabet, padded or not; "sha256//" as curl writes it
// is allowed in front).
func ParsePin(s string) ([sha256.Size]byte, error) {
	var pin [sha256.Size]byte
	v := strings.TrimPrefix(strings.TrimSpace(s), "sha256//")
	if h := strings.ReplaceAll(v, ":", ""); len(h) == 2*sha256.Size {
		if b, err := hex.DecodeString(h); err == nil {
			copy(pin[:], b)
			return pin, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == sha256.Size {
			copy(pin[:], b)
			return pin, nil
		}
	}
	return pin, fmt.Errorf("%q is not a SHA-256 (64 hex digits or 44 base64 characters): take it from the refusal message, or run openssl x509 -pubkey -noout -in cert.pem | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64", s)
}

// KeyHash is the SHA-256 of the certificate's SubjectPublicKeyInfo in
// base64, the form Chromium's --ignore-certificate-errors-spki-list and
// grafana_cert_sha256 take.
func KeyHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Mode is the policy's mode.
func (p *Policy) Mode() Mode { return p.mode }

// PinnedKeys are the pins in base64 (see KeyHash).
func (p *Policy) PinnedKeys() []string {
	out := make([]string, len(p.pins))
	for i, pin := range p.pins {
		out[i] = base64.StdEncoding.EncodeToString(pin[:])
	}
	return out
}

// Forgives reports whether a certificate error on origin is tolerated
// without looking at the certificate. callback says the origin is the one
// Grafana asked to render (its callback URL); Go clients talk to Grafana's
// origin only, so for them it is always true.
func (p *Policy) Forgives(origin string, callback bool) bool {
	switch p.mode {
	case Insecure:
		return true
	case Callback:
		return callback && Loopback(origin)
	}
	return false
}

// Loopback reports whether origin's host is localhost or a loopback
// address (127.0.0.0/8, ::1), by name: what it resolves to does not count.
func Loopback(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Verify decides a certificate on its own merits, without forgiving
// anything: a CA (the system's or grafana_ca_file) vouches for it for
// origin's host, or its key is pinned (callback mode). chain[0] is the
// leaf. Errors are *RefusedError.
func (p *Policy) Verify(origin string, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return &RefusedError{Origin: origin, Mode: p.mode, Reason: errors.New("it presented no certificate")}
	}
	leaf := chain[0]
	if p.mode == Callback {
		sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		if slices.Contains(p.pins, sum) {
			return nil
		}
	}
	host := ""
	if u, err := url.Parse(origin); err == nil {
		host = u.Hostname()
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: p.roots, Intermediates: inter})
	if err != nil {
		return &RefusedError{Origin: origin, Mode: p.mode, Names: Names(leaf), Key: KeyHash(leaf), CAFile: p.roots != nil, Reason: err}
	}
	return nil
}

// Check is the whole decision for a Go client talking to Grafana at origin.
func (p *Policy) Check(origin string, chain []*x509.Certificate) error {
	if p.Forgives(origin, true) {
		return nil
	}
	return p.Verify(origin, chain)
}

// Names are the names a certificate is issued for: its DNS and IP
// subject alternative names, else its common name.
func Names(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return names
}

// RefusedError is a certificate the policy does not accept. Its text names
// the origin, the certificate's names and the setting that would accept it.
type RefusedError struct {
	Origin string
	Mode   Mode
	Names  []string
	Key    string // KeyHash of the leaf
	CAFile bool   // grafana_ca_file is set (and did not vouch for it)
	Reason error  // why verification failed
}

func (e *RefusedError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s %v: check that this is Grafana's https address", e.Origin, e.Reason)
	}
	names := "no name"
	if len(e.Names) > 0 {
		names = strings.Join(e.Names, ", ")
	}
	msg := fmt.Sprintf("%s presented a certificate for %s that this machine does not trust (%v): ", e.Origin, names, e.Reason)
	ca := "set grafana_ca_file to its CA"
	if e.CAFile {
		ca = "set grafana_ca_file to the CA that issued it"
	}
	switch {
	case e.Mode == Strict && Loopback(e.Origin):
		return msg + fmt.Sprintf("%s, or use tls_mode = callback, which forgives Grafana's own loopback address", ca)
	case e.Mode == Strict:
		return msg + fmt.Sprintf("%s, or use tls_mode = callback with grafana_cert_sha256 = %s", ca, e.Key)
	}
	return msg + fmt.Sprintf("%s, grafana_cert_sha256 = %s (the SHA-256 of its key), or tls_mode = insecure", ca, e.Key)
}

// Inspect connects to origin and returns the certificates it presents,
// without judging them: for explaining a browser's refusal, and for
// learning a key the policy trusts (see Verify).
func (p *Policy) Inspect(ctx context.Context, origin string) ([]*x509.Certificate, error) {
	addr, host, err := tlsAddr(origin)
	if err != nil {
		return nil, err
	}
	conn, err := p.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", origin, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Only the certificate is wanted; it is judged by the caller.
	tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", origin, err)
	}
	return tc.ConnectionState().PeerCertificates, nil
}

func tlsAddr(origin string) (addr, host string, err error) {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return "", "", fmt.Errorf("%q is not an https origin", origin)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port), u.Hostname(), nil
}

// Transport is an HTTP transport whose TLS connections are decided by the
// policy (Check), per origin; plain http is not affected.
func (p *Policy) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = p.dial
	tr.ForceAttemptHTTP2 = true
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		conn, err := p.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		origin := "https://" + addr
		// Verification is Check's, which also knows about loopback,
		// pins and the CA file.
		tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}, //nolint:gosec
			VerifyConnection: func(cs tls.ConnectionState) error { return p.Check(origin, cs.PeerCertificates) }})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			var refused *RefusedError
			if errors.As(err, &refused) {
				return nil, refused
			}
			return nil, err
		}
		return tc, nil
	}
	return tr
}

// Client is an HTTP client for Grafana with the policy and a timeout.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: p.Transport()}
}
