package bolt

import (
	"testing"

	"github.com/flotilla/flotilla/internal/store/storetest"
)

// BenchmarkTxnConcurrent: 50 goroutines doing durable single-key puts.
func BenchmarkTxnConcurrent(b *testing.B) {
	storetest.BenchTxnConcurrent(b, open(b, tempPath(b), Options{}), 50)
}

// BenchmarkTxnSerial: one goroutine, so one fsync per transaction; the
// baseline that group commit improves on.
func BenchmarkTxnSerial(b *testing.B) {
	storetest.BenchTxnConcurrent(b, open(b, tempPath(b), Options{}), 1)
}

func BenchmarkGet(b *testing.B) {
	storetest.BenchGet(b, open(b, tempPath(b), Options{}))
}
