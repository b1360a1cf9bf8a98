package bolt

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// Vacuum rewrites the store file at path with its live pages only, in a
// file no larger than they need: the pages bbolt freed, which may still
// hold values since written over or deleted, are left behind with the old
// file (and so is the event history that Compact discarded). The file
// must not be open. The new file replaces the old one by a rename, so a
// crash leaves one or the other.
func Vacuum(path string) error {
	src, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	defer src.Close()
	tmp := path + ".vacuum"
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	dst, err := bbolt.Open(tmp, 0o600, nil)
	if err != nil {
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	if err := bbolt.Compact(dst, src, 0); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("vacuum %s: %w", path, err)
	}
	return nil
}
