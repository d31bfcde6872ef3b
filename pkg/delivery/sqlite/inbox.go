package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/panelcast/panelcast/pkg/delivery"
)

// SaveInbox stores a message for the inbox: address.
func (s *Store) SaveInbox(ctx context.Context, m delivery.InboxMessage) (delivery.InboxMessage, error) {
	m.ID = delivery.NewID()
	m.CreatedAt = time.Now().Truncate(time.Millisecond)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return delivery.InboxMessage{}, s.dbError("storing an inbox message", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO inbox_messages (id, channel, text, thread_id, created_at) VALUES (?, ?, ?, ?, ?)",
		m.ID, m.Channel, m.Text, m.ThreadID, ms(m.CreatedAt)); err != nil {
		return delivery.InboxMessage{}, s.dbError("storing an inbox message", err)
	}
	for i, img := range m.Images {
		if _, err := tx.ExecContext(ctx, "INSERT INTO inbox_images (message_id, n, filename, data) VALUES (?, ?, ?, ?)",
			m.ID, i, img.Filename, nonNil(img.Data)); err != nil {
			return delivery.InboxMessage{}, s.dbError("storing an inbox picture", err)
		}
		m.Images[i].Size = len(img.Data)
	}
	if err := tx.Commit(); err != nil {
		return delivery.InboxMessage{}, s.dbError("storing an inbox message", err)
	}
	return m, nil
}

// nonNil keeps an empty picture from becoming NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ListInbox returns the newest messages first, images without their bytes.
func (s *Store) ListInbox(ctx context.Context, f delivery.InboxFilter) ([]delivery.InboxMessage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT m.id, m.channel, m.text, m.thread_id, m.created_at, i.filename, length(i.data)
		FROM (SELECT * FROM inbox_messages WHERE ? = '' OR channel = ? ORDER BY created_at DESC, seq DESC LIMIT ?) m
		LEFT JOIN inbox_images i ON i.message_id = m.id
		ORDER BY m.created_at DESC, m.seq DESC, i.n`, f.Channel, f.Channel, delivery.ListLimit(f.Limit))
	if err != nil {
		return nil, s.dbError("listing the inbox", err)
	}
	defer rows.Close()
	var out []delivery.InboxMessage
	for rows.Next() {
		var m delivery.InboxMessage
		var created int64
		var filename sql.NullString
		var size sql.NullInt64
		if err := rows.Scan(&m.ID, &m.Channel, &m.Text, &m.ThreadID, &created, &filename, &size); err != nil {
			return nil, s.dbError("listing the inbox", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != m.ID {
			m.CreatedAt = fromMS(created)
			out = append(out, m)
		}
		if filename.Valid {
			last := &out[len(out)-1]
			last.Images = append(last.Images, delivery.InboxImage{Filename: filename.String, Size: int(size.Int64)})
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
	err := s.db.QueryRowContext(ctx, "SELECT filename, data FROM inbox_images WHERE message_id = ? AND n = ?", id, n).
		Scan(&img.Filename, &img.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.InboxImage{}, fmt.Errorf("picture %d of inbox message %.64q: %w", n, id, delivery.ErrNoImage)
	}
	if err != nil {
		return delivery.InboxImage{}, s.dbError("reading an inbox picture", err)
	}
	img.Size = len(img.Data)
	return img, nil
}
