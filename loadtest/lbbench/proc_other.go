//go:build !linux

package main

import (
	"syscall"
	"time"
)

func childAttr() *syscall.SysProcAttr { return nil }

// cpuTime is not measured on this system.
func cpuTime(pid int) (time.Duration, bool) { return 0, false }
