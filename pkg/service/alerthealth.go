package service

// What health reports of the alerts: received, posted, failed.

import (
	"sync"
	"sync/atomic"
	"time"
)

// AlertsHealth is how alert delivery went since start.
type AlertsHealth struct {
	// Received counts alerts in notifications, Delivered and Failed the
	// alert messages posted and given up on.
	Received  uint64 `json:"received"`
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	// LastReceived is when the last notification came.
	LastReceived time.Time `json:"lastReceived,omitzero"`
	// LastFailure is why the last alert message failed.
	LastFailure string `json:"lastFailure,omitempty"`
	// Error says why alert messages are refused, when they are.
	Error string `json:"error,omitempty"`
}

// alertCounts feed AlertsHealth; they are cheap to read, for /healthz.
type alertCounts struct {
	received, delivered, failed atomic.Uint64

	mu           sync.Mutex
	lastReceived time.Time
	lastFailure  string
}

func (c *alertCounts) notified(alerts int) {
	c.received.Add(uint64(alerts))
	c.mu.Lock()
	c.lastReceived = time.Now()
	c.mu.Unlock()
}

func (c *alertCounts) finished(sent bool, reason string) {
	if sent {
		c.delivered.Add(1)
		return
	}
	c.failed.Add(1)
	c.mu.Lock()
	c.lastFailure = reason
	c.mu.Unlock()
}

// AlertsHealth reports alert delivery; nil while chat delivery is off.
func (s *Service) AlertsHealth() *AlertsHealth {
	st := &s.push
	st.mu.Lock()
	started, alertsErr := st.started && st.outbox != nil, st.alertsErr
	st.mu.Unlock()
	if !started {
		return nil
	}
	c := &s.alerts
	h := &AlertsHealth{Received: c.received.Load(), Delivered: c.delivered.Load(), Failed: c.failed.Load()}
	c.mu.Lock()
	h.LastReceived, h.LastFailure = c.lastReceived, c.lastFailure
	c.mu.Unlock()
	if alertsErr != nil {
		h.Error = alertsErr.Error()
	}
	return h
}
