package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"

	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/seal"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// sealPrefix holds the store's own sealed records: sealCheckKey, a value
// sealed with the master key when the store was first sealed, which tells
// whether a master key is the store's.
const (
	sealPrefix   = "/flotilla/seal/"
	sealCheckKey = sealPrefix + "check"
)

// sealedPrefixes are the store prefixes whose records hold key material,
// sealed at rest: ACM's certificates with their private keys, and the
// container instances' credentials.
var sealedPrefixes = []string{cert.RecordPrefix, ecs.InstanceKeyPrefix, sealPrefix}

// DefaultMasterKeyFile is where the master key of a data directory is kept
// when --master-key-file is not given: beside the directory, not in it
// (~/.flotilla.master.key for ~/.flotilla), so that a copy of the data
// directory is no copy of the key.
func DefaultMasterKeyFile(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = filepath.Clean(dataDir)
	}
	return filepath.Join(filepath.Dir(abs), filepath.Base(abs)+".master.key")
}

// openState opens the state file in dataDir with its key material sealed
// by the master key in keyFile, created with the store. On the first open
// by a release that seals, records an earlier release wrote in plaintext
// are sealed, and the history and the freed pages that held them are
// dropped from the file (bolt.Vacuum); only then is the store marked
// sealed (sealCheckKey), so that a start that fails on the way does it all
// again. A store marked sealed refuses a missing or different master key.
func openState(ctx context.Context, dataDir, keyFile string, log *slog.Logger) (*seal.Store, *seal.Keyring, error) {
	path := filepath.Join(dataDir, "state.db")
	raw, err := bolt.Open(path, bolt.Options{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("open state: %w", err)
	}
	st, k, sealed, migrated, err := sealState(ctx, raw, keyFile, log)
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	if sealed {
		return st, k, nil
	}
	// Plaintext may still be in the events of past revisions, and in the
	// pages bbolt freed.
	rev, err := raw.Rev(ctx)
	if err == nil {
		err = raw.Compact(ctx, rev)
	}
	if cerr := raw.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = bolt.Vacuum(path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("drop the plaintext key material from %s: %w", path, err)
	}
	if raw, err = bolt.Open(path, bolt.Options{Logger: log}); err != nil {
		return nil, nil, fmt.Errorf("open state: %w", err)
	}
	st = seal.NewStore(raw, k, sealedPrefixes...)
	_, err = st.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: sealCheckKey}},
		Ops: []store.Op{{Key: sealCheckKey, Value: []byte(`{"sealedBy":"` + k.ID() + `"}`)}}})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		raw.Close()
		return nil, nil, fmt.Errorf("seal the state's key material: %w", err)
	}
	if migrated > 0 {
		log.Info("sealed the key material an earlier release stored in plaintext", "component", "main", "records", migrated, "master_key_file", keyFile)
	}
	return st, k, nil
}

// sealState returns raw sealing its key material, whether it was marked
// sealed, and the number of plaintext records it sealed now.
func sealState(ctx context.Context, raw store.Store, keyFile string, log *slog.Logger) (st *seal.Store, k *seal.Keyring, sealed bool, migrated int, err error) {
	_, err = raw.Get(ctx, sealCheckKey)
	sealed = err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, false, 0, fmt.Errorf("open state: %w", err)
	}
	if sealed {
		k, err = seal.Load(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, false, 0, fmt.Errorf("the state's key material is sealed with a master key, and the master key file %s is missing: restore it, or name it with --master-key-file", keyFile)
		}
	} else {
		var created bool
		k, created, err = seal.LoadOrCreate(keyFile)
		if created {
			log.Info("created the master key that seals key material at rest; keep it, and back it up apart from the data directory", "component", "main", "path", keyFile)
		}
	}
	if err != nil {
		return nil, nil, false, 0, err
	}
	st = seal.NewStore(raw, k, sealedPrefixes...)
	if sealed {
		if _, err := st.Get(ctx, sealCheckKey); err != nil {
			return nil, nil, false, 0, fmt.Errorf("the master key in %s (id %s) is not the one the state's key material is sealed with: %w", keyFile, k.ID(), err)
		}
	}
	if migrated, err = st.Migrate(ctx); err != nil {
		return nil, nil, false, 0, fmt.Errorf("seal the state's key material: %w", err)
	}
	return st, k, sealed, migrated, nil
}
