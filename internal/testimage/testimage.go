// Package testimage builds the image Flotilla's tests run containers from:
// cmd/testapp compiled into a static binary, alone in a FROM scratch image,
// built through the Docker Engine API so that no registry is needed.
//
// Test binaries call Ensure from TestMain. It is safe to call from several
// test processes at once (builds are serialised by a file lock) and cheap
// when the image is current: the image carries the SHA-256 of the binary in
// a label, and Ensure rebuilds only when that differs.
package testimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Tag is the image the project's tests run.
const Tag = "flotilla/testapp:latest"

// HashLabel is the image label holding the hex SHA-256 of the testapp
// binary inside.
const HashLabel = "org.flotilla.testimage.sha256"

// dockerfile is the whole image: the binary and nothing else.
const dockerfile = `FROM scratch
COPY testapp /testapp
ENTRYPOINT ["/testapp"]
`

// Build compiles cmd/testapp and builds it into the image tag, replacing
// what the tag named before.
func Build(ctx context.Context, tag string) error {
	return ensure(ctx, tag, true)
}

// Ensure is Build, skipped when tag already holds the same binary.
func Ensure(ctx context.Context, tag string) error {
	return ensure(ctx, tag, false)
}

func ensure(ctx context.Context, tag string, force bool) error {
	bin, err := compile(ctx)
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	sum := sha256.Sum256(bin)
	hash := hex.EncodeToString(sum[:])

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("testimage: docker client: %w", err)
	}
	defer cli.Close()

	unlock, err := lock(ctx, filepath.Join(os.TempDir(), "flotilla-testimage.lock"))
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	defer unlock()

	var oldID string
	switch img, err := cli.ImageInspect(ctx, tag); {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("testimage: inspect %s: %w", tag, err)
	default:
		if !force && img.Config != nil && img.Config.Labels[HashLabel] == hash {
			return nil
		}
		oldID = img.ID
	}

	newID, err := buildImage(ctx, cli, tag, hash, bin)
	if err != nil {
		return fmt.Errorf("testimage: build %s: %w", tag, err)
	}
	if oldID != "" && oldID != newID {
		// Best effort: the old image stays if a container still uses it.
		_, _ = cli.ImageRemove(ctx, oldID, image.RemoveOptions{PruneChildren: true})
	}
	return nil
}

// compile builds cmd/testapp as a static Linux binary and returns it.
func compile(ctx context.Context) ([]byte, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testimage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "testapp")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s", "-o", out, "./cmd/testapp")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/testapp: %w: %s", err, bytes.TrimSpace(msg))
	}
	return os.ReadFile(out)
}

// moduleRoot finds the root of the flotilla module: from this file's path
// when the binary was built from a source tree, else from go env GOMOD.
func moduleRoot(ctx context.Context) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(root, "cmd", "testapp")); err == nil {
			return root, nil
		}
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("cannot find the module root: not in a module")
	}
	return filepath.Dir(gomod), nil
}

// buildImage runs the engine's (classic) builder on a context holding the
// Dockerfile and the binary, and returns the new image's id.
func buildImage(ctx context.Context, cli *client.Client, tag, hash string, bin []byte) (string, error) {
	tarball, err := buildContext(bin)
	if err != nil {
		return "", err
	}
	resp, err := cli.ImageBuild(ctx, tarball, build.ImageBuildOptions{
		Tags:        []string{tag},
		Labels:      map[string]string{HashLabel: hash},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	return readBuildStream(resp.Body)
}

// buildContext returns a tar archive of the Dockerfile and the binary.
func buildContext(bin []byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{"testapp", 0o755, bin},
	} {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: now, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// buildMessage is one JSON message of the engine's build output.
type buildMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux *struct {
		ID string `json:"ID"`
	} `json:"aux"`
}

// readBuildStream reads the build output to its end and returns the image id
// it reports, or the error it reports.
func readBuildStream(r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	var id string
	var tail []string // the last lines of output, for context in errors
	for {
		var m buildMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("read build output: %w", err)
		}
		if m.Error != "" || m.ErrorDetail != nil {
			msg := m.Error
			if msg == "" {
				msg = m.ErrorDetail.Message
			}
			return "", fmt.Errorf("%s (output: %s)", msg, strings.Join(tail, " | "))
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			tail = append(tail, s)
			if len(tail) > 5 {
				tail = tail[1:]
			}
		}
		if m.Aux != nil && m.Aux.ID != "" {
			id = m.Aux.ID
		}
	}
	if id == "" {
		return "", fmt.Errorf("no image id in build output (output: %s)", strings.Join(tail, " | "))
	}
	return id, nil
}
