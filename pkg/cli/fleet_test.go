package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/panelcast/panelcast/internal/amtest"
	"github.com/panelcast/panelcast/internal/fakechat/discordfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

const (
	fleetSAToken      = "glsa_fleet_service_account"
	fleetAPIToken     = "fleet-api-token-0123456789abcdef"
	fleetDiscordToken = "fleet-discord-bot-token"
	fleetGuild        = "1200000000000000000"
	// fleetLease is outbox_lease at its lowest: short, so the killed replica's claims
	// move to the others within seconds, long enough that a busy replica
	// (renewing every lease/4) never loses one.
	fleetLease = 5 * time.Second
	// fleetPushes and fleetAlerts make 200 messages: every push, and each
	// alert's firing message and its resolve.
	fleetPushes, fleetAlerts = 150, 25
)

// TestFleetOnPostgres runs three `panelcast serve` replicas (the built
// binary) on one PostgreSQL outbox and a Discord stand-in that enforces
// Discord's contract, rate limits included. Pushes and Alertmanager
// notifications go round-robin to the replicas, each alert's firing
// notification to two of them (as a clustered Alertmanager sends it) and
// its resolve to a third; one replica is killed with SIGKILL while it holds
// claims, and started again. Every message must arrive exactly once, every
// replica must answer GET /push/{id} for every push, each alert must be
// posted once with its resolve in the firing message's thread, and every
// replica's /metrics must show the fleet's queue.
//
// Discord is the chat because it is the one whose real API makes the
// outbox's at-least-once exact: a post is sent with a nonce derived from the
// job's ID and enforce_nonce, so the retry of a post that landed just before
// its sender died returns the first message instead of posting again (the
// stand-in enforces this as Discord does). With any other chat, a kill that
// falls in the milliseconds between the chat's answer and the outcome's
// commit posts twice, and this test could not promise "exactly once"
// without being flaky or dishonest.
//
// Then a replica holding claims is stopped with SIGTERM: it claims nothing
// more, finishes the attempt that fits in its grace, releases the one that
// does not (without spending an attempt), and only then closes its browser;
// another replica sends what it released.
func TestFleetOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the fleet test runs three replicas, each with its browser")
	}
	testenv.NeedChromium(t, render.FindChromium)
	pg := pgtest.New(t)
	dbURL := pg.Database(t)
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: fleetSAToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	discord := discordfake.New(fleetDiscordToken)
	t.Cleanup(discord.Close)
	// A channel per message stream, so that a message's channel tells
	// which stream it belongs to. The replicas share each channel's bucket
	// through the outbox (TestFleetSharesChatLimits fills one channel).
	for i := range fleetPushes + fleetAlerts + 6 {
		discord.AddChannel(discordfake.Channel{ID: fleetChannel(i), GuildID: fleetGuild, Perms: discordfake.PermAll})
	}
	f := startFleet(t, g, dbURL,
		"PANELCAST_DISCORD_BOT_TOKEN="+fleetDiscordToken, "PANELCAST_DISCORD_API_URL="+discord.URL(),
		"PANELCAST_OUTBOX_LEASE="+fleetLease.String(),
		// Three renders at once per replica: each stand-in page takes at
		// least 0.8 s.
		"PANELCAST_CONCURRENCY=3", "PANELCAST_ALERT_WIDTH=300", "PANELCAST_ALERT_HEIGHT=150")
	start := time.Now()

	// Send everything round-robin; kill the last replica halfway.
	victim := f.replicas[2]
	var pushIDs []string
	var killedClaims []string
	alertStart := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	for a := range fleetAlerts {
		for k := range fleetPushes / fleetAlerts {
			pushIDs = append(pushIDs, f.push(a*(fleetPushes/fleetAlerts)+k))
		}
		first := f.alert(a, alertStart, false)
		again := f.alert(a, alertStart, false)
		if !again.Duplicate || again.ID != first.ID || first.Duplicate {
			t.Errorf("alert %d sent to two replicas: first %+v, second %+v; want the second to be the first's duplicate", a, first, again)
		}
		if a > 0 {
			f.alert(a-1, alertStart, true)
		}
		if a == fleetAlerts/2 {
			killedClaims = f.killWhileClaiming(victim)
			f.start(victim)
		}
	}
	f.alert(fleetAlerts-1, alertStart, true)
	sentAt := time.Since(start)

	const jobs = fleetPushes + 2*fleetAlerts
	waitFor(t, "every message in Discord and recorded as sent", 6*time.Minute, func() bool {
		return len(discord.Messages()) >= jobs && metric(t, f.replicas[0].addr, `panelcast_outbox_jobs{state="sent"}`) == jobs
	})
	delivered := time.Since(start)
	// A duplicate would come within the lease; give it the time to.
	time.Sleep(fleetLease + time.Second)

	msgs := discord.Messages()
	if len(msgs) != jobs {
		t.Errorf("%d messages in Discord, want %d", len(msgs), jobs)
	}
	for i := range fleetPushes {
		if got := matching(msgs, pushText(i)); len(got) != 1 || got[0].ChannelID != fleetChannel(i) || len(got[0].Files) != 1 {
			t.Errorf("push %d: %d messages, want one with its picture in channel %s: %+v", i, len(got), fleetChannel(i), got)
		}
	}
	for a := range fleetAlerts {
		checkAlertThread(t, a, matching(msgs, alertName(a)))
	}

	// Every replica answers for every push, whichever stored and sent it.
	for _, id := range pushIDs {
		var permalink string
		for _, r := range f.replicas {
			st, code := r.pushStatus(t, id)
			if code != http.StatusOK || st.State != "sent" || st.Attempts < 1 || st.Permalink == "" {
				t.Errorf("GET /push/%s on %s: %d %+v", id, r.name, code, st)
				continue
			}
			if permalink == "" {
				permalink = st.Permalink
			} else if st.Permalink != permalink {
				t.Errorf("push %s: %s says permalink %s, another replica %s", id, r.name, st.Permalink, permalink)
			}
		}
	}
	// Every replica shows the fleet's queue, for autoscaling.
	for _, r := range f.replicas {
		for state, want := range map[string]float64{"sent": jobs, "queued": 0, "sending": 0, "failed": 0} {
			if got := metric(t, r.addr, `panelcast_outbox_jobs{state="`+state+`"}`); got != want {
				t.Errorf("%s: panelcast_outbox_jobs{state=%q} = %v, want %v", r.name, state, got, want)
			}
		}
		if got := metric(t, r.addr, "panelcast_outbox_oldest_pending_seconds"); got != 0 {
			t.Errorf("%s: panelcast_outbox_oldest_pending_seconds = %v with nothing pending", r.name, got)
		}
	}
	// The killed replica's claims went to others after the lease: each
	// counts the interrupted attempt and was posted once (checked above).
	interrupted := 0
	for _, id := range killedClaims {
		j := f.job(id)
		if j.state != "sent" || j.interrupts < 1 {
			t.Errorf("job %s, claimed by the killed replica: %+v; want sent after an interrupted attempt", id, j)
		}
		interrupted += j.interrupts
	}
	posts, nonceReplays, limited := 0, 0, 0
	for _, c := range discord.Calls() {
		if c.Method == http.MethodPost {
			posts++
		}
		if c.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	nonceReplays = posts - len(msgs)
	if v := discord.Violations(); len(v) > 0 || limited > 0 {
		t.Errorf("Discord's rate limits: %d answers 429, %d requests while told to wait: %v", limited, len(v), v)
	}
	t.Logf("%d requests sent in %s, all %d messages delivered after %s; the killed replica held %d claims (%d interrupted attempts); %d posts, %d answered from the nonce",
		len(pushIDs)+3*fleetAlerts, sentAt.Round(time.Millisecond), jobs, delivered.Round(time.Millisecond), len(killedClaims), interrupted, posts, nonceReplays)

	f.checkShutdown(discord)

	for _, r := range f.replicas {
		if logs := r.allLogs(); strings.Contains(logs, fleetAPIToken) || strings.Contains(logs, fleetDiscordToken) ||
			strings.Contains(logs, fleetSAToken) || strings.Contains(logs, pg.Password()) {
			t.Errorf("%s: a secret reached the logs", r.name)
		}
	}
}

