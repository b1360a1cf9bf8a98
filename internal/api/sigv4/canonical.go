package sigv4

import (
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// appendCanonicalRequest appends the canonical request of a:
//
//	METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH
//
// where HEADERS ends with its own newline.
func (a *Auth) appendCanonicalRequest(buf, payloadHash []byte) []byte {
	r := a.r
	buf = append(buf, r.Method...)
	buf = append(buf, '\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Every service but S3 signs the path escaped once more on top of its
	// wire form (so "%" becomes "%25"), as the SDKs do.
	buf = appendEscaped(buf, path, true)
	buf = append(buf, '\n')
	buf = appendCanonicalQuery(buf, a.rawQuery, a.presigned)
	buf = append(buf, '\n')
	for list := a.signedHeaders; list != ""; {
		var name string
		name, list, _ = strings.Cut(list, ";")
		buf = append(buf, name...)
		buf = append(buf, ':')
		buf = a.appendHeaderValue(buf, name)
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	buf = append(buf, a.signedHeaders...)
	buf = append(buf, '\n')
	return append(buf, payloadHash...)
}

// appendHeaderValue appends the canonical value of the header name: its
// values trimmed, inner runs of spaces collapsed, joined with commas. A
// signed header the request lacks has an empty value (and will not match).
func (a *Auth) appendHeaderValue(buf []byte, name string) []byte {
	r := a.r
	switch name {
	case "host":
		// net/http moves Host out of the header map.
		return appendTrimmed(buf, r.Host)
	case "content-length":
		if _, ok := r.Header["Content-Length"]; !ok && r.ContentLength > 0 {
			return strconv.AppendInt(buf, r.ContentLength, 10)
		}
	}
	for i, v := range r.Header[headerKey(name)] {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendTrimmed(buf, v)
	}
	return buf
}

// headerKey returns the net/http map key of a lower-case header name,
// without allocating for the headers AWS SDKs sign.
func headerKey(name string) string {
	switch name {
	case "content-type":
		return "Content-Type"
	case "content-length":
		return "Content-Length"
	case "x-amz-date":
		return "X-Amz-Date"
	case "x-amz-target":
		return "X-Amz-Target"
	case "x-amz-content-sha256":
		return "X-Amz-Content-Sha256"
	case "x-amz-security-token":
		return "X-Amz-Security-Token"
	case "x-amz-user-agent":
		return "X-Amz-User-Agent"
	case "amz-sdk-invocation-id":
		return "Amz-Sdk-Invocation-Id"
	case "amz-sdk-request":
		return "Amz-Sdk-Request"
	case "user-agent":
		return "User-Agent"
	case "date":
		return "Date"
	case "accept-encoding":
		return "Accept-Encoding"
	case "content-encoding":
		return "Content-Encoding"
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// appendTrimmed appends v without leading and trailing white space and with
// every inner run of spaces collapsed to one.
func appendTrimmed(buf []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		buf = append(buf, c)
	}
	return buf
}

// appendCanonicalQuery appends the canonical query string of raw: each name
// and value decoded then URI-encoded, the pairs sorted by encoded name then
// value. A presigned request's own X-Amz-Signature is left out.
func appendCanonicalQuery(buf []byte, raw string, presigned bool) []byte {
	if raw == "" {
		return buf
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, 8)
	for raw != "" {
		var p string
		p, raw, _ = strings.Cut(raw, "&")
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		k, v = unescape(k), unescape(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{escape(k), escape(v)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = append(buf, p.k...)
		buf = append(buf, '=')
		buf = append(buf, p.v...)
	}
	return buf
}

// unescape decodes a query component; a malformed one is kept as sent (and
// so re-encoded with its "%" escaped).
func unescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// escape URI-encodes s as SigV4 requires.
func escape(s string) string {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return string(appendEscaped(make([]byte, 0, len(s)+16), s, false))
		}
	}
	return s
}

// appendEscaped appends s with every byte outside the RFC 3986 unreserved set
// (and outside "/" when keepSlash) percent-encoded in upper-case hex.
func appendEscaped(buf []byte, s string, keepSlash bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (c == '/' && keepSlash) {
			buf = append(buf, c)
			continue
		}
		buf = append(buf, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return buf
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
