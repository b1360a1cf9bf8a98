// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests,
// the way AWS services do: header authentication (Authorization: AWS4-HMAC-SHA256
// ...) with X-Amz-Date or Date, and presigned query authentication
// (X-Amz-Algorithm, X-Amz-Credential, ... in the URL).
//
// The canonical request follows AWS's specification for every service but
// S3: the URI path is escaped once more on top of its wire form, the query
// is decoded, re-encoded and sorted, the signed headers are lower-cased with
// their values trimmed and inner runs of spaces collapsed, and the payload hash
// is X-Amz-Content-Sha256 when present (it must then match the body) and the
// SHA-256 of the body otherwise. Host, Content-Type (when present) and every
// X-Amz-* header of the request must be among the signed headers, as AWS
// requires: a header added after signing, such as an X-Amz-Target naming
// another operation, is refused before the signature is checked.
// Rejections are *Error values carrying AWS's error codes and wording.
//
// Verification runs in two steps so that a server can refuse a request
// before reading its body: Parse checks everything the headers alone decide
// (presence and shape of the signature, the access key, the clock skew), and
// Auth.Verify then checks the signature against the body.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// Algorithm is the only signing algorithm accepted.
	Algorithm = "AWS4-HMAC-SHA256"
	// MaxSkew is how far the signing time may be from the verifier's clock.
	MaxSkew = 5 * time.Minute
	// TimeFormat is the ISO 8601 basic format of X-Amz-Date.
	TimeFormat = "20060102T150405Z"

	scopeTerminator = "aws4_request"
	maxExpires      = 7 * 24 * 3600 // seconds, as for S3 presigned URLs
)

// Credentials looks up secret access keys.
type Credentials interface {
	// SecretAccessKey returns the secret of accessKeyID. It returns an error
	// wrapping ErrUnknownAccessKey when the key does not exist; any other
	// error is a failure of the lookup itself and fails the request as a
	// server error.
	SecretAccessKey(ctx context.Context, accessKeyID string) (string, error)
}

// StaticCredentials is a fixed set of access keys: access key id → secret.
type StaticCredentials map[string]string

// SecretAccessKey implements Credentials.
func (c StaticCredentials) SecretAccessKey(_ context.Context, accessKeyID string) (string, error) {
	secret, ok := c[accessKeyID]
	if !ok {
		return "", ErrUnknownAccessKey
	}
	return secret, nil
}

// Identity is what a valid signature proves about a request.
type Identity struct {
	// AccessKeyID is the access key the request was signed with.
	AccessKeyID string
	// Region and Service are the region and signing name of the credential
	// scope, such as "us-east-1" and "ecs".
	Region  string
	Service string
	// Time is the signing time (X-Amz-Date or Date).
	Time time.Time
}

// Verifier verifies signed requests against a set of credentials. It caches
// derived signing keys; it is safe for concurrent use.
type Verifier struct {
	creds Credentials
	now   func() time.Time
	keys  keyCache
}

// NewVerifier returns a Verifier looking secrets up in creds and reading the
// time from now (time.Now when nil).
func NewVerifier(creds Credentials, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{creds: creds, now: now}
}

// Auth is a request whose authentication data has been parsed and whose
// access key and signing time have been accepted; Verify completes the check.
type Auth struct {
	r             *http.Request
	id            Identity
	scope         string // date/region/service/aws4_request
	amzDate       string // signing time in TimeFormat, as in the string to sign
	signedHeaders string
	signature     string
	rawQuery      string // canonical query source; "" for header auth without query
	presigned     bool
	key           *signingKey
}

// Identity returns who signed the request. It is only proven once Verify
// has succeeded.
func (a *Auth) Identity() Identity { return a.id }

// Verify parses r's authentication data and checks its signature against
// payload, the complete request body. It returns *Error for a rejected
// request and another error when the credentials lookup fails.
func (v *Verifier) Verify(r *http.Request, payload []byte) (Identity, error) {
	a, err := v.Parse(r)
	if err != nil {
		return Identity{}, err
	}
	return a.Verify(payload)
}

