package admin

import "net/http"

// listNodes: GET /api/v1/pubsub/nodes.
func (a *api) listNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := a.b.PubSubNodes(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if nodes == nil {
		nodes = []Node{}
	}
	writeJSON(w, http.StatusOK, struct {
		Service string `json:"service"`
		Nodes   []Node `json:"nodes"`
	}{a.b.PubSubService(), nodes})
}

// getNode: GET /api/v1/pubsub/nodes/{node}.
func (a *api) getNode(w http.ResponseWriter, r *http.Request) {
	n, err := a.b.PubSubNode(r.Context(), r.PathValue("node"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// listItems: GET /api/v1/pubsub/nodes/{node}/items?limit=&after=, newest
// first; after is an item ID.
func (a *api) listItems(w http.ResponseWriter, r *http.Request) {
	after, limit, perr := page(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	p, err := a.b.PubSubItems(r.Context(), r.PathValue("node"), after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if p.Items == nil {
		p.Items = []Item{}
	}
	resp := struct {
		ItemPage
		Next string `json:"next,omitempty"`
	}{ItemPage: p}
	if p.More && len(p.Items) > 0 {
		resp.Next = p.Items[len(p.Items)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}

// deleteNode: DELETE /api/v1/pubsub/nodes/{node}.
func (a *api) deleteNode(w http.ResponseWriter, r *http.Request) {
	node := r.PathValue("node")
	if err := a.b.DeletePubSubNode(r.Context(), node); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("pubsub node deleted", "node", node, "via", "admin api")
	w.WriteHeader(http.StatusNoContent)
}
