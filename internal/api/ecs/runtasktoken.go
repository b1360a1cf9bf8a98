package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// clientTokenRecord remembers what a RunTask with a client token did, so
// that a retry returns the same tasks.
type clientTokenRecord struct {
	Hash     string          `json:"hash"`
	TaskIDs  []string        `json:"taskIds"`
	Failures []failureRecord `json:"failures,omitempty"`
}

type failureRecord struct {
	Arn    string `json:"arn"`
	Reason string `json:"reason"`
}

func clientTokenKey(cluster, token string) string {
	return "/ecs/clienttokens/runtask/" + cluster + "/" + hex.EncodeToString([]byte(token))
}

// requestHash fingerprints a RunTask request without its client token.
func requestHash(in *wire.RunTaskRequest) string {
	c := *in
	c.ClientToken = nil
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// replayRunTask answers a RunTask whose client token was seen before: the
// same tasks for the same request, ConflictException for another one, and
// nil when the token is new.
func (s *Service) replayRunTask(ctx context.Context, cluster, token, hash string) (*wire.RunTaskResponse, error) {
	rec, _, err := store.GetJSON[clientTokenRecord](ctx, s.store, clientTokenKey(cluster, token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.Hash != hash {
		return nil, flotilla.Errorf(flotilla.EConflict, "The clientToken %q was already used with different parameters.", token)
	}
	out := &wire.RunTaskResponse{Tasks: []wire.Task{}, Failures: []wire.Failure{}}
	for _, id := range rec.TaskIDs {
		t, _, err := store.GetJSON[flotilla.Task](ctx, s.store, flotilla.TaskKey(cluster, id))
		if err != nil {
			return nil, err
		}
		out.Tasks = append(out.Tasks, *s.taskToWire(t, false))
	}
	for _, f := range rec.Failures {
		out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(f.Arn), Reason: ptr.To(f.Reason)})
	}
	return out, nil
}
