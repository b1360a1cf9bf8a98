package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"

	"github.com/flotilla/flotilla/internal/agent"
)

// ImagePresent reports whether image is available locally.
func (r *Runtime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := r.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}

// Pull fetches image, reading the engine's progress stream to its end. auth,
// if not nil, goes to the engine as the X-Registry-Auth header. Any failure
// the engine reports (bad reference, unknown registry, repository or tag,
// denied access) wraps agent.ErrNoSuchImage and keeps the engine's message;
// failing to reach the engine, or ctx ending, does not.
func (r *Runtime) Pull(ctx context.Context, ref string, auth *agent.RegistryAuth) error {
	var opts image.PullOptions
	if auth != nil {
		enc, err := registry.EncodeAuthConfig(registry.AuthConfig{
			Username:      auth.Username,
			Password:      auth.Password,
			ServerAddress: auth.ServerAddress,
		})
		if err != nil {
			return fmt.Errorf("pull %s: encode registry auth: %w", ref, err)
		}
		opts.RegistryAuth = enc
	}
	rc, err := r.cli.ImagePull(ctx, ref, opts)
	if err != nil {
		if ctx.Err() != nil || client.IsErrConnectionFailed(err) {
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		return fmt.Errorf("pull %s: %w: %w", ref, agent.ErrNoSuchImage, err)
	}
	defer rc.Close()
	if err := readProgress(rc); err != nil {
		var se streamError
		if errors.As(err, &se) {
			return fmt.Errorf("pull %s: %w: %w", ref, agent.ErrNoSuchImage, err)
		}
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

// streamError is an error the engine reported inside a progress stream.
type streamError struct{ msg string }

func (e streamError) Error() string { return e.msg }

// progressMessage is one JSON message of the engine's progress stream.
type progressMessage struct {
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readProgress reads a progress stream to its end and returns the first
// error it reports as a streamError.
func readProgress(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m progressMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return streamError{m.ErrorDetail.Message}
		}
		if m.Error != "" {
			return streamError{m.Error}
		}
	}
}
