package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/storetest"
)

// The child process of TestRestartDeliversEachJobOnce is this test binary
// with these variables set.
const (
	childOutboxEnv = "PANELCAST_DELIVERY_TEST_CHILD_OUTBOX"
	childURLEnv    = "PANELCAST_DELIVERY_TEST_CHILD_URL"
	childJobs      = 20
)

// httpSender posts to the recorder, as a real provider client would.
type httpSender struct{ url string }

func (httpSender) Name() string                { return "slack" }
func (httpSender) Check(context.Context) error { return nil }
func (httpSender) Limits() chat.Limits         { return chat.Limits{MaxImages: 1} }

func (s httpSender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	body, _ := json.Marshal(map[string]string{"key": m.IdempotencyKey, "text": m.Text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return chat.Receipt{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return chat.Receipt{}, err
	}
	defer resp.Body.Close()
	var r struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return chat.Receipt{}, err
	}
	return chat.Receipt{MessageID: r.ID, ChannelID: "C1"}, nil
}

// recorder is a chat service that deduplicates on the idempotency key, like
// Discord's nonce: a repeated key returns the first message. It counts
// requests and messages per job, and holds request number holdAt open until
// release is closed.
type recorder struct {
	holdAt  int
	held    chan string // the held job's id
	release chan struct{}

	mu       sync.Mutex
	delay    time.Duration
	total    int
	requests map[string]int
	messages map[string]int
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct{ Key string }
	json.NewDecoder(r.Body).Decode(&m)
	rec.mu.Lock()
	rec.total++
	rec.requests[m.Key]++
	if rec.messages[m.Key] == 0 {
		rec.messages[m.Key] = 1
	}
	hold, delay := rec.total == rec.holdAt, rec.delay
	rec.mu.Unlock()
	if hold {
		rec.held <- m.Key
		<-rec.release
	}
	time.Sleep(delay)
	fmt.Fprintf(w, `{"id": "msg-%s"}`, m.Key)
}

func (rec *recorder) counts(id string) (requests, messages int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.requests[id], rec.messages[id]
}

// TestRestartChild is the process that TestRestartDeliversEachJobOnce kills.
func TestRestartChild(t *testing.T) {
	path := os.Getenv(childOutboxEnv)
	if path == "" {
		t.Skip("runs only as the child of TestRestartDeliversEachJobOnce")
	}
	o, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := delivery.NewWorker(o, map[string]chat.Sender{"slack": httpSender{os.Getenv(childURLEnv)}}, nil,
		delivery.WorkerOptions{BaseBackoff: 10 * time.Millisecond, Poll: 50 * time.Millisecond, Concurrency: 2})
	go w.Run(context.Background())
	for i := range childJobs {
		j, _, err := o.Enqueue(context.Background(), delivery.Job{Kind: "push", Address: "slack:#ops", Text: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("enqueued", j.ID)
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Second) // the parent kills it long before
	t.Fatal("the parent did not kill this process")
}

// A process is killed with SIGKILL while it enqueues and sends; a new one on
// the same file delivers every job it acknowledged, re-sends only jobs that
// were in flight (with their idempotency key), and the chat service ends with
// one message per job.
func TestRestartDeliversEachJobOnce(t *testing.T) {
	rec := &recorder{holdAt: 3, held: make(chan string, 1), release: make(chan struct{}),
		delay: 50 * time.Millisecond, requests: map[string]int{}, messages: map[string]int{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	released := false
	release := func() {
		if !released {
			close(rec.release)
			released = true
		}
	}
	defer release()
	path := filepath.Join(t.TempDir(), "outbox.db")

	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartChild$", "-test.timeout=30s")
	cmd.Env = append(os.Environ(), childOutboxEnv+"="+path, childURLEnv+"="+srv.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acknowledged []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if id, ok := strings.CutPrefix(lines.Text(), "enqueued "); ok {
				acknowledged = append(acknowledged, id)
			}
		}
	}()
	// Kill while request holdAt is in flight.
	var inFlight string
	select {
	case inFlight = <-rec.held:
	case <-time.After(10 * time.Second):
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-readDone
	cmd.Wait()
	if inFlight == "" {
		t.Fatalf("the child sent fewer than %d requests; its stderr:\n%s", rec.holdAt, stderr.String())
	}
	release()
	rec.mu.Lock()
	rec.delay = 0
	rec.mu.Unlock()

	o, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() }) // after the worker stops
	ctx := context.Background()
	sentBefore := map[string]bool{}
	for _, id := range acknowledged {
		j, err := o.Get(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged job lost: %v", err)
		}
		switch j.State {
		case delivery.StateSent:
			sentBefore[id] = true
		case delivery.StateSending:
			t.Errorf("job %s still sending after Open; a restart must re-queue it", id)
		}
	}
	if j, _ := o.Get(ctx, inFlight); j.State != delivery.StateQueued || !strings.HasPrefix(j.LastError, "interrupted") {
		t.Errorf("the job in flight at the kill is %s %q; want queued, interrupted", j.State, j.LastError)
	}
	var stored []string
	rows, err := o.db.Query("SELECT id FROM jobs ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored = append(stored, id)
	}
	rows.Close()
	// The job being enqueued at the kill may or may not have been stored.
	if n := len(stored) - len(acknowledged); n < 0 || n > 1 {
		t.Errorf("%d jobs stored, %d acknowledged", len(stored), len(acknowledged))
	}

	storetest.StartWorker(t, delivery.NewWorker(o, map[string]chat.Sender{"slack": httpSender{srv.URL}}, nil,
		delivery.WorkerOptions{BaseBackoff: time.Millisecond, Poll: 10 * time.Millisecond}))
	for _, id := range stored {
		if j := storetest.WaitDone(t, o, id); j.State != delivery.StateSent {
			t.Fatalf("job %s %s: %q", id, j.State, j.LastError)
		}
	}
	for _, id := range stored {
		requests, messages := rec.counts(id)
		want := 1
		if id == inFlight {
			want = 2 // posted, the answer lost with the process, re-sent with the same key
		}
		if messages != 1 || requests > 2 || (sentBefore[id] || id == inFlight) && requests != want {
			t.Errorf("job %s (sent before the kill: %v, in flight: %v): %d requests, %d messages",
				id, sentBefore[id], id == inFlight, requests, messages)
		}
	}
	resent := 0
	for _, id := range stored {
		if requests, _ := rec.counts(id); requests > 1 {
			resent++
		}
	}
	t.Logf("%d of %d jobs acknowledged before the kill, %d sent before it, %d re-sent with their idempotency key after it",
		len(acknowledged), childJobs, len(sentBefore), resent)
}

// The child of TestCrashingJobFailsAfterMaxAttempts: a Panelcast that dies
// preparing the job, as one killed for memory by a render would.
const childCrashEnv = "PANELCAST_DELIVERY_TEST_CRASH_OUTBOX"

func TestCrashChild(t *testing.T) {
	path := os.Getenv(childCrashEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCrashingJobFailsAfterMaxAttempts")
	}
	o, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	prepare := func(context.Context, delivery.Job) (chat.Message, error) {
		fmt.Println("preparing")
		self, _ := os.FindProcess(os.Getpid())
		self.Kill()
		select {}
	}
	w := delivery.NewWorker(o, map[string]chat.Sender{"slack": &storetest.Sender{}}, prepare,
		delivery.WorkerOptions{MaxAttempts: 3, Poll: 10 * time.Millisecond})
	go w.Run(context.Background())
	for {
		if j, _ := o.List(context.Background(), delivery.ListFilter{}); len(j) == 1 && j[0].State == delivery.StateFailed {
			fmt.Println("failed")
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A job that kills the process at every attempt is re-queued at each
// restart with the attempt counted, and fails after max_attempts with the
// reason instead of killing every Panelcast started on the outbox.
func TestCrashingJobFailsAfterMaxAttempts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := o.Enqueue(context.Background(), delivery.Job{Kind: "push", Address: "slack:#ops", Text: "deadly"})
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	crashes := 0
	for run := 1; ; run++ {
		if run > 5 {
			t.Fatalf("the job still runs after %d crashes", crashes)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.timeout=30s")
		cmd.Env = append(os.Environ(), childCrashEnv+"="+path)
		out, err := cmd.Output()
		if strings.Contains(string(out), "preparing") {
			crashes++
			if err == nil {
				t.Fatalf("run %d prepared the job and lived", run)
			}
			continue
		}
		if err != nil || !strings.Contains(string(out), "failed") {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		break
	}
	o = open(t, path)
	got, err := o.Get(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := "gave up after 3 attempts: interrupted 3 times"
	if crashes != 3 || got.State != delivery.StateFailed || got.Attempts != 3 || !strings.HasPrefix(got.LastError, want) {
		t.Errorf("%d crashes, then %s after %d attempts: %q; want 3 crashes, failed: %q…", crashes, got.State, got.Attempts, got.LastError, want)
	}
}
