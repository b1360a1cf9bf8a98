package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	wire "github.com/flotilla/flotilla/internal/model/ecs"
)

// Client calls the server's ECS API with SigV4-signed JSON 1.1 requests,
// speaking the generated wire types.
type Client struct {
	Endpoint string // e.g. http://127.0.0.1:9400
	Region   string
	HTTP     *http.Client
	signer   *v4.Signer

	mu    sync.Mutex
	creds aws.Credentials
}

// NewClient returns a client for the server at endpoint, over TLS with
// tlsConf when it is an https URL (nil: Go's defaults).
func NewClient(endpoint, region, accessKeyID, secretAccessKey string, tlsConf *tls.Config) *Client {
	return &Client{
		Endpoint: strings.TrimRight(endpoint, "/"),
		Region:   region,
		creds:    aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey},
		HTTP:     &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute, TLSClientConfig: tlsConf}},
		signer:   v4.NewSigner(),
	}
}

// SetCredentials changes the key pair later calls sign with.
func (c *Client) SetCredentials(accessKeyID, secretAccessKey string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.creds = aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey}
}

// AccessKeyID is the key later calls sign with.
func (c *Client) AccessKeyID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creds.AccessKeyID
}

func (c *Client) credentials() aws.Credentials {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creds
}

// APIError is an error answered by the server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Retryable reports whether the call may succeed if repeated: server errors,
// throttling, and authentication failures (a credential being replaced, a
// clock out of step) — not a request the server refuses for what it says.
func (e *APIError) Retryable() bool {
	switch e.Code {
	case "ThrottlingException", "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
		"MissingAuthenticationTokenException", "AccessDeniedException":
		return true
	}
	return e.Status >= 500
}

// AuthFailure reports whether the server did not accept the credentials.
func (e *APIError) AuthFailure() bool {
	return e.Code == "UnrecognizedClientException" || e.Code == "AccessDeniedException"
}

// Call invokes an ECS operation.
func (c *Client) Call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", wire.TargetPrefix+"."+op)
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, c.credentials(), req, hex.EncodeToString(sum[:]), wire.SigningName, c.Region, time.Now()); err != nil {
		return fmt.Errorf("%s: sign: %w", op, err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		if i := strings.LastIndexByte(e.Type, '#'); i >= 0 {
			e.Type = e.Type[i+1:]
		}
		return &APIError{Status: resp.StatusCode, Code: e.Type, Message: e.Message}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: decode: %w", op, err)
		}
	}
	return nil
}

// SignRequest signs a request without a body (the link's WebSocket upgrade).
func (c *Client) SignRequest(ctx context.Context, req *http.Request) error {
	sum := sha256.Sum256(nil)
	return c.signer.SignHTTP(ctx, c.credentials(), req, hex.EncodeToString(sum[:]), wire.SigningName, c.Region, time.Now())
}
