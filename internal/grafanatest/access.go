package grafanatest

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/demo"
)

// Access is who may see which dashboard, as Grafana 9–12 keep it: folders
// with permissions for org roles, users and teams, dashboards that inherit
// their folder's, and the organisation role of the service account that
// ServiceAccountToken belongs to. The zero value is a Grafana where every
// dashboard is in the General folder with Grafana's default permissions
// for it (Viewer: View, Editor: Edit) and the service account is an Admin.
type Access struct {
	// ServiceAccountRole is the account's org role: Admin (the default)
	// may read dashboard permissions and team members; Viewer or Editor
	// get Grafana's 403 there, and see only dashboards their role may.
	ServiceAccountRole string
	// Folders hold dashboards; a dashboard in none is in General.
	Folders []Folder
	Teams   []Team
}

// Folder is a dashboard folder and its permissions.
type Folder struct {
	UID, Title string
	// Dashboards are the UIDs of its dashboards (the scenarios').
	Dashboards  []string
	Permissions []Permission
}

// Permission is one entry of a folder's permissions: for a role, a user
// (by login) or a team (by id), at a level.
type Permission struct {
	Role      string
	UserLogin string
	TeamID    int64
	Level     Level
}

// Level is Grafana's permission level.
type Level int

// Grafana's permission levels (its API's "permission" numbers).
const (
	View  Level = 1
	Edit  Level = 2
	Admin Level = 4
)

func (l Level) String() string {
	switch l {
	case View:
		return "View"
	case Edit:
		return "Edit"
	case Admin:
		return "Admin"
	}
	return ""
}

// Team is a team and the logins of its members.
type Team struct {
	ID      int64
	Name    string
	Members []string
}

// OrgID is the stand-in's one organisation, which the service account
// belongs to.
const OrgID = 1

// general is the General folder with the permissions Grafana gives a
// dashboard saved there.
var general = Folder{Title: "General", Permissions: []Permission{{Role: "Viewer", Level: View}, {Role: "Editor", Level: Edit}}}

// folderOf is the folder a dashboard is in.
func (a *Access) folderOf(uid string) Folder {
	for _, f := range a.Folders {
		for _, d := range f.Dashboards {
			if d == uid {
				return f
			}
		}
	}
	return general
}

func (a *Access) serviceAccountRole() string {
	if a.ServiceAccountRole == "" {
		return "Admin"
	}
	return a.ServiceAccountRole
}

// role is the org role of who sends the request: the service account's,
// or for the render key's user Admin (the stand-in's pages and Grafana's
// alert screenshots see everything).
func (s *Server) role(r *http.Request) string {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.saToken != "" {
		if s.adminToken != "" && token == s.adminToken {
			return "Admin"
		}
		return s.access.serviceAccountRole()
	}
	return "Admin"
}

// mayView is what Grafana's dashboard guardian decides for a caller who has
// only an org role (the service account): Admins see everything, other
// roles what a role entry of the folder grants exactly them.
func (s *Server) mayView(role, uid string) bool {
	if role == "Admin" {
		return true
	}
	for _, p := range s.access.folderOf(uid).Permissions {
		if p.Role == role && p.Level >= View {
			return true
		}
	}
	return false
}

// accessDenied is Grafana's answer (9.x–12.x, role-based access control)
// when the caller lacks an action.
func accessDenied(w http.ResponseWriter, action string) {
	demo.WriteJSON(w, http.StatusForbidden, map[string]string{
		"accessErrorId": "ACE4242424242", "title": "Access denied",
		"message": "You'll need additional permissions to perform this action. Permissions needed: " + action,
	})
}

// dashboardPermissions is GET /api/dashboards/uid/<uid>/permissions: the
// folder's entries, marked inherited, as Grafana lists a dashboard's
// permissions; it needs dashboards.permissions:read, which of the org
// roles only Admin has.
func (s *Server) dashboardPermissions(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if _, ok := dashboardFor(uid); !ok {
		demo.WriteJSON(w, http.StatusNotFound, message("Dashboard not found"))
		return
	}
	if s.role(r) != "Admin" {
		accessDenied(w, "dashboards.permissions:read")
		return
	}
	f := s.access.folderOf(uid)
	items := []map[string]any{}
	for i, p := range f.Permissions {
		item := map[string]any{
			"id": i + 1, "dashboardId": 0, "dashboardUid": uid, "folderUid": f.UID, "created": "2024-01-01T12:00:00Z",
			"updated": "2024-01-01T12:00:00Z", "userId": 0, "userLogin": "", "userEmail": "", "userAvatarUrl": "",
			"teamId": 0, "team": "", "teamEmail": "", "teamAvatarUrl": "", "role": p.Role, "permission": int(p.Level),
			"permissionName": p.Level.String(), "uid": uid, "title": "", "slug": "", "isFolder": false, "url": "",
			"inherited": f.UID != "",
		}
		if p.UserLogin != "" {
			item["userId"], item["userLogin"], item["userEmail"] = s.userID(p.UserLogin), p.UserLogin, p.UserLogin+"@example.com"
		}
		if p.TeamID != 0 {
			item["teamId"], item["team"] = p.TeamID, s.teamName(p.TeamID)
		}
		items = append(items, item)
	}
	demo.WriteJSON(w, http.StatusOK, items)
}

// teamMembers is GET /api/teams/<id>/members; it needs teams:read.
func (s *Server) teamMembers(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if s.role(r) != "Admin" {
		accessDenied(w, "teams:read")
		return
	}
	for _, t := range s.access.Teams {
		if err == nil && t.ID == id {
			members := []map[string]any{}
			for _, login := range t.Members {
				members = append(members, map[string]any{"orgId": OrgID, "teamId": id, "userId": s.userID(login),
					"login": login, "email": login + "@example.com", "avatarUrl": "", "labels": []string{}, "permission": 0})
			}
			demo.WriteJSON(w, http.StatusOK, members)
			return
		}
	}
	demo.WriteJSON(w, http.StatusNotFound, message("Team not found"))
}

// currentOrg is GET /api/org: the caller's organisation.
func currentOrg(w http.ResponseWriter, _ *http.Request) {
	demo.WriteJSON(w, http.StatusOK, map[string]any{"id": OrgID, "name": "Main Org.", "address": map[string]string{}})
}

// userID gives a login a stable id, as Grafana's user table would.
func (s *Server) userID(login string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(login))
	return int64(h.Sum32()%1000000) + 100
}

func (s *Server) teamName(id int64) string {
	for _, t := range s.access.Teams {
		if t.ID == id {
			return t.Name
		}
	}
	return ""
}
