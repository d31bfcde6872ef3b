package service

import (
	"context"
	"fmt"
	"time"
)

// RevokeSession signs a console session out on every replica that shares
// the outbox, until expires, when the session ends anyway.
func (s *Service) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	o, err := s.push.outboxFor("")
	if err != nil {
		return err
	}
	if err := o.RevokeSession(ctx, id, expires); err != nil {
		return fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	return nil
}

// SessionRevoked says whether a console session was signed out, on any
// replica that shares the outbox.
func (s *Service) SessionRevoked(ctx context.Context, id string) (bool, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return false, err
	}
	revoked, err := o.SessionRevoked(ctx, id)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	return revoked, nil
}
