package cert_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

const (
	id  = "4a0322c2-af7a-46cb-b815-cfa4d8780f76"
	arn = "arn:aws:acm:us-east-1:123456789012:certificate/" + id
)

func TestParseARN(t *testing.T) {
	for in, want := range map[string]string{
		arn: id,
		"arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc-DEF": "abc-DEF",
		"arn:aws:acm:us-east-1:123456789012:certificate/":            "",
		"arn:aws:acm:us-east-1:12345678901x:certificate/" + id:       "",
		"arn::acm:us-east-1:123456789012:certificate/" + id:          "",
		"arn:aws:iam:us-east-1:123456789012:certificate/" + id:       "",
		"arn:aws:acm:us-east-1:123456789012:cert/" + id:              "",
		"arn:aws:acm:us-east-1:123456789012:certificate/xyz":         "",
		"nonsense": "",
	} {
		got, ok := cert.ParseARN(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseARN(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// TestGetAndGuard: a certificate is read by its ARN, a malformed ARN, a
// missing certificate and a certificate of the same ID in another account
// are ErrNotFound, and Guard compares the record's revision and writes the
// use key.
func TestGetAndGuard(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, a := range []string{"nonsense", arn} {
		if _, _, _, err := cert.Lookup(ctx, st, a); !errors.Is(err, cert.ErrNotFound) {
			t.Errorf("Lookup(%q) before import: %v, want ErrNotFound", a, err)
		}
	}
	op, err := store.PutJSON(cert.Key(id), cert.Record{ARN: arn, CertificatePEM: "C", PrivateKeyPEM: "K"})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := st.Txn(ctx, store.Txn{Ops: []store.Op{op}})
	if err != nil {
		t.Fatal(err)
	}
	if c, chain, key, err := cert.Lookup(ctx, st, arn); err != nil || string(c) != "C" || len(chain) != 0 || string(key) != "K" {
		t.Errorf("Lookup = %q, %q, %q, %v", c, chain, key, err)
	}
	other := "arn:aws:acm:us-east-1:999999999999:certificate/" + id
	if _, _, err := cert.Get(ctx, st, other); !errors.Is(err, cert.ErrNotFound) {
		t.Errorf("Get(%q): %v, want ErrNotFound", other, err)
	}
	cmp, use, err := cert.Guard(ctx, st, arn)
	if err != nil || cmp != (store.Compare{Key: cert.Key(id), ModRevision: rev}) || use.Key != cert.UseKey(id) || string(use.Value) != arn {
		t.Errorf("Guard = %+v, %+v, %v (record at revision %d)", cmp, use, err, rev)
	}
	if _, _, err := cert.Guard(ctx, st, other); !errors.Is(err, cert.ErrNotFound) {
		t.Errorf("Guard(%q): %v, want ErrNotFound", other, err)
	}
}
