package xmpptest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// AdminURL returns the base URL of the admin listener (http://host:port),
// or "" when the server has none.
func (s *Server) AdminURL() string {
	a := s.AdminAddr()
	if a == nil {
		return ""
	}
	return "http://" + a.String()
}

// Admin sends a request to the admin listener with the admin token and
// returns the status and the body. body, when not nil, is sent as JSON
// (a string or []byte as it is).
func (s *Server) Admin(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	return s.AdminWithToken(t, s.AdminToken(), method, path, body)
}

// AdminWithToken is Admin with another token ("" sends none).
func (s *Server) AdminWithToken(t testing.TB, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewReader([]byte(b))
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("xmpptest: admin body: %v", err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.AdminURL()+path, r)
	if err != nil {
		t.Fatalf("xmpptest: admin request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("xmpptest: admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("xmpptest: admin %s %s: %v", method, path, err)
	}
	return resp.StatusCode, b
}
