package websocket_test

import (
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmpptest"
)

// get fetches url, trusting the server's self-signed certificate.
func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestHostMeta: XEP-0156 discovery on both listeners, in XML (XRD) and
// JSON, names the WebSocket endpoint of the listener asked, readable from
// any origin.
func TestHostMeta(t *testing.T) {
	s := xmpptest.Start(t, "")
	for _, tc := range []struct {
		base, ws string
	}{
		{"http://" + s.WSAddr, s.WSURL(false)},
		{"https://" + s.WSSAddr, s.WSURL(true)},
	} {
		t.Run(tc.base, func(t *testing.T) {
			resp, b := get(t, tc.base+"/.well-known/host-meta")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/xrd+xml; charset=utf-8" ||
				resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("host-meta: %d %v", resp.StatusCode, resp.Header)
			}
			var xrd struct {
				XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
				Links   []struct {
					Rel  string `xml:"rel,attr"`
					Href string `xml:"href,attr"`
				} `xml:"Link"`
			}
			if err := xml.Unmarshal(b, &xrd); err != nil {
				t.Fatalf("host-meta: %v\n%s", err, b)
			}
			if len(xrd.Links) != 1 || xrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" || xrd.Links[0].Href != tc.ws {
				t.Fatalf("host-meta links: %+v, want %s\n%s", xrd.Links, tc.ws, b)
			}

			resp, b = get(t, tc.base+"/.well-known/host-meta.json")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
				resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("host-meta.json: %d %v", resp.StatusCode, resp.Header)
			}
			var jrd struct {
				Links []struct {
					Rel  string `json:"rel"`
					Href string `json:"href"`
				} `json:"links"`
			}
			if err := json.Unmarshal(b, &jrd); err != nil {
				t.Fatalf("host-meta.json: %v\n%s", err, b)
			}
			if len(jrd.Links) != 1 || jrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" || jrd.Links[0].Href != tc.ws {
				t.Fatalf("host-meta.json links: %+v, want %s", jrd.Links, tc.ws)
			}
		})
	}
}

// TestHTTPRoutes: only the endpoint and the discovery documents exist, and
// the WebSocket endpoint answers a plain GET with 426 Upgrade Required.
func TestHTTPRoutes(t *testing.T) {
	s := xmpptest.Start(t, "")
	base := "http://" + s.WSAddr
	for i, tc := range []struct {
		path   string
		status int
	}{
		{"/", http.StatusNotFound},
		{"/.well-known/host-meta.xml", http.StatusNotFound},
		{"/xmpp-websocket", http.StatusBadRequest}, // no subprotocol offered
	} {
		if resp, _ := get(t, base+tc.path); resp.StatusCode != tc.status {
			t.Errorf("%d: GET %s: %d, want %d", i, tc.path, resp.StatusCode, tc.status)
		}
	}
	req, _ := http.NewRequest("GET", base+"/xmpp-websocket", nil)
	req.Header.Set("Sec-WebSocket-Protocol", "xmpp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("GET without Upgrade: %d, want 426", resp.StatusCode)
	}
	resp, err = http.Post(base+"/.well-known/host-meta", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST host-meta: %d, want 405", resp.StatusCode)
	}
}
