// Command manpage writes panelcast(1) in roff from the CLI's own help
// (cli.Usage) and pkg/config's key table, so the page the deb and rpm
// install says what this build does:
//
//	go run ./tools/manpage -version 4.1.0 -out dist/panelcast.1   (make linux-packages)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/cli"
	"github.com/panelcast/panelcast/pkg/config"
)

func main() {
	// A flag set of its own: pkg/cli's imports (the plugin SDK) define
	// flags of theirs on the global one, "version" among them.
	fs := flag.NewFlagSet("manpage", flag.ExitOnError)
	out := fs.String("out", "dist/panelcast.1", "file to write")
	version := fs.String("version", "", "the release version the page names (required)")
	date := fs.String("date", "", "the page's date, YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else today)")
	_ = fs.Parse(os.Args[1:])
	if *version == "" {
		fmt.Fprintln(os.Stderr, "manpage: -version is required (make linux-packages passes the Makefile's VERSION)")
		os.Exit(2)
	}
	if *date == "" {
		*date = pageDate(os.Getenv("SOURCE_DATE_EPOCH"))
	}
	var b bytes.Buffer
	write(&b, *version, *date)
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "manpage:", err)
		os.Exit(1)
	}
}

// pageDate is SOURCE_DATE_EPOCH's day when set (reproducible builds), else
// today's.
func pageDate(epoch string) string {
	t := time.Now()
	var sec int64
	if _, err := fmt.Sscan(epoch, &sec); err == nil {
		t = time.Unix(sec, 0)
	}
	return t.UTC().Format("2006-01-02")
}

// write is the page: the help text as it prints, then every key as a
// flag, a variable and its default, then the packaged files.
func write(w io.Writer, version, date string) {
	// Usage is a summary line, "Usage:" with a command a line, then a
	// paragraph: NAME, SYNOPSIS and DESCRIPTION.
	summary, rest, _ := strings.Cut(cli.Usage, "\n")
	synopsis, description, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(rest), "Usage:\n"), "\n\n")
	fmt.Fprintf(w, ".TH PANELCAST 1 %q %q \"User Commands\"\n", date, "panelcast "+version)
	fmt.Fprintln(w, ".SH NAME")
	fmt.Fprintf(w, "panelcast \\- %s\n", roff(strings.TrimSuffix(strings.TrimPrefix(summary, "Panelcast "), ".")))
	for _, sec := range []struct{ name, text string }{{"SYNOPSIS", synopsis}, {"DESCRIPTION", description}} {
		fmt.Fprintf(w, ".SH %s\n.nf\n", sec.name)
		for _, line := range strings.Split(strings.Trim(sec.text, "\n"), "\n") {
			fmt.Fprintln(w, roff(strings.TrimPrefix(line, "  ")))
		}
		fmt.Fprintln(w, ".fi")
	}
	fmt.Fprintln(w, ".SH SETTINGS")
	fmt.Fprintln(w, "Each setting is a flag of serve, render and push, a PANELCAST_\\fIKEY\\fR environment variable")
	fmt.Fprintln(w, "(upper case) or a \\fIkey\\fR = \\fIvalue\\fR line of the \\fB\\-\\-config\\fR file; flags win over variables.")
	def := config.Default()
	for _, k := range config.Keys {
		fmt.Fprintln(w, ".TP")
		fmt.Fprintf(w, "\\fB\\-\\-%s\\fR, \\fBPANELCAST_%s\\fR\n", roff(strings.ReplaceAll(k.Name, "_", "-")), roff(strings.ToUpper(k.Name)))
		help := k.Help
		if d := def.Get(k.Name); d != "" {
			help += " (default: " + d + ")"
		}
		if k.Secret {
			help += "; a secret"
		}
		fmt.Fprintln(w, roff(help))
	}
	fmt.Fprint(w, `.SH FILES
.TP
.I /etc/panelcast/env
the service's settings, PANELCAST_\fIKEY\fR=\fIvalue\fR lines read by panelcast.service; kept on upgrade and removal, deleted on purge
.TP
.I /var/lib/panelcast/outbox.db
pushes and alert messages not yet posted to chat; kept on upgrade and removal, deleted on purge
.SH SEE ALSO
.BR systemctl (1),
.BR chromium (1);
https://github.com/panelcast/panelcast/blob/main/docs/server.md
`)
}

// roff escapes text for a man page: backslashes, hyphens that must stay
// ASCII in flags, and a leading dot or quote that would start a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
