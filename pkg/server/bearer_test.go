package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

func TestBearerToken(t *testing.T) {
	two := bearerToken(secret.List("tok-1", "tok-2"))
	cases := []struct {
		name   string
		check  func(*http.Request) error
		header string
		want   string // "" admits
	}{
		{"first token", two, "Bearer tok-1", ""},
		{"second token, lower-case scheme", two, "bearer tok-2", ""},
		{"no header", two, "", "send Authorization: Bearer <api_token>"},
		{"wrong token", two, "Bearer tok-3", "not one of api_token"},
		{"basic auth", two, "Basic dG9rLTE6", "send Authorization: Bearer"},
		{"token prefix", two, "Bearer tok-", "not one of api_token"},
		{"no tokens configured", bearerToken(nil), "Bearer tok-1", "set api_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/push/x", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			err := c.check(r)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (!errors.Is(err, service.ErrUnauthorized) || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err = %v, want unauthorized saying %q", err, c.want)
			case err != nil && strings.Contains(err.Error(), "tok-1"):
				t.Errorf("the refusal shows a token: %v", err)
			}
		})
	}
}
