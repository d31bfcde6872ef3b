package service

// Storing a notification's planned messages in the outbox.

import (
	"context"
	"fmt"

	"github.com/panelcast/panelcast/pkg/delivery"
)

// alertPlan is a notification's messages in the order they are stored:
// jobs[i] is messages[i]'s.
type alertPlan struct {
	jobs     []delivery.Job
	messages []AlertMessage
}

// enqueueAlerts stores a plan's jobs in one transaction, so a notification
// is taken whole or not at all, and returns its messages with their ids
// and states (a repeat keeps the first one's).
func (s *Service) enqueueAlerts(ctx context.Context, plan alertPlan) ([]AlertMessage, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return nil, err
	}
	stored, err := o.EnqueueAll(ctx, plan.jobs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	out := plan.messages
	for i, e := range stored {
		out[i].ID, out[i].State, out[i].Duplicate = e.Job.ID, e.Job.State, e.Existing
	}
	return out, nil
}

func countDuplicates(ms []AlertMessage) int {
	n := 0
	for _, m := range ms {
		if m.Duplicate {
			n++
		}
	}
	return n
}