// Parse checks everything about r's authentication that does not need the
// body: the Authorization header (or presigned query) is present and well
// formed, the request has a date, the access key exists and the signing time
// is within MaxSkew of the clock. It returns *Error for a rejected request and
// another error when the credentials lookup fails.
func (v *Verifier) Parse(r *http.Request) (Auth, error) {
	a := Auth{r: r}
	authz := r.Header["Authorization"]
	presigned := hasPresignedQuery(r.URL.RawQuery)
	var err *Error
	switch {
	case len(authz) > 0 && presigned:
		return Auth{}, errTwoMethods
	case len(authz) > 0:
		err = a.parseHeader(authz[0])
	case presigned:
		err = a.parseQuery()
	default:
		return Auth{}, errMissingToken
	}
	if err != nil {
		return Auth{}, err
	}
	if !hasSignedHost(a.signedHeaders) {
		return Auth{}, errNoHost
	}
	if h := unsignedHeader(r.Header, a.signedHeaders); h != "" {
		return Auth{}, errorf(CodeInvalidSignature, "'%s' must be a 'SignedHeader' in the AWS Authorization.", h)
	}

	secret, lerr := v.creds.SecretAccessKey(r.Context(), a.id.AccessKeyID)
	if lerr != nil {
		if errors.Is(lerr, ErrUnknownAccessKey) {
			return Auth{}, errUnrecognized
		}
		return Auth{}, fmt.Errorf("look up access key %s: %w", a.id.AccessKeyID, lerr)
	}
	if err := a.checkTime(v.now()); err != nil {
		return Auth{}, err
	}
	a.key = v.keys.get(scopeKey{a.id.AccessKeyID, a.scope[:8], a.id.Region, a.id.Service}, secret)
	return a, nil
}

// parseHeader reads an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
func (a *Auth) parseHeader(h string) *Error {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		return errorf(CodeIncompleteSignature, "Unsupported AWS 'algorithm': '%s'. Authorization=%s", alg, h)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return errorf(CodeIncompleteSignature, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, h)
		}
		switch k {
		case "Credential":
			cred, haveCred = val, true
		case "SignedHeaders":
			signed, haveSigned = val, true
		case "Signature":
			sig, haveSig = val, true
		}
	}
	dateOK := a.readDate()
	if !haveCred || !haveSigned || !haveSig || !dateOK {
		var b strings.Builder
		if !haveCred {
			b.WriteString("Authorization header requires 'Credential' parameter. ")
		}
		if !haveSig {
			b.WriteString("Authorization header requires 'Signature' parameter. ")
		}
		if !haveSigned {
			b.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
		}
		if !dateOK {
			b.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
		}
		b.WriteString("Authorization=")
		b.WriteString(h)
		return &Error{Code: CodeIncompleteSignature, Message: b.String()}
	}
	a.signedHeaders, a.signature = signed, sig
	if q := a.r.URL.RawQuery; q != "" {
		a.rawQuery = q
	}
	return a.parseCredential(cred)
}

// readDate sets a.amzDate from X-Amz-Date, or else from Date converted to
// the ISO 8601 basic format, and reports whether either header was present.
// A malformed date is left for checkTime to reject.
func (a *Auth) readDate() bool {
	if v := a.r.Header["X-Amz-Date"]; len(v) > 0 {
		a.amzDate = v[0]
		return true
	}
	if v := a.r.Header["Date"]; len(v) > 0 {
		t, err := http.ParseTime(v[0])
		if err != nil {
			a.amzDate = v[0] // rejected by checkTime as not ISO 8601
			return true
		}
		a.amzDate = t.UTC().Format(TimeFormat)
		return true
	}
	return false
}

