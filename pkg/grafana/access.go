package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// User is a Grafana user as Grafana names the caller of a plugin: login,
// e-mail, the org role in the organisation the call is made in, and that
// organisation.
type User struct {
	Login, Email, Role string
	OrgID              int64
}

// Permission is one entry of a dashboard's permissions as
// /api/dashboards/uid/<uid>/permissions lists them (its own and those
// inherited from its folders): for an org role, a user or a team.
type Permission struct {
	Role      string `json:"role"`
	UserLogin string `json:"userLogin"`
	TeamID    int64  `json:"teamId"`
	Team      string `json:"team"`
	// Level is 1 View, 2 Edit, 4 Admin.
	Level     int  `json:"permission"`
	Inherited bool `json:"inherited"`
}

// Access is what MayView found.
type Access struct {
	// Allowed says the user may view the dashboard.
	Allowed bool
	// Folder is the dashboard's folder title, "" when unknown.
	Folder string
}

// ErrCannotTell wraps the reasons Grafana's API could not say whether a
// user may view a dashboard (the service account may not read the
// permissions or a team's members).
var ErrCannotTell = errors.New("cannot tell who may view the dashboard")

// MayView asks Grafana, as the client's service account, whether u may
// view dashboard uid, the way Grafana's dashboard guardian decides it from
// what its HTTP API shows (9.x to 12.x):
//
//   - the organisation must be the service account's (GET /api/org): the
//     account sees only its own, and u's role is for u's;
//   - an org Admin may view every dashboard of the organisation ("Admins
//     always have access to everything", Grafana's dashboard permissions
//     API documentation);
//   - anyone else needs an entry of GET /api/dashboards/uid/<uid>/permissions
//     (the dashboard's own and its folders', at View or above) for exactly
//     u's role (a Viewer entry does not admit an Editor: grafana#25788,
//     #16741), for u's login, or for a team whose members
//     (GET /api/teams/<id>/members) include u.
//
// Reading permissions and team members needs dashboards.permissions:read
// and teams:read, which among the org roles only Admin has. Permissions
// given by Enterprise custom roles outside the dashboard's permission list
// are not seen, so such a user is refused. Errors are *APIError; one
// wrapping ErrCannotTell means the account's role is short of Admin.
func (c *Client) MayView(ctx context.Context, uid string, u User) (Access, error) {
	var a Access
	org, err := c.orgID(ctx)
	if err != nil {
		return a, err
	}
	if u.OrgID != 0 && u.OrgID != org {
		return a, &APIError{msg: fmt.Sprintf("%s pushes from organisation %d, but grafana_token's service account belongs to organisation %d: push from organisation %d, or run a Panelcast for each organisation", u.Login, u.OrgID, org, org)}
	}
	d, err := c.Dashboard(ctx, uid)
	switch {
	case err == nil:
		a.Folder = d.FolderTitle
	case !errors.Is(err, ErrV2Dashboard):
		return a, err
	}
	if u.Role == "Admin" {
		a.Allowed = true
		return a, nil
	}
	var perms []Permission
	body, err := c.get(ctx, "/api/dashboards/uid/"+uid+"/permissions", "the permissions of dashboard "+uid, func(code int, _ []byte) *APIError {
		return c.cannotTell(code, "read the permissions of dashboard "+uid, "dashboards.permissions:read")
	})
	if err == nil {
		err = decode(body, &perms, "the permissions of dashboard "+uid)
	}
	if err != nil {
		return a, err
	}
	var teams []int64
	for _, p := range perms {
		switch {
		case p.Level < 1:
		case p.Role != "" && p.Role == u.Role, p.UserLogin != "" && strings.EqualFold(p.UserLogin, u.Login):
			a.Allowed = true
			return a, nil
		case p.TeamID > 0:
			teams = append(teams, p.TeamID)
		}
	}
	var teamErr error
	for _, id := range teams {
		in, err := c.inTeam(ctx, id, u.Login)
		if in {
			a.Allowed = true
			return a, nil
		}
		teamErr = errors.Join(teamErr, err)
	}
	if teamErr != nil {
		// Some entry may have admitted u: refusing with the reason is the
		// honest answer.
		return a, teamErr
	}
	return a, nil
}

// orgID is the service account's organisation.
func (c *Client) orgID(ctx context.Context) (int64, error) {
	body, err := c.get(ctx, "/api/org", "the service account's organisation", func(code int, _ []byte) *APIError {
		return c.cannotTell(code, "read its organisation", "orgs:read")
	})
	var org struct {
		ID int64 `json:"id"`
	}
	if err == nil {
		err = decode(body, &org, "the service account's organisation")
	}
	return org.ID, err
}

// inTeam reports whether login is a member of team id; a team deleted
// since (404) admits nobody.
func (c *Client) inTeam(ctx context.Context, id int64, login string) (bool, error) {
	what := "the members of team " + strconv.FormatInt(id, 10)
	body, err := c.get(ctx, "/api/teams/"+strconv.FormatInt(id, 10)+"/members", what, func(code int, _ []byte) *APIError {
		return c.cannotTell(code, "read "+what, "teams:read")
	})
	var members []struct {
		Login string `json:"login"`
	}
	if err == nil {
		err = decode(body, &members, what)
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, m := range members {
		if strings.EqualFold(m.Login, login) {
			return true, nil
		}
	}
	return false, nil
}

// cannotTell is the refusal of a read MayView needs.
func (c *Client) cannotTell(code int, what, action string) *APIError {
	e := &APIError{Status: code, err: ErrCannotTell}
	switch {
	case code == http.StatusUnauthorized:
		e.msg = "Grafana refused grafana_token (401): set it to a valid, unexpired service-account token"
	case code == http.StatusForbidden:
		e.msg = fmt.Sprintf("the service account may not %s (403, it needs %s): set grafana_admin_token to an Admin service-account token (the browser never gets it), or give grafana_token's account the Admin role; Panelcast needs one of them in plugin mode to check who may push what", what, action)
	case code == http.StatusTooManyRequests || code >= 500:
		e.msg, e.temporary = fmt.Sprintf("Grafana answered %d when asked to %s: try again", code, what), true
	default:
		e.msg = fmt.Sprintf("Grafana answered %d when asked to %s: check grafana_url", code, what)
	}
	return e
}

func decode(body []byte, v any, what string) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{Status: http.StatusOK, msg: fmt.Sprintf("Grafana's answer for %s is not what its API sends (%v): check that grafana_url is Grafana's address", what, err)}
	}
	return nil
}
