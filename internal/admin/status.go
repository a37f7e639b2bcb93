package admin

import (
	"context"
	"net/http"
	"time"
)

// stats: GET /api/v1/stats.
func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	st, err := a.b.Stats(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// healthz: GET /healthz, 200 while the process serves HTTP (liveness).
func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyzTimeout bounds the readiness check (a storage query).
const readyzTimeout = 2 * time.Second

// readyz: GET /readyz, 200 when the listeners accept connections and
// storage answers, 503 unavailable otherwise (readiness).
func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
	defer cancel()
	if err := a.b.Ready(ctx); err != nil {
		writeError(w, Errorf(CodeUnavailable, "not ready: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
