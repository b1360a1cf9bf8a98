package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/link"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// DiscoverPollEndpoint tells an agent where to open its link.
func (s *Service) DiscoverPollEndpoint(ctx context.Context, in *wire.DiscoverPollEndpointRequest) (*wire.DiscoverPollEndpointResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if ref := ptr.Deref(in.ContainerInstance); ref != "" {
		c, id, err := s.instanceRef(cluster, ref)
		if err != nil {
			return nil, err
		}
		if err := s.authorizeInstance(ctx, c, id); err != nil {
			return nil, err
		}
	}
	ep := s.endpoint
	return &wire.DiscoverPollEndpointResponse{Endpoint: ptr.To(ep), TelemetryEndpoint: ptr.To(ep), ServiceConnectEndpoint: ptr.To(ep)}, nil
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
	heard   atomic.Int64 // when the agent was last heard, in Unix nanoseconds
}

// linkLease is how long an agent link's record (flotilla.AgentLink) stays
// valid after its last heartbeat: the link's own timeout, and one renewal
// interval for the holding server to write it.
const linkLease = link.DeadAfter + link.HeartbeatInterval

func leaseExpired(l *flotilla.AgentLink, now time.Time) bool {
	return !now.Before(l.HeartbeatAt.Add(linkLease))
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
		cluster, err := s.clusterName(&cref)
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
	conn.heard.Store(s.now().UnixNano())
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
			if err := s.disconnectLink(context.Background(), ci.Cluster, ci.ID, conn.id, s.now().UTC()); err != nil {
				log.Warn("mark agent disconnected", "err", err)
			}
			log.Info("agent disconnected")
		}
	}()
	if err := s.connectLink(ctx, ci.Cluster, ci.ID, conn.id, s.now().UTC()); err != nil {
		log.Warn("mark agent connected", "err", err)
		return
	}
	log.Info("agent connected", "server", s.server)

	// Reader: heartbeats, acks and health reports.
	go func() {
		defer cancel()
		for {
			_ = ws.SetReadDeadline(time.Now().Add(link.DeadAfter))
			var m link.Message
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			conn.heard.Store(s.now().UnixNano())
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
			switch err := s.renewLink(ctx, ci.Cluster, ci.ID, conn.id, time.Unix(0, conn.heard.Load()).UTC()); {
			case errors.Is(err, errLinkReplaced):
				log.Info("agent link replaced by a newer one")
				return
			case err != nil:
				// The store may be out of reach: the link itself is fine,
				// and the next beat tries again.
				log.Warn("renew agent link", "err", err)
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
		lt := link.Task{ARN: t.ARN, Family: t.Family, Revision: t.Revision, DesiredStatus: t.AgentDesiredStatus(),
			Definition: def, Overrides: t.Overrides}
		if lt.DesiredStatus == flotilla.TaskStopped {
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

// connectLink records that the instance's agent has a live link held by
// this server: the instance's agentConnected and LinkID, and the link's
// record (flotilla.AgentLink), in one transaction.
func (s *Service) connectLink(ctx context.Context, cluster, id, linkID string, now time.Time) error {
	ikey, lkey := flotilla.InstanceKey(cluster, id), flotilla.AgentLinkKey(cluster, id)
	for range store.UpdateAttempts {
		ci, mod, err := store.GetJSON[flotilla.ContainerInstance](ctx, s.store, ikey)
		if err != nil {
			return fmt.Errorf("read instance %s: %w", id, err)
		}
		if ci.Status == flotilla.InstanceInactive {
			return fmt.Errorf("instance %s is deregistered", id)
		}
		ci.AgentConnected, ci.LinkID, ci.DisconnectedAt = true, linkID, time.Time{}
		ci.Version++
		iop, err := store.PutJSON(ikey, ci)
		if err != nil {
			return err
		}
		lop, err := store.PutJSON(lkey, flotilla.AgentLink{Cluster: cluster, InstanceID: id, LinkID: linkID,
			Server: s.server, ConnectedAt: now, HeartbeatAt: now})
		if err != nil {
			return err
		}
		_, err = s.store.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: ikey, ModRevision: mod}}, Ops: []store.Op{iop, lop}})
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("connect instance %s: %w", id, store.ErrConflict)
}

// errLinkReplaced says that an instance's current link is another one.
var errLinkReplaced = errors.New("agent link replaced")

// renewLink renews a link's record with when the agent was last heard. When
// the record is gone (another server found it expired while this one could
// not reach the store) and the instance still names the link, the link is
// recorded again as connected; when the instance names another link, it
// returns errLinkReplaced.
func (s *Service) renewLink(ctx context.Context, cluster, id, linkID string, heard time.Time) error {
	lkey := flotilla.AgentLinkKey(cluster, id)
	l, mod, err := store.GetJSON[flotilla.AgentLink](ctx, s.store, lkey)
	switch {
	case err == nil && l.LinkID == linkID:
		l.HeartbeatAt, l.Server = later(l.HeartbeatAt, heard), s.server
		op, err := store.PutJSON(lkey, l)
		if err != nil {
			return err
		}
		_, err = s.store.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: lkey, ModRevision: mod}}, Ops: []store.Op{op}})
		if errors.Is(err, store.ErrConflict) {
			return nil // changed meanwhile: the next beat looks again
		}
		return err
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	ci, _, err := store.GetJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.InstanceKey(cluster, id))
	if err != nil {
		return fmt.Errorf("read instance %s: %w", id, err)
	}
	if ci.LinkID != linkID || ci.Status == flotilla.InstanceInactive {
		return errLinkReplaced
	}
	return s.connectLink(ctx, cluster, id, linkID, heard)
}

