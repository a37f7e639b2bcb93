// Package dashboard is mote's web dashboard: static HTML, CSS and
// JavaScript, embedded in the binary, that the admin listener serves at
// /dashboard/ (see internal/admin). There is no build step and nothing is
// fetched from elsewhere: the browser loads these files and then reads
// everything else from the JSON admin API (/api/v1) with the admin token,
// which the operator types in and the page keeps in sessionStorage.
//
// The assets carry no data, so they are served without the token. Their
// responses forbid what the dashboard does not need (Content-Security-Policy
// default-src 'self', no inline script or style, no framing) and are
// revalidated on every load (Cache-Control no-cache with a content ETag),
// so that a new binary's assets are picked up at once.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of the dashboard's responses: the
// page's own scripts, styles and API only. The scripts build the page
// with DOM calls and set user data as text, never as markup.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	name  string // for http.ServeContent's Content-Type guess
	body  []byte
	etag  string
	ctype string
}

// Handler returns the handler of the assets, rooted at "/": "/" is
// index.html and "/app.js" is static/app.js. Mount it under /dashboard
// with http.StripPrefix. Only files are served, never a directory
// listing; anything else is 404.
func Handler() http.Handler {
	assets := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("Content-Type", a.ctype)
		// ServeContent answers If-None-Match with 304 from the ETag.
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}

// load reads the embedded files. The set is fixed at build time, so a
// failure is a build mistake and panics.
func load() map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		// mime's table depends on the system's; pin what browsers check
		// under nosniff.
		switch path.Ext(p) {
		case ".html":
			ctype = "text/html; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		name := strings.TrimPrefix(p, "static/")
		m[name] = asset{name: name, body: b, ctype: ctype,
			etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: embedded assets: " + err.Error())
	}
	if _, ok := m["index.html"]; !ok {
		panic("dashboard: embedded assets: no index.html")
	}
	return m
}
