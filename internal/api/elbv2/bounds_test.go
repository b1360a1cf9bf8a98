package elbv2_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// maxBytesPerByte is how many bytes a query request may allocate, in all,
// for each byte of its body. A form costs more than a JSON body of its
// size: url.ParseQuery makes a map entry, a string and a []string of every
// parameter, and model.ParseQuery a node of every dotted segment of its
// name; url.ParseQuery's limit of 10000 parameters bounds the whole.
const maxBytesPerByte = 32

// form returns Action=action&Version=...&prefix.member.1<suffix>&... with n
// members.
func form(action, prefix, suffix string, n int) []byte {
	var b strings.Builder
	b.WriteString("Action=" + action + "&Version=2015-12-01&LoadBalancerArn=arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A123456789012%3Aloadbalancer%2Fapp%2Fa%2F1&TargetGroupArn=arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A123456789012%3Atargetgroup%2Ftg%2F1")
	for i := 1; i <= n; i++ {
		b.WriteString("&" + prefix + ".member." + strconv.Itoa(i) + suffix)
	}
	return []byte(b.String())
}

// TestHugeMemberListsBounded sends query requests with thousands of list
// members and checks that each costs a small multiple of its size and is
// answered briefly.
func TestHugeMemberListsBounded(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := elbv2.New(elbv2.Config{
		Store: st, Region: region, AccountID: account,
		Clock:  func() time.Time { return created },
		Health: func(context.Context, string) ([]lb.TargetHealth, error) { return nil, nil },
	})
	s := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{akid: secret}, Logger: slog.New(slog.DiscardHandler)})
	s.HandleQuery(svc.QueryService())
	h := s.Handler()
	for _, tc := range []struct {
		name string
		body []byte
		code string
		msg  string
	}{
		// url.ParseQuery takes at most 10000 parameters.
		{"attributes past the model's bound", form("ModifyLoadBalancerAttributes", "Attributes", ".Key=k&Attributes.member."+"0.Value=v", 4990),
			"ValidationError", "1 validation error detected: Attributes must have at most 20 items"},
		{"targets", form("RegisterTargets", "Targets", ".Id=i-0123456789abcdef0", 9990),
			"TargetGroupNotFound", ""},
		{"more parameters than a form may have", form("RegisterTargets", "Targets", ".Id=i", 120000),
			"MalformedQueryString", "exceeded limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sdktest.SignedRequest("elasticloadbalancing", akid, secret, http.Header{"Content-Type": {api.FormContentType}}, tc.body)
			rec, alloc := sdktest.ServeMeasured(h, req)
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest || !strings.Contains(body, "<Code>"+tc.code+"</Code>") || !strings.Contains(body, tc.msg) {
				t.Errorf("got %d %.500s, want 400 %s with %q", rec.Code, body, tc.code, tc.msg)
			}
			perByte := float64(alloc) / float64(len(tc.body))
			t.Logf("%d bytes in, %d allocated (%.1f per byte), %d bytes answered", len(tc.body), alloc, perByte, rec.Body.Len())
			if perByte > maxBytesPerByte || rec.Body.Len() > 4<<10 {
				t.Errorf("allocated %.0f bytes per byte and answered %d bytes, want at most %d and 4 KiB", perByte, rec.Body.Len(), maxBytesPerByte)
			}
		})
	}
}
