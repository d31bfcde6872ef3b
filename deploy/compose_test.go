package deploy_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeEnv is a deploy/compose/.env as its comment has one written.
var composeEnv = map[string]string{
	"PANELCAST_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
	"POSTGRES_PASSWORD":    "fedcba9876543210fedcba98",
	"PANELCAST_API_TOKEN":  "abcdef0123456789abcdef0123456789",
}

// loadCompose loads compose.yaml as `docker compose` does: compose-go (the
// library Docker Compose is built on) interpolates the variables and
// validates the file against the Compose Specification's JSON schema.
func loadCompose(env map[string]string) (*types.Project, error) {
	dir, err := filepath.Abs("compose")
	if err != nil {
		return nil, err
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("panelcast", true) })
}

// TestCompose checks deploy/compose/compose.yaml: valid Compose, two
// Panelcast replicas whose settings serve accepts, sharing the postgres
// service's database (the same user, password and database, waited for
// until it is healthy), and stopped gently enough for a clean stop.
func TestCompose(t *testing.T) {
	p, err := loadCompose(composeEnv)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	pc, err := p.GetService("panelcast")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := p.GetService("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetService("grafana"); err != nil {
		t.Fatal(err)
	}
	if n := pc.GetScale(); n < 2 {
		t.Errorf("panelcast runs %d replica(s); the file is meant to show a fleet", n)
	}
	env := map[string]string{}
	for k, v := range pc.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	cfg := checkSettings(t, "compose.yaml's panelcast", env)

	u, err := url.Parse(cfg.OutboxURL.Reveal())
	if err != nil || u.Hostname() != "postgres" {
		t.Fatalf("outbox_url %q does not point at the postgres service", cfg.OutboxURL)
	}
	password, _ := u.User.Password()
	pgEnv := pg.Environment
	for k, want := range map[string]string{"POSTGRES_USER": u.User.Username(), "POSTGRES_PASSWORD": password, "POSTGRES_DB": strings.TrimPrefix(u.Path, "/")} {
		if got := pgEnv[k]; got == nil || *got != want {
			t.Errorf("postgres %s is not what outbox_url says (%q)", k, want)
		}
	}
	if dep := pc.DependsOn["postgres"]; dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("panelcast depends on postgres %+v; wait until it is healthy", dep)
	}
	if pg.HealthCheck == nil || len(pg.HealthCheck.Test) == 0 {
		t.Error("postgres has no healthcheck for panelcast to wait on")
	}
	if len(pg.Volumes) == 0 {
		t.Error("postgres keeps its data (the outbox) in no volume")
	}
	if pc.HealthCheck == nil || !strings.Contains(strings.Join(pc.HealthCheck.Test, " "), "/healthz") {
		t.Error("panelcast's healthcheck does not ask /healthz")
	}
	if pc.StopGracePeriod == nil {
		t.Fatal("panelcast has no stop_grace_period (Compose's default is 10 s)")
	}
	checkStopTimeout(t, "stop_grace_period", cfg, 0, time.Duration(*pc.StopGracePeriod))
}

// TestComposeNeedsItsSecrets: without the .env the comment asks for,
// Compose refuses to start rather than running without a token or with an
// empty database password.
func TestComposeNeedsItsSecrets(t *testing.T) {
	for _, name := range []string{"PANELCAST_AUTH_TOKEN", "POSTGRES_PASSWORD"} {
		env := map[string]string{}
		for k, v := range composeEnv {
			if k != name {
				env[k] = v
			}
		}
		_, err := loadCompose(env)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("compose.yaml without %s: %v, want it refused naming the variable", name, err)
		}
	}
}
