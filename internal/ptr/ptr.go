// Package ptr holds the pointer helpers that the wire types' optional
// members call for: one place instead of a copy in every package.
package ptr

// To returns a pointer to a copy of v.
func To[T any](v T) *T { return &v }

// Deref returns what p points to, or T's zero value when p is nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
