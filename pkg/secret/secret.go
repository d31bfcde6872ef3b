// Package secret holds Value, a string that never prints: tokens, render
// keys, cookies and passwords travel in it from the configuration or the
// request to the one place that sends them, which calls Reveal. Every way
// Go prints or encodes a value (fmt's verbs, errors built with them, JSON,
// text encodings, slog) shows Redacted instead, so a log line, an error, a
// health answer or a panic that carries a configuration or a request shows
// no secret.
//
// It is a leaf package: pkg/config, pkg/render, pkg/grafana and the doors
// all use it.
package secret

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
)

// Redacted is what a set Value prints as; an empty one prints as "".
const Redacted = "[redacted]"

// Value is a secret string. The zero value is the empty secret ("not set").
// It is comparable, so two Values can be compared with ==.
type Value struct {
	v string
}

// New wraps s.
func New(s string) Value { return Value{v: s} }

// List wraps each of ss.
func List(ss ...string) []Value {
	if len(ss) == 0 {
		return nil
	}
	out := make([]Value, len(ss))
	for i, s := range ss {
		out[i] = New(s)
	}
	return out
}

// Reveal is the secret itself, for the few places that send it: an HTTP
// header, a cookie, a provider client, a database connection.
func (s Value) Reveal() string { return s.v }

// IsSet reports whether the secret is not empty.
func (s Value) IsSet() bool { return s.v != "" }

// text is what every printer shows.
func (s Value) text() string {
	if s.v == "" {
		return ""
	}
	return Redacted
}

// String is Redacted, or "" when the secret is empty.
func (s Value) String() string { return s.text() }

// GoString is what %#v shows.
func (s Value) GoString() string { return "secret.Value(" + strconv.Quote(s.text()) + ")" }

// Format makes every fmt verb (%v, %+v, %s, %q, %x, %d, …) print the
// redacted text, so a struct or a panic that holds a Value shows no secret
// whatever verb prints it.
func (s Value) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, s.GoString())
	case verb == 'q':
		_, _ = fmt.Fprint(f, strconv.Quote(s.text()))
	default:
		_, _ = fmt.Fprint(f, s.text())
	}
}

// MarshalJSON encodes the redacted text.
func (s Value) MarshalJSON() ([]byte, error) { return json.Marshal(s.text()) }

// MarshalText encodes the redacted text (encoding.TextMarshaler, which
// YAML, TOML and map keys use).
func (s Value) MarshalText() ([]byte, error) { return []byte(s.text()), nil }

// LogValue is what slog logs.
func (s Value) LogValue() slog.Value { return slog.StringValue(s.text()) }

// OneOf reports whether presented equals one of values; see IndexOf.
func OneOf(presented string, values []Value) bool { return IndexOf(presented, values) >= 0 }

// IndexOf is the index of the value presented equals, or -1, found in time
// that does not depend on which one or on how much of it matched, so that
// a caller cannot guess a token byte by byte: the one compare of presented
// tokens. An empty presented value matches none.
func IndexOf(presented string, values []Value) int {
	match := -1
	if presented == "" {
		return match
	}
	for i, v := range values {
		if subtle.ConstantTimeCompare([]byte(presented), []byte(v.v)) == 1 {
			match = i
		}
	}
	return match
}
