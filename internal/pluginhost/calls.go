package pluginhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/useragent"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
)

// ErrTimeout is what Grafana's rendering service returns once its own
// deadline for a render has passed, whatever the plugin answered.
var ErrTimeout = errors.New("pluginhost: rendering timed out (Grafana's deadline passed)")

// Render calls the plugin as Grafana's plugin_mode.go renderViaPlugin does
// (9.x through 12.x, pkg/services/rendering):
//   - the file path is a new absolute path DataPath/png/<20 random
//     alphanumerics>.png (DataPath/pdf/….pdf for encoding "pdf"), overwriting
//     req.FilePath; the file does not exist yet;
//   - the call's deadline is timeout × 2 (getRequestTimeout with the default
//     RequestTimeoutMultiplier; the "+2 s" rule belongs to Grafana 7);
//   - a passed deadline is ErrTimeout, a non-empty response error is
//     "rendering failed: <error>".
//
// The other fields are sent as given: Grafana fills url, width, height,
// deviceScaleFactor (1 if unset), timeout, renderKey, timezone, domain,
// headers, authToken ([rendering] renderer_token, default "-") and, in newer
// versions, encoding ("png"/"pdf"; 9.x leaves it empty).
func (h *Host) Render(ctx context.Context, req *pluginextensionv2.RenderRequest) (string, error) {
	ext := "png"
	if req.GetEncoding() == "pdf" {
		ext = "pdf"
	}
	name, err := randomAlphanumeric(20)
	if err != nil {
		return "", err
	}
	filePath := filepath.Join(h.cfg.DataPath, ext, name+"."+ext)
	r := proto.Clone(req).(*pluginextensionv2.RenderRequest)
	r.FilePath = filePath

	ctx, cancel := context.WithTimeout(ctx, 2*time.Duration(req.GetTimeout())*time.Second)
	defer cancel()
	rsp, err := h.renderer.Render(ctx, r)
	if timedOut(ctx, err) {
		return "", ErrTimeout
	}
	if err != nil {
		return "", err
	}
	if rsp.GetError() != "" {
		return "", fmt.Errorf("rendering failed: %s", rsp.GetError())
	}
	return filePath, nil
}

// ErrSanitizeUnsupported is Grafana's answer when the renderer's plugin.json
// version fails the SVG sanitising gate; the plugin is not called.
var ErrSanitizeUnsupported = errors.New("svg sanitization unsupported, requires image renderer version: >= 3.5.0")

// sanitizeConfig is the DOMPurify configuration Grafana sends
// (pkg/services/rendering/svgSanitizer.go).
var sanitizeConfig = []byte(`{"allowAllLinksInSvgUseTags":false,"domPurifyConfig":{"ADD_TAGS":["use"],"USE_PROFILES":{"svg":true,"svgFilters":true}}}`)

// Sanitize calls the plugin as Grafana's SanitizeSVG and
// sanitizeSVGViaPlugin do (9.1 to about 12.2, for SVG uploads when the
// storage feature is on; the upload path sends no file name):
//   - the SvgSanitization capability: plugin.json's version must satisfy
//     the semver constraint ">= 3.5.0" (Masterminds semver; an unparsable
//     version is an error, a pre-release fails), else ErrSanitizeUnsupported
//     and no call;
//   - a 20 s deadline; a passed deadline is ErrTimeout;
//   - SanitizeRequest{filename, content, configType "DOMPurify", config};
//   - a gRPC error is returned as it is (Unimplemented makes Grafana refuse
//     the upload; with [storage] allow_unsanitized_svg_upload = true,
//     Grafana 9.3 then reads the nil response and panics), a non-empty
//     response error is "sanitizer - plugin: failed to sanitize: <error>".
func (h *Host) Sanitize(ctx context.Context, filename string, content []byte) ([]byte, error) {
	v, err := semver.NewVersion(h.cfg.PluginVersion)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: invalid plugin version %q: %w", h.cfg.PluginVersion, err)
	}
	if c, _ := semver.NewConstraint(">= 3.5.0"); !c.Check(v) {
		return nil, ErrSanitizeUnsupported
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	rsp, err := h.sanitizer.Sanitize(ctx, &pluginextensionv2.SanitizeRequest{
		Filename: filename, Content: content, ConfigType: "DOMPurify", Config: sanitizeConfig,
	})
	if err != nil {
		if timedOut(ctx, err) {
			return nil, ErrTimeout
		}
		return nil, err
	}
	if rsp.GetError() != "" {
		return nil, fmt.Errorf("sanitizer - plugin: failed to sanitize: %s", rsp.GetError())
	}
	return rsp.GetSanitized(), nil
}

