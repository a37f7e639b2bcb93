package admin

import (
	"net/http"
	"sort"
)

// listSessions: GET /api/v1/sessions?account=&limit=&after=, sorted by
// full JID; after is a full JID.
func (a *api) listSessions(w http.ResponseWriter, r *http.Request) {
	after, limit, perr := page(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	all, err := a.b.ListSessions(r.Context(), r.URL.Query().Get("account"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	all = all[sort.Search(len(all), func(i int) bool { return all[i].JID > after }):]
	resp := struct {
		Sessions []Session `json:"sessions"`
		Next     string    `json:"next,omitempty"`
	}{Sessions: all}
	if len(all) > limit {
		resp.Sessions = all[:limit]
		resp.Next = all[limit-1].JID
	}
	if resp.Sessions == nil {
		resp.Sessions = []Session{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// kick: DELETE /api/v1/sessions/{jid}, the session's full JID (a
// resource may contain '/').
func (a *api) kick(w http.ResponseWriter, r *http.Request) {
	j := r.PathValue("jid")
	if err := a.b.Kick(r.Context(), j); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("session closed", "jid", j, "via", "admin api")
	w.WriteHeader(http.StatusNoContent)
}
