package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/tlspolicy"
)

// Validate checks every value and names the key of each bad one, so an
// operator knows which line of grafana.ini or which flag to fix. The keys'
// own checks run in the order of the key table; then the checks no single
// key owns.
func (c *Config) Validate() error {
	var errs []error
	for _, k := range Keys {
		if k.check != nil {
			errs = append(errs, keyErrors(k.Name, k.check(c))...)
		}
	}
	errs = append(errs, c.crossKeyErrors()...)
	return errors.Join(errs...)
}

// keyErrors puts the key before each sentence of err; a list key's check
// joins a sentence per bad entry, and each gets the key.
func keyErrors(key string, err error) []error {
	if err == nil {
		return nil
	}
	each := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		each = joined.Unwrap()
	}
	out := make([]error, len(each))
	for i, e := range each {
		out[i] = fmt.Errorf("%s: %v", key, e)
	}
	return out
}

// crossKeyErrors are the checks that judge keys together. tlspolicy judges
// tls_mode, grafana_ca_file and grafana_cert_sha256 as one policy (a pin is
// refused in strict mode) and names the key at fault itself; outbox_url and
// outbox_path exclude each other. A bound read from another key, such as
// width's max_width, stays with the key whose value it bounds.
func (c *Config) crossKeyErrors() []error {
	var errs []error
	if _, err := c.TLSPolicy(); err != nil {
		var ke *tlspolicy.KeyError
		if errors.As(err, &ke) {
			errs = append(errs, fmt.Errorf("%s: %v", ke.Key, ke.Err))
		} else {
			errs = append(errs, err)
		}
	}
	if c.OutboxURL.IsSet() && c.OutboxPath != "" {
		errs = append(errs, errors.New("outbox_url: set either outbox_url (PostgreSQL, shared by replicas) or outbox_path (an SQLite file), not both"))
	}
	return errs
}

// refuseIf is the sentence when bad holds, nil otherwise.
func refuseIf(bad bool, format string, a ...any) error {
	if bad {
		return fmt.Errorf(format, a...)
	}
	return nil
}

func between(n, lo, hi int) error {
	return refuseIf(n < lo || n > hi, "must be %d..%d, got %d", lo, hi, n)
}

// upTo bounds a size in pixels by the max_ key the sentence names.
func upTo(n, upper int, upperKey string) error {
	return refuseIf(n < 1 || n > upper, "must be 1..%d (%s), got %d", upper, upperKey, n)
}

func oneOf(v string, allowed ...string) error {
	return refuseIf(!slices.Contains(allowed, v), "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// eachEntry checks every entry of a list key and joins the sentences of
// the bad ones, so each is reported.
func eachEntry(entries []string, check func(string) error) error {
	var errs []error
	for _, e := range entries {
		if err := check(e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// optionalHTTPURL leaves an empty URL alone: the key is then unused.
func optionalHTTPURL(raw string) error {
	if raw == "" {
		return nil
	}
	return checkHTTPURL(raw)
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL such as https://grafana.example.com:3000", raw)
	}
	return nil
}

func checkCleanAbsDir(d string) error {
	return refuseIf(!filepath.IsAbs(d) || filepath.Clean(d) != d, "%q is not a clean absolute folder path such as /var/lib/grafana/png", d)
}

func checkTimezone(c *Config) error {
	if c.Timezone == "" {
		return nil
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		return fmt.Errorf("%q is not an IANA time zone such as Europe/Berlin", c.Timezone)
	}
	return nil
}

func checkOutboxURL(c *Config) error {
	if !c.OutboxURL.IsSet() {
		return nil
	}
	// The value holds a password: the sentence never repeats it.
	u, err := url.Parse(c.OutboxURL.Reveal())
	return refuseIf(err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "",
		"is not a URL such as postgres://user:password@host:5432/panelcast?sslmode=require")
}

func checkAlertGrouping(c *Config) error {
	return refuseIf(c.AlertGrouping != GroupPerAlert && c.AlertGrouping != GroupPerNotification,
		"%q is not %s (a message per alert) or %s (a message per notification group)", c.AlertGrouping, GroupPerAlert, GroupPerNotification)
}

func checkChromiumPath(c *Config) error {
	if c.ChromiumPath == "" {
		return nil
	}
	st, err := os.Stat(c.ChromiumPath)
	return refuseIf(err != nil || st.IsDir(), "%q is not a file: install the chromium package or point the key at the browser binary", c.ChromiumPath)
}
