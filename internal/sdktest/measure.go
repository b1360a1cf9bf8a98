package sdktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"runtime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SignedRequest returns a POST of body to the server's path "/", with
// header, signed for service in Region with key and secret as the SDK
// signs: a raw request for the tests whose bodies no SDK client would send.
func SignedRequest(service, key, secret string, header http.Header, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, Region, time.Now()); err != nil {
		panic(err) // static credentials always sign
	}
	return req
}

// ServeMeasured serves req with h in the calling goroutine and returns the
// response and the bytes the process allocated meanwhile. The count is the
// whole process's: a test that measures runs nothing else at the time.
func ServeMeasured(h http.Handler, req *http.Request) (*httptest.ResponseRecorder, uint64) {
	rec := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h.ServeHTTP(rec, req)
	runtime.ReadMemStats(&after)
	return rec, after.TotalAlloc - before.TotalAlloc
}
