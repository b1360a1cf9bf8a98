package ptr

import "testing"

func TestTo(t *testing.T) {
	if p := To(7); p == nil || *p != 7 {
		t.Fatalf("To(7) = %v", p)
	}
	if a, b := To("x"), To("x"); a == b {
		t.Fatal("two calls of To share one variable")
	}
}

func TestDeref(t *testing.T) {
	if got := Deref[string](nil); got != "" {
		t.Fatalf("Deref(nil) = %q, want the zero value", got)
	}
	if got := Deref[int32](nil); got != 0 {
		t.Fatalf("Deref(nil) = %d, want the zero value", got)
	}
	s := "web"
	if got := Deref(&s); got != "web" {
		t.Fatalf("Deref(&%q) = %q", s, got)
	}
}
