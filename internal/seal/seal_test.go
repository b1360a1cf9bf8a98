package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func testKeyring(t *testing.T, b byte) *Keyring {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSealOpen checks that a value opens with its key and context only,
// and that a changed byte anywhere makes it fail.
func TestSealOpen(t *testing.T) {
	k, other := testKeyring(t, 1), testKeyring(t, 2)
	plain := []byte("-----BEGIN PRIVATE KEY-----\nMIIE...\n")
	sealed, err := k.Seal(plain, "acm/certificate/1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain[:20]) || !IsSealed(sealed) || len(sealed) != len(plain)+overhead {
		t.Fatalf("sealed value %q", sealed)
	}
	again, _ := k.Seal(plain, "acm/certificate/1")
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: data keys or nonces repeat")
	}
	got, err := k.Open(sealed, "acm/certificate/1")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "acm/certificate/2"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open for another context: %v, want ErrCorrupt", err)
	}
	if _, err := other.Open(sealed, "acm/certificate/1"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key: %v, want ErrWrongKey", err)
	}
	for i := len(magic) + idSize; i < len(sealed); i++ {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		if _, err := k.Open(b, "acm/certificate/1"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d changed: Open = %v, want ErrCorrupt", i, err)
		}
	}
	if _, err := k.Open(plain, "x"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of plaintext: %v", err)
	}
	if _, err := k.Open(sealed[:overhead-1], "acm/certificate/1"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a short value: %v", err)
	}
}

// TestLoadOrCreate checks that the key file is made owner-only, read back
// as the same key, and refused when others may read it or it is malformed.
func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "master.key")
	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v", created, err)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s: %v, %v", p, fi.Mode(), err)
		}
	}
	sealed, _ := k.Seal([]byte("secret"), "x")
	k2, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = %v, %v", created, err)
	}
	if got, err := k2.Open(sealed, "x"); err != nil || string(got) != "secret" {
		t.Fatalf("Open with the reloaded key = %q, %v", got, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(path); err == nil {
		t.Fatal("a key file others may read was accepted")
	}
	if err := os.WriteFile(path, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(path); err == nil {
		t.Fatal("a malformed key file was accepted")
	}
}