// checkShutdown stops a replica with SIGTERM while it renders two pushes:
// one that ends within the worker's shutdown grace (10 s) and one that
// cannot. The other two replicas are paused (SIGSTOP) until then, so that
// the stopping one is sure to hold both claims.
func (f *fleet) checkShutdown(discord *discordfake.Server) {
	t := f.t
	term, others := f.replicas[1], []*replica{f.replicas[0], f.replicas[2]}
	for _, r := range others {
		r.signal(syscall.SIGSTOP)
	}
	resumed := false
	resume := func() {
		if !resumed {
			for _, r := range others {
				r.signal(syscall.SIGCONT)
			}
			resumed = true
		}
	}
	defer resume()

	booted := len(f.g.Reports())
	// Pages of the stand-in: boot 300 ms, 200 ms to the query, then the
	// query. The long one (the "slow" scenario, so its page is told apart)
	// queries for 14 s, ending well after the grace that starts as soon as
	// it has booted; the short one's 2 s end well within it.
	long := term.postPush(t, f.g.PanelURL(grafanatest.ScenarioSlow, url.Values{"query": {"14000"}}), fleetChannel(fleetPushes+fleetAlerts), "fleet shutdown long")
	short := term.postPush(t, f.g.PanelURL(grafanatest.ScenarioScenes, url.Values{"query": {"2000"}}), fleetChannel(fleetPushes+fleetAlerts+1), "fleet shutdown short")
	waitFor(t, "the long push rendering on "+term.name+", which holds both", 20*time.Second, func() bool {
		longBooted := false
		for _, r := range f.g.Reports()[booted:] {
			longBooted = longBooted || r.Scenario == grafanatest.ScenarioSlow
		}
		return longBooted && len(f.claimsOf(term)) == 2
	})
	term.signal(syscall.SIGTERM)
	stoppedAt := time.Now()
	resume()
	// Pushes that come after the signal go to the others (the stopping
	// replica no longer accepts connections) and none to it.
	var later []string
	for i := range 4 {
		r := others[i%2]
		later = append(later, r.postPush(t, f.g.PanelURL(grafanatest.ScenarioScenes, nil), fleetChannel(fleetPushes+fleetAlerts+2+i), "fleet after shutdown "+strconv.Itoa(i)))
	}
	select {
	case <-term.exited:
	case <-time.After(45 * time.Second):
		t.Fatalf("%s still running 45 s after SIGTERM", term.name)
	}
	if term.exitErr != nil {
		t.Errorf("%s after SIGTERM: %v", term.name, term.exitErr)
	}
	t.Logf("%s stopped %s after SIGTERM", term.name, time.Since(stoppedAt).Round(time.Millisecond))
	if pid := term.browserPID(); pid == 0 || processAlive(pid) {
		t.Errorf("%s: its browser (pid %d) outlived it", term.name, pid)
	}
	texts := []string{"fleet shutdown long", "fleet shutdown short"}
	for i := range later {
		texts = append(texts, "fleet after shutdown "+strconv.Itoa(i))
	}
	waitFor(t, "the shutdown pushes in Discord", 60*time.Second, func() bool {
		msgs := discord.Messages()
		for _, text := range texts {
			if len(matching(msgs, text)) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(fleetLease)
	msgs := discord.Messages()
	for _, text := range texts {
		if n := len(matching(msgs, text)); n != 1 {
			t.Errorf("%q posted %d times, want once", text, n)
		}
	}

	sentBy := func(id string) []string {
		var by []string
		for _, r := range f.replicas {
			if r.logged("sent", id) {
				by = append(by, r.name)
			}
		}
		return by
	}
	// The short push finished on the stopping replica, within the grace.
	if by := sentBy(short); len(by) != 1 || by[0] != term.name {
		t.Errorf("the push that fits the grace was sent by %v, want %s", by, term.name)
	}
	if j := f.job(short); j.state != "sent" || j.attempts != 1 || j.claims != 1 {
		t.Errorf("short push %+v, want sent at its first attempt and claim", j)
	}
	// The long one was released (not counted) and another replica sent it.
	if !term.logged("released at shutdown; it will be retried", long) {
		t.Errorf("%s did not release the long push at shutdown", term.name)
	}
	if by := sentBy(long); len(by) != 1 || by[0] == term.name {
		t.Errorf("the released push was sent by %v, want one of the other replicas", by)
	}
	if j := f.job(long); j.state != "sent" || j.attempts != 1 || j.claims != 2 || j.interrupts != 0 {
		t.Errorf("released push %+v, want sent by its second claim with one counted attempt and no interruption (the stopping replica kept its lease until it released it)", j)
	}
	for _, id := range later {
		if term.logged("sent", id) {
			t.Errorf("%s sent push %s, which came after SIGTERM", term.name, id)
		}
		if j := f.job(id); j.claims != 1 {
			t.Errorf("push %s after the shutdown: %+v, want one claim", id, j)
		}
	}
	// Chat delivery stopped before the browser closed: the release comes
	// before the service's last line.
	logs := term.logs.String()
	if rel, stop := strings.Index(logs, "released at shutdown"), strings.LastIndex(logs, `"msg":"stopped"`); rel < 0 || stop < rel {
		t.Errorf("%s: the release (at %d) should come before the service stopped (at %d)", term.name, rel, stop)
	}
}

// checkAlertThread checks alert a's messages: the firing one, edited to say
// it resolved, and the resolve as a reply to it.
func checkAlertThread(t *testing.T, a int, msgs []discordfake.Message) {
	t.Helper()
	if len(msgs) != 2 {
		t.Errorf("alert %d: %d messages, want its firing message and its resolve", a, len(msgs))
		return
	}
	fire, resolve := msgs[0], msgs[1]
	if fire.ReplyTo != "" {
		fire, resolve = resolve, fire
	}
	if fire.ReplyTo != "" || resolve.ReplyTo != fire.ID || fire.ChannelID != fleetChannel(fleetPushes+a) || resolve.ChannelID != fire.ChannelID {
		t.Errorf("alert %d: firing %s (reply to %q), resolve reply to %q: want the resolve in the firing message's thread", a, fire.ID, fire.ReplyTo, resolve.ReplyTo)
	}
	if !strings.Contains(resolve.Content, "RESOLVED") || len(resolve.Files) != 1 || len(fire.Files) != 1 {
		t.Errorf("alert %d: resolve %q with %d pictures, firing with %d", a, resolve.Content, len(resolve.Files), len(fire.Files))
	}
	if fire.Edits < 1 || !strings.HasPrefix(fire.Content, "✅") || !strings.Contains(fire.Content, "FIRING") {
		t.Errorf("alert %d: firing message edited %d times, now %q; want it marked resolved", a, fire.Edits, fire.Content)
	}
}

// fleet is the replicas, their shared settings and the outbox database.
// startFleet builds the binary and starts three replicas of `panelcast
// serve` on the PostgreSQL outbox dbURL, with Grafana g and the environment
// env (the chat, the settings the test needs) beside what every replica
// has; they are stopped when the test ends.
func startFleet(t *testing.T, g *grafanatest.Server, dbURL string, env ...string) *fleet {
	t.Helper()
	bin, err := pluginhost.BuildPlugin(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	f := &fleet{t: t, bin: bin, g: g, db: db, env: append(append(serveEnviron(),
		"PANELCAST_GRAFANA_URL="+g.URL, "PANELCAST_GRAFANA_TOKEN="+fleetSAToken, "PANELCAST_API_TOKEN="+fleetAPIToken,
		"PANELCAST_OUTBOX_URL="+dbURL, "PANELCAST_LOG_LEVEL=debug"), env...)}
	for i := range 3 {
		f.replicas = append(f.replicas, &replica{name: "replica-" + strconv.Itoa(i), addr: amtest.FreeAddr(t)})
	}
	t.Cleanup(f.stopAll)
	for _, r := range f.replicas {
		f.start(r)
	}
	return f
}

type fleet struct {
	t        *testing.T
	bin      string
	env      []string
	g        *grafanatest.Server
	db       *pgx.Conn
	replicas []*replica
	next     int
}

// replica is one `panelcast serve` process, started again on the same
// address after a kill.
type replica struct {
	name, addr string
	cmd        *exec.Cmd
	logs       *testenv.LogBuffer
	// earlier holds the logs of the runs before this one.
	earlier string
	exited  chan struct{}
	exitErr error
	down    bool
}

// serveEnviron is the test's environment without Panelcast settings the
// developer may have exported, keeping where Chromium is.
func serveEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PANELCAST_") || strings.HasPrefix(kv, "PANELCAST_CHROMIUM=") {
			env = append(env, kv)
		}
	}
	return env
}

func (f *fleet) start(r *replica) {
	t := f.t
	t.Helper()
	if r.logs != nil {
		r.earlier += r.logs.String()
	}
	r.logs = &testenv.LogBuffer{}
	r.cmd = exec.Command(f.bin, "serve")
	r.cmd.Env = append(append([]string{}, f.env...), "PANELCAST_ADDR="+r.addr)
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, r.logs
	// The replica dies with the test, however it ends.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.exited, r.exitErr, r.down = make(chan struct{}), nil, false
	go func(cmd *exec.Cmd, exited chan struct{}) {
		r.exitErr = cmd.Wait()
		close(exited)
	}(r.cmd, r.exited)
	waitFor(t, r.name+" healthy", 60*time.Second, func() bool {
		select {
		case <-r.exited:
			t.Fatalf("%s exited at start: %v\n%s", r.name, r.exitErr, r.logs.String())
		default:
		}
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stopAll stops the replicas still running and shows their logs when the
// test failed.
func (f *fleet) stopAll() {
	for _, r := range f.replicas {
		if r.cmd == nil {
			continue
		}
		select {
		case <-r.exited:
			continue
		default:
		}
		r.signal(syscall.SIGCONT)
		r.signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
		}
	}
	if f.t.Failed() {
		for _, r := range f.replicas {
			logs := r.allLogs()
			if len(logs) > 20000 {
				logs = "…" + logs[len(logs)-20000:]
			}
			f.t.Logf("%s log:\n%s", r.name, logs)
		}
	}
}

func (r *replica) signal(sig syscall.Signal) {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(sig)
	}
}

func (r *replica) allLogs() string { return r.earlier + r.logs.String() }

// pick is the next replica that is up, round-robin.
func (f *fleet) pick() *replica {
	for {
		r := f.replicas[f.next%len(f.replicas)]
		f.next++
		if !r.down {
			return r
		}
	}
}

func pushText(i int) string  { return fmt.Sprintf("fleet push %03d", i) }
func alertName(a int) string { return fmt.Sprintf("FleetAlert%02d", a) }

// fleetChannel is the i-th Discord channel: pushes first, then alerts,
// then the shutdown check's.
func fleetChannel(i int) string { return strconv.FormatUint(1300000000000000000+uint64(i), 10) }

// matching are the messages whose text holds s.
func matching(msgs []discordfake.Message, s string) []discordfake.Message {
	var out []discordfake.Message
	for _, m := range msgs {
		if strings.Contains(m.Content, s) {
			out = append(out, m)
		}
	}
	return out
}

// push sends push i to the next replica and reads it back at once from
// another one.
func (f *fleet) push(i int) string {
	r := f.pick()
	id := r.postPush(f.t, f.g.PanelURL(grafanatest.ScenarioScenes, nil), fleetChannel(i), pushText(i))
	other := f.replicas[f.next%len(f.replicas)]
	if other == r || other.down {
		other = f.replicas[(f.next+1)%len(f.replicas)]
	}
	if st, code := other.pushStatus(f.t, id); code != http.StatusOK || st.ID != id {
		f.t.Errorf("push %s stored by %s: GET /push/%s on %s answered %d %+v", pushText(i), r.name, id, other.name, code, st)
	}
	return id
}

func (r *replica) postPush(t *testing.T, panelURL, channel, text string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"panel": map[string]any{"url": panelURL, "width": 300, "height": 150},
		"to": "discord:" + channel, "text": text})
	var st struct{ ID, State string }
	if code := r.call(t, http.MethodPost, "/push", body, &st); code != http.StatusAccepted || st.ID == "" {
		t.Fatalf("POST /push to %s: %d %+v", r.name, code, st)
	}
	return st.ID
}

