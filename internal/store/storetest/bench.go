package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flotilla/flotilla/internal/store"
)

// BenchTxnConcurrent measures durable single-key puts of 256-byte values from
// writers concurrent goroutines, each over its own 1,024 keys, and reports
// txns/s.
func BenchTxnConcurrent(b *testing.B, s store.Store, writers int) {
	ctx := context.Background()
	value := make([]byte, 256)
	keys := make([][]string, writers)
	for w := range keys {
		for i := range 1024 {
			keys[w] = append(keys[w], fmt.Sprintf("bench/txn/%03d/%04d", w, i))
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				op := store.Op{Key: keys[w][i%len(keys[w])], Value: value}
				if _, err := s.Txn(ctx, store.Txn{Ops: []store.Op{op}}); err != nil {
					b.Errorf("txn: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txns/s")
}

// BenchGet measures Gets of 256-byte values, chosen among 10,000 keys, from
// GOMAXPROCS goroutines, and reports gets/s.
func BenchGet(b *testing.B, s store.Store) {
	ctx := context.Background()
	const n, perTxn = 10_000, 500
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench/get/%05d", i)
	}
	value := make([]byte, 256)
	for i := 0; i < n; i += perTxn {
		var txn store.Txn
		for _, k := range keys[i : i+perTxn] {
			txn.Ops = append(txn.Ops, store.Op{Key: k, Value: value})
		}
		if _, err := s.Txn(ctx, txn); err != nil {
			b.Fatalf("load: %v", err)
		}
	}
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			i++
			if _, err := s.Get(ctx, keys[i%n]); err != nil {
				b.Errorf("get: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}
