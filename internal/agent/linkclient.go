package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flotilla/flotilla/internal/backoff"
	"github.com/flotilla/flotilla/internal/link"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
)

// runLink keeps the link to the server open, reconnecting with backoff and
// jitter, until ctx ends.
func (a *Agent) runLink(ctx context.Context) {
	bo := backoff.New(200*time.Millisecond, 15*time.Second)
	for ctx.Err() == nil {
		start := time.Now()
		err := a.linkOnce(ctx)
		a.mu.Lock()
		a.connected = false
		a.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 2*link.DeadAfter {
			bo.Reset()
		}
		d := bo.Next()
		a.log.Warn("link to server lost; reconnecting", "err", err, "in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// linkOnce runs one link session.
func (a *Agent) linkOnce(ctx context.Context) error {
	a.mu.Lock()
	instanceARN, clusterARN := a.instanceARN, a.clusterARN
	a.mu.Unlock()
	var disc wire.DiscoverPollEndpointResponse
	if err := a.client.Call(ctx, "DiscoverPollEndpoint", &wire.DiscoverPollEndpointRequest{
		Cluster: ptr.To(clusterARN), ContainerInstance: ptr.To(instanceARN)}, &disc); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.Code == "UnrecognizedClientException" || ae.Code == "AccessDeniedException") {
			// The instance's credentials are gone: start again from ours.
			a.client.SetCredentials(a.cfg.AccessKeyID, a.cfg.SecretAccessKey)
			_ = a.state.update(func(s *State) { s.Credentials = nil })
		}
		return fmt.Errorf("discover poll endpoint: %w", err)
	}
	endpoint := ptr.Deref(disc.Endpoint)
	if endpoint == "" {
		endpoint = a.cfg.Server
	}
	u, err := url.Parse(strings.TrimRight(endpoint, "/") + link.Path)
	if err != nil {
		return fmt.Errorf("poll endpoint %q: %w", endpoint, err)
	}
	var seq int64
	a.state.view(func(s *State) { seq = s.Seq })
	q := url.Values{}
	q.Set(link.ParamCluster, clusterARN)
	q.Set(link.ParamInstance, instanceARN)
	q.Set(link.ParamSeq, strconv.FormatInt(seq, 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if err := a.client.SignRequest(ctx, req); err != nil {
		return err
	}
	wsURL := *u
	wsURL.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: a.cfg.TLS}
	ws, resp, err := dialer.DialContext(ctx, wsURL.String(), req.Header)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("open link: %s: %w", resp.Status, err)
		}
		return fmt.Errorf("open link: %w", err)
	}
	defer ws.Close()
	a.mu.Lock()
	a.connected = true
	a.mu.Unlock()
	a.log.Info("link open", "endpoint", endpoint)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var writeMu sync.Mutex
	send := func(m link.Message) error {
		writeMu.Lock()
		defer writeMu.Unlock()
		m.Time = time.Now().UTC()
		_ = ws.SetWriteDeadline(time.Now().Add(link.DeadAfter))
		return ws.WriteJSON(m)
	}
	go func() {
		<-ctx.Done()
		ws.Close()
	}()
	// Writer: heartbeats and health reports; all current health on connect.
	go func() {
		defer cancel()
		for _, h := range a.allHealth() {
			if send(link.Message{Type: link.TypeHealth, Health: h}) != nil {
				return
			}
		}
		beat := time.NewTicker(link.HeartbeatInterval)
		defer beat.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-beat.C:
				if send(link.Message{Type: link.TypeHeartbeat}) != nil {
					return
				}
			case arn := <-a.healthQ:
				if h := a.health(arn); h != nil {
					if send(link.Message{Type: link.TypeHealth, Health: h}) != nil {
						return
					}
				}
			}
		}
	}()
	// Reader: task sets and heartbeats.
	first := true
	for {
		_ = ws.SetReadDeadline(time.Now().Add(link.DeadAfter))
		var m link.Message
		if err := ws.ReadJSON(&m); err != nil {
			return fmt.Errorf("read link: %w", err)
		}
		switch m.Type {
		case link.TypeCredentials:
			if c := m.Credentials; c != nil && c.AccessKeyID != a.client.AccessKeyID() {
				if err := a.state.update(func(s *State) { s.Credentials = c }); err != nil {
					return err
				}
				a.client.SetCredentials(c.AccessKeyID, c.SecretAccessKey)
				a.log.Info("using the instance's own credentials", "access_key_id", c.AccessKeyID)
			}
		case link.TypeTasks:
			a.applyTasks(ctx, m.Seq, m.Tasks, first)
			first = false
			if err := send(link.Message{Type: link.TypeAck, Seq: m.Seq}); err != nil {
				return err
			}
		case link.TypeError:
			return fmt.Errorf("server closed the link: %s", m.Message)
		}
	}
}
