package lb

import (
	"bytes"
	"net/http"
	"strings"
)

// Most responses to the short way's requests are a status, a few fields
// and a body of known length. Those are read here with a small, strict
// parser, and their fields written straight to the client when it is a
// connection the socket serves itself (respWriter.sendFields), or else
// added to the client's header; the others go to http.ReadResponse, which
// costs a Response, a header map and a string per field.
// FuzzParseSimpleHead holds the parser to http.ReadResponse: a head it
// takes is one net/http reads the same.

// simpleHead is what the proxy needs of a response head read by
// parseSimpleHead.
type simpleHead struct {
	code        int
	length      int64 // of the body, from Content-Length
	close       bool  // the target closes the connection after the response
	date        bool  // it has a Date field
	contentType bool  // it has a Content-Type field
	eventStream bool  // its (first) Content-Type is text/event-stream
}

// field is a header field of a response head.
type field struct{ key, value string }

// readSimpleHead reads the head of the response to a request with method
// from uc: when parseSimpleHead takes it, it is consumed, and uc.head and
// uc.fields hold it; otherwise nothing is consumed, and it is for
// http.ReadResponse.
func (uc *upConn) readSimpleHead(method string) (bool, error) {
	head, _ := peekHead(uc.br)
	if head == nil {
		// Not simple, or the read failed: http.ReadResponse reads what
		// came, and fails as net/http would.
		return false, nil
	}
	h, ok := parseSimpleHead(head, method, &uc.fields, &uc.headBuf)
	if !ok {
		return false, nil
	}
	_, _ = uc.br.Discard(len(head))
	uc.head = h
	return true, nil
}

// parseSimpleHead parses a response head ending in an empty line, and
// reports whether it is simple: HTTP/1.0 or 1.1, a final status from 200
// to 599 but 204 and 304, to a GET, OPTIONS or TRACE, with one
// Content-Length, no Transfer-Encoding, Trailer or Pragma, a Connection
// header naming nothing but close and keep-alive, and every line one
// net/http reads as it is. Its fields, without the hop-by-hop ones
// ReverseProxy removes, are then in *fields, in their order, their
// strings those of a copy of the head in *buf (when buf is not nil; the
// copy is overwritten by the next head parsed there) or of one string
// allocated for them.
func parseSimpleHead(head []byte, method string, fields *[]field, buf *[]byte) (simpleHead, bool) {
	var h simpleHead
	switch method {
	case http.MethodGet, http.MethodOptions, http.MethodTrace:
	default:
		return h, false
	}
	eol := bytes.Index(head, crlf2[:2])
	line := head[:eol]
	if len(line) < len("HTTP/1.1 200") || bytes.IndexByte(head, '\n') != eol+1 {
		return h, false
	}
	var minor int
	switch string(line[:len("HTTP/1.1 ")]) {
	case "HTTP/1.1 ":
		minor = 1
	case "HTTP/1.0 ":
	default:
		return h, false
	}
	status := line[len("HTTP/1.1 "):]
	for i := range 3 {
		if status[i] < '0' || status[i] > '9' {
			return h, false
		}
		h.code = 10*h.code + int(status[i]-'0')
	}
	if len(status) > 3 && status[3] != ' ' || h.code < 200 || h.code > 599 ||
		h.code == http.StatusNoContent || h.code == http.StatusNotModified {
		return h, false
	}

	lines := head[eol+2 : len(head)-2]
	var s string
	if buf != nil {
		s = copyString(buf, lines)
	} else {
		s = string(lines)
	}
	fs := (*fields)[:0]
	h.length = -1
	var closeTok, keepAlive bool
	ok := scanFields(s, func(key, v string) bool {
		switch key {
		case "Content-Length":
			if h.length >= 0 || len(v) == 0 || len(v) > 18 {
				return false
			}
			h.length = 0
			for i := 0; i < len(v); i++ {
				if v[i] < '0' || v[i] > '9' {
					return false
				}
				h.length = 10*h.length + int64(v[i]-'0')
			}
		case "Transfer-Encoding", "Trailer", "Pragma":
			return false
		case "Date":
			h.date = true
		case "Content-Type":
			if !h.contentType {
				h.contentType, h.eventStream = true, isEventStreamType(v)
			}
		case "Connection":
			for tok := range strings.SplitSeq(v, ",") {
				switch tok = strings.Trim(tok, " \t"); {
				case strings.EqualFold(tok, "close"):
					closeTok = true
				case strings.EqualFold(tok, "keep-alive"):
					keepAlive = true
				case tok == "":
				default:
					return false // it names a field to remove: net/http's way
				}
			}
			return true
		}
		if !isHopHeader(key) {
			fs = append(fs, field{key, v})
		}
		return true
	})
	*fields = fs
	if !ok || h.length < 0 {
		return h, false
	}
	h.close = closeTok || minor == 0 && !keepAlive
	return h, true
}

// addFields adds fields to dst, with strings of their own: net/http may
// write dst's fields only once the handler has returned, when the
// connection the fields' strings belong to may be reading its next
// response.
func addFields(dst http.Header, fields []field) {
	n := 0
	for _, f := range fields {
		n += len(f.key) + len(f.value)
	}
	var b strings.Builder // one allocation for the strings
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(f.key)
		b.WriteString(f.value)
	}
	s := b.String()
	vals := make([]string, len(fields)) // and one for the values' slices
	for i, f := range fields {
		key := s[:len(f.key)]
		vals[i] = s[len(f.key) : len(f.key)+len(f.value)]
		s = s[len(f.key)+len(f.value):]
		if prior, ok := dst[key]; ok {
			dst[key] = append(prior[:len(prior):len(prior)], vals[i])
		} else {
			dst[key] = vals[i : i+1 : i+1]
		}
	}
}