// disconnectLink records that an instance's link ended (or was found dead)
// as of at: it clears agentConnected, sets DisconnectedAt and deletes the
// link's record, only while the instance still names this link, so that an
// old link ending late cannot mark a reconnected agent disconnected.
func (s *Service) disconnectLink(ctx context.Context, cluster, id, linkID string, at time.Time) error {
	ikey, lkey := flotilla.InstanceKey(cluster, id), flotilla.AgentLinkKey(cluster, id)
	for range store.UpdateAttempts {
		ci, imod, err := store.GetJSON[flotilla.ContainerInstance](ctx, s.store, ikey)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read instance %s: %w", id, err)
		}
		l, lmod, err := store.GetJSON[flotilla.AgentLink](ctx, s.store, lkey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("read agent link %s: %w", id, err)
		}
		txn := store.Txn{Compares: []store.Compare{{Key: ikey, ModRevision: imod}, {Key: lkey, ModRevision: lmod}}}
		if ci.AgentConnected && ci.LinkID == linkID {
			ci.AgentConnected, ci.DisconnectedAt = false, at
			ci.Version++
			op, err := store.PutJSON(ikey, ci)
			if err != nil {
				return err
			}
			txn.Ops = append(txn.Ops, op)
		}
		if l != nil && l.LinkID == linkID {
			txn.Ops = append(txn.Ops, store.Op{Key: lkey, Delete: true})
		}
		if len(txn.Ops) == 0 {
			return nil
		}
		_, err = s.store.Txn(ctx, txn)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("disconnect instance %s: %w", id, store.ErrConflict)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Run does the service's housekeeping until ctx ends: every
// link.HeartbeatInterval it marks disconnected the agents whose link nobody
// holds any more (sweepLinks), and every minute it forgets STOPPED tasks
// after their retention. The placer (Config.Placer) runs apart.
func (s *Service) Run(ctx context.Context) error {
	if err := s.sweepLinks(ctx); err != nil {
		return err
	}
	sweep := time.NewTicker(link.HeartbeatInterval)
	defer sweep.Stop()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.closeLinks()
			return nil
		case <-sweep.C:
			if err := s.sweepLinks(ctx); err != nil {
				s.log.Warn("sweep agent links", "err", err)
			}
		case <-tick.C:
			if err := s.forgetStoppedTasks(ctx); err != nil {
				s.log.Warn("forget stopped tasks", "err", err)
			}
		}
	}
}

// sweepLinks marks disconnected every instance whose agent counts as
// connected but whose link nobody holds: its record expired (the server
// holding it went away or lost the store; the agent was last heard at the
// record's HeartbeatAt), its record names this server but the link is no
// longer here (it ended and the store did not take its end; as of the
// record's HeartbeatAt too), or there is no record of the instance's link
// (a store written by a release before links were recorded; as of now). A
// live link held by any server is left alone, and so are expired records'
// instances that a newer link took over.
func (s *Service) sweepLinks(ctx context.Context) error {
	insts, _, err := store.ListJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.InstancesPrefix, store.ListOptions{})
	if err != nil {
		return fmt.Errorf("list instances: %w", err)
	}
	leases, _, err := store.ListJSON[flotilla.AgentLink](ctx, s.store, flotilla.AgentLinksPrefix, store.ListOptions{})
	if err != nil {
		return fmt.Errorf("list agent links: %w", err)
	}
	byKey := map[string]*flotilla.AgentLink{}
	for i := range leases {
		l := &leases[i].Value
		byKey[flotilla.InstanceKey(l.Cluster, l.InstanceID)] = l
	}
	now := s.now().UTC()
	for _, it := range insts {
		ci := it.Value
		key := flotilla.InstanceKey(ci.Cluster, ci.ID)
		l := byKey[key]
		delete(byKey, key)
		if !ci.AgentConnected {
			if l != nil && leaseExpired(l, now) {
				// A record left behind: drop it.
				if err := s.disconnectLink(ctx, ci.Cluster, ci.ID, l.LinkID, now); err != nil {
					return err
				}
			}
			continue
		}
		s.links.mu.Lock()
		conn := s.links.conns[key]
		s.links.mu.Unlock()
		at := now
		switch {
		case conn != nil && conn.id == ci.LinkID:
			continue // held here
		case l != nil && l.LinkID == ci.LinkID && l.Server != s.server && !leaseExpired(l, now):
			continue // held by another live server
		case l != nil && l.LinkID == ci.LinkID:
			// Expired, or held here but ended (this server's live links
			// are in conns before they are recorded).
			at = l.HeartbeatAt
		}
		s.log.Info("agent link expired", "instance", ci.ARN, "last_heard", at)
		if err := s.disconnectLink(ctx, ci.Cluster, ci.ID, ci.LinkID, at); err != nil {
			return err
		}
	}
	// Records of instances that are no more.
	for i := range leases {
		it := &leases[i]
		l := &it.Value
		if byKey[flotilla.InstanceKey(l.Cluster, l.InstanceID)] != l || !leaseExpired(l, now) {
			continue
		}
		_, err := s.store.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: it.Key, ModRevision: it.ModRevision}},
			Ops: []store.Op{{Key: it.Key, Delete: true}}})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
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
