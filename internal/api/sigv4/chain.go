package sigv4

import (
	"context"
	"errors"
)

// Chain looks an access key up in each of its Credentials in turn; the first
// that knows the key answers.
type Chain []Credentials

// SecretAccessKey implements Credentials.
func (c Chain) SecretAccessKey(ctx context.Context, accessKeyID string) (string, error) {
	for _, creds := range c {
		secret, err := creds.SecretAccessKey(ctx, accessKeyID)
		if errors.Is(err, ErrUnknownAccessKey) {
			continue
		}
		return secret, err
	}
	return "", ErrUnknownAccessKey
}
