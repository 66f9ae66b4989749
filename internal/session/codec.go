// Package session keeps browser sign-in state on the browser, sealed: the
// signed-in session and the short-lived state of a sign-in in progress
// live in cookies encrypted and authenticated with AES-256-GCM, so raygate
// replicas that share the keys share sessions and keep nothing themselves.
// codec.go seals and opens values, cookie.go reads and writes the cookies
// (chunked when large), record.go defines what they hold.
package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Errors of Open. Neither says more than that the value cannot be used.
var (
	// ErrInvalid means the value was altered, truncated, sealed for another
	// purpose, or is not a sealed value at all.
	ErrInvalid = errors.New("session: value is invalid")
	// ErrUnknownKey means the value names a key raygate does not hold: it
	// was sealed by another deployment, or with a key since removed.
	ErrUnknownKey = errors.New("session: value was sealed with an unknown key")
)

const (
	formatVersion = 1
	keyIDSize     = 4
	nonceSize     = 12
	// overhead is what sealing adds to a plaintext, before base64.
	overhead = 1 + keyIDSize + nonceSize + 16
	// MaxSealed bounds a sealed value (all chunks together); longer input
	// is refused before decoding.
	MaxSealed = 24 << 10
)

// Codec seals values with the first of its keys and opens values sealed
// with any of them. It is safe for concurrent use.
type Codec struct {
	keys []codecKey
}

type codecKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// NewCodec returns a codec over 32-byte keys; the first seals.
func NewCodec(keys [][]byte) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: no keys")
	}
	c := &Codec{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("session: key %d is %d bytes, want 32", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("session: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("session: key %d: %w", i, err)
		}
		sum := sha256.Sum256(append([]byte("raygate session key id\x00"), k...))
		var ck codecKey
		copy(ck.id[:], sum[:])
		ck.aead = aead
		c.keys = append(c.keys, ck)
	}
	return c, nil
}

// Seal encrypts and authenticates plaintext for purpose (which Open must
// be given again, so a value sealed for one cookie is useless in another)
// and returns it base64url-encoded: version, key id, nonce, ciphertext.
func (c *Codec) Seal(purpose string, plaintext []byte) (string, error) {
	k := c.keys[0]
	out := make([]byte, 1+keyIDSize+nonceSize, overhead+len(plaintext))
	out[0] = formatVersion
	copy(out[1:], k.id[:])
	nonce := out[1+keyIDSize:]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("session: seal: %w", err)
	}
	out = k.aead.Seal(out, nonce, plaintext, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open reverses Seal. It fails with ErrUnknownKey when no key of the codec
// sealed the value, and ErrInvalid for anything else wrong.
func (c *Codec) Open(purpose, value string) ([]byte, error) {
	if len(value) > MaxSealed {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < overhead || raw[0] != formatVersion {
		return nil, ErrInvalid
	}
	id, nonce, ct := raw[1:1+keyIDSize], raw[1+keyIDSize:1+keyIDSize+nonceSize], raw[1+keyIDSize+nonceSize:]
	for _, k := range c.keys {
		if string(k.id[:]) != string(id) {
			continue
		}
		pt, err := k.aead.Open(nil, nonce, ct, []byte(purpose))
		if err != nil {
			return nil, ErrInvalid
		}
		return pt, nil
	}
	return nil, ErrUnknownKey
}
