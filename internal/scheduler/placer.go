package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/store"
)

// Placer places tasks for every caller of one store. It keeps a Snapshot of
// each cluster it has placed in, fed by watches on the cluster's instances
// and tasks, takes concurrent placement requests, places them in batches on
// the snapshot (pure, incremental accounting), and commits each batch in one
// transaction that compares the revision of every instance it reserves on.
// Two placers (or a placer and any other writer) can therefore never
// over-commit an instance: a conflict reloads the instances concerned and
// places the batch again.
type Placer struct {
	store    store.Store
	log      *slog.Logger
	jobs     chan *job
	maxBatch int
	clusters map[string]*clusterCache // owned by Run's goroutine
	events   chan clusterEvent
}

// PlaceRequest asks for tasks of one request.
type PlaceRequest struct {
	Cluster string
	// Plan orders and filters the instances; Count tasks are placed.
	Plan  *Plan
	Count int
	// Named, when set, places one task on each named instance (StartTask):
	// no plan, no strategies.
	Named   []string
	Request Request
	// NewTask builds the task placed on an instance.
	NewTask func(ci *flotilla.ContainerInstance) flotilla.Task
	// Extra, when set, adds to the commit (a client token's record); such a
	// request commits in a transaction of its own, and a failed comparison
	// of its own is answered with store.ErrConflict instead of retried.
	Extra func(tasks []flotilla.Task, failures []Failure) store.Txn
}

// PlaceResult is what a request got.
type PlaceResult struct {
	Tasks    []flotilla.Task
	Failures []Failure
}

type job struct {
	ctx  context.Context
	req  PlaceRequest
	done chan jobResult
}

type jobResult struct {
	res PlaceResult
	err error
}

// NewPlacer returns a placer over st; Run must be running for Place to
// answer.
func NewPlacer(st store.Store, log *slog.Logger) *Placer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Placer{store: st, log: log.With("component", "scheduler"), jobs: make(chan *job, 4096), maxBatch: 512,
		clusters: map[string]*clusterCache{}, events: make(chan clusterEvent, 4096)}
}

// Place places a request's tasks and commits them; it waits for the commit.
func (p *Placer) Place(ctx context.Context, req PlaceRequest) (PlaceResult, error) {
	j := &job{ctx: ctx, req: req, done: make(chan jobResult, 1)}
	select {
	case p.jobs <- j:
	case <-ctx.Done():
		return PlaceResult{}, ctx.Err()
	}
	select {
	case r := <-j.done:
		return r.res, r.err
	case <-ctx.Done():
		return PlaceResult{}, ctx.Err()
	}
}

// Run places requests until ctx ends.
func (p *Placer) Run(ctx context.Context) error {
	defer func() {
		for _, c := range p.clusters {
			c.cancel()
		}
		clear(p.clusters)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-p.events:
			p.apply(ev)
		case j := <-p.jobs:
			batch := []*job{j}
		collect:
			for len(batch) < p.maxBatch {
				select {
				case j := <-p.jobs:
					batch = append(batch, j)
				default:
					break collect
				}
			}
			p.drainEvents()
			p.run(ctx, batch)
		}
	}
}

// drainEvents applies every store change already delivered, so that a batch
// starts from the newest state the placer has seen.
func (p *Placer) drainEvents() {
	for {
		select {
		case ev := <-p.events:
			p.apply(ev)
		default:
			return
		}
	}
}

// run places and commits a batch: requests with their own commit data alone,
// the others together per cluster.
func (p *Placer) run(ctx context.Context, batch []*job) {
	byCluster := map[string][]*job{}
	var order []string
	for _, j := range batch {
		if j.ctx.Err() != nil {
			j.done <- jobResult{err: j.ctx.Err()}
			continue
		}
		if j.req.Extra != nil {
			p.commit(ctx, j.req.Cluster, []*job{j})
			continue
		}
		if _, ok := byCluster[j.req.Cluster]; !ok {
			order = append(order, j.req.Cluster)
		}
		byCluster[j.req.Cluster] = append(byCluster[j.req.Cluster], j)
	}
	for _, c := range order {
		p.commit(ctx, c, byCluster[c])
	}
}

const maxCommitAttempts = 20

