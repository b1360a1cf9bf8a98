package ecs

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// linkWorld is an ECS service over a real bbolt file, with a clock the
// test moves.
type linkWorld struct {
	t   *testing.T
	st  store.Store
	s   *Service
	now time.Time
}

func newLinkWorld(t *testing.T) *linkWorld {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &linkWorld{t: t, st: st, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	w.s = New(Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: "123456789012"}, Clock: func() time.Time { return w.now }})
	if _, err := w.s.CreateCluster(context.Background(), &wire.CreateClusterRequest{ClusterName: ptr.To("c")}); err != nil {
		t.Fatal(err)
	}
	return w
}

// register registers an instance and returns its ID.
func (w *linkWorld) register() string {
	w.t.Helper()
	res := []wire.Resource{{Name: ptr.To("CPU"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(2048))},
		{Name: ptr.To("MEMORY"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(1000))}}
	reg, err := w.s.RegisterContainerInstance(context.Background(), &wire.RegisterContainerInstanceRequest{Cluster: ptr.To("c"), TotalResources: res})
	if err != nil {
		w.t.Fatal(err)
	}
	_, id, _ := w.s.instanceRef("c", ptr.Deref(reg.ContainerInstance.ContainerInstanceArn))
	return id
}

func (w *linkWorld) instance(id string) *flotilla.ContainerInstance {
	w.t.Helper()
	ci, _, err := store.GetJSON[flotilla.ContainerInstance](context.Background(), w.st, flotilla.InstanceKey("c", id))
	if err != nil {
		w.t.Fatal(err)
	}
	return ci
}

func (w *linkWorld) lease(id string) *flotilla.AgentLink {
	w.t.Helper()
	l, _, err := store.GetJSON[flotilla.AgentLink](context.Background(), w.st, flotilla.AgentLinkKey("c", id))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return l
}

