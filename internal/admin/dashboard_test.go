package admin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/admin/dashboard"
)

// TestDashboardMount: the admin handler serves the dashboard's assets
// at /dashboard/ without the token and with the security headers, and /
// redirects there; the API still wants the token.
func TestDashboardMount(t *testing.T) {
	c := start(t, newFake())
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", c.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	for i, tc := range []struct {
		path, location string
	}{
		{"/", "/dashboard/"},
		{"/dashboard", "/dashboard/"},
	} {
		resp, _ := get(tc.path)
		if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != tc.location {
			t.Errorf("%d: GET %s: %s, Location %q; want a redirect to %s", i, tc.path, resp.Status, resp.Header.Get("Location"), tc.location)
		}
	}

	resp, body := get("/dashboard/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `<script type="module" src="app.js">`) {
		t.Fatalf("GET /dashboard/: %s %s\n%.200s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy": dashboard.CSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-cache",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if resp, _ := get("/dashboard/", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %s, want 304", etag, resp.Status)
	}
	if resp, _ := get("/dashboard/app.js"); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("app.js: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if resp, _ := get("/dashboard/nope.js"); resp.StatusCode != 404 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("nope.js: %s", resp.Status)
	}
	if status, _, v := c.do("", "GET", "/api/v1/stats", ""); status != 401 {
		t.Errorf("the API without the token: %d %v", status, v)
	}
}
