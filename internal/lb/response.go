package lb

import (
	"bufio"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// respWriter is the http.ResponseWriter of a request a plain HTTP socket
// serves itself. It writes what net/http's would: the header at the first
// write or flush (with Date, a sniffed Content-Type when there is none, and
// Content-Length, chunked encoding or a closed connection to frame the
// body), 1xx responses at once, trailers after a chunked body, and
// "Connection: keep-alive" to HTTP/1.0 clients that asked for it.
type respWriter struct {
	cc        *clientConn
	req       *http.Request
	header    http.Header // reused by every request of the connection
	reqHeader http.Header // the request's, reused likewise
	keys      []string    // scratch for sorting header keys
	rec       recorder    // socket.forward's, to save its allocation

	code          int  // of the final response; 0 until WriteHeader
	headerSent    bool // written to the buffer
	noBody        bool // HEAD, 204, 304
	chunked       bool
	contentLength int64 // -1 when not known
	written       int64
	closeAfter    bool // the connection closes after the response
}

func (w *respWriter) reset(r *http.Request) {
	clear(w.header)
	w.req = r
	w.code = 0
	w.headerSent, w.noBody, w.chunked = false, false, false
	w.contentLength, w.written = -1, 0
	w.closeAfter = r.Close
}

func (w *respWriter) Header() http.Header { return w.header }

func (w *respWriter) WriteHeader(code int) {
	if w.code != 0 {
		return // superfluous, as net/http logs and ignores it
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		bw := w.cc.bw
		writeStatusLine(bw, code)
		w.writeFields(func(k string) bool { return k == "Content-Length" || k == "Transfer-Encoding" })
		_, _ = bw.WriteString("\r\n")
		_ = bw.Flush()
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	w.code = code
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		w.sendHeader(p, false)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.contentLength >= 0 && w.written+int64(len(p)) > w.contentLength {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	bw := w.cc.bw
	if w.chunked {
		var n [16]byte
		_, _ = bw.Write(strconv.AppendInt(n[:0], int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
		_, _ = bw.Write(p)
		_, err := bw.WriteString("\r\n")
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return bw.Write(p)
}

// Flush sends what was written so far to the client.
func (w *respWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush, reporting the error of the write.
func (w *respWriter) FlushError() error {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		w.sendHeader(nil, false)
	}
	return w.cc.bw.Flush()
}

// finish ends the response once the handler returned.
func (w *respWriter) finish() {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		w.sendHeader(nil, true)
	}
	if w.chunked {
		bw := w.cc.bw
		_, _ = bw.WriteString("0\r\n")
		w.writeTrailers()
		_, _ = bw.WriteString("\r\n")
	}
	if w.contentLength >= 0 && w.written < w.contentLength && w.req.Method != http.MethodHead {
		w.closeAfter = true // the client waits for the rest
	}
}

// sendHeader writes the status line and the header, given the first data
// of the body and whether the handler is done.
func (w *respWriter) sendHeader(p []byte, done bool) {
	w.headerSent = true
	h := w.header
	code := w.code
	head := w.req.Method == http.MethodHead
	bodyAllowed := code != http.StatusNoContent && code != http.StatusNotModified && (code < 100 || code > 199)
	w.noBody = head || !bodyAllowed

	if hasToken(h["Connection"], "close") || w.cc.k.fast.shutting.Load() {
		w.closeAfter = true
	}
	var contentLength, contentType, date string
	if cl := h["Content-Length"]; len(cl) > 0 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			w.contentLength = n
		}
	}
	switch {
	case w.contentLength >= 0 || !bodyAllowed:
	case done && !head:
		w.contentLength, contentLength = 0, "0"
	case head:
	case w.req.ProtoMinor >= 1:
		w.chunked = true
	default:
		w.closeAfter = true // the end of the body is the end of the connection
	}
	if _, ok := h["Date"]; !ok {
		date = httpDate()
	}
	if _, ok := h["Content-Type"]; !ok && bodyAllowed && len(p) > 0 {
		if _, enc := h["Content-Encoding"]; !enc {
			contentType = http.DetectContentType(p)
		}
	}

	bw := w.cc.bw
	writeStatusLine(bw, code)
	excludeLength := code == http.StatusNoContent || code < 200
	w.writeFields(func(k string) bool {
		return k == "Transfer-Encoding" || excludeLength && k == "Content-Length" || k == "Connection" ||
			strings.HasPrefix(k, http.TrailerPrefix)
	})
	if contentLength != "" {
		_, _ = bw.WriteString("Content-Length: " + contentLength + "\r\n")
	}
	if contentType != "" {
		_, _ = bw.WriteString("Content-Type: ")
		_, _ = bw.WriteString(contentType)
		_, _ = bw.WriteString("\r\n")
	}
	w.endHead(date)
}

// sendFields writes the head of a response whose fields, all valid and
// with a Content-Length of length, come from a target's simple head, as
// sendHeader would once they were in the header (but in their order): to a
// GET, OPTIONS or TRACE, with a status from 200 to 599 but 204 and 304, and
// a Content-Type. Date is added when they have none.
func (w *respWriter) sendFields(code int, fields []field, length int64, hasDate bool) {
	w.code = code
	w.headerSent = true
	w.contentLength = length
	if w.cc.k.fast.shutting.Load() {
		w.closeAfter = true
	}
	bw := w.cc.bw
	writeStatusLine(bw, code)
	for _, f := range fields {
		_, _ = bw.WriteString(f.key)
		_, _ = bw.WriteString(": ")
		_, _ = bw.WriteString(f.value)
		_, _ = bw.WriteString("\r\n")
	}
	date := ""
	if !hasDate {
		date = httpDate()
	}
	w.endHead(date)
}

// endHead writes the fields net/http adds last, and the empty line.
func (w *respWriter) endHead(date string) {
	bw := w.cc.bw
	if date != "" {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.WriteString(date)
		_, _ = bw.WriteString("\r\n")
	}
	if w.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		_, _ = bw.WriteString("Connection: close\r\n")
	case w.req.ProtoMinor == 0:
		_, _ = bw.WriteString("Connection: keep-alive\r\n")
	}
	_, _ = bw.WriteString("\r\n")
}

// writeFields writes the header's fields but those skip names, sorted by
// name as net/http does, with newlines in values turned into spaces.
func (w *respWriter) writeFields(skip func(string) bool) {
	keys := w.keys[:0]
	for k := range w.header {
		if !skip(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	w.keys = keys
	bw := w.cc.bw
	for _, k := range keys {
		for _, v := range w.header[k] {
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			_, _ = bw.WriteString(k)
			_, _ = bw.WriteString(": ")
			_, _ = bw.WriteString(strings.TrimSpace(v))
			_, _ = bw.WriteString("\r\n")
		}
	}
}

// writeTrailers writes the trailers of a chunked body: the fields the
// Trailer header announced, and those named with http.TrailerPrefix.
func (w *respWriter) writeTrailers() {
	bw := w.cc.bw
	h := w.header
	for _, v := range h["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			switch k {
			case "", "Transfer-Encoding", "Content-Length", "Trailer":
				continue
			}
			for _, tv := range h[k] {
				_, _ = bw.WriteString(k + ": " + strings.TrimSpace(tv) + "\r\n")
			}
		}
	}
	for k, vv := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vv {
				_, _ = bw.WriteString(http.CanonicalHeaderKey(name) + ": " + strings.TrimSpace(v) + "\r\n")
			}
		}
	}
}

func writeStatusLine(bw *bufio.Writer, code int) {
	_, _ = bw.WriteString("HTTP/1.1 ")
	_ = bw.WriteByte(byte('0' + code/100))
	_ = bw.WriteByte(byte('0' + code/10%10))
	_ = bw.WriteByte(byte('0' + code%10))
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	_, _ = bw.WriteString(" ")
	_, _ = bw.WriteString(text)
	_, _ = bw.WriteString("\r\n")
}

// dateCache holds the Date header value of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &cachedDate{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}
