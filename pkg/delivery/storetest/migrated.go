package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/delivery"
)

// CheckMigrated checks a store opened on a database of an older schema
// that held job "retrying" (alert to slack:#ops, thread key "fp", one
// attempt and one claim) and the thread "fp" (message ts1 in C1): the job
// is claimed with its first claim time set now, the thread still answers,
// and what the newer schema added (thread groups, session sign-outs)
// works.
func CheckMigrated(t *testing.T, s delivery.Store) {
	t.Helper()
	ctx := context.Background()
	at := time.Now().Truncate(time.Millisecond)
	j, ok, err := s.Claim(ctx, at, at.Add(time.Minute))
	if err != nil || !ok || j.ID != "retrying" || j.Attempts != 1 || j.Claims != 2 || j.ThreadKey != "fp" || !j.FirstClaimedAt.Equal(at) {
		t.Fatalf("claim after migrating: %v %v %+v", ok, err, j)
	}
	if root, _ := s.ThreadRoot(ctx, j); root != (delivery.Thread{MessageID: "ts1", ChannelID: "C1"}) {
		t.Errorf("migrated thread: %+v", root)
	}
	g, _, err := s.Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", ThreadGroup: "g"})
	if err != nil || !strings.HasPrefix(g.ThreadKey, "g/") {
		t.Errorf("group job after migrating: %+v, %v", g, err)
	}
	if err := s.RevokeSession(ctx, "s1", time.Now().Add(time.Hour)); err != nil {
		t.Error(err)
	}
}
