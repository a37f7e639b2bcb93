package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestAssetsSafe: the assets keep to the CSP and to building the page
// from text: no inline script or style, no HTML parsed from strings.
func TestAssetsSafe(t *testing.T) {
	inlineScript := regexp.MustCompile(`<script\b[^>]*>\s*[^<\s]`)
	banned := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
		"setAttribute(\"style\"", ".cssText", "javascript:"}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := static.ReadFile(p)
		s := string(b)
		switch {
		case strings.HasSuffix(p, ".html"):
			if inlineScript.MatchString(s) {
				t.Errorf("%s: inline script", p)
			}
			if strings.Contains(s, " style=") || strings.Contains(s, "<style") {
				t.Errorf("%s: inline style", p)
			}
			if strings.Contains(s, "http://") || strings.Contains(s, "https://") {
				t.Errorf("%s: refers to another site", p)
			}
		case strings.HasSuffix(p, ".js"):
			for _, w := range banned {
				if strings.Contains(s, w) {
					t.Errorf("%s: uses %s", p, w)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHandler: index.html at the root, every asset with its type, the
// security headers on every answer, 304 for a known ETag, only GET and
// HEAD.
func TestHandler(t *testing.T) {
	h := Handler()
	for i, tc := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/index.html", 200, "text/html; charset=utf-8"},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/app.css", 200, "text/css; charset=utf-8"},
		{"GET", "/favicon.svg", 200, "image/svg+xml"},
		{"GET", "/missing", 404, ""},
		{"GET", "/../admin.go", 404, ""},
		{"POST", "/", 405, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status || tc.ctype != "" && w.Header().Get("Content-Type") != tc.ctype {
			t.Errorf("%d: %s %s: %d %q, want %d %q", i, tc.method, tc.path, w.Code, w.Header().Get("Content-Type"), tc.status, tc.ctype)
		}
		if w.Header().Get("Content-Security-Policy") != CSP || w.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%d: %s %s: security headers missing: %v", i, tc.method, tc.path, w.Header())
		}
		if tc.status == 200 {
			etag := w.Header().Get("ETag")
			r := httptest.NewRequest("GET", tc.path, nil)
			r.Header.Set("If-None-Match", etag)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if etag == "" || w.Code != http.StatusNotModified {
				t.Errorf("%d: %s with If-None-Match %q: %d, want 304", i, tc.path, etag, w.Code)
			}
		}
	}
}
