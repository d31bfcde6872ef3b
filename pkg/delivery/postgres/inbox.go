package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/panelcast/panelcast/pkg/delivery"
)

// SaveInbox stores a message for the inbox: address.
func (s *Store) SaveInbox(ctx context.Context, m delivery.InboxMessage) (delivery.InboxMessage, error) {
	m.ID = delivery.NewID()
	m.CreatedAt = time.Now().Truncate(time.Millisecond)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO panelcast_inbox (id, channel, text, thread_id, created_at) VALUES ($1, $2, $3, $4, $5)",
			m.ID, m.Channel, m.Text, m.ThreadID, m.CreatedAt); err != nil {
			return err
		}
		for i, img := range m.Images {
			data := img.Data
			if data == nil {
				data = []byte{}
			}
			if _, err := tx.Exec(ctx, "INSERT INTO panelcast_inbox_images (message_id, n, filename, data) VALUES ($1, $2, $3, $4)",
				m.ID, i, img.Filename, data); err != nil {
				return err
			}
			m.Images[i].Size = len(img.Data)
		}
		return nil
	})
	if err != nil {
		return delivery.InboxMessage{}, s.dbError("storing an inbox message", err)
	}
	return m, nil
}

// ListInbox returns the newest messages first, images without their bytes.
func (s *Store) ListInbox(ctx context.Context, f delivery.InboxFilter) ([]delivery.InboxMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.id, m.channel, m.text, m.thread_id, m.created_at, i.filename, octet_length(i.data)
		FROM (SELECT * FROM panelcast_inbox WHERE $1 = '' OR channel = $1 ORDER BY created_at DESC, seq DESC LIMIT $2) m
		LEFT JOIN panelcast_inbox_images i ON i.message_id = m.id
		ORDER BY m.created_at DESC, m.seq DESC, i.n`, f.Channel, delivery.ListLimit(f.Limit))
	if err != nil {
		return nil, s.dbError("listing the inbox", err)
	}
	defer rows.Close()
	var out []delivery.InboxMessage
	for rows.Next() {
		var m delivery.InboxMessage
		var filename *string
		var size *int
		if err := rows.Scan(&m.ID, &m.Channel, &m.Text, &m.ThreadID, &m.CreatedAt, &filename, &size); err != nil {
			return nil, s.dbError("listing the inbox", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != m.ID {
			out = append(out, m)
		}
		if filename != nil {
			last := &out[len(out)-1]
			last.Images = append(last.Images, delivery.InboxImage{Filename: *filename, Size: *size})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbError("listing the inbox", err)
	}
	return out, nil
}

// InboxImage returns picture n of a message.
func (s *Store) InboxImage(ctx context.Context, id string, n int) (delivery.InboxImage, error) {
	var img delivery.InboxImage
	err := s.pool.QueryRow(ctx, "SELECT filename, data FROM panelcast_inbox_images WHERE message_id = $1 AND n = $2", id, n).
		Scan(&img.Filename, &img.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.InboxImage{}, fmt.Errorf("picture %d of inbox message %.64q: %w", n, id, delivery.ErrNoImage)
	}
	if err != nil {
		return delivery.InboxImage{}, s.dbError("reading an inbox picture", err)
	}
	img.Size = len(img.Data)
	return img, nil
}
