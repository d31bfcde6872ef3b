package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// bearerToken admits requests with "Authorization: Bearer <token>" for one
// of tokens (server mode's api_token), compared in constant time. With no
// token configured every request is refused: pushing and alert webhooks
// must be switched on.
func bearerToken(tokens []secret.Value) func(*http.Request) error {
	return func(r *http.Request) error {
		if len(tokens) == 0 {
			return fmt.Errorf("%w: pushes and alert webhooks over HTTP are off: set api_token on the Panelcast server and send it as Authorization: Bearer <token>", service.ErrUnauthorized)
		}
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return fmt.Errorf("%w: send Authorization: Bearer <api_token>", service.ErrUnauthorized)
		}
		if !secret.OneOf(strings.TrimSpace(token), tokens) {
			return fmt.Errorf("%w: the bearer token is not one of api_token: check the token the caller sends", service.ErrUnauthorized)
		}
		return nil
	}
}