// commit places the jobs of one cluster on its snapshot and commits them in
// one transaction, retrying on conflict.
func (p *Placer) commit(ctx context.Context, cluster string, jobs []*job) {
	fail := func(err error) {
		for _, j := range jobs {
			j.done <- jobResult{err: err}
		}
	}
	c, err := p.cluster(ctx, cluster)
	if err != nil {
		fail(err)
		return
	}
	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		type placed struct {
			instanceID, group string
			res               flotilla.Reservation
		}
		var undo []placed
		results := make([]PlaceResult, len(jobs))
		touched := map[string]bool{}
		var txn store.Txn
		for n, j := range jobs {
			var ps []Placement
			var fs []Failure
			if j.req.Named != nil {
				ps, fs = c.snap.PlaceOn(j.req.Request, j.req.Named)
			} else {
				ps, fs = c.snap.Place(j.req.Plan, j.req.Request, j.req.Count)
			}
			results[n].Failures = fs
			for _, pl := range ps {
				ci := c.instances[pl.InstanceID]
				ci.rec.Reserve(j.req.Request.Reservation)
				ci.rec.PendingTasksCount++
				ci.rec.Version++
				touched[pl.InstanceID] = true
				undo = append(undo, placed{pl.InstanceID, j.req.Request.Group, j.req.Request.Reservation})
				t := j.req.NewTask(&ci.rec)
				results[n].Tasks = append(results[n].Tasks, t)
				b, err := json.Marshal(t)
				if err != nil {
					fail(fmt.Errorf("encode task: %w", err))
					return
				}
				txn.Ops = append(txn.Ops, store.Op{Key: flotilla.TaskKey(cluster, t.ID), Value: b})
			}
			if j.req.Extra != nil {
				extra := j.req.Extra(results[n].Tasks, results[n].Failures)
				txn.Compares = append(txn.Compares, extra.Compares...)
				txn.Ops = append(txn.Ops, extra.Ops...)
			}
		}
		for id := range touched {
			ci := c.instances[id]
			b, err := json.Marshal(&ci.rec)
			if err != nil {
				fail(fmt.Errorf("encode instance: %w", err))
				return
			}
			key := flotilla.InstanceKey(cluster, id)
			txn.Compares = append(txn.Compares, store.Compare{Key: key, ModRevision: ci.modRev})
			txn.Ops = append(txn.Ops, store.Op{Key: key, Value: b})
		}
		if len(txn.Ops) == 0 && len(txn.Compares) == 0 {
			for n, j := range jobs {
				j.done <- jobResult{res: results[n]}
			}
			return
		}
		rev, err := p.store.Txn(ctx, txn)
		if err == nil {
			for id := range touched {
				c.instances[id].modRev = rev
			}
			for n, j := range jobs {
				for _, t := range results[n].Tasks {
					c.addTask(t.ID, t.InstanceID, t.Group, t.Reservation)
				}
				j.done <- jobResult{res: results[n]}
			}
			return
		}
		// Undo the batch on the snapshot and on the cached records.
		for i := len(undo) - 1; i >= 0; i-- {
			u := undo[i]
			c.snap.Release(u.instanceID, u.group, u.res)
			ci := c.instances[u.instanceID]
			ci.rec.Release(u.res)
			ci.rec.PendingTasksCount--
			ci.rec.Version--
		}
		if !errors.Is(err, store.ErrConflict) {
			fail(err)
			return
		}
		if len(jobs) == 1 && jobs[0].req.Extra != nil && len(touched) == 0 {
			fail(err) // the request's own comparison failed
			return
		}
		// Someone else changed an instance: reload the ones we touched.
		for id := range touched {
			if err := c.reload(ctx, p.store, id); err != nil {
				fail(err)
				return
			}
		}
		if len(jobs) == 1 && jobs[0].req.Extra != nil {
			// Was it our own comparison? Retrying cannot tell apart forever.
			if attempt > 2 {
				fail(err)
				return
			}
		}
	}
	fail(fmt.Errorf("place tasks: %w after %d attempts", store.ErrConflict, maxCommitAttempts))
}

// clusterCache is the placer's view of one cluster.
type clusterCache struct {
	name      string
	snap      *Snapshot
	instances map[string]*cachedInstance
	// tasks the snapshot counts: live (desired status not STOPPED).
	tasks  map[string]cachedTask
	cancel context.CancelFunc
}

type cachedInstance struct {
	rec    flotilla.ContainerInstance
	modRev int64
	groups map[string]int // group → live tasks on the instance
}

type cachedTask struct {
	instanceID, group string
	res               flotilla.Reservation
}

type clusterEvent struct {
	cluster string
	cache   *clusterCache // the cache the watch feeds; events of a replaced one are dropped
	ev      store.Event
	reset   bool // the watch broke: reload the cluster
}

// cluster returns the cache of a cluster, loading it and starting its watch
// on first use.
func (p *Placer) cluster(ctx context.Context, name string) (*clusterCache, error) {
	if c, ok := p.clusters[name]; ok {
		return c, nil
	}
	c := &clusterCache{name: name, instances: map[string]*cachedInstance{}, tasks: map[string]cachedTask{}}
	rev, err := c.load(ctx, p.store)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, prefix := range []string{flotilla.ClusterInstancesPrefix(name), flotilla.ClusterTasksPrefix(name)} {
		ch, err := p.store.Watch(wctx, prefix, rev)
		if err != nil {
			cancel()
			return nil, err
		}
		go func() {
			for ev := range ch {
				select {
				case p.events <- clusterEvent{cluster: name, cache: c, ev: ev}:
				case <-wctx.Done():
					return
				}
			}
			if wctx.Err() == nil {
				select {
				case p.events <- clusterEvent{cluster: name, cache: c, reset: true}:
				case <-wctx.Done():
				}
			}
		}()
	}
	p.clusters[name] = c
	return c, nil
}