// TestLinkLiveness checks that an agent link's liveness lives in the store:
// connecting records the link and which server holds it, a server's sweep
// leaves other servers' live links alone, marks an expired one, or one of
// its own that is no longer there, disconnected as of its last heartbeat,
// and an instance from before links were recorded disconnected as of now.
func TestLinkLiveness(t *testing.T) {
	ctx := context.Background()
	w := newLinkWorld(t)
	held, expired, legacy, ended := w.register(), w.register(), w.register(), w.register()

	// Another server (another Service over the same store) holds two links.
	other := New(Config{Store: w.st, Account: w.s.acct, Clock: func() time.Time { return w.now }})
	start := w.now
	for _, id := range []string{held, expired} {
		if err := other.connectLink(ctx, "c", id, "link-"+id, w.now); err != nil {
			t.Fatal(err)
		}
	}
	if l := w.lease(held); l == nil || l.Server != other.server || l.LinkID != "link-"+held || !l.HeartbeatAt.Equal(start) {
		t.Fatalf("lease = %+v, want held by %s since %v", l, other.server, start)
	}
	if ci := w.instance(held); !ci.AgentConnected || ci.LinkID != "link-"+held {
		t.Fatalf("instance = %+v, want connected on its link", ci)
	}
	// A link of this server that ended without the store taking it.
	if err := w.s.connectLink(ctx, "c", ended, "link-"+ended, w.now); err != nil {
		t.Fatal(err)
	}
	// A store written before links were recorded: connected, no record.
	if _, err := w.s.updateInstance(ctx, "c", legacy, func(ci *flotilla.ContainerInstance) error {
		ci.AgentConnected, ci.LinkID = true, "old-link"
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// 10 s on, the other server renews one link only.
	w.now = start.Add(10 * time.Second)
	if err := other.renewLink(ctx, "c", held, "link-"+held, w.now); err != nil {
		t.Fatal(err)
	}
	if err := w.s.sweepLinks(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{held, expired} {
		if ci := w.instance(id); !ci.AgentConnected {
			t.Errorf("instance %s disconnected while its link's lease runs", id)
		}
	}
	if ci := w.instance(ended); ci.AgentConnected || !ci.DisconnectedAt.Equal(start) || w.lease(ended) != nil {
		t.Errorf("instance whose link here ended = connected %v since %v, want disconnected at %v", ci.AgentConnected, ci.DisconnectedAt, start)
	}
	if ci := w.instance(legacy); ci.AgentConnected || !ci.DisconnectedAt.Equal(w.now) {
		t.Errorf("legacy instance = connected %v since %v, want disconnected at %v", ci.AgentConnected, ci.DisconnectedAt, w.now)
	}

	// Past the lease of the link not renewed: disconnected as of its last
	// heartbeat, its record gone; the renewed one stays.
	w.now = start.Add(linkLease + time.Second)
	if err := w.s.sweepLinks(ctx); err != nil {
		t.Fatal(err)
	}
	if ci := w.instance(expired); ci.AgentConnected || !ci.DisconnectedAt.Equal(start) {
		t.Errorf("expired instance = connected %v since %v, want disconnected at %v", ci.AgentConnected, ci.DisconnectedAt, start)
	}
	if l := w.lease(expired); l != nil {
		t.Errorf("expired lease left: %+v", l)
	}
	if ci := w.instance(held); !ci.AgentConnected {
		t.Error("instance with a renewed link disconnected")
	}
}

// TestLinkRenewal checks what a server holding a link does on its beat: it
// records the link again when another server swept it while this one could
// not reach the store (the link is alive), and gives the link up when the
// instance has a newer one; and that an old link's end leaves a newer one.
func TestLinkRenewal(t *testing.T) {
	ctx := context.Background()
	w := newLinkWorld(t)
	id := w.register()
	start := w.now
	if err := w.s.connectLink(ctx, "c", id, "l1", w.now); err != nil {
		t.Fatal(err)
	}
	// Cut off from the store for a while: another server finds the lease
	// expired and marks the instance disconnected.
	w.now = start.Add(time.Minute)
	other := New(Config{Store: w.st, Account: w.s.acct, Clock: func() time.Time { return w.now }})
	if err := other.sweepLinks(ctx); err != nil {
		t.Fatal(err)
	}
	if ci := w.instance(id); ci.AgentConnected {
		t.Fatal("expired link not swept")
	}
	// Back: the renewal records the live link again.
	if err := w.s.renewLink(ctx, "c", id, "l1", w.now); err != nil {
		t.Fatal(err)
	}
	if ci, l := w.instance(id), w.lease(id); !ci.AgentConnected || !ci.DisconnectedAt.IsZero() || l == nil || l.Server != w.s.server {
		t.Fatalf("after renewal: instance %+v, lease %+v", ci, l)
	}
	// The agent opens a new link on the other server: the old one's
	// renewal says it is replaced, and its end changes nothing.
	if err := other.connectLink(ctx, "c", id, "l2", w.now); err != nil {
		t.Fatal(err)
	}
	if err := w.s.renewLink(ctx, "c", id, "l1", w.now); !errors.Is(err, errLinkReplaced) {
		t.Fatalf("renewal of a replaced link: %v, want errLinkReplaced", err)
	}
	if err := w.s.disconnectLink(ctx, "c", id, "l1", w.now); err != nil {
		t.Fatal(err)
	}
	if ci, l := w.instance(id), w.lease(id); !ci.AgentConnected || ci.LinkID != "l2" || l == nil || l.LinkID != "l2" {
		t.Fatalf("old link's end changed the new one: instance %+v, lease %+v", ci, l)
	}
	// The new link ends: disconnected as of then, record gone.
	if err := other.disconnectLink(ctx, "c", id, "l2", w.now); err != nil {
		t.Fatal(err)
	}
	if ci, l := w.instance(id), w.lease(id); ci.AgentConnected || !ci.DisconnectedAt.Equal(w.now) || l != nil {
		t.Fatalf("after the end: instance %+v, lease %+v", ci, l)
	}
}
