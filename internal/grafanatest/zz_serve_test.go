package grafanatest

import (
	"os"
	"testing"
	"time"
)

func TestZZServe(t *testing.T) {
	if os.Getenv("ZZSERVE") == "" {
		t.Skip()
	}
	s, err := Start(Options{NoAuth: true, TLS: os.Getenv("ZZTLS") != ""})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.WriteFile("/tmp/gt_url", []byte(s.URL), 0o644)
	time.Sleep(120 * time.Second)
}
