package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/link"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/store"
)

// DiscoverPollEndpoint tells an agent where to open its link.
func (s *Service) DiscoverPollEndpoint(ctx context.Context, in *wire.DiscoverPollEndpointRequest) (*wire.DiscoverPollEndpointResponse, error) {
	cluster, err := clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if ref := str(in.ContainerInstance); ref != "" {
		c, id, err := s.instanceRef(cluster, ref)
		if err != nil {
			return nil, err
		}
		if err := s.authorizeInstance(ctx, c, id); err != nil {
			return nil, err
		}
	}
	ep := s.endpoint
	return &wire.DiscoverPollEndpointResponse{Endpoint: ptr(ep), TelemetryEndpoint: ptr(ep), ServiceConnectEndpoint: ptr(ep)}, nil
}

// links tracks the live link of each instance, so that a replaced link's
// end does not mark a reconnected agent disconnected.
type links struct {
	mu    sync.Mutex
	conns map[string]*linkConn // instance key → live link
}

type linkConn struct {
	id      string // the instance's LinkID while this link is its current one
	ws      *websocket.Conn
	writeMu sync.Mutex
	cancel  context.CancelFunc
}

func (c *linkConn) send(m link.Message) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(link.DeadAfter))
	return c.ws.WriteJSON(m)
}

var upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 16384}

// LinkHandler serves agents' links (link.Path). The API server authenticates
// the request before it arrives here.
func (s *Service) LinkHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cref := q.Get(link.ParamCluster)
		cluster, err := clusterName(&cref)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ci, _, err := s.getInstance(r.Context(), cluster, q.Get(link.ParamInstance))
		if err != nil || ci.Status == flotilla.InstanceInactive {
			http.Error(w, "container instance not found or inactive", http.StatusNotFound)
			return
		}
		if err := s.authorizeInstance(r.Context(), ci.Cluster, ci.ID); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader answered
		}
		s.serveLink(ws, ci)
	})
}

// serveLink runs one agent link until either side drops it.
func (s *Service) serveLink(ws *websocket.Conn, ci *flotilla.ContainerInstance) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn := &linkConn{id: flotilla.NewID()[:16], ws: ws, cancel: cancel}
	key := flotilla.InstanceKey(ci.Cluster, ci.ID)
	log := s.log.With("instance", ci.ARN)

	s.links.mu.Lock()
	if old := s.links.conns[key]; old != nil {
		old.cancel()
	}
	s.links.conns[key] = conn
	s.links.mu.Unlock()
	defer func() {
		ws.Close()
		s.links.mu.Lock()
		current := s.links.conns[key] == conn
		if current {
			delete(s.links.conns, key)
		}
		s.links.mu.Unlock()
		if current {
			s.setAgentConnected(context.Background(), ci.Cluster, ci.ID, false, conn.id)
			log.Info("agent disconnected")
		}
	}()
	if err := s.setAgentConnected(ctx, ci.Cluster, ci.ID, true, conn.id); err != nil {
		log.Warn("mark agent connected", "err", err)
		return
	}
	log.Info("agent connected")

	// Reader: heartbeats, acks and health reports.
	go func() {
		defer cancel()
		for {
			_ = ws.SetReadDeadline(time.Now().Add(link.DeadAfter))
			var m link.Message
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			if m.Type == link.TypeHealth && m.Health != nil {
				if err := s.SetTaskHealth(ctx, ci.Cluster, ci.ID, m.Health.TaskARN, m.Health.Containers); err != nil {
					log.Debug("record health", "err", err)
				}
			}
		}
	}()

	// Writer: the full task set whenever it may have changed, and heartbeats.
	events, rev, err := s.watchInstanceTasks(ctx, ci.Cluster)
	if err != nil {
		log.Warn("watch tasks", "err", err)
		return
	}
	if ci.AgentKeyID != "" {
		k, _, err := store.GetJSON[instanceKey](ctx, s.store, instanceKeyKey(ci.AgentKeyID))
		if err != nil {
			log.Warn("read instance credentials", "err", err)
			return
		}
		if conn.send(link.Message{Type: link.TypeCredentials, Credentials: &link.Credentials{
			AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, Time: s.now().UTC()}) != nil {
			return
		}
	}
	send := func() bool {
		set, err := s.desiredTasks(ctx, ci.Cluster, ci.ID)
		if err != nil {
			log.Warn("read desired tasks", "err", err)
			return false
		}
		r, err := s.store.Rev(ctx)
		if err != nil {
			return false
		}
		rev = max(rev, r)
		return conn.send(link.Message{Type: link.TypeTasks, Seq: rev, Tasks: set, Time: s.now().UTC()}) == nil
	}
	if !send() {
		return
	}
	beat := time.NewTicker(link.HeartbeatInterval)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if conn.send(link.Message{Type: link.TypeHeartbeat, Time: s.now().UTC()}) != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				// The watch fell behind or ended: resubscribe and resend.
				events, rev, err = s.watchInstanceTasks(ctx, ci.Cluster)
				if err != nil || !send() {
					return
				}
				continue
			}
			if !touchesInstance(ev, ci.ID) {
				continue
			}
			// Coalesce a burst of changes into one set.
			drain(events, 10*time.Millisecond)
			if !send() {
				return
			}
		}
	}
}

func (s *Service) watchInstanceTasks(ctx context.Context, cluster string) (<-chan store.Event, int64, error) {
	rev, err := s.store.Rev(ctx)
	if err != nil {
		return nil, 0, err
	}
	ch, err := s.store.Watch(ctx, flotilla.ClusterTasksPrefix(cluster), rev)
	return ch, rev, err
}

