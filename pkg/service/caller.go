package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/panelcast/panelcast/pkg/grafana"
)

// ErrForbidden marks a push or picture the caller may not have: a Grafana
// user who may not view the dashboard (403).
var ErrForbidden = errors.New("forbidden")

// Caller is the Grafana user a door received a push or a notification
// from: in plugin mode Grafana names its caller (login, e-mail, org role,
// organisation). Pictures go out as grafana_token's service account, which
// may see more than the caller, so each dashboard is checked against the
// caller first. A nil *Caller is a door whose callers are trusted with
// everything the service account sees (api_token in server mode, the CLI).
type Caller = grafana.User

// mayView refuses a dashboard the caller may not view, asking the Grafana
// at base on the caller's behalf (see grafana.Client.MayView). Errors wrap
// ErrForbidden (refused, or Grafana cannot tell), ErrBadPush (no such
// dashboard) or ErrDeliveryUnavailable (Grafana unreachable).
func (s *Service) mayView(ctx context.Context, c *Caller, base, uid string) error {
	// The question needs Admin rights, which the browser's token should
	// not have: grafana_admin_token asks when it is set.
	a, err := s.grafanaClient(base, true).MayView(ctx, uid, *c)
	var apiErr *grafana.APIError
	switch {
	case err == nil && a.Allowed:
		return nil
	case err == nil:
		where := ""
		if a.Folder != "" {
			where = " (folder " + a.Folder + ")"
		}
		return fmt.Errorf("%w: %s may not view dashboard %s%s: ask for Viewer access to it, or push a panel you can see",
			ErrForbidden, c.Login, uid, where)
	case errors.As(err, &apiErr) && apiErr.Temporary():
		return fmt.Errorf("%w: Panelcast could not ask Grafana whether %s may view dashboard %s: %v", ErrDeliveryUnavailable, c.Login, uid, s.push.scrub(err))
	case errors.Is(err, grafana.ErrCannotTell) || (errors.As(err, &apiErr) && apiErr.Status != 404):
		return fmt.Errorf("%w: Panelcast cannot tell whether %s may view dashboard %s, so it refuses: %v", ErrForbidden, c.Login, uid, s.push.scrub(err))
	}
	return fmt.Errorf("%w: %v", ErrBadPush, s.push.scrub(err))
}
