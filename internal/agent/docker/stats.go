package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/container"

	"github.com/flotilla/flotilla/internal/agent"
)

// Stats returns one sample of a running container's resource use. The
// engine takes about a second to answer, sampling CPU use twice so that
// CPUPercent is computed over that interval. A container that is not
// running is an error.
func (r *Runtime) Stats(ctx context.Context, id string) (agent.Stats, error) {
	resp, err := r.cli.ContainerStats(ctx, id, false)
	if err != nil {
		return agent.Stats{}, containerErr("stats of", id, err)
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return agent.Stats{}, fmt.Errorf("stats of container %s: decode: %w", id, err)
	}
	if s.Read.IsZero() {
		return agent.Stats{}, fmt.Errorf("stats of container %s: %w", id, errNotRunning)
	}
	return agent.Stats{
		Time:          s.Read,
		CPUPercent:    cpuPercent(s),
		MemoryBytes:   int64(memoryUsage(s.MemoryStats)),
		MemoryLimit:   int64(s.MemoryStats.Limit),
		CPUTotalNanos: s.CPUStats.CPUUsage.TotalUsage,
	}, nil
}

var errNotRunning = errors.New("container is not running")

// cpuPercent is the container's CPU use between the two samples in s, in
// percent of one core, as `docker stats` computes it.
func cpuPercent(s container.StatsResponse) float64 {
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	systemDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	cpus := float64(s.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpuDelta <= 0 || systemDelta <= 0 {
		return 0
	}
	return cpuDelta / systemDelta * cpus * 100
}

// memoryUsage is the container's memory use less its inactive page cache,
// as `docker stats` computes it, for cgroup v1 and v2.
func memoryUsage(m container.MemoryStats) uint64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage { // cgroup v1
		return m.Usage - v
	}
	if v := m.Stats["inactive_file"]; v < m.Usage { // cgroup v2
		return m.Usage - v
	}
	return m.Usage
}
