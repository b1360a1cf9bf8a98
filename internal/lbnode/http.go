package lbnode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flotilla/flotilla/internal/lb"
)

// Path is where the server serves nodes, with SigV4 authentication scoped
// to SigningName (the account's credentials, or the nodes' own, which may
// call nothing else):
//
//	GET  Path/config?after=N   long poll: Source.Config, answered as ConfigResponse
//	PUT  Path/nodes/NODE       a Report as JSON, up to MaxReportBytes: Source.Report
const Path = "/flotilla/lb/v1"

// SigningName is the service name nodes sign their requests with.
const SigningName = "elasticloadbalancing"

// ConfigResponse is the answer to GET Path/config.
type ConfigResponse struct {
	Revision int64     `json:"revision"`
	Config   lb.Config `json:"config"`
}

// privateChannel reports whether r came over TLS or from this host, the
// ways the certificates' private keys may be sent to a node.
func privateChannel(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// MaxReportBytes bounds a report's body: the server refuses a larger one
// with 413 Request Entity Too Large.
const MaxReportBytes = 1 << 20

// Handler serves src to nodes over HTTP at Path; register it for every
// path under Path + "/".
func Handler(src Source, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "lbnode-http")
	// Reports come every few seconds from every node: a write failure
	// that lasts is logged a few times, not on each.
	var failed failures
	fail := func(w http.ResponseWriter, status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, Path+"/")
		switch {
		case ok && rest == "config" && r.Method == http.MethodGet:
			var after int64
			if v := r.URL.Query().Get("after"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					fail(w, http.StatusBadRequest, "after must be a revision")
					return
				}
				after = n
			}
			cfg, rev, err := src.Config(r.Context(), after)
			switch {
			case errors.Is(err, ErrNoConfig):
				fail(w, http.StatusServiceUnavailable, err.Error())
				return
			case err != nil:
				if r.Context().Err() == nil {
					log.Warn("configuration for a node", "err", err)
					fail(w, http.StatusInternalServerError, "the configuration could not be read")
				}
				return
			}
			if len(cfg.Certificates) > 0 && !privateChannel(r) {
				// Private keys do not cross a network in the clear: this
				// node's HTTPS listeners go without them.
				log.Warn("certificates withheld from a node that is not on this host and not over TLS; its HTTPS listeners will not open",
					"remote_addr", r.RemoteAddr)
				cfg.Certificates = nil
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(ConfigResponse{Revision: rev, Config: cfg})
		case ok && strings.HasPrefix(rest, "nodes/") && r.Method == http.MethodPut:
			node := strings.TrimPrefix(rest, "nodes/")
			var rep Report
			var tooLarge *http.MaxBytesError
			switch err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxReportBytes)).Decode(&rep); {
			case errors.As(err, &tooLarge):
				fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the report is larger than %d bytes", MaxReportBytes))
				return
			case err != nil:
				fail(w, http.StatusBadRequest, "the report is not valid JSON")
				return
			}
			if rep.Node != node {
				fail(w, http.StatusBadRequest, "the report names another node than the path")
				return
			}
			err := src.Report(r.Context(), rep)
			switch {
			case errors.Is(err, ErrInvalidNode):
				fail(w, http.StatusBadRequest, err.Error())
			case errors.Is(err, ErrTooManyNodes):
				// The node may report once another has stopped.
				w.Header().Set("Retry-After", strconv.Itoa(int(ReportTTL/time.Second)))
				fail(w, http.StatusTooManyRequests, err.Error())
			case err != nil:
				if r.Context().Err() != nil {
					break
				}
				if k, ok := failed.fail(); ok {
					log.Warn("store a node's report", "node", node, "err", err, "failures", k)
				}
				if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
					fail(w, http.StatusServiceUnavailable, "the report could not be stored: the server's disk is full")
				} else {
					fail(w, http.StatusInternalServerError, "the report could not be stored")
				}
			default:
				if k := failed.ok(); k > 0 {
					log.Info("stored nodes' reports again", "failures", k)
				}
				w.WriteHeader(http.StatusNoContent)
			}
		default:
			fail(w, http.StatusNotFound, "no such resource")
		}
	})
}

// HTTPSource is a Source at a Flotilla server's URL, reached with
// SigV4-signed requests.
type HTTPSource struct {
	endpoint string
	region   string
	creds    aws.Credentials
	signer   *v4.Signer
	client   *http.Client
}

// NewHTTPSource returns the Source of the server at endpoint (such as
// http://127.0.0.1:9400), signing with the given credentials for region,
// over TLS with tlsConf when endpoint is an https URL (nil: Go's
// defaults).
func NewHTTPSource(endpoint, region, accessKeyID, secretAccessKey string, tlsConf *tls.Config) *HTTPSource {
	return &HTTPSource{
		endpoint: strings.TrimRight(endpoint, "/"),
		region:   region,
		creds:    aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey},
		signer:   v4.NewSigner(),
		client: &http.Client{
			// A long poll answers within PollTimeout.
			Timeout:   PollTimeout + 30*time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute, TLSClientConfig: tlsConf},
		},
	}
}

// Config implements Source.
func (s *HTTPSource) Config(ctx context.Context, afterRevision int64) (lb.Config, int64, error) {
	var out ConfigResponse
	u := s.endpoint + Path + "/config?after=" + strconv.FormatInt(afterRevision, 10)
	if err := s.do(ctx, http.MethodGet, u, nil, &out); err != nil {
		return lb.Config{}, 0, fmt.Errorf("get the configuration: %w", err)
	}
	return out.Config, out.Revision, nil
}

// Report implements Source.
func (s *HTTPSource) Report(ctx context.Context, r Report) error {
	if !ValidNode(r.Node) {
		return fmt.Errorf("%w: %q", ErrInvalidNode, r.Node)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	if err := s.do(ctx, http.MethodPut, s.endpoint+Path+"/nodes/"+url.PathEscape(r.Node), body, nil); err != nil {
		return fmt.Errorf("send the report: %w", err)
	}
	return nil
}

// StatusError is a server's refusal of a request.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// do sends a signed request and decodes the JSON answer into out.
func (s *HTTPSource) do(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	if err := s.signer.SignHTTP(ctx, s.creds, req, hex.EncodeToString(sum[:]), SigningName, s.region, time.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		var e struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return &StatusError{Status: resp.StatusCode, Message: msg}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}
