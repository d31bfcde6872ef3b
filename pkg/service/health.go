package service

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// OutboxHealth says where pushes are stored and how many wait. With
// PostgreSQL the counts are every replica's.
type OutboxHealth struct {
	Store string `json:"store"`          // "sqlite" or "postgres"
	Path  string `json:"path,omitempty"` // the SQLite file
	// URL is outbox_url without its password.
	URL     string `json:"url,omitempty"`
	Queued  int    `json:"queued"`
	Sending int    `json:"sending"`
	// OldestPendingSeconds is the age of the oldest queued or sending job.
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	Error                string  `json:"error,omitempty"`
}

// ChatHealth is one chat provider's credential check.
type ChatHealth struct {
	Provider string `json:"provider"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
}

// chatCheckTimeout bounds each provider's credential check.
const chatCheckTimeout = 10 * time.Second

// Health checks the browser with a probe render and, while chat delivery
// runs, the outbox and every chat provider's credentials. It is OK only
// when all of them are.
func (s *Service) Health(ctx context.Context) Health {
	h := s.browserHealth(ctx)
	st := &s.push
	st.mu.Lock()
	started, kind, location, outbox, openErr := st.started, st.kind, st.location, st.outbox, st.openErr
	senders := make(map[string]func(context.Context) error, len(st.senders))
	for name, snd := range st.senders {
		senders[name] = snd.Check
	}
	broken := make(map[string]error, len(st.broken))
	for name, err := range st.broken {
		broken[name] = err
	}
	st.mu.Unlock()
	if !started {
		return h
	}

	var problems []string
	if kind != "" || openErr != nil {
		h.Outbox = &OutboxHealth{Store: kind}
		if kind == "postgres" {
			h.Outbox.URL = location
		} else {
			h.Outbox.Path = location
		}
		switch {
		case openErr != nil:
			h.Outbox.Error = openErr.Error()
		case outbox == nil:
			h.Outbox.Error = "closed: Panelcast is shutting down"
		default:
			d, err := outbox.Depth(ctx)
			h.Outbox.Queued, h.Outbox.Sending = d.Queued, d.Sending
			if !d.OldestPending.IsZero() {
				h.Outbox.OldestPendingSeconds = time.Since(d.OldestPending).Seconds()
			}
			if err != nil {
				h.Outbox.Error = err.Error()
			}
		}
		if h.Outbox.Error != "" {
			problems = append(problems, "outbox: "+h.Outbox.Error)
		}
	}

	results := make(map[string]error, len(senders))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range senders {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, chatCheckTimeout)
			defer cancel()
			err := check(cctx)
			mu.Lock()
			results[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, err := range broken {
		results[name] = err
	}
	var good []string
	for _, name := range sortedKeys(results) {
		c := ChatHealth{Provider: name, OK: results[name] == nil}
		if c.OK {
			good = append(good, name)
		} else {
			// The senders' errors are scrubbed of secrets already.
			c.Error = results[name].Error()
			problems = append(problems, c.Error)
		}
		h.Chat = append(h.Chat, c)
	}

	h.Alerts = s.AlertsHealth()
	if h.Alerts != nil && h.Alerts.Error != "" {
		problems = append(problems, "alerts: "+h.Alerts.Error)
	}
	if len(problems) > 0 {
		h.OK = false
		h.Message += "; " + strings.Join(problems, "; ")
		return h
	}
	if h.Outbox != nil {
		h.Message += fmt.Sprintf("; chat: %s ok, %d messages waiting", strings.Join(good, ", "), h.Outbox.Queued+h.Outbox.Sending)
	}
	if a := h.Alerts; a != nil && a.Received > 0 {
		h.Message += fmt.Sprintf("; alerts: %d received, %d messages posted, %d failed", a.Received, a.Delivered, a.Failed)
	}
	return h
}
