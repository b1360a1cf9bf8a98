// Package datadir keeps a data directory (a server's, an agent's, a load
// balancer node's) owner-only: its files readable and writable by their
// owner alone, its directories searchable by their owner alone, whatever
// the umask, and whatever an earlier release left there.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Secure creates dir (mode 0700) when missing and takes the group's and
// others' permissions off dir and everything under it, except what is
// under the subdirectories named in opaque (relative to dir): their own
// mode is made owner-only, their content, which is not the process's own
// (the containers' volumes), is left as it is.
func Secure(dir string, opaque ...string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	skip := map[string]bool{}
	for _, o := range opaque {
		skip[filepath.Join(dir, o)] = true
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // chmod would follow it out of the directory
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(path, perm&^0o077); err != nil {
				return err
			}
		}
		if d.IsDir() && skip[path] {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("make data dir %s owner-only: %w", dir, err)
	}
	return nil
}

// Check returns the paths under dir (dir included, the content of opaque
// subdirectories left out) that others than their owner may read, write
// or search, for tests and diagnostics.
func Check(dir string, opaque ...string) ([]string, error) {
	skip := map[string]bool{}
	for _, o := range opaque {
		skip[filepath.Join(dir, o)] = true
	}
	var open []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s (%04o)", path, fi.Mode().Perm()))
		}
		if d.IsDir() && skip[path] {
			return filepath.SkipDir
		}
		return nil
	})
	return open, err
}
