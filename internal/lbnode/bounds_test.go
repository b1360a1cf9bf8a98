package lbnode_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/store"
)

// storedNodes returns the names of the nodes whose reports are stored.
func storedNodes(t *testing.T, st store.Store) map[string]bool {
	t.Helper()
	reports, err := lbnode.Reports(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range reports {
		out[r.Node] = true
	}
	return out
}

// TestStoreSourceMaxNodes: a control plane keeps the reports of MaxNodes
// nodes: a new node is refused while they are all live, and takes the
// place of the oldest report that is no longer live; reports beyond the
// cap (stored by an earlier release) go when a new node comes.
func TestStoreSourceMaxNodes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range lbnode.MaxNodes {
		f.now = f.now.Add(time.Millisecond)
		if err := f.src.Report(ctx, lbnode.Report{Node: fmt.Sprintf("n%d", i)}); err != nil {
			t.Fatalf("report of node %d: %v", i, err)
		}
	}
	if err := f.src.Report(ctx, lbnode.Report{Node: "extra"}); !errors.Is(err, lbnode.ErrTooManyNodes) {
		t.Fatalf("report of a node beyond %d live ones = %v, want ErrTooManyNodes", lbnode.MaxNodes, err)
	}
	// Over HTTP, the refusal says to try again.
	rec := httptest.NewRecorder()
	lbnode.Handler(f.src, quiet).ServeHTTP(rec, httptest.NewRequest(http.MethodPut, lbnode.Path+"/nodes/extra", strings.NewReader(`{"node":"extra"}`)))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "too many nodes") {
		t.Errorf("PUT of a node beyond the cap: %d %q %s, want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if err := f.src.Report(ctx, lbnode.Report{Node: "n5"}); err != nil {
		t.Fatalf("report of a known node at the cap: %v", err)
	}
	if got := storedNodes(t, f.st); len(got) != lbnode.MaxNodes || got["extra"] {
		t.Fatalf("stored %d reports (extra: %v), want %d without extra", len(got), got["extra"], lbnode.MaxNodes)
	}

	// Every node has stopped: a new one replaces the oldest, n0.
	f.now = f.now.Add(lbnode.ReportTTL)
	if err := f.src.Report(ctx, lbnode.Report{Node: "extra"}); err != nil {
		t.Fatalf("report of a new node once the others stopped: %v", err)
	}
	if got := storedNodes(t, f.st); len(got) != lbnode.MaxNodes || !got["extra"] || got["n0"] || !got["n1"] {
		t.Fatalf("stored %d reports (extra %v, n0 %v, n1 %v), want %d with extra and n1 in n0's place",
			len(got), got["extra"], got["n0"], got["n1"], lbnode.MaxNodes)
	}

	// Ten more, as an earlier release kept them.
	var ops []store.Op
	for i := range 10 {
		op, err := store.PutJSON(lbnode.Key(fmt.Sprintf("old%d", i)), lbnode.Report{Node: fmt.Sprintf("old%d", i), At: f.now.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	if _, err := f.st.Txn(ctx, store.Txn{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	if err := f.src.Report(ctx, lbnode.Report{Node: "extra2"}); err != nil {
		t.Fatalf("report of a new node over old reports: %v", err)
	}
	if got := storedNodes(t, f.st); len(got) != lbnode.MaxNodes || !got["extra2"] || got["old0"] {
		t.Fatalf("stored %d reports (extra2 %v, old0 %v), want %d with extra2, the oldest gone", len(got), got["extra2"], got["old0"], lbnode.MaxNodes)
	}
}

// TestHandlerReportSize: a report up to MaxReportBytes is stored, a larger
// one is refused 413 and not stored.
func TestHandlerReportSize(t *testing.T) {
	f := newFixture(t)
	h := lbnode.Handler(f.src, quiet)
	body := func(node string, size int) string {
		head := `{"node":"` + node + `","listenerErrors":{"l":"`
		tail := `"}}`
		return head + strings.Repeat("x", size-len(head)-len(tail)) + tail
	}
	for _, tc := range []struct {
		node   string
		size   int
		status int
	}{
		{"fits", lbnode.MaxReportBytes, http.StatusNoContent},
		{"large", lbnode.MaxReportBytes + 1, http.StatusRequestEntityTooLarge},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, lbnode.Path+"/nodes/"+tc.node, strings.NewReader(body(tc.node, tc.size))))
		if rec.Code != tc.status {
			t.Errorf("PUT of %d bytes: %d %s, want %d", tc.size, rec.Code, rec.Body, tc.status)
		}
	}
	if got := storedNodes(t, f.st); !got["fits"] || got["large"] {
		t.Errorf("stored %v, want fits and not large", got)
	}
}