// RenderCSV calls the plugin as Grafana's renderCSVViaPlugin does: the file
// path is a new DataPath/csv/<20 random alphanumerics>.csv, the deadline
// timeout × 2. It returns the path and the file name the plugin gave.
func (h *Host) RenderCSV(ctx context.Context, req *pluginextensionv2.RenderCSVRequest) (path, fileName string, err error) {
	name, err := randomAlphanumeric(20)
	if err != nil {
		return "", "", err
	}
	filePath := filepath.Join(h.cfg.DataPath, "csv", name+".csv")
	r := proto.Clone(req).(*pluginextensionv2.RenderCSVRequest)
	r.FilePath = filePath
	ctx, cancel := context.WithTimeout(ctx, 2*time.Duration(req.GetTimeout())*time.Second)
	defer cancel()
	rsp, err := h.renderer.RenderCSV(ctx, r)
	if timedOut(ctx, err) {
		return "", "", ErrTimeout
	}
	if err != nil {
		return "", "", err
	}
	if rsp.GetError() != "" {
		return "", "", fmt.Errorf("rendering failed: %s", rsp.GetError())
	}
	return filePath, rsp.GetFileName(), nil
}

// randomAlphanumeric mirrors Grafana's util.GetRandomString alphabet.
func randomAlphanumeric(n int) (string, error) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[j.Int64()]
	}
	return string(b), nil
}

// pluginContext is what Grafana's plugin context provider sends for a plugin
// that is not a data source (an app's also carries its settings) (plugincontext.go Get,
// base_plugincontext.go, adapters.BackendUserFromSignedInUser): org, plugin
// id and the signed-in user with its org role. From 10.3 (grafana PRs 77455,
// 79439) it also carries the plugin version, the user agent and GrafanaConfig
// with GF_APP_URL (and an app's managed service account token); other GrafanaConfig keys (SQL defaults, feature toggles,
// concurrent query count) are left out.
func (h *Host) pluginContext(u User) *pluginv2.PluginContext {
	pc := &pluginv2.PluginContext{
		OrgId:    1,
		PluginId: h.cfg.PluginID,
		User:     &pluginv2.User{Login: u.Login, Name: u.Name, Email: u.Email, Role: u.Role},
	}
	h.appMu.Lock()
	if a := h.app; a != nil {
		// An app's calls carry its settings (plugincontext.go Get, for a
		// plugin of type app).
		pc.AppInstanceSettings = &pluginv2.AppInstanceSettings{JsonData: a.JSONData,
			DecryptedSecureJsonData: a.Secure, LastUpdatedMS: a.Updated.UnixMilli()}
	}
	h.appMu.Unlock()
	if h.version.atLeast(10, 3) {
		pc.PluginVersion = h.cfg.PluginVersion
		pc.GrafanaConfig = map[string]string{backend.AppURL: h.appURL}
		if tok := h.cfg.ManagedServiceAccountToken; tok != "" && h.cfg.App != nil {
			pc.GrafanaConfig[backend.AppClientSecret] = tok
		}
		if ua, err := useragent.New(h.cfg.GrafanaVersion, runtime.GOOS, runtime.GOARCH); err == nil {
			pc.UserAgent = ua.String()
		}
	}
	return pc
}

var orgRoles = map[string]bool{"None": true, "Viewer": true, "Editor": true, "Admin": true}

// User is the signed-in user a call is made as, as Grafana puts it into
// the plugin context (adapters.BackendUserFromSignedInUser, 9.x–12.x):
// login, name, e-mail and the org role. Grafana sends no user id there;
// 10.3+ with the idForwarding feature toggle adds a signed ID token as the
// X-Grafana-Id header, which the host does not model.
type User struct {
	Login, Name, Email, Role string
}

// RoleUser is a user of the role named after it: login "editor", name
// "Editor User", e-mail editor@example.com for Editor.
func RoleUser(role string) User {
	return User{Login: strings.ToLower(role), Name: role + " User", Email: strings.ToLower(role) + "@example.com", Role: role}
}

// CheckHealth calls the plugin as /api/plugins/<id>/health does for an org
// admin. Like Grafana's client, an Unimplemented answer becomes status
// UNKNOWN "Health check not implemented".
func (h *Host) CheckHealth(ctx context.Context) (*pluginv2.CheckHealthResponse, error) {
	rsp, err := h.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{
		PluginContext: h.pluginContext(RoleUser("Admin")),
		Headers:       map[string]string{},
	})
	if status.Code(err) == codes.Unimplemented {
		return &pluginv2.CheckHealthResponse{
			Status:  pluginv2.CheckHealthResponse_UNKNOWN,
			Message: "Health check not implemented",
		}, nil
	}
	return rsp, err
}

// CollectMetrics scrapes the plugin as /api/plugins/<id>/metrics does: the
// diagnostics service's CollectMetrics with the plugin id alone, answered
// with the Prometheus text the plugin exposes.
func (h *Host) CollectMetrics(ctx context.Context) ([]byte, error) {
	rsp, err := h.diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{
		PluginContext: &pluginv2.PluginContext{PluginId: h.cfg.PluginID},
	})
	if err != nil {
		return nil, err
	}
	return rsp.GetMetrics().GetPrometheus(), nil
}

