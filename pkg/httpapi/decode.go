package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/service"
)

type pushJSON struct {
	Panel  *panelJSON `json:"panel"`
	To     string     `json:"to"`
	Text   string     `json:"text"`
	Thread string     `json:"thread"`
}

type panelJSON struct {
	URL          string    `json:"url"`
	DashboardUID string    `json:"dashboardUid"`
	PanelID      int64     `json:"panelId"`
	OrgID        int64     `json:"orgId"`
	From         timeValue `json:"from"`
	To           timeValue `json:"to"`
	Vars         varValues `json:"vars"`
	Width        int       `json:"width"`
	Height       int       `json:"height"`
	Theme        string    `json:"theme"`
	Timezone     string    `json:"timezone"`
}

// timeValue is a time range end: "now-6h" or epoch milliseconds, as a
// string or a number.
type timeValue string

func (t *timeValue) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = timeValue(s)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return errors.New("panel.from and panel.to must be a string like now-6h or a whole number of epoch milliseconds")
	}
	*t = timeValue(strconv.FormatInt(n, 10))
	return nil
}

// varValues are dashboard variables: each a string, a number, a boolean or
// a list of them (a multi-value selection).
type varValues map[string][]string

func (v *varValues) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errors.New(`panel.vars must be an object of variable names and values, e.g. {"cluster": "prod"}`)
	}
	out := make(varValues, len(raw))
	for name, r := range raw {
		var list []json.RawMessage
		if len(r) > 0 && r[0] == '[' {
			if err := json.Unmarshal(r, &list); err != nil {
				return fmt.Errorf("panel.vars.%s is not a valid list: %v", name, err)
			}
		} else {
			list = []json.RawMessage{r}
		}
		values := make([]string, 0, len(list))
		for _, item := range list {
			s, ok := scalar(item)
			if !ok {
				return fmt.Errorf("panel.vars.%s must be a string, a number, true/false or a list of them", name)
			}
			values = append(values, s)
		}
		out[name] = values
	}
	*v = out
	return nil
}

// scalar renders a JSON string, number or boolean as Grafana's URL has it.
func scalar(r json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(r, &n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(r, &b) == nil {
		return strconv.FormatBool(b), true
	}
	return "", false
}

// body is what a JSON body is, for the sentences that refuse it.
type body struct {
	name    string // "a push"
	example string
	fields  string // what it takes
}

var (
	pushBody = body{"a push", `{"panel": {"dashboardUid": "abc123", "panelId": 2}, "to": "slack:#ops", "text": "CPU"}`,
		"panel (url, or dashboardUid, panelId, orgId, from, to, vars; and width, height, theme, timezone), to, text and thread"}
	renderBody = body{"a render", `{"panel": {"dashboardUid": "abc123", "panelId": 2, "from": "now-6h", "to": "now"}}`,
		"panel (url, or dashboardUid, panelId, orgId, from, to, vars; and width, height, theme, timezone)"}
)

// decode reads a push's JSON body. Errors say what is wrong with it; the
// push's content is checked by the service.
func decode(r io.Reader) (service.PushRequest, error) {
	var p pushJSON
	if err := decodeJSON(r, &p, pushBody); err != nil {
		return service.PushRequest{}, err
	}
	return service.PushRequest{Panel: p.Panel.panel(), To: p.To, Text: p.Text, Thread: p.Thread}, nil
}

// DecodeRender reads the body of a render the console asks for,
// {"panel": {...}}, whose panel is a push's. Errors say what is wrong
// with it; the panel is checked by the service (RenderPanel).
func DecodeRender(r io.Reader) (service.Panel, error) {
	var p struct {
		Panel *panelJSON `json:"panel"`
	}
	if err := decodeJSON(r, &p, renderBody); err != nil {
		return service.Panel{}, err
	}
	return p.Panel.panel(), nil
}

func (p *panelJSON) panel() service.Panel {
	if p == nil {
		return service.Panel{}
	}
	return service.Panel{
		URL: p.URL, DashboardUID: p.DashboardUID, PanelID: p.PanelID, OrgID: p.OrgID,
		From: string(p.From), To: string(p.To), Vars: p.Vars,
		Width: p.Width, Height: p.Height, Theme: p.Theme, Timezone: p.Timezone,
	}
}

// decodeJSON reads one JSON object of kind b into v, strictly.
func decodeJSON(r io.Reader, v any, b body) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, b)
	}
	if dec.More() {
		return errors.New("the body holds more than one JSON value: send one object")
	}
	return nil
}

func decodeError(err error, b body) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("the body is empty: send a JSON object like %s", b.example)
	case errors.As(err, &tooBig):
		return fmt.Errorf("the body is over %d bytes: %s is a small JSON object like %s", maxBody, b.name, b.example)
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the body is not valid JSON (%v): send an object like %s", err, b.example)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Errorf("the body must be a JSON object like %s", b.example)
		}
		return fmt.Errorf("%s must be %s, not a JSON %s", field, kind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("%s is not a field of %s: it takes %s", strings.TrimPrefix(err.Error(), "json: unknown field "), b.name, b.fields)
	}
	return fmt.Errorf("the body is not %s (%v): send an object like %s", b.name, err, b.example)
}

// kind names a Go kind the way a JSON writer thinks of it.
func kind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	}
	return "an object"
}
