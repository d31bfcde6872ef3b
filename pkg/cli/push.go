package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/service"
)

type pushFlags struct {
	panel, to, text, thread, from, until, theme string
	org                                         int64
	vars                                        []string
}

func (f *pushFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.panel, "panel", "", "the panel: a Grafana URL, or <dashboard uid>:<panel id>")
	fs.StringVar(&f.to, "to", "", "where to post, e.g. slack:#ops, mattermost:town-square, discord:<channel id>, telegram:<chat id>")
	fs.StringVar(&f.text, "text", "", "the message posted with the picture")
	fs.StringVar(&f.thread, "thread", "", "post every push with this thread name to one thread")
	fs.StringVar(&f.from, "from", "", "uid form: start of the time range, e.g. now-6h (default: the dashboard's)")
	fs.StringVar(&f.until, "until", "", "uid form: end of the time range, e.g. now")
	fs.StringVar(&f.theme, "theme", "", "light or dark (default: Grafana's)")
	fs.Int64Var(&f.org, "org", 0, "uid form: organisation id (default: the token's)")
	fs.Func("var", "uid form: a dashboard variable as name=value; repeat it for more values or variables", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q is not name=value", v)
		}
		f.vars = append(f.vars, v)
		return nil
	})
}

// request turns the flags into a push, and returns the Grafana URL a panel
// URL implies when grafana_url is unset: the person named that Grafana.
func (f *pushFlags) request() (service.PushRequest, string, error) {
	if f.panel == "" || f.to == "" {
		return service.PushRequest{}, "", errors.New("--panel and --to are required, e.g. --panel abc123:2 --to slack:#ops")
	}
	// Size and time zone come from --width, --height and --timezone, the
	// render defaults.
	req := service.PushRequest{To: f.to, Text: f.text, Thread: f.thread, Panel: service.Panel{Theme: f.theme}}
	if strings.HasPrefix(f.panel, "http://") || strings.HasPrefix(f.panel, "https://") {
		if f.from != "" || f.until != "" || f.org != 0 || len(f.vars) > 0 {
			return service.PushRequest{}, "", errors.New("--from, --until, --org and --var go with the uid:panelId form; a panel URL carries them in its query")
		}
		req.Panel.URL = f.panel
		u, err := url.Parse(f.panel)
		if err != nil {
			return service.PushRequest{}, "", fmt.Errorf("--panel %q is not a URL: %v", f.panel, err)
		}
		return req, u.Scheme + "://" + u.Host, nil
	}
	uid, id, ok := strings.Cut(f.panel, ":")
	panelID, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil {
		return service.PushRequest{}, "", fmt.Errorf("--panel %q is neither a Grafana URL nor <dashboard uid>:<panel id> such as abc123:2", f.panel)
	}
	req.Panel.DashboardUID, req.Panel.PanelID, req.Panel.OrgID = uid, panelID, f.org
	req.Panel.From, req.Panel.To = f.from, f.until
	for _, v := range f.vars {
		name, value, _ := strings.Cut(v, "=")
		if req.Panel.Vars == nil {
			req.Panel.Vars = map[string][]string{}
		}
		req.Panel.Vars[name] = append(req.Panel.Vars[name], value)
	}
	return req, "", nil
}

// runPush renders a panel and posts it through the outbox, like the
// server's POST /push, and waits for the outcome.
func runPush(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var f pushFlags
	cfg, _, err := config.FromArgs("panelcast push", args, environ, stderr, f.add)
	if err != nil {
		return err
	}
	req, doorURL, err := f.request()
	if err != nil {
		return err
	}
	svc := service.New(ctx, service.Options{Config: cfg, Log: newLogger(stderr, cfg.LogLevel)})
	defer svc.Shutdown(context.Background(), nil) //nolint:errcheck // the push's outcome is what the command reports
	// A push that can never be sent is refused before the outbox is opened.
	if _, err := svc.PlanPush(req, doorURL); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), service.ErrBadPush.Error()+": "))
	}
	if svc.StartErr() != nil {
		return svc.StartErr()
	}
	if err := svc.Start(); err != nil {
		return err
	}
	st, err := svc.Push(ctx, req, doorURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "push %s queued in %s\n", st.ID, svc.OutboxPath())
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for st.State != "sent" && st.State != "failed" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while push %s was %s: it stays in %s, and the next Panelcast that opens that outbox sends it", st.ID, st.State, svc.OutboxPath())
		case <-tick.C:
		}
		if st, err = svc.PushStatus(ctx, st.ID); err != nil {
			return err
		}
	}
	if st.State == "failed" {
		return fmt.Errorf("push %s failed after %d attempts: %s", st.ID, st.Attempts, st.Error)
	}
	if st.Error != "" {
		fmt.Fprintf(stderr, "push %s was posted, but: %s\n", st.ID, st.Error)
	}
	if st.Permalink == "" {
		fmt.Fprintf(stdout, "sent (the chat gave no link)\n")
		return nil
	}
	fmt.Fprintln(stdout, st.Permalink)
	return nil
}
