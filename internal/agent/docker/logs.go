package docker

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// Logs copies a container's stdout and stderr to w, demultiplexing the
// engine's stream unless the container has a TTY. With follow it copies new
// output until the container stops (returning nil) or ctx ends (returning
// ctx's error).
func (r *Runtime) Logs(ctx context.Context, id string, w io.Writer, follow bool) error {
	info, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		return containerErr("logs of", id, err)
	}
	rc, err := r.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return containerErr("logs of", id, err)
	}
	defer rc.Close()
	if info.Config != nil && info.Config.Tty {
		_, err = io.Copy(w, rc)
	} else {
		_, err = stdcopy.StdCopy(w, w, rc)
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("logs of container %s: %w", id, err)
	}
	return nil
}
