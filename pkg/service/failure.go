package service

import (
	"context"
	"errors"
	"net/http"

	"github.com/panelcast/panelcast/pkg/grafana"
	"github.com/panelcast/panelcast/pkg/render"
)

// ErrUnauthorized marks a caller that did not prove who it is: a wrong or
// missing renderer token, bearer token or console session.
var ErrUnauthorized = errors.New("unauthorized")

// Failure is the class of an error the service returns. It is decided once,
// here; a door maps it onto its protocol (an HTTP status, a gRPC answer)
// and the render metrics use it as their reason label.
type Failure string

// The classes. The render metrics' reason label takes the first eight.
const (
	FailBadRequest   Failure = "bad_request"   // the request can never succeed as asked
	FailUnauthorized Failure = "unauthorized"  // the caller did not prove who it is
	FailForbiddenURL Failure = "forbidden_url" // the page's origin may not be rendered
	FailTimeout      Failure = "timeout"
	FailQueueFull    Failure = "queue_full"
	FailNoChromium   Failure = "no_chromium"
	FailShuttingDown Failure = "shutting_down"
	FailRender       Failure = "render"      // the browser failed, or anything unforeseen in a render
	FailForbidden    Failure = "forbidden"   // the caller is known and may not do this
	FailNotFound     Failure = "not_found"   // no such push, message or dashboard
	FailConflict     Failure = "conflict"    // not in a state that allows it
	FailUnavailable  Failure = "unavailable" // chat delivery is not running
	FailGrafana      Failure = "grafana"     // Grafana refused or failed a request of Panelcast's
	FailInternal     Failure = "internal"
)

// Classify names the class of a non-nil err. The order matters where an
// error wraps several: what the caller can fix comes before what went
// wrong on the way.
func Classify(err error) Failure {
	var apiErr *grafana.APIError
	switch {
	case errors.Is(err, ErrBadPush), errors.Is(err, ErrBadAlerts):
		return FailBadRequest
	case errors.Is(err, ErrForbiddenURL):
		return FailForbiddenURL
	case errors.Is(err, render.ErrBadRequest):
		return FailBadRequest
	case errors.Is(err, ErrUnauthorized):
		return FailUnauthorized
	case errors.Is(err, ErrForbidden):
		return FailForbidden
	case errors.Is(err, ErrPushNotFound), errors.Is(err, ErrMessageNotFound):
		return FailNotFound
	case errors.Is(err, ErrNotRetryable):
		return FailConflict
	case errors.Is(err, ErrDeliveryUnavailable):
		return FailUnavailable
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		return FailNotFound
	case errors.As(err, &apiErr):
		return FailGrafana
	case errors.Is(err, render.ErrQueueFull):
		return FailQueueFull
	case errors.Is(err, render.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return FailTimeout
	case errors.Is(err, render.ErrNoChromium):
		return FailNoChromium
	case errors.Is(err, render.ErrClosed):
		return FailShuttingDown
	}
	return FailInternal
}

// renderResult is the render duration histogram's result label of a
// class ("" for a picture): the coarse outcome a dashboard plots, where
// the failures counter's reason is the detail.
func renderResult(f Failure) string {
	switch f {
	case "":
		return "ok"
	case FailBadRequest, FailForbiddenURL:
		return "bad_request"
	case FailUnauthorized, FailTimeout, FailQueueFull:
		return string(f)
	}
	return "error"
}
