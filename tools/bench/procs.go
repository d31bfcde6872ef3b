package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procTree is a process and its descendants, each with the fields of its
// /proc/<pid>/stat after the command's closing parenthesis (state, ppid,
// pgrp, …, utime, stime, cutime, cstime: fields 3-17 of proc(5)), as read
// at one moment.
type procTree map[int][]string

// tree reads pid's procTree from /proc.
func tree(pid int) procTree {
	stat := map[int][]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		s := string(st)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) >= 15 {
			stat[n] = f
		}
	}
	inTree := func(n int) bool {
		for i := 0; i < 64 && n > 1; i++ {
			if n == pid {
				return true
			}
			f, ok := stat[n]
			if !ok {
				return false
			}
			n, _ = strconv.Atoi(f[1])
		}
		return false
	}
	for n := range stat {
		if !inTree(n) {
			delete(stat, n)
		}
	}
	return stat
}

// cpu is the CPU time the tree's processes have used, their exited
// children's included (Chromium's zygote reaps the renderers of finished
// renders). Under contention it is a steadier figure than wall time, and
// divided by the cores it is the least wall time the work can take.
func (t procTree) cpu() time.Duration {
	var ticks int64
	for _, f := range t {
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// browserMain finds the browser's main process in the tree (Chromium
// without --type=; its helpers rewrite their command lines with spaces) and
// returns its pid and the CPU time its main thread has used. That thread
// does the browser's share of every render (contexts, targets, navigation,
// DevTools) one after another, so 8 renders at once cannot take less wall
// time than 8 times its share of one.
func (t procTree) browserMain() (int, time.Duration) {
	for n := range t {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n))
		args := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "chrom") || strings.Contains(string(cmd), "--type=") {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", n, n))
		if err != nil {
			continue
		}
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		var ticks int64
		for _, v := range f[11:13] {
			t, _ := strconv.ParseInt(v, 10, 64)
			ticks += t
		}
		return n, time.Duration(ticks) * time.Second / 100
	}
	return 0, 0
}

// pssSplit is pid's own PSS in anonymous memory (the Go heap and stacks)
// and in files (the pages of the binary's code and data it has touched).
func pssSplit(pid int) (anon, file int64) {
	path := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
	return kbField(path, "Pss_Anon:"), kbField(path, "Pss_File:")
}

// memory sums VmRSS (which counts shared pages once per process) and PSS
// (which splits them fairly) over the tree's processes.
func (t procTree) memory() (rss, pss int64, procs int) {
	for n := range t {
		procs++
		rss += kbField(fmt.Sprintf("/proc/%d/status", n), "VmRSS:")
		pss += kbField(fmt.Sprintf("/proc/%d/smaps_rollup", n), "Pss:")
	}
	return rss, pss, procs
}

func kbField(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}