// touchesInstance reports whether a task event concerns the instance.
func touchesInstance(ev store.Event, instanceID string) bool {
	for _, kv := range []*store.KV{&ev.KV, ev.PrevKV} {
		if kv == nil || len(kv.Value) == 0 {
			continue
		}
		var t struct {
			InstanceID string `json:"instanceId"`
		}
		if json.Unmarshal(kv.Value, &t) == nil && t.InstanceID == instanceID {
			return true
		}
	}
	return ev.Type == store.EventDelete && ev.PrevKV == nil
}

// drain takes whatever arrives on ch within d.
func drain(ch <-chan store.Event, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-t.C:
			return
		}
	}
}

// desiredTasks is the instance's task set: every task placed on it that the
// agent has not reported STOPPED.
func (s *Service) desiredTasks(ctx context.Context, cluster, instanceID string) ([]link.Task, error) {
	items, _, err := store.ListJSON[flotilla.Task](ctx, s.store, flotilla.ClusterTasksPrefix(cluster), store.ListOptions{})
	if err != nil {
		return nil, err
	}
	set := []link.Task{}
	for _, it := range items {
		t := it.Value
		if t.InstanceID != instanceID || t.LastStatus == flotilla.TaskStopped {
			continue
		}
		def, err := s.definitionJSON(ctx, t.TaskDefinitionARN)
		if err != nil {
			return nil, err
		}
		lt := link.Task{ARN: t.ARN, Family: t.Family, Revision: t.Revision, DesiredStatus: t.DesiredStatus,
			Definition: def, Overrides: t.Overrides}
		switch {
		case t.LastStatus == flotilla.TaskDeactivating:
			// Its targets are draining: it keeps serving until then.
			lt.DesiredStatus = flotilla.TaskRunning
		case t.DesiredStatus == flotilla.TaskStopped:
			lt.StopReason = t.StoppedReason
		}
		set = append(set, lt)
	}
	return set, nil
}

// definitionJSON returns a task definition revision's ECS JSON; revisions
// never change, so they are cached.
func (s *Service) definitionJSON(ctx context.Context, arn string) (json.RawMessage, error) {
	if v, ok := s.defs.Load(arn); ok {
		return v.(json.RawMessage), nil
	}
	rec, _, err := s.findTaskDefinition(ctx, arn)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(taskDefToWire(rec))
	if err != nil {
		return nil, err
	}
	s.defs.Store(arn, json.RawMessage(b))
	return b, nil
}

// setAgentConnected records whether an instance's agent has a live link.
// Connecting always writes the link's id; disconnecting only clears the
// flag while the instance still names this link, so an old link ending late
// cannot mark a reconnected agent disconnected.
func (s *Service) setAgentConnected(ctx context.Context, cluster, id string, connected bool, linkID string) error {
	_, err := s.updateInstance(ctx, cluster, id, func(ci *flotilla.ContainerInstance) error {
		if connected {
			ci.AgentConnected, ci.LinkID, ci.DisconnectedAt = true, linkID, time.Time{}
			return nil
		}
		if !ci.AgentConnected || ci.LinkID != linkID {
			return errUnchanged
		}
		ci.AgentConnected, ci.DisconnectedAt = false, s.now().UTC()
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

var errUnchanged = errors.New("unchanged")

// Run runs the placer that RunTask and StartTask place through, and does the
// service's housekeeping until ctx ends: at start it marks every agent
// disconnected (links do not survive a server restart; agents reconnect),
// then it forgets STOPPED tasks after their retention. RunTask and StartTask
// need Run running.
func (s *Service) Run(ctx context.Context) error {
	pctx, stopPlacer := context.WithCancel(ctx)
	placed := make(chan error, 1)
	go func() { placed <- s.placer.Run(pctx) }()
	defer func() { stopPlacer(); <-placed }()
	items, _, err := store.ListJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.InstancesPrefix, store.ListOptions{})
	if err != nil {
		return err
	}
	for _, it := range items {
		ci := it.Value
		if !ci.AgentConnected {
			continue
		}
		s.links.mu.Lock()
		conn := s.links.conns[flotilla.InstanceKey(ci.Cluster, ci.ID)]
		s.links.mu.Unlock()
		if conn != nil && conn.id == ci.LinkID {
			continue // its agent reconnected already
		}
		// A link from before the restart: clear it, unless a new link has
		// replaced its id meanwhile.
		if err := s.setAgentConnected(ctx, ci.Cluster, ci.ID, false, ci.LinkID); err != nil {
			return err
		}
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.closeLinks()
			return nil
		case <-tick.C:
			if err := s.forgetStoppedTasks(ctx); err != nil {
				s.log.Warn("forget stopped tasks", "err", err)
			}
		}
	}
}

// closeLinks ends every agent link (the server is stopping).
func (s *Service) closeLinks() {
	s.links.mu.Lock()
	defer s.links.mu.Unlock()
	for _, c := range s.links.conns {
		c.cancel()
	}
}

func (s *Service) forgetStoppedTasks(ctx context.Context) error {
	items, _, err := store.ListJSON[flotilla.Task](ctx, s.store, flotilla.TasksPrefix, store.ListOptions{})
	if err != nil {
		return err
	}
	cutoff := s.now().Add(-flotilla.StoppedTaskRetention)
	for _, it := range items {
		t := it.Value
		if t.LastStatus != flotilla.TaskStopped || t.StoppedAt.After(cutoff) {
			continue
		}
		key := flotilla.TaskKey(t.Cluster, t.ID)
		_, err := s.store.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: key, ModRevision: it.ModRevision}}, Ops: []store.Op{{Key: key, Delete: true}}})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}
