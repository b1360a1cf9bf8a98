package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// childAttr makes a child process get SIGKILL when this one dies, so that
// none outlives a killed load test.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpuTime returns the CPU time, user and system, that process pid and its
// children alive now have used; nginx's work is done by the master's
// children, the workers.
func cpuTime(pid int) (time.Duration, bool) {
	total, ok := procCPU(strconv.Itoa(pid))
	if !ok {
		return 0, false
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		if f := statFields(string(b)); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if t, ok := procCPU(filepath.Base(d)); ok {
				total += t
			}
		}
	}
	return total, true
}

// procCPU returns utime+stime of one process.
func procCPU(pid string) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	f := statFields(string(b))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * clockTick, true
}

// statFields returns the fields of /proc/PID/stat after the command name
// (which may hold spaces): state, ppid, … utime is [11], stime [12].
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}
