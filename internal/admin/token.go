package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the name of the generated token's file in the data
// directory.
const TokenFile = "admin-token"

// LoadOrCreateToken returns the admin token: configured when it is not
// empty, else the one in dataDir/admin-token, which is created on first
// start with 256 random bits (base64url, 43 characters) and mode 0600.
func LoadOrCreateToken(dataDir, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	p := filepath.Join(dataDir, TokenFile)
	for range 2 {
		b, err := os.ReadFile(p)
		if err == nil {
			t := strings.TrimSpace(string(b))
			if t == "" {
				return "", fmt.Errorf("admin: %s is empty: delete it to get a new token", p)
			}
			return t, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("admin: token: %w", err)
		}
		var raw [32]byte
		rand.Read(raw[:])
		t := base64.RawURLEncoding.EncodeToString(raw[:])
		// O_EXCL: of two processes starting at once, one writes the
		// token and the other reads it.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("admin: token: %w", err)
		}
		_, err = f.WriteString(t + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return "", fmt.Errorf("admin: token: %w", err)
		}
		return t, nil
	}
	return "", fmt.Errorf("admin: token: %s keeps appearing and disappearing", p)
}

func tokenDigest(t string) [32]byte { return sha256.Sum256([]byte(t)) }

// authenticated lets a request through to h only with the bearer token
// (RFC 6750 §2.1). The digests are compared in constant time, so neither
// the token's bytes nor its length show in the timing.
func (a *api) authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mote admin"`)
			writeError(w, Errorf(CodeUnauthorized, "an admin token is required (Authorization: Bearer <token>)"))
			return
		}
		d := tokenDigest(strings.TrimSpace(token))
		if subtle.ConstantTimeCompare(d[:], a.token[:]) != 1 {
			// RFC 6750 §3.1.
			w.Header().Set("WWW-Authenticate", `Bearer realm="mote admin", error="invalid_token"`)
			writeError(w, Errorf(CodeUnauthorized, "wrong admin token"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
