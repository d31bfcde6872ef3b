package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const token = "xoxb-hunter2-ZQ9"

// holder is how secrets travel: inside a configuration or a request.
type holder struct {
	Name   string
	Token  Value
	Tokens []Value
	ByName map[string]Value
	Ptr    *Value
}

// Every way Go prints or encodes a value shows the redacted text and never
// the secret, for the Value itself and for a struct that holds it.
func TestValueNeverPrints(t *testing.T) {
	v := New(token)
	h := holder{Name: "cfg", Token: v, Tokens: List("a-"+token, token), ByName: map[string]Value{"Authorization": New("Bearer " + token)}, Ptr: &v}
	jsonOf := func(x any) string {
		b, err := json.Marshal(x)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	}
	slogOf := func(json bool, x any) string {
		var b bytes.Buffer
		var handler slog.Handler = slog.NewTextHandler(&b, nil)
		if json {
			handler = slog.NewJSONHandler(&b, nil)
		}
		slog.New(handler).Info("msg", "value", x)
		return b.String()
	}
	text, _ := v.MarshalText()
	cases := map[string]string{
		"String":        v.String(),
		"GoString":      v.GoString(),
		"%v":            fmt.Sprintf("%v", v),
		"%+v":           fmt.Sprintf("%+v", v),
		"%#v":           fmt.Sprintf("%#v", v),
		"%s":            fmt.Sprintf("%s", v),
		"%q":            fmt.Sprintf("%q", v),
		"%x":            fmt.Sprintf("%x", v),
		"%X":            fmt.Sprintf("%X", v),
		"%d":            fmt.Sprintf("%d", v),
		"%10.3s":        fmt.Sprintf("%10.3s", v),
		"Sprint":        fmt.Sprint(v),
		"Sprintln":      fmt.Sprintln(v),
		"MarshalText":   string(text),
		"json":          jsonOf(v),
		"struct %v":     fmt.Sprintf("%v", h),
		"struct %+v":    fmt.Sprintf("%+v", h),
		"struct %#v":    fmt.Sprintf("%#v", h),
		"struct %s":     fmt.Sprintf("%s", h),
		"struct %x":     fmt.Sprintf("%x", h),
		"struct json":   jsonOf(h),
		"pointer %v":    fmt.Sprintf("%v", &v),
		"error %w":      fmt.Errorf("sending with %v failed: %w", v, errors.New("boom")).Error(),
		"slog text":     slogOf(false, v),
		"slog json":     slogOf(true, v),
		"slog struct":   slogOf(false, h),
		"slog json str": slogOf(true, h),
		"panic":         panicText(func() { panic(h) }),
	}
	for name, got := range cases {
		if strings.Contains(got, "hunter2") {
			t.Errorf("%s shows the secret: %s", name, got)
		}
		if !strings.Contains(got, Redacted) {
			t.Errorf("%s does not say a secret is there: %q", name, got)
		}
	}
	if v.Reveal() != token || h.Tokens[1].Reveal() != token {
		t.Errorf("Reveal = %q, want the secret", v.Reveal())
	}
}

// panicText is what a recovered panic prints, as net/http, gRPC's recovery
// and the delivery worker print it: %v of the value.
func panicText(f func()) (out string) {
	defer func() { out = fmt.Sprintf("panic: %v", recover()) }()
	f()
	return ""
}

// An empty secret prints as nothing, so "not set" stays visible, and
// compares equal to the zero value.
func TestEmptyValue(t *testing.T) {
	var zero Value
	if New("") != zero || zero.IsSet() || New("x") == zero || !New("x").IsSet() {
		t.Error("IsSet and == disagree with the content")
	}
	if got := fmt.Sprintf("%v|%s|%q", zero, zero, zero); got != `||""` {
		t.Errorf("empty secret prints %q", got)
	}
	if b, _ := json.Marshal(zero); string(b) != `""` {
		t.Errorf("empty secret encodes %s", b)
	}
	if List() != nil || len(List("a", "b")) != 2 {
		t.Error("List")
	}
}

func TestOneOf(t *testing.T) {
	tokens := List("alpha-token", "beta-token")
	for _, c := range []struct {
		presented string
		want      bool
	}{
		{"alpha-token", true},
		{"beta-token", true},
		{"alpha-toke", false},
		{"alpha-token ", false},
		{"gamma-token", false},
		{"", false},
	} {
		if got := OneOf(c.presented, tokens); got != c.want {
			t.Errorf("OneOf(%q) = %v, want %v", c.presented, got, c.want)
		}
	}
	if i := IndexOf("beta-token", tokens); i != 1 {
		t.Errorf("IndexOf(beta-token) = %d, want 1", i)
	}
	if OneOf("", List("")) {
		t.Error("an empty token matched an empty configured one")
	}
}
