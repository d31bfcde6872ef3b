package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/httpapi"
	"github.com/panelcast/panelcast/pkg/quote"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// Session cookie of the console.
const (
	sessionCookie = "panelcast_session"
	// sessionLifetime is how long a sign-in lasts; then the console asks
	// for the token again.
	sessionLifetime = 12 * time.Hour
)

// access decides who may use the console, its API, /push and /alerts:
// a caller with "Authorization: Bearer <api_token>", a browser with the
// session cookie POST /api/session gave it, or, when no api_token is set
// and Panelcast listens on a loopback address, anyone who reaches it by a
// loopback name (as the render API is open there without auth_token).
//
// A session cookie is signed with a key derived from the api_token it was
// signed in with, so every replica that has the token accepts it, and
// removing the token from api_token ends its sessions. Signing out
// revokes the session in the outbox, so every replica sharing it (and
// this one after a restart) refuses it.
type access struct {
	tokens []secret.Value
	keys   [][]byte // keys[i] signs the sessions of tokens[i]
	// open: no api_token and a loopback listener.
	open bool
	addr string

	revoked revocations
}

// revocations keeps signed-out sessions where every replica sees them:
// the outbox, through the service.
type revocations interface {
	RevokeSession(ctx context.Context, id string, expires time.Time) error
	SessionRevoked(ctx context.Context, id string) (bool, error)
}

// Why a request's session is not one: errNoSession (none, forged or
// expired) or errSignedOut; any other error is a failure to check it.
var (
	errNoSession = errors.New("no valid session")
	errSignedOut = errors.New("the session was signed out")
)

func newAccess(cfg config.Config, revoked revocations) *access {
	a := &access{tokens: cfg.APITokens, open: len(cfg.APITokens) == 0 && loopbackHost(cfg.Addr), addr: cfg.Addr,
		revoked: revoked}
	for _, t := range a.tokens {
		m := hmac.New(sha256.New, []byte(t.Reveal()))
		m.Write([]byte("panelcast console session v1"))
		a.keys = append(a.keys, m.Sum(nil))
	}
	return a
}

// authorize admits r or says why not; the error wraps
// service.ErrUnauthorized.
func (a *access) authorize(r *http.Request) error {
	if len(a.tokens) > 0 && r.Header.Get("Authorization") != "" {
		return bearerToken(a.tokens)(r)
	}
	_, _, err := a.session(r)
	if err == nil {
		return nil
	}
	switch {
	case a.open && loopbackHost(r.Host):
		return nil
	case a.open:
		return fmt.Errorf("%w: no api_token is set, so Panelcast answers only requests to a loopback name (127.0.0.1, localhost) and this one was for %q: set api_token to reach it through a proxy or another name", service.ErrUnauthorized, quote.Clip(r.Host))
	case len(a.tokens) == 0:
		return fmt.Errorf("%w: the console, /push and /alerts are off because Panelcast listens on %s, which other machines reach, and no api_token is set: set api_token", service.ErrUnauthorized, a.addr)
	case !errors.Is(err, errNoSession) && !errors.Is(err, errSignedOut):
		return fmt.Errorf("%w: the console session could not be checked: %s", service.ErrUnauthorized, httpapi.Sentence(err))
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		return fmt.Errorf("%w: the console session ended: sign in again with an api_token", service.ErrUnauthorized)
	}
	return fmt.Errorf("%w: sign in with an api_token, or send Authorization: Bearer <api_token>", service.ErrUnauthorized)
}

// required says whether r needs credentials at all.
func (a *access) required(r *http.Request) bool { return !(a.open && loopbackHost(r.Host)) }

// authenticated says r carries a valid bearer token or session.
func (a *access) authenticated(r *http.Request) bool {
	if len(a.tokens) > 0 && r.Header.Get("Authorization") != "" {
		return bearerToken(a.tokens)(r) == nil
	}
	_, _, err := a.session(r)
	return err == nil
}

// signIn checks a token and returns the session cookie for it.
func (a *access) signIn(token string, secure bool) (*http.Cookie, error) {
	if len(a.tokens) == 0 {
		if a.open {
			return nil, errors.New("no api_token is set, so there is no token to sign in with: open the console by a loopback name (127.0.0.1 or localhost), where it needs none, or set api_token")
		}
		return nil, fmt.Errorf("%w: no api_token is set, so no one can sign in: set api_token", service.ErrUnauthorized)
	}
	match := secret.IndexOf(strings.TrimSpace(token), a.tokens)
	if match < 0 {
		return nil, fmt.Errorf("%w: the token is not one of api_token: check it and try again", service.ErrUnauthorized)
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	expires := time.Now().Add(sessionLifetime)
	payload := "v1." + strconv.FormatInt(expires.Unix(), 10) + "." + hex.EncodeToString(nonce[:])
	return a.cookie(payload+"."+a.sign(match, payload), expires, secure), nil
}

// signOut revokes r's session for every replica and returns the cookie
// that clears it, and why the revocation failed, if it did.
func (a *access) signOut(r *http.Request, secure bool) (*http.Cookie, error) {
	c := a.cookie("", time.Time{}, secure)
	c.MaxAge = -1
	id, expires, err := a.session(r)
	switch {
	case errors.Is(err, errNoSession) || errors.Is(err, errSignedOut):
		return c, nil
	case err == nil:
		err = a.revoked.RevokeSession(r.Context(), id, expires)
	}
	if err != nil {
		return c, fmt.Errorf("%w: signing out failed, so the session stays valid until %s: %s, then sign out again",
			service.ErrDeliveryUnavailable, expires.UTC().Format(time.RFC3339), httpapi.Sentence(err))
	}
	return c, nil
}

func (a *access) cookie(value string, expires time.Time, secure bool) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", Expires: expires,
		MaxAge: int(time.Until(expires).Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

func (a *access) sign(key int, payload string) string {
	m := hmac.New(sha256.New, a.keys[key])
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// session returns the id and expiry of r's session: signed with a key of
// a current api_token, not expired, not signed out on any replica.
func (a *access) session(r *http.Request) (string, time.Time, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(a.keys) == 0 {
		return "", time.Time{}, errNoSession
	}
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 {
		return "", time.Time{}, errNoSession
	}
	payload, mac := c.Value[:i], c.Value[i+1:]
	valid := 0
	for k := range a.keys {
		if hmac.Equal([]byte(a.sign(k, payload)), []byte(mac)) {
			valid = 1
		}
	}
	parts := strings.Split(payload, ".")
	if valid != 1 || len(parts) != 3 || parts[0] != "v1" {
		return "", time.Time{}, errNoSession
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || time.Now().Unix() >= exp {
		return "", time.Time{}, errNoSession
	}
	// Only a session this Panelcast signed reaches the outbox.
	id, expires := parts[2], time.Unix(exp, 0)
	revoked, err := a.revoked.SessionRevoked(r.Context(), id)
	switch {
	case err != nil:
		return "", expires, err
	case revoked:
		return "", expires, errSignedOut
	}
	return id, expires, nil
}

// secureRequest says the browser reached Panelcast over TLS (through a
// proxy that says so), where the session cookie must be Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// loopbackHost says a Host header names this machine: localhost or a
// loopback address, with or without a port. A browser sends the name it
// resolved, so a site that rebinds its own name to 127.0.0.1 is refused.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
