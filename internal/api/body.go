package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// Buffers larger than this are left to the garbage collector rather than
// kept in a pool.
const maxPooledBuffer = 64 << 10

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// readBody reads the whole request body into a pooled buffer, refusing one
// larger than MaxBodyBytes without reading it into memory. Once the body is
// no longer used, releaseBody(bp) must be called, also on error.
func (s *Server) readBody(r *http.Request) (body []byte, bp *[]byte, err error) {
	limit := s.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, nil, s.errTooLarge()
	}
	bp = bodyPool.Get().(*[]byte)
	buf := (*bp)[:0]
	if n := r.ContentLength; n >= 0 {
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		*bp = buf
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, bp, errReadBody
		}
		return buf, bp, nil
	}
	// Unknown length (chunked): read at most one byte over the limit.
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := min(int64(cap(buf)), limit+1)
		n, err := r.Body.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		*bp = buf
		if int64(len(buf)) > limit {
			return nil, bp, s.errTooLarge()
		}
		if err == io.EOF {
			return buf, bp, nil
		}
		if err != nil {
			return nil, bp, errReadBody
		}
	}
}

// releaseBody returns a body buffer of readBody to the pool.
func releaseBody(bp *[]byte) {
	if bp != nil && cap(*bp) <= maxPooledBuffer {
		*bp = (*bp)[:0]
		bodyPool.Put(bp)
	}
}

func (s *Server) errTooLarge() *Error {
	return Errorf(CodeSerialization, "The request body is larger than the limit of %d bytes.", s.cfg.MaxBodyBytes)
}

var errReadBody = &Error{Code: CodeSerialization, Message: "The request body could not be read."}

// encoder is a pooled JSON encoder writing into its own buffer.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoderPool = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

func getEncoder() *encoder { return encoderPool.Get().(*encoder) }

// encode encodes v, replacing what the buffer held.
func (e *encoder) encode(v any) error {
	e.buf.Reset()
	return e.enc.Encode(v)
}

// bytes returns the encoding, without the newline json.Encoder ends it with.
func (e *encoder) bytes() []byte {
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))
}

func (e *encoder) release() {
	if e.buf.Cap() <= maxPooledBuffer {
		e.buf.Reset()
		encoderPool.Put(e)
	}
}
