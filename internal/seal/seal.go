// Package seal encrypts secrets at rest with envelope encryption: every
// sealed value has a data key of its own (AES-256-GCM), which is itself
// encrypted with the keyring's key-encryption key (AES-256-GCM too), kept
// in a file apart from what it protects. Each value is bound to a context
// (its store key, say) given as associated data, so that a sealed value
// copied under another key does not open. Store seals the values of chosen
// key prefixes of a store.Store on their way in and opens them on their
// way out.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of the key-encryption key and of each data key.
const KeySize = 32

// magic begins every sealed value: a NUL first, so that no JSON or text
// value is ever taken for a sealed one.
var magic = []byte(magicString)

const magicString = "\x00FS1"

const (
	idSize    = 8
	nonceSize = 12
	tagSize   = 16
	// overhead is what sealing adds to a value.
	overhead = len(magicString) + idSize + nonceSize + KeySize + tagSize + nonceSize + tagSize
)

// Errors of Open.
var (
	// ErrWrongKey: the value was sealed with another key-encryption key.
	ErrWrongKey = errors.New("seal: sealed with another key")
	// ErrCorrupt: the value is not a sealed value, was changed, or was
	// sealed for another context.
	ErrCorrupt = errors.New("seal: value does not open: corrupt, or sealed for another context")
)

// Keyring seals and opens values with one key-encryption key. It is safe
// for concurrent use.
type Keyring struct {
	kek cipher.AEAD
	id  [idSize]byte
}

// New returns the keyring of a KeySize-byte key-encryption key.
func New(key []byte) (*Keyring, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key of %d bytes, want %d", len(key), KeySize)
	}
	kek, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	k := &Keyring{kek: kek}
	sum := sha256.Sum256(append([]byte("flotilla seal key id\x00"), key...))
	copy(k.id[:], sum[:])
	return k, nil
}

// ID names the key-encryption key (a hash of it, not the key) for errors
// and logs.
func (k *Keyring) ID() string { return hex.EncodeToString(k.id[:]) }

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return g, nil
}

// Seal encrypts plaintext for the context aad (the store key of the value,
// or what else names its place): magic, key id, the data key sealed with
// the key-encryption key, then the value sealed with the data key.
func (k *Keyring) Seal(plaintext []byte, aad string) ([]byte, error) {
	dek := make([]byte, KeySize)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("seal: data key: %w", err)
	}
	data, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, overhead+len(plaintext))
	out = append(out, magic...)
	out = append(out, k.id[:]...)
	out = appendNonce(out)
	out = k.kek.Seal(out, out[len(out)-nonceSize:], dek, ad("key", aad))
	out = appendNonce(out)
	out = data.Seal(out, out[len(out)-nonceSize:], plaintext, ad("data", aad))
	return out, nil
}

func appendNonce(b []byte) []byte {
	var n [nonceSize]byte
	rand.Read(n[:])
	return append(b, n[:]...)
}

// ad is the associated data of one of a value's two encryptions.
func ad(part, aad string) []byte {
	return []byte("flotilla seal v1\x00" + part + "\x00" + aad)
}

// Open decrypts a value Seal made for the same context aad. The error is
// ErrWrongKey or ErrCorrupt.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	if !IsSealed(sealed) || len(sealed) < overhead {
		return nil, ErrCorrupt
	}
	b := sealed[len(magic):]
	if !bytes.Equal(b[:idSize], k.id[:]) {
		return nil, ErrWrongKey
	}
	b = b[idSize:]
	nonce, wrapped := b[:nonceSize], b[nonceSize:nonceSize+KeySize+tagSize]
	dek, err := k.kek.Open(nil, nonce, wrapped, ad("key", aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	data, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	b = b[nonceSize+KeySize+tagSize:]
	plain, err := data.Open(nil, b[:nonceSize], b[nonceSize:], ad("data", aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// IsSealed reports whether b has the form of a sealed value (not whether it
// opens).
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, magic) }

// LoadOrCreate returns the keyring of the key file at path, a line of
// 2×KeySize hex digits, creating the file (mode 0600, its directory 0700
// when missing) with a new random key when it does not exist; created says
// so. A key file that others than its owner may read or write is refused.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	k, err = Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return create(path)
	}
	return k, false, err
}

// Load returns the keyring of the key file at path (see LoadOrCreate); the
// error wraps fs.ErrNotExist when there is no such file.
func Load(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o: others than its owner may read it; chmod 600 it", path, fi.Mode().Perm())
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("master key file %s: want one line of %d hex digits", path, 2*KeySize)
	}
	return New(key)
}

func create(path string) (*Keyring, bool, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("create master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create master key: %w", err)
	}
	// O_EXCL: two processes starting together do not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		k, _, err := LoadOrCreate(path)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create master key: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("create master key: %w", werr)
	}
	k, err := New(key)
	return k, true, err
}
