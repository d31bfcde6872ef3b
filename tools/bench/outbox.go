package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/postgres"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
	"github.com/panelcast/panelcast/pkg/delivery/storetest"
)

// benchOutbox measures the outbox end to end for each store: jobs
// enqueued by 8 callers at once (as API requests would), claimed by one
// worker, posted to an in-process chat that answers at once, and recorded
// as sent. The figure is what the outbox itself costs per message.
func benchOutbox(stores []string, jobs, concurrency int) error {
	workers := concurrency
	if workers == 0 {
		workers = delivery.DefaultConcurrency
	}
	fmt.Printf("\noutbox throughput: %d jobs enqueued by 8 callers, one worker of %d, a chat that answers at once\n\n", jobs, workers)
	fmt.Printf("%-34s %12s %12s %14s\n", "store", "enqueue/s", "sent/s", "all sent in")
	for _, kind := range stores {
		s, closeStore, err := openBenchStore(kind)
		if err != nil {
			return err
		}
		enq, total, err := runOutbox(s, jobs, concurrency)
		closeStore()
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		fmt.Printf("%-34s %12.0f %12.0f %14s\n", describeStore(kind), float64(jobs)/enq.Seconds(), float64(jobs)/total.Seconds(), ms(total))
	}
	return nil
}

func describeStore(kind string) string {
	if kind == "postgres" {
		return "postgres (PostgreSQL 15, fsync on)"
	}
	return "sqlite (WAL, synchronous=FULL)"
}

// openBenchStore opens an empty store of the kind on this machine's disk.
func openBenchStore(kind string) (delivery.Store, func(), error) {
	switch kind {
	case "sqlite":
		dir, err := os.MkdirTemp("", "panelcast-bench-outbox-")
		if err != nil {
			return nil, nil, err
		}
		s, err := sqlite.Open(filepath.Join(dir, "outbox.db"), sqlite.Options{})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return s, func() { _ = s.Close(); _ = os.RemoveAll(dir) }, nil
	case "postgres":
		pg, err := pgtest.Start(pgtest.Options{Durable: true})
		if err != nil {
			return nil, nil, err
		}
		url, err := pg.NewDatabase(context.Background())
		if err == nil {
			var s *postgres.Store
			if s, err = postgres.Open(context.Background(), url, postgres.Options{}); err == nil {
				return s, func() { _ = s.Close(); _ = pg.Close() }, nil
			}
		}
		_ = pg.Close()
		return nil, nil, err
	}
	return nil, nil, fmt.Errorf("unknown store %q: use sqlite or postgres", kind)
}

func runOutbox(s delivery.Store, jobs, concurrency int) (enqueued, total time.Duration, err error) {
	ctx := context.Background()
	w := delivery.NewWorker(s, map[string]chat.Sender{"slack": &storetest.Sender{}}, nil,
		delivery.WorkerOptions{Concurrency: concurrency, Logger: slog.New(slog.DiscardHandler)})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	start := time.Now()
	const callers = 8
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := c; i < jobs; i += callers {
				if _, _, err := s.Enqueue(ctx, delivery.Job{Kind: "push", Address: "slack:#bench", Text: fmt.Sprint("job ", i)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	enqueued = time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		d, err := s.Depth(ctx)
		if err != nil {
			return 0, 0, err
		}
		if d.Sent+d.Failed == jobs {
			if d.Failed > 0 {
				return 0, 0, fmt.Errorf("%d jobs failed", d.Failed)
			}
			return enqueued, time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("only %d of %d jobs sent after 5 minutes", d.Sent, jobs)
		}
	}
}
