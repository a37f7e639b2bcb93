package server_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/pki"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// provision provisions a device over the admin API and returns its
// bundle.
func provision(t *testing.T, s *xmpptest.Server, name, group string) []byte {
	t.Helper()
	status, v := call(t, s, "POST", "/api/v1/devices", map[string]string{"name": name, "group": group})
	want(t, "provision "+name, status, v, 201, "")
	return []byte(v["bundle"].(string))
}

// certClient opens a stream up to TLS with the certificate in bundle
// (nil: none) and returns the client and the mechanisms offered.
func certClient(t *testing.T, s *xmpptest.Server, bundle []byte) (*xmpptest.Client, []string) {
	t.Helper()
	c := xmpptest.Dial(t, s)
	if bundle != nil {
		cert, err := tls.X509KeyPair(bundle, bundle)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificate = &cert
	}
	c.OpenStream()
	features := c.StartTLS()
	var mechs []string
	if m := features.Child(stanza.NSSASL, "mechanisms"); m != nil {
		for _, e := range m.ChildElements() {
			mechs = append(mechs, e.Text())
		}
	}
	return c, mechs
}

// externalFails checks that EXTERNAL with bundle fails with cond.
func externalFails(t *testing.T, s *xmpptest.Server, what string, bundle []byte, authzid, cond string) {
	t.Helper()
	c, _ := certClient(t, s, bundle)
	el := c.AuthExternal(authzid)
	if el.Local != "failure" || el.FirstChild() == nil || el.FirstChild().Local != cond {
		t.Fatalf("%s: %s, want failure %s", what, el, cond)
	}
}

