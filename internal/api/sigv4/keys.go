package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
)

// maxCachedKeys bounds the signing key cache; when full it is emptied (keys
// change daily with the scope date, so old entries are garbage anyway).
const maxCachedKeys = 4096

// scopeKey identifies a derived signing key.
type scopeKey struct {
	accessKeyID, date, region, service string
}

// signingKey is a derived signing key prepared for HMAC-SHA256: the key
// padded to the SHA-256 block size and XORed with the inner and outer pads.
type signingKey struct {
	secret     string // the secret it was derived from, to notice rotation
	ipad, opad [sha256.BlockSize]byte
}

// keyCache caches derived signing keys so that a request costs two SHA-256
// hashes of its own data plus an HMAC, instead of four more HMACs to derive
// the key.
type keyCache struct {
	mu sync.RWMutex
	m  map[scopeKey]*signingKey
}

// get returns the signing key of k for secret, deriving it when it is not
// cached or was derived from another secret.
func (c *keyCache) get(k scopeKey, secret string) *signingKey {
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	if e != nil && e.secret == secret {
		return e
	}
	e = deriveKey(secret, k)
	// The strings of k point into request headers; keep copies only.
	k = scopeKey{strings.Clone(k.accessKeyID), strings.Clone(k.date), strings.Clone(k.region), strings.Clone(k.service)}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedKeys {
		c.m = make(map[scopeKey]*signingKey)
	}
	c.m[k] = e
	c.mu.Unlock()
	return e
}

// deriveKey computes
//
//	kDate    = HMAC("AWS4" + secret, date)
//	kRegion  = HMAC(kDate, region)
//	kService = HMAC(kRegion, service)
//	kSigning = HMAC(kService, "aws4_request")
func deriveKey(secret string, k scopeKey) *signingKey {
	key := hmacSHA256([]byte("AWS4"+secret), k.date)
	key = hmacSHA256(key, k.region)
	key = hmacSHA256(key, k.service)
	key = hmacSHA256(key, scopeTerminator)
	e := &signingKey{secret: secret}
	copy(e.ipad[:], key) // 32 bytes, shorter than a block: no pre-hashing
	copy(e.opad[:], key)
	for i := range e.ipad {
		e.ipad[i] ^= 0x36
		e.opad[i] ^= 0x5c
	}
	return e
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
