package seal

import (
	"bytes"
	"testing"
)

// BenchmarkOpen measures opening a sealed value the size of an instance
// key record (looked up on every request an agent signs) and of a
// certificate record.
func BenchmarkOpen(b *testing.B) {
	for _, size := range []int{160, 4096} {
		b.Run(map[int]string{160: "instance-key", 4096: "certificate"}[size], func(b *testing.B) {
			k, _ := New(bytes.Repeat([]byte{7}, KeySize))
			sealed, _ := k.Seal(bytes.Repeat([]byte("x"), size), "/ecs/instancekeys/FLTI0000")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Open(sealed, "/ecs/instancekeys/FLTI0000"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSeal measures sealing an instance key record.
func BenchmarkSeal(b *testing.B) {
	k, _ := New(bytes.Repeat([]byte{7}, KeySize))
	v := bytes.Repeat([]byte("x"), 160)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(v, "/ecs/instancekeys/FLTI0000"); err != nil {
			b.Fatal(err)
		}
	}
}
