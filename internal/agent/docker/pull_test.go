package docker

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/flotilla/flotilla/internal/agent"
)

// fakeRegistry is a minimal Docker Registry HTTP API v2, enough for the engine
// to pull from. The engine treats 127.0.0.0/8 as an insecure registry, so
// plain HTTP on 127.0.0.1 works without configuring it.
type fakeRegistry struct {
	user, pass string // Basic auth required when user is set

	mu        sync.Mutex
	manifests map[string][]byte // "name:tag" and "name:digest" → manifest
	blobs     map[string][]byte // digest → content
}

func newRegistry(t *testing.T, user, pass string) (*fakeRegistry, string) {
	r := &fakeRegistry{user: user, pass: pass, manifests: map[string][]byte{}, blobs: map[string][]byte{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, strings.TrimPrefix(srv.URL, "http://")
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// add stores an image of one layer holding a file with the given content
// under name:tag, and returns the layer's digest.
func (r *fakeRegistry) add(t *testing.T, name, tag, content string) string {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "content.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(layer.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Cmd": []string{"/nothing"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest(layer.Bytes())}},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{
			"mediaType": "application/vnd.docker.container.image.v1+json",
			"size":      len(config),
			"digest":    digest(config),
		},
		"layers": []map[string]any{{
			"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
			"size":      gz.Len(),
			"digest":    digest(gz.Bytes()),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.manifests[name+":"+tag] = manifest              // the engine asks by tag,
	r.manifests[name+":"+digest(manifest)] = manifest // then by digest
	r.blobs[digest(config)] = config
	r.blobs[digest(gz.Bytes())] = gz.Bytes()
	return digest(gz.Bytes())
}

func (r *fakeRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.user != "" {
		if u, p, ok := req.BasicAuth(); !ok || u != r.user || p != r.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="flotilla-test"`)
			registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	}
	path := req.URL.Path
	r.mu.Lock()
	defer r.mu.Unlock()
	var body []byte
	contentType := "application/octet-stream"
	switch {
	case path == "/v2/" || path == "/v2":
		body = []byte("{}")
		contentType = "application/json"
	case strings.Contains(path, "/manifests/"):
		i := strings.LastIndex(path, "/manifests/")
		name, ref := strings.TrimPrefix(path[:i], "/v2/"), path[i+len("/manifests/"):]
		if body = r.manifests[name+":"+ref]; body == nil {
			registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		contentType = "application/vnd.docker.distribution.manifest.v2+json"
	case strings.Contains(path, "/blobs/"):
		if body = r.blobs[path[strings.LastIndex(path, "/")+1:]]; body == nil {
			registryError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
			return
		}
	default:
		registryError(w, http.StatusNotFound, "UNSUPPORTED", "not here")
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Docker-Content-Digest", digest(body))
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func registryError(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, errCode, msg)
}

// removeImage removes ref when the test ends.
func removeImage(t *testing.T, ref string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = rt.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
}

func TestPull(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	reg, host := newRegistry(t, "", "")
	name := "flotilla-test/pull-" + randomSuffix()
	reg.add(t, name, "v1", "pulled "+randomSuffix())
	ref := host + "/" + name + ":v1"
	removeImage(t, ref)

	if ok, err := rt.ImagePresent(ctx, ref); err != nil || ok {
		t.Fatalf("before Pull: ImagePresent = %v, %v; want false", ok, err)
	}
	if err := rt.Pull(ctx, ref, nil); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if ok, err := rt.ImagePresent(ctx, ref); err != nil || !ok {
		t.Fatalf("after Pull: ImagePresent = %v, %v; want true", ok, err)
	}

	t.Run("unknown tag", func(t *testing.T) {
		err := rt.Pull(ctx, host+"/"+name+":v2", nil)
		if !errors.Is(err, agent.ErrNoSuchImage) || !strings.Contains(err.Error(), "manifest unknown") {
			t.Fatalf("Pull = %v, want ErrNoSuchImage with the registry's message", err)
		}
	})

	t.Run("missing layer", func(t *testing.T) {
		broken := "flotilla-test/broken-" + randomSuffix()
		layer := reg.add(t, broken, "v1", "broken "+randomSuffix())
		reg.mu.Lock()
		delete(reg.blobs, layer)
		reg.mu.Unlock()
		removeImage(t, host+"/"+broken+":v1")
		// The engine reports this one inside the progress stream.
		err := rt.Pull(ctx, host+"/"+broken+":v1", nil)
		if !errors.Is(err, agent.ErrNoSuchImage) || !errors.As(err, new(streamError)) {
			t.Fatalf("Pull = %v, want ErrNoSuchImage from the progress stream", err)
		}
	})
}

func TestPullAuth(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	reg, host := newRegistry(t, "flotilla", "s3cret")
	name := "flotilla-test/private-" + randomSuffix()
	reg.add(t, name, "v1", "private "+randomSuffix())
	ref := host + "/" + name + ":v1"
	removeImage(t, ref)

	for _, auth := range []*agent.RegistryAuth{nil, {Username: "flotilla", Password: "wrong", ServerAddress: host}} {
		if err := rt.Pull(ctx, ref, auth); !errors.Is(err, agent.ErrNoSuchImage) {
			t.Errorf("Pull with auth %+v = %v, want ErrNoSuchImage", auth, err)
		}
	}
	if err := rt.Pull(ctx, ref, &agent.RegistryAuth{Username: "flotilla", Password: "s3cret", ServerAddress: host}); err != nil {
		t.Fatalf("Pull with the right credentials: %v", err)
	}
	if ok, err := rt.ImagePresent(ctx, ref); err != nil || !ok {
		t.Fatalf("ImagePresent = %v, %v; want true", ok, err)
	}
}