// load reads the cluster's instances and tasks and builds the snapshot.
func (c *clusterCache) load(ctx context.Context, st store.Store) (int64, error) {
	ikvs, rev, err := st.List(ctx, flotilla.ClusterInstancesPrefix(c.name), store.ListOptions{})
	if err != nil {
		return 0, err
	}
	tkvs, _, err := st.List(ctx, flotilla.ClusterTasksPrefix(c.name), store.ListOptions{})
	if err != nil {
		return 0, err
	}
	// The tasks list may be newer than rev; the watch from rev replays the
	// difference, and applying a change twice is harmless.
	var list []flotilla.ContainerInstance
	for _, kv := range ikvs {
		var ci flotilla.ContainerInstance
		if err := json.Unmarshal(kv.Value, &ci); err != nil {
			return 0, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		c.instances[ci.ID] = &cachedInstance{rec: ci, modRev: kv.ModRevision, groups: map[string]int{}}
		list = append(list, ci)
	}
	groups := map[string][]string{}
	for _, kv := range tkvs {
		var t flotilla.Task
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return 0, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		if t.DesiredStatus == flotilla.TaskStopped || t.InstanceID == "" {
			continue
		}
		c.tasks[t.ID] = cachedTask{t.InstanceID, t.Group, t.Reservation}
		if ci := c.instances[t.InstanceID]; ci != nil {
			ci.groups[t.Group]++
		}
		groups[t.InstanceID] = append(groups[t.InstanceID], t.Group)
	}
	c.snap = NewSnapshot(list, groups)
	return rev, nil
}

// addTask records a task the placer just committed.
func (c *clusterCache) addTask(id, instanceID, group string, r flotilla.Reservation) {
	c.tasks[id] = cachedTask{instanceID, group, r}
	if ci := c.instances[instanceID]; ci != nil {
		ci.groups[group]++
	}
}

// reload refreshes one instance from the store.
func (c *clusterCache) reload(ctx context.Context, st store.Store, id string) error {
	kv, err := st.Get(ctx, flotilla.InstanceKey(c.name, id))
	if errors.Is(err, store.ErrNotFound) {
		c.snap.Remove(id)
		delete(c.instances, id)
		return nil
	}
	if err != nil {
		return err
	}
	c.putInstance(kv)
	return nil
}

// putInstance takes a stored instance into the cache and the snapshot.
func (c *clusterCache) putInstance(kv *store.KV) {
	var ci flotilla.ContainerInstance
	if json.Unmarshal(kv.Value, &ci) != nil {
		return
	}
	cached := c.instances[ci.ID]
	if cached != nil && kv.ModRevision <= cached.modRev {
		return // the placer's own commit, or older
	}
	if cached == nil {
		cached = &cachedInstance{groups: map[string]int{}}
		c.instances[ci.ID] = cached
	}
	cached.rec, cached.modRev = ci, kv.ModRevision
	c.snap.Update(ci, cached.groupList())
}

func (ci *cachedInstance) groupList() []string {
	var out []string
	for g, n := range ci.groups {
		for range n {
			out = append(out, g)
		}
	}
	return out
}

// apply takes one watched change into a cluster's cache.
func (p *Placer) apply(e clusterEvent) {
	c := p.clusters[e.cluster]
	if c == nil || c != e.cache {
		return // the cluster was reloaded since: this event is already in its list
	}
	if e.reset {
		c.cancel()
		delete(p.clusters, e.cluster) // loaded again on next use
		return
	}
	key := e.ev.KV.Key
	switch {
	case strings.HasPrefix(key, flotilla.ClusterInstancesPrefix(c.name)):
		if e.ev.Type == store.EventDelete {
			id := key[strings.LastIndexByte(key, '/')+1:]
			c.snap.Remove(id)
			delete(c.instances, id)
			return
		}
		c.putInstance(&e.ev.KV)
	case strings.HasPrefix(key, flotilla.ClusterTasksPrefix(c.name)):
		id := key[strings.LastIndexByte(key, '/')+1:]
		live := false
		if e.ev.Type == store.EventPut {
			var t struct {
				DesiredStatus string `json:"desiredStatus"`
			}
			live = json.Unmarshal(e.ev.KV.Value, &t) == nil && t.DesiredStatus != flotilla.TaskStopped
		}
		if ct, ok := c.tasks[id]; ok && !live {
			// The task no longer counts in its group. Its resources come
			// back when its instance's record says so (the task STOPPED).
			delete(c.tasks, id)
			if ci := c.instances[ct.instanceID]; ci != nil {
				ci.groups[ct.group]--
				if ci.groups[ct.group] <= 0 {
					delete(ci.groups, ct.group)
				}
				c.snap.Update(ci.rec, ci.groupList())
			}
		} else if !ok && live {
			var t flotilla.Task
			if json.Unmarshal(e.ev.KV.Value, &t) == nil && t.InstanceID != "" {
				c.addTask(t.ID, t.InstanceID, t.Group, t.Reservation)
				if ci := c.instances[t.InstanceID]; ci != nil {
					c.snap.Update(ci.rec, ci.groupList())
				}
			}
		}
	}
}