type pushStatus struct {
	ID, State, Error, Permalink string
	Attempts                    int
}

func (r *replica) pushStatus(t *testing.T, id string) (pushStatus, int) {
	var st pushStatus
	code := r.call(t, http.MethodGet, "/push/"+id, nil, &st)
	return st, code
}

type alertMessage struct {
	ID        string
	Duplicate bool
}

// alert sends alert a's firing or resolved notification, as Alertmanager's
// webhook does, to the next replica, and returns the message it queued.
func (f *fleet) alert(a int, startsAt time.Time, resolved bool) alertMessage {
	status, endsAt := "firing", "0001-01-01T00:00:00Z"
	if resolved {
		status, endsAt = "resolved", startsAt.Add(5*time.Minute).Format(time.RFC3339)
	}
	labels := map[string]string{"alertname": alertName(a), "instance": fmt.Sprintf("web-%02d:9100", a)}
	body, _ := json.Marshal(map[string]any{"version": "4", "status": status, "receiver": "fleet",
		"groupKey": `{}:{alertname="` + alertName(a) + `"}`, "groupLabels": map[string]string{"alertname": alertName(a)},
		"commonLabels": labels, "externalURL": "http://alertmanager.example:9093",
		"alerts": []map[string]any{{"status": status, "labels": labels,
			"annotations": map[string]string{"summary": "fleet test alert", "panelcast_panel": grafanatest.ScenarioScenes + ":2"},
			"startsAt":    startsAt.Format(time.RFC3339), "endsAt": endsAt,
			"generatorURL": "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0", "fingerprint": fmt.Sprintf("f1ee7%011x", a)}}})
	r := f.pick()
	var answer struct{ Messages []alertMessage }
	if code := r.call(f.t, http.MethodPost, "/alerts?to=discord:"+fleetChannel(fleetPushes+a), body, &answer); code != http.StatusAccepted || len(answer.Messages) != 1 {
		f.t.Fatalf("POST /alerts (%s %s) to %s: %d %+v", alertName(a), status, r.name, code, answer)
	}
	return answer.Messages[0]
}

