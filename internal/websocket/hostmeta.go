package websocket

import (
	"encoding/json"
	"net/http"

	"github.com/mote-xmpp/mote/stanza"
)

// relWebSocket is the link relation of an XMPP WebSocket endpoint
// (XEP-0156).
const relWebSocket = "urn:xmpp:alt-connections:websocket"

// endpoint is the WebSocket URL of the listener r came in on, as the
// client addressed it: ws:// on the plain listener, wss:// on the TLS one.
func endpoint(r *http.Request) string {
	scheme := "ws://"
	if r.TLS != nil {
		scheme = "wss://"
	}
	return scheme + r.Host + Path
}

// discoveryHeaders sets what both documents share: any web page may read
// them (XEP-0156 asks for CORS, since web clients are served from other
// origins), and they change only with the configuration.
func discoveryHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "max-age=3600")
}

// serveHostMetaXML serves /.well-known/host-meta (XEP-0156, RFC 6415): an
// XRD document linking the WebSocket endpoint.
func serveHostMetaXML(w http.ResponseWriter, r *http.Request) {
	discoveryHeaders(w, "application/xrd+xml; charset=utf-8")
	b := []byte("<?xml version='1.0' encoding='utf-8'?>\n" +
		"<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n" +
		"  <Link rel='" + relWebSocket + "' href='")
	b = stanza.AppendEscaped(b, endpoint(r), true)
	b = append(b, "'/>\n</XRD>\n"...)
	w.Write(b)
}

// hostMetaJSON is the JSON (JRD) form of host-meta (RFC 6415).
type hostMetaJSON struct {
	Links []hostMetaLink `json:"links"`
}

type hostMetaLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// serveHostMetaJSON serves /.well-known/host-meta.json (XEP-0156).
func serveHostMetaJSON(w http.ResponseWriter, r *http.Request) {
	discoveryHeaders(w, "application/json")
	b, _ := json.MarshalIndent(hostMetaJSON{Links: []hostMetaLink{{Rel: relWebSocket, Href: endpoint(r)}}}, "", "  ")
	w.Write(append(b, '\n'))
}
