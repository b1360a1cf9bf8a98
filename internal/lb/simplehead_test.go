package lb

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseSimpleHead holds the response head parser of the short way to
// net/http's: on any head it must not panic, and a head it takes as simple
// must be one http.ReadResponse reads as the same response (status, the
// fields ReverseProxy passes on, length, whether the connection closes).
func FuzzParseSimpleHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 503\r\nContent-Length: 12\r\nConnection: close\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: X-Drop\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 9\r\n\r\n",
	} {
		f.Add(s, "GET")
	}
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD")
	var buf []byte // reused, as a target connection reuses its own
	f.Fuzz(func(t *testing.T, s, method string) {
		if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
			s = s[:i]
		}
		head := s + "\r\n\r\n" // a head ends at its first empty line
		var fields []field
		h, ok := parseSimpleHead([]byte(head), method, &fields, &buf)
		if !ok {
			return
		}
		got := http.Header{"X-Before": {"kept"}}
		addFields(got, fields)
		for i := range buf {
			buf[i] = 'Z' // the next head: addFields's strings are its own
		}
		want, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%q: simple to the fast parser, refused by net/http: %v", head, err)
		}
		_, date := want.Header["Date"]
		_, ctype := want.Header["Content-Type"]
		if h.eventStream != isEventStream(want.Header) {
			t.Fatalf("%q: fast parser's event stream %v, net/http's header says %v", head, h.eventStream, !h.eventStream)
		}
		if h.code != want.StatusCode || h.length != want.ContentLength || h.close != want.Close || h.date != date || h.contentType != ctype {
			t.Fatalf("%q: fast parser read %d length %d close %v date %v type %v; net/http %d length %d close %v date %v type %v",
				head, h.code, h.length, h.close, h.date, h.contentType, want.StatusCode, want.ContentLength, want.Close, date, ctype)
		}
		removeHopByHop(want.Header)
		want.Header["X-Before"] = []string{"kept"}
		if len(got) != len(want.Header) {
			t.Fatalf("%q: fast parser's fields %v, net/http's %v", head, got, want.Header)
		}
		for k, v := range want.Header {
			if strings.Join(got[k], "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("%q: field %s: fast parser %q, net/http %q", head, k, got[k], v)
			}
		}
	})
}