// TestDeviceCertificates: a provisioned device logs in with its
// certificate (SASL EXTERNAL, XEP-0178) and only with it; it publishes to
// its node in its group's collection, where a watcher of the group gets
// the readings and, when the device's connection is lost, its last will;
// revoked, expired, foreign and mismatched certificates are refused.
func TestDeviceCertificates(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {auth_backoff_max: 10ms}") // many failures from one address
	s.AddUser(t, "watcher", "pw")
	bundle := provision(t, s, "Monitor1", "ward1")

	// EXTERNAL is offered, first, only to a client with a certificate.
	if _, mechs := certClient(t, s, nil); strings.Contains(strings.Join(mechs, ","), "EXTERNAL") {
		t.Fatalf("EXTERNAL offered without a certificate: %v", mechs)
	}
	if _, mechs := certClient(t, s, bundle); len(mechs) == 0 || mechs[0] != "EXTERNAL" {
		t.Fatalf("mechanisms with a certificate: %v", mechs)
	}

	// The watcher subscribes to the group's collection.
	w := xmpptest.Login(t, s, "watcher", "pw", "dash")
	w.Send(`<presence/>`) // notifications go to available resources
	iq(t, w, "sub", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><subscribe node='groups/ward1' jid='watcher@localhost'/>`+groupOptions+`</pubsub>`)

	dev := xmpptest.LoginCert(t, s, bundle, "sim")
	if dev.JID != "monitor1@localhost/sim" {
		t.Fatalf("bound %s", dev.JID)
	}
	iq(t, dev, "p1", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><publish node='devices/monitor1'><item id='r1'>`+
		`<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1' done='true'><node nodeId='monitor1'><timestamp value='2026-11-24T10:00:00Z'>`+
		`<numeric name='heartRate' momentary='true' automaticReadout='true' value='72' unit='bpm'/></timestamp></node></fields></item></publish></pubsub>`)
	waitItem(t, w, "devices/monitor1", "r1")

	// The device may not configure its node: it is a publisher.
	dev.Send(`<iq type='get' to='pubsub.localhost' id='cfg'><pubsub xmlns='` + nsOwner + `'><configure node='devices/monitor1'/></pubsub></iq>`)
	for el := dev.NextElement(); ; el = dev.NextElement() {
		if el.Attr("id") == "cfg" {
			if el.Attr("type") != "error" || !strings.Contains(el.String(), "forbidden") {
				t.Fatalf("configure by the device: %s", el)
			}
			break
		}
	}

	// No password works for a provisioned device.
	pc := xmpptest.Dial(t, s)
	pc.OpenStream()
	pc.StartTLS()
	if el := pc.AuthSCRAM("SCRAM-SHA-256", "monitor1", ""); el.Local != "failure" {
		t.Fatalf("password login of a device: %s", el)
	}

	// Lost connection: the group's watcher gets the last will.
	dev.Drop()
	item := waitItem(t, w, "devices/monitor1", "last-will")
	if st := item.Child("urn:mote:device:0", "status"); st == nil || st.Attr("state") != "offline" {
		t.Fatalf("last will: %s", item)
	}

	// The API lists the device with its certificate, and the group with
	// the latest reading.
	_, v := call(t, s, "GET", "/api/v1/devices/monitor1", nil)
	cert, _ := v["certificate"].(map[string]any)
	if v["group"] != "ward1" || cert == nil || cert["revoked"] != false || v["online"] != false {
		t.Fatalf("device %v", v)
	}
	if na, err := time.Parse(time.RFC3339, cert["not_after"].(string)); err != nil || time.Until(na) < 700*24*time.Hour {
		t.Fatalf("not_after %v %v", cert["not_after"], err)
	}
	_, v = call(t, s, "GET", "/api/v1/groups/ward1", nil)
	if ds := v["devices"].([]any); len(ds) != 1 || ds[0].(map[string]any)["last_item"].(map[string]any)["id"] != "last-will" {
		t.Fatalf("group %v", v)
	}

	// Certificate cases.
	ca, err := pki.LoadOrCreateCA(s.Config.DataDir, "localhost") // the server's own CA
	if err != nil {
		t.Fatal(err)
	}
	issue := func(req pki.IssueRequest) []byte {
		is, err := ca.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		return is.Bundle
	}
	other, err := pki.LoadOrCreateCA(filepath.Join(t.TempDir()), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(pki.IssueRequest{JID: "monitor1@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	externalFails(t, s, "another CA", foreign.Bundle, "", "not-authorized")
	externalFails(t, s, "expired", issue(pki.IssueRequest{JID: "monitor1@localhost", Now: time.Now().Add(-48 * time.Hour), Validity: time.Hour}), "", "not-authorized")
	externalFails(t, s, "not yet valid", issue(pki.IssueRequest{JID: "monitor1@localhost", Now: time.Now().Add(time.Hour), Validity: time.Hour}), "", "not-authorized")
	externalFails(t, s, "authzid not in the certificate", bundle, "watcher@localhost", "invalid-authzid")
	// A certificate from the right CA naming a password-only account.
	externalFails(t, s, "password-only account", issue(pki.IssueRequest{JID: "watcher@localhost"}), "", "not-authorized")
	// The account may be given both ways in.
	status, v := call(t, s, "PUT", "/api/v1/accounts/watcher/login-policy", map[string]string{"policy": "both"})
	want(t, "policy both", status, v, 204, "")
	xmpptest.LoginCert(t, s, issue(pki.IssueRequest{JID: "watcher@localhost"}), "cert")
	xmpptest.Login(t, s, "watcher", "pw", "pw")
	_, v = call(t, s, "GET", "/api/v1/accounts/watcher", nil)
	if v["login_policy"] != "both" {
		t.Fatalf("account %v", v)
	}

	// Revocation closes the device's session and refuses its certificate;
	// a reissued one works, the old one does not.
	dev = xmpptest.LoginCert(t, s, bundle, "sim")
	status, v = call(t, s, "POST", "/api/v1/devices/monitor1/revoke", nil)
	want(t, "revoke", status, v, 204, "")
	dev.ExpectStreamError(stanza.StreamNotAuthorized)
	externalFails(t, s, "revoked", bundle, "", "not-authorized")
	status, v = call(t, s, "POST", "/api/v1/devices/monitor1/certificate", nil)
	want(t, "reissue", status, v, 201, "")
	fresh := []byte(v["bundle"].(string))
	xmpptest.LoginCert(t, s, fresh, "sim")
	externalFails(t, s, "the old certificate", bundle, "", "not-authorized")

	// A device removed and provisioned again: its old certificates stay
	// revoked.
	status, v = call(t, s, "DELETE", "/api/v1/devices/monitor1", nil)
	want(t, "delete", status, v, 204, "")
	status, v = call(t, s, "GET", "/api/v1/pubsub/nodes/"+strings.ReplaceAll("devices/monitor1", "/", "%2F"), nil)
	want(t, "node of a deleted device", status, v, 404, "not_found")
	again := provision(t, s, "monitor1", "ward1")
	externalFails(t, s, "a certificate of the earlier device", fresh, "", "not-authorized")
	xmpptest.LoginCert(t, s, again, "sim")

	status, v = call(t, s, "POST", "/api/v1/devices", map[string]string{"name": "monitor1"})
	want(t, "provision twice", status, v, 409, "conflict")
	status, v = call(t, s, "POST", "/api/v1/devices", map[string]string{"name": "m2", "group": "no/slash"})
	want(t, "bad group", status, v, 400, "bad_request")
	if status, _ := call(t, s, "GET", "/api/v1/accounts/m2", nil); status != 404 {
		t.Fatalf("an account left by a failed provisioning: %d", status)
	}
}

// groupOptions asks a collection subscription for the items published
// in the collection's nodes (XEP-0248 §6.1; the default is "nodes").
const groupOptions = `<options><x xmlns='jabber:x:data' type='submit'>` +
	`<field var='FORM_TYPE' type='hidden'><value>` + nsPubSub + `#subscribe_options</value></field>` +
	`<field var='pubsub#subscription_type'><value>items</value></field></x></options>`

// waitItem reads c's stanzas until the notification of item id on node,
// and returns the item.
func waitItem(t *testing.T, c *xmpptest.Client, node, id string) *stanza.Element {
	t.Helper()
	for {
		el := c.NextElement()
		ev := el.Child(nsPubSub+"#event", "event")
		if ev == nil {
			continue
		}
		items := ev.Child(nsPubSub+"#event", "items")
		if items == nil || items.Attr("node") != node {
			continue
		}
		for _, it := range items.ChildElements() {
			if it.Attr("id") == id {
				return it
			}
		}
	}
}

// TestDeviceSlixmpp: slixmpp (Debian's python3-slixmpp) logs in with a
// provisioned certificate by its own SASL EXTERNAL and publishes to the
// device's node.
func TestDeviceSlixmpp(t *testing.T) {
	s := xmpptest.Start(t, "")
	bundle := provision(t, s, "monitor7", "ward1")
	file := filepath.Join(t.TempDir(), "monitor7.pem")
	if err := os.WriteFile(file, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	xmpptest.RunSlixmpp(t, s, "testdata/slixmpp_external.py", file, "monitor7@localhost")
	status, v := call(t, s, "GET", "/api/v1/groups/ward1", nil)
	want(t, "group", status, v, 200, "")
	if ds := v["devices"].([]any); len(ds) != 1 || ds[0].(map[string]any)["last_item"].(map[string]any)["id"] != "slix-1" {
		t.Fatalf("group after slixmpp's publish: %v", v)
	}
}