// CallResource is a request to /api/plugins/<id>/resources/<path> by the
// RoleUser of the given org role, answered as Grafana answers the browser
// (pkg/api/plugin_resource.go):
//   - to the plugin: Path is the part after resources/ without a leading
//     slash, URL the same plus "?query"; headers after Grafana's
//     PrepareProxyRequest (Origin and Referer removed, X-Grafana-Referer set
//     from Referer, X-Forwarded-Host/-Port/-Proto removed, the client address
//     127.0.0.1 appended to X-Forwarded-For) and with the headers used to
//     authenticate removed (Authorization, X-Grafana-Device-Id). Cookies pass.
//   - from the plugin: status and headers of the first message, the bodies of
//     all; header names canonicalised, Set-Cookie dropped, Content-Type
//     application/json added when missing (unless 204), and
//     Content-Security-Policy: sandbox set.
//   - Grafana's own errors: 503 when the plugin has exited, 404 for
//     Unimplemented, 500 otherwise, each with a JSON message; err then says
//     why.
func (h *Host) CallResource(ctx context.Context, method, path string, body []byte, role string, headers map[string][]string) (int, map[string][]string, []byte, error) {
	return h.CallResourceAs(ctx, method, path, body, RoleUser(role), headers)
}

// CallResourceAs is CallResource by the user u.
func (h *Host) CallResourceAs(ctx context.Context, method, path string, body []byte, user User, headers map[string][]string) (int, map[string][]string, []byte, error) {
	if !orgRoles[user.Role] {
		return 0, nil, nil, fmt.Errorf("pluginhost: role %q is not a Grafana org role", user.Role)
	}
	u, err := url.Parse(strings.TrimPrefix(path, "/"))
	if err != nil {
		return 0, nil, nil, err
	}
	if h.client.Exited() {
		return grafanaError(http.StatusServiceUnavailable, "Plugin unavailable", errors.New("plugin exited"))
	}

	hdr := http.Header{}
	for k, vs := range headers {
		for _, v := range vs {
			hdr.Add(k, v)
		}
	}
	prepareProxyRequest(hdr, "127.0.0.1")
	hdr.Del("Authorization")
	hdr.Del("X-Grafana-Device-Id")

	stream, err := h.resource.CallResource(ctx, &pluginv2.CallResourceRequest{
		PluginContext: h.pluginContext(user),
		Path:          u.Path,
		Method:        method,
		Url:           u.String(),
		Headers:       toStringLists(hdr),
		Body:          body,
	})
	if err != nil {
		return resourceError(err)
	}
	var (
		code     int
		respHdr  = http.Header{}
		respBody []byte
		messages int
	)
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if messages == 0 {
				return resourceError(err)
			}
			break // Grafana has already sent the status; it stops there.
		}
		if messages == 0 {
			code = int(msg.GetCode())
			copyResponseHeaders(respHdr, msg.GetHeaders(), code)
		}
		respBody = append(respBody, msg.GetBody()...)
		messages++
	}
	if messages == 0 {
		return grafanaError(http.StatusInternalServerError, "Failed to call resource", errors.New("received empty resource response"))
	}
	return code, respHdr, respBody, nil
}

// prepareProxyRequest mirrors Grafana's proxyutil.PrepareProxyRequest.
func prepareProxyRequest(h http.Header, remoteAddr string) {
	h.Set("X-Grafana-Referer", h.Get("Referer"))
	for _, k := range []string{"Origin", "Referer", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto"} {
		h.Del(k)
	}
	if prev := h.Get("X-Forwarded-For"); prev != "" {
		h.Set("X-Forwarded-For", prev+", "+remoteAddr)
	} else {
		h.Set("X-Forwarded-For", remoteAddr)
	}
}

func toStringLists(h http.Header) map[string]*pluginv2.StringList {
	out := make(map[string]*pluginv2.StringList, len(h))
	for k, vs := range h {
		out[k] = &pluginv2.StringList{Values: vs}
	}
	return out
}

func copyResponseHeaders(dst http.Header, src map[string]*pluginv2.StringList, code int) {
	hasContentType := false
	for k, list := range src {
		k = http.CanonicalHeaderKey(k)
		switch k {
		case "Set-Cookie":
			continue
		case "Content-Type":
			hasContentType = true
		}
		for _, v := range list.GetValues() {
			dst.Add(k, v)
		}
	}
	if !hasContentType && code != http.StatusNoContent {
		dst.Set("Content-Type", "application/json")
	}
	dst.Set("Content-Security-Policy", "sandbox")
}

func resourceError(err error) (int, map[string][]string, []byte, error) {
	if status.Code(err) == codes.Unimplemented {
		return grafanaError(http.StatusNotFound, "Not found", err)
	}
	return grafanaError(http.StatusInternalServerError, "Failed to call resource", err)
}

func grafanaError(code int, message string, cause error) (int, map[string][]string, []byte, error) {
	body := fmt.Appendf(nil, `{"message":%q}`, message)
	return code, http.Header{"Content-Type": {"application/json"}}, body, fmt.Errorf("grafana would answer %d %s: %w", code, message, cause)
}

// timedOut reports Grafana's deadline passing. gRPC may notice the
// deadline a moment before ctx does and fail the call with
// DeadlineExceeded while ctx.Err() is still nil.
func timedOut(ctx context.Context, err error) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}
