package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// figures are one door's answers to issue 20's goals table, gathered by
// its suite; zero where a figure was not measured.
type figures struct {
	door                     string
	demo8                    span          // 8 renders at once of the Grafana-frontend (scenes) stand-in
	demoBytes, demoReqs      float64       // static bytes and requests Grafana served per warm render of it
	demoAllBytes             float64       // every byte Grafana served per warm render of it
	overhead, overheadBind   time.Duration // overhead p50, scenes and binding page
	simple8                  span          // 8 at once of the 1 s page
	pssRest, pssPeak8        int64         // browser running: at rest, and the peak while 8 render
	idleMem, idleRSS         int64         // PSS and RSS after the idle timeout
	idleAnon, idleFile       int64         // the door process's own PSS then: anonymous, and file pages (its binary)
	idleProcs                int
	warm, cold               time.Duration // a render of the scenes page warm, and right after the idle stop
	phases                   []phase       // mean time per phase of the scenes page (Panelcast only)
	serverTotal, clientTotal time.Duration // means of the same renders, as the door and as the caller saw them
}

// span is the fastest and slowest of some rounds, the CPU time they used
// (the door's process tree, browser included), and their failed renders.
type span struct {
	lo, hi time.Duration
	cpu    time.Duration
	serial time.Duration // the browser main thread's CPU time (see procTree.browserMain)
	rounds int
	failed int
}

func (s *span) add(d, cpu, serial time.Duration) {
	if s.lo == 0 || d < s.lo {
		s.lo = d
	}
	s.hi = max(s.hi, d)
	s.cpu += cpu
	s.serial += serial
	s.rounds++
}

// floor is the least wall time a round's CPU allows on this machine's
// cores: what bounds a round that cannot wait less than it computes.
func (s span) floor() time.Duration {
	return s.cpu / time.Duration(max(s.rounds, 1)*runtime.NumCPU())
}

func (s span) String() string {
	if s.hi == 0 {
		return "—"
	}
	out := fmt.Sprintf("%.2f–%.2f s (CPU floor %.2f s", s.lo.Seconds(), s.hi.Seconds(), s.floor().Seconds())
	if s.serial > 0 {
		out += fmt.Sprintf(", browser main thread %.2f s", (s.serial / time.Duration(s.rounds)).Seconds())
	}
	out += ")"
	if s.failed > 0 {
		out += fmt.Sprintf(" (%d renders failed)", s.failed)
	}
	return out
}

type phase struct {
	name string
	mean time.Duration
}