func (r *replica) call(t *testing.T, method, path string, body []byte, answer any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fleetAPIToken)
	req.Header.Set("Content-Type", "application/json")
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, r.name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, answer); err != nil && resp.StatusCode/100 == 2 {
		t.Errorf("%s %s on %s: %v\n%s", method, path, r.name, err, raw)
	}
	return resp.StatusCode
}

// killWhileClaiming waits until r holds claims, kills it with SIGKILL and
// returns the jobs it held.
func (f *fleet) killWhileClaiming(r *replica) []string {
	t := f.t
	var claims []string
	waitFor(t, r.name+" holding claims", 30*time.Second, func() bool {
		claims = f.claimsOf(r)
		return len(claims) > 0
	})
	browser := r.browserPID()
	r.signal(syscall.SIGKILL)
	<-r.exited
	r.down = true
	// Its browser dies with it (Pdeathsig), as in a container.
	waitFor(t, r.name+"'s browser gone after the kill", 10*time.Second, func() bool { return !processAlive(browser) })
	return claims
}

// claimsOf are the jobs r's running process has in 'sending': the outbox
// names each owner host/pid/random.
func (f *fleet) claimsOf(r *replica) []string {
	rows, err := f.db.Query(context.Background(), "SELECT id FROM panelcast_jobs WHERE state = 'sending' AND owner LIKE $1",
		"%/"+strconv.Itoa(r.cmd.Process.Pid)+"/%")
	if err != nil {
		f.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return ids
}

type jobRow struct {
	state                        string
	attempts, interrupts, claims int
}

func (f *fleet) job(id string) jobRow {
	var j jobRow
	if err := f.db.QueryRow(context.Background(), "SELECT state, attempts, interrupts, claims FROM panelcast_jobs WHERE id = $1", id).
		Scan(&j.state, &j.attempts, &j.interrupts, &j.claims); err != nil {
		f.t.Fatalf("job %s: %v", id, err)
	}
	return j
}

// logLine is the part of a replica's JSON log line the test reads.
type logLine struct {
	Msg string `json:"msg"`
	Job string `json:"job"`
	PID int    `json:"pid"`
}

func (r *replica) lines(logs string) []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// logged says whether any run of r logged msg about job.
func (r *replica) logged(msg, job string) bool {
	for _, l := range r.lines(r.allLogs()) {
		if l.Msg == msg && l.Job == job {
			return true
		}
	}
	return false
}

// browserPID is the browser the current run started last.
func (r *replica) browserPID() int {
	pid := 0
	for _, l := range r.lines(r.logs.String()) {
		if l.Msg == "browser started" {
			pid = l.PID
		}
	}
	return pid
}

// processAlive says whether pid is a process that has not ended (a zombie
// has).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