// parseCredential reads AKID/date/region/service/aws4_request.
func (a *Auth) parseCredential(cred string) *Error {
	var parts [5]string
	n, rest := 0, cred
	for ; n < 5; n++ {
		var ok bool
		parts[n], rest, ok = strings.Cut(rest, "/")
		if !ok {
			n++
			break
		}
	}
	if n != 5 || rest != "" || parts[0] == "" {
		return errorf(CodeIncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	if parts[4] != scopeTerminator {
		return errorf(CodeInvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", parts[4])
	}
	a.id.AccessKeyID, a.id.Region, a.id.Service = parts[0], parts[2], parts[3]
	a.scope = cred[len(parts[0])+1:]
	if len(parts[1]) != 8 || len(a.amzDate) < 8 || parts[1] != a.amzDate[:8] {
		return errorf(CodeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%.8s', from '%s'.", parts[1], a.amzDate, a.amzDate)
	}
	return nil
}

// parseQuery reads presigned query authentication.
func (a *Auth) parseQuery() *Error {
	q, err := url.ParseQuery(a.r.URL.RawQuery)
	if err != nil {
		return errorf(CodeIncompleteSignature, "Malformed query string: %v", err)
	}
	alg, cred, date, signed, sig := q.Get("X-Amz-Algorithm"), q.Get("X-Amz-Credential"), q.Get("X-Amz-Date"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")
	if alg == "" || cred == "" || date == "" || signed == "" || sig == "" {
		return &Error{Code: CodeIncompleteSignature, Message: "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders' and 'X-Amz-Signature'. Re-examine the query-string parameters."}
	}
	if alg != Algorithm {
		return errorf(CodeIncompleteSignature, "Unsupported AWS 'algorithm': '%s'.", alg)
	}
	a.presigned, a.amzDate, a.signedHeaders, a.signature, a.rawQuery = true, date, signed, sig, a.r.URL.RawQuery
	return a.parseCredential(cred)
}

// checkTime rejects a signing time outside the window around now: MaxSkew
// either way, or for a presigned request with X-Amz-Expires, from MaxSkew
// before the signing time to its expiry.
func (a *Auth) checkTime(now time.Time) *Error {
	t, err := time.Parse(TimeFormat, a.amzDate)
	if err != nil {
		return errorf(CodeIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", a.amzDate)
	}
	a.id.Time = t
	now = now.UTC()
	if t.After(now.Add(MaxSkew)) {
		return errorf(CodeInvalidSignature, "Signature not yet current: %s is still later than %s (%s + 5 min.)",
			a.amzDate, now.Add(MaxSkew).Format(TimeFormat), now.Format(TimeFormat))
	}
	if a.presigned {
		if exp := a.r.URL.Query().Get("X-Amz-Expires"); exp != "" {
			secs, err := strconv.Atoi(exp)
			if err != nil || secs < 0 || secs > maxExpires {
				return errorf(CodeIncompleteSignature, "X-Amz-Expires must be an integer between 0 and %d, got '%s'.", maxExpires, exp)
			}
			if end := t.Add(time.Duration(secs) * time.Second); now.After(end) {
				return errorf(CodeInvalidSignature, "Signature expired: %s is now earlier than %s (%s + %d s).",
					end.Format(TimeFormat), now.Format(TimeFormat), a.amzDate, secs)
			}
			return nil
		}
	}
	if t.Before(now.Add(-MaxSkew)) {
		return errorf(CodeInvalidSignature, "Signature expired: %s is now earlier than %s (%s - 5 min.)",
			a.amzDate, now.Add(-MaxSkew).Format(TimeFormat), now.Format(TimeFormat))
	}
	return nil
}

// Verify checks the signature of the parsed request against payload, the
// complete request body, and returns the proven identity. It returns *Error
// when the signature does not match.
func (a *Auth) Verify(payload []byte) (Identity, error) {
	if a.key == nil {
		return Identity{}, errMissingToken // zero Auth: Parse failed or was not called
	}
	var payloadHash [2 * sha256.Size]byte
	sum := sha256.Sum256(payload)
	hex.Encode(payloadHash[:], sum[:])
	if v := a.r.Header["X-Amz-Content-Sha256"]; len(v) > 0 {
		if !equalHex(v[0], payloadHash[:]) {
			return Identity{}, errPayloadHash
		}
		copy(payloadHash[:], v[0]) // the same hash, in the letter case the client signed
	}

	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)

	// The canonical request, hashed.
	buf := a.appendCanonicalRequest((*bp)[:0], payloadHash[:])
	creq := sha256.Sum256(buf)

	// The string to sign, HMAC'd with the signing key: the inner hash is over
	// ipad||message, the outer over opad||inner.
	buf = append(buf[:0], a.key.ipad[:]...)
	buf = append(buf, Algorithm+"\n"...)
	buf = append(buf, a.amzDate...)
	buf = append(buf, '\n')
	buf = append(buf, a.scope...)
	buf = append(buf, '\n')
	buf = hex.AppendEncode(buf, creq[:])
	inner := sha256.Sum256(buf)
	buf = append(buf[:0], a.key.opad[:]...)
	buf = append(buf, inner[:]...)
	want := sha256.Sum256(buf)
	*bp = buf

	got, ok := decodeHex32(a.signature)
	if !ok || !hmac.Equal(got[:], want[:]) {
		return Identity{}, errMismatch
	}
	return a.id, nil
}

// equalHex reports whether s is the lower-case hex string h in any letter
// case.
func equalHex(s string, h []byte) bool {
	if len(s) != len(h) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		if c != h[i] {
			return false
		}
	}
	return true
}

// decodeHex32 decodes a 64-digit hex string.
func decodeHex32(s string) (b [sha256.Size]byte, ok bool) {
	if len(s) != 2*sha256.Size {
		return b, false
	}
	for i := range b {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[i] = hi<<4 | lo
	}
	return b, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// hasPresignedQuery reports whether a raw query carries query authentication.
func hasPresignedQuery(q string) bool {
	return q != "" && (strings.Contains(q, "X-Amz-Algorithm=") || strings.Contains(q, "X-Amz-Signature="))
}

// hasSignedHost reports whether the signed headers list names host.
func hasSignedHost(list string) bool { return signs(list, "host") }

// signs reports whether the signed headers list names the header name, in
// any letter case.
func signs(list, name string) bool {
	for list != "" {
		var h string
		h, list, _ = strings.Cut(list, ";")
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// unsignedHeader returns the name of a header of h that changes the
// request's meaning but is not in the signed headers list, or "" if there
// is none. As AWS requires, those are Content-Type and every X-Amz-* header
// (X-Amz-Target, which names the operation, among them): a header added
// after signing could otherwise turn a signed request into another one.
func unsignedHeader(h http.Header, list string) string {
	for k := range h {
		if (len(k) > len("x-amz-") && strings.EqualFold(k[:len("x-amz-")], "x-amz-") || strings.EqualFold(k, "content-type")) &&
			!signs(list, k) {
			return k
		}
	}
	return ""
}