// printTable prints the goals table for every door measured, with each
// Panelcast door's ratio to the anchor when there is one.
func printTable(all []*figures) {
	var anchor *figures
	for _, f := range all {
		if strings.HasPrefix(f.door, "anchor") {
			anchor = f
		}
	}
	fmt.Printf("\nissue 20's figures, this run:\n\n")
	head := []string{"figure"}
	for _, f := range all {
		head = append(head, f.door)
		if anchor != nil && f != anchor {
			head = append(head, f.door+" ÷ anchor")
		}
	}
	fmt.Println("| " + strings.Join(head, " | ") + " |")
	fmt.Println(strings.Repeat("|---", len(head)) + "|")
	row := func(name string, cell func(*figures) string, value func(*figures) float64) {
		cells := []string{name}
		for _, f := range all {
			cells = append(cells, cell(f))
			if anchor != nil && f != anchor {
				cells = append(cells, ratio(value(f), value(anchor)))
			}
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	row("scenes stand-in (Grafana frontend), 8 at once", func(f *figures) string { return f.demo8.String() },
		func(f *figures) float64 { return f.demo8.hi.Seconds() })
	row("scenes stand-in, static bytes Grafana serves per warm render (requests)", func(f *figures) string {
		return fmt.Sprintf("%s (%.0f)", bytesString(f.demoBytes), f.demoReqs)
	}, func(f *figures) float64 { return f.demoBytes })
	row("scenes stand-in, all bytes Grafana serves per warm render", func(f *figures) string { return bytesString(f.demoAllBytes) },
		func(f *figures) float64 { return f.demoAllBytes })
	row("overhead p50, simple page (Grafana 10–12)", func(f *figures) string { return ms(f.overhead) },
		func(f *figures) float64 { return f.overhead.Seconds() })
	row("overhead p50, binding page (Grafana 12+)", func(f *figures) string { return ms(f.overheadBind) },
		func(f *figures) float64 { return f.overheadBind.Seconds() })
	row("8 at once, simple page (needs 1 s)", func(f *figures) string { return f.simple8.String() },
		func(f *figures) float64 { return f.simple8.hi.Seconds() })
	row("PSS at rest, browser running", func(f *figures) string { return mibString(f.pssRest) },
		func(f *figures) float64 { return float64(f.pssRest) })
	row("PSS at the peak of 8 renders", func(f *figures) string { return mibString(f.pssPeak8) },
		func(f *figures) float64 { return float64(f.pssPeak8) })
	row("memory idle past browser_idle_timeout, PSS (RSS, processes; anonymous + file PSS)", func(f *figures) string {
		return fmt.Sprintf("%s (%s, %d; %s + %s)", mibString(f.idleMem), mibString(f.idleRSS), f.idleProcs, mibString(f.idleAnon), mibString(f.idleFile))
	}, func(f *figures) float64 { return float64(f.idleMem) })
	row("render after the idle stop (cold) / warm", func(f *figures) string { return ms(f.cold) + " / " + ms(f.warm) },
		func(f *figures) float64 { return f.cold.Seconds() })
}

func ratio(v, anchor float64) string {
	if anchor == 0 || v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", v/anchor)
}

func bytesString(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func mibString(b int64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MiB", mib(b))
}

// printPhases prints where the time of one render of the scenes page went:
// the renderer's phases (means from panelcast_render_phase_seconds), the
// page's own time within them, and what the caller waited beyond the
// door's own answer.
func printPhases(f *figures, own time.Duration) {
	if len(f.phases) == 0 {
		return
	}
	fmt.Printf("\n%s: one render of the scenes page by phase (means):\n\n", f.door)
	var sum, nav, ready time.Duration
	for _, p := range f.phases {
		fmt.Printf("  %-10s %8.1f ms\n", p.name, float64(p.mean.Microseconds())/1000)
		sum += p.mean
		switch p.name {
		case "navigate":
			nav = p.mean
		case "ready":
			ready = p.mean
		}
	}
	fmt.Printf("  %-10s %8.1f ms  (the door's own answer: %.1f ms; untimed work %.1f ms)\n", "sum", float64(sum.Microseconds())/1000,
		float64(f.serverTotal.Microseconds())/1000, float64((f.serverTotal-sum).Microseconds())/1000)
	fmt.Printf("  of which the page's own work %.1f ms; navigate + ready beyond it (detection latency and page load before its document request) %.1f ms\n",
		float64(own.Microseconds())/1000, float64((nav+ready-own).Microseconds())/1000)
	fmt.Printf("  answer: the caller waited %.1f ms beyond the door's own time (transport: gRPC and the file, or HTTP)\n",
		float64((f.clientTotal-f.serverTotal).Microseconds())/1000)
}

// promSums reads the _sum and _count of a histogram's series whose labels
// contain match from Prometheus text, keyed by the value of label key.
func promSums(text, name, match, key string) map[string][2]float64 {
	out := map[string][2]float64{}
	for _, line := range strings.Split(text, "\n") {
		for i, suffix := range []string{"_sum{", "_count{"} {
			rest, ok := strings.CutPrefix(line, name+suffix)
			if !ok || !strings.Contains(rest, match) {
				continue
			}
			labels, value, _ := strings.Cut(rest, "} ")
			k := ""
			for _, l := range strings.Split(labels, ",") {
				if n, v, _ := strings.Cut(l, "="); n == key {
					k = strings.Trim(v, `"`)
				}
			}
			v, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
			s := out[k]
			s[i] += v
			out[k] = s
		}
	}
	return out
}
