package ptr

import "testing"

func TestTo(t *testing.T) {
	v := 7
	p := To(v)
	if p == nil || *p != 7 {
		t.Fatalf("To(7) = %v", p)
	}
	if p == &v {
		t.Fatal("To returned the address of its argument, not of a copy")
	}
	*p = 8
	if v != 7 {
		t.Fatalf("writing through To's pointer changed the original: %d", v)
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
