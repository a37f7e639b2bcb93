package server_test

// Integration tests of the admin listener: the API against a real server
// driven over XMPP, /metrics after traffic, and the health checks.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/admin"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	nsPubSub = "http://jabber.org/protocol/pubsub"
	nsOwner  = nsPubSub + "#owner"
)

// call sends an API request and decodes the JSON answer into a map.
func call(t *testing.T, s *xmpptest.Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	status, b := s.Admin(t, method, path, body)
	var v map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, path, status, b)
		}
	}
	return status, v
}

// want checks status and, for an error, its code.
func want(t *testing.T, what string, status int, v map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	code := ""
	if e, ok := v["error"].(map[string]any); ok {
		code, _ = e["code"].(string)
	}
	if status != wantStatus || code != wantCode {
		t.Fatalf("%s: %d %q, want %d %q (%v)", what, status, code, wantStatus, wantCode, v)
	}
}

// iq sends an IQ and returns the reply, skipping other stanzas.
func iq(t *testing.T, c *xmpptest.Client, id, typ, to, payload string) *stanza.Element {
	t.Helper()
	c.Send(`<iq type='` + typ + `' to='` + to + `' id='` + id + `'>` + payload + `</iq>`)
	for {
		el := c.NextElement()
		if el.Local == "iq" && el.Attr("id") == id {
			if el.Attr("type") != "result" {
				t.Fatalf("iq %s: %s", id, el)
			}
			return el
		}
	}
}

func jids(list any, key string) []string {
	var out []string
	l, _ := list.([]any)
	for _, e := range l {
		m, _ := e.(map[string]any)
		s, _ := m[key].(string)
		out = append(out, s)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestAdminAccountsAndSessions: an account created over the API logs in
// over XMPP; its session is listed and kicked; a password changed over the
// API replaces the old one; deleting the account closes its sessions.
func TestAdminAccountsAndSessions(t *testing.T) {
	s := xmpptest.Start(t, "")

	status, v := call(t, s, "POST", "/api/v1/accounts", map[string]string{"username": "Sensor1", "password": "pw-one"})
	want(t, "create", status, v, 201, "")
	if v["username"] != "sensor1" || v["sessions"] != 0.0 || v["online"] != false || v["last_active"] != nil {
		t.Fatalf("created %v", v)
	}
	status, v = call(t, s, "POST", "/api/v1/accounts", map[string]string{"username": "sensor1", "password": "x"})
	want(t, "create again", status, v, 409, "conflict")
	status, v = call(t, s, "POST", "/api/v1/accounts", map[string]string{"username": "a b@c", "password": "x"})
	want(t, "bad username", status, v, 400, "bad_request")
	status, v = call(t, s, "POST", "/api/v1/accounts", map[string]string{"username": "ok"})
	want(t, "no password", status, v, 400, "bad_request")
	status, v = call(t, s, "POST", "/api/v1/accounts", `{"username": "ok", "password": `)
	want(t, "bad JSON", status, v, 400, "bad_request")
	status, v = call(t, s, "POST", "/api/v1/accounts", map[string]string{"username": "ok", "password": "\u0007bell"})
	want(t, "unusable password", status, v, 400, "bad_request")
	status, v = call(t, s, "GET", "/api/v1/accounts/ok", nil)
	want(t, "not created", status, v, 404, "not_found")

	dev := xmpptest.Login(t, s, "sensor1", "pw-one", "dev")
	dev.Send(`<presence><priority>3</priority></presence>`)
	iq(t, dev, "p1", "get", "localhost", `<ping xmlns='urn:xmpp:ping'/>`)

	status, v = call(t, s, "GET", "/api/v1/sessions", nil)
	want(t, "sessions", status, v, 200, "")
	ss, _ := v["sessions"].([]any)
	if len(ss) != 1 {
		t.Fatalf("sessions %v", v)
	}
	se := ss[0].(map[string]any)
	if se["jid"] != "sensor1@localhost/dev" || se["available"] != true || se["priority"] != 3.0 {
		t.Fatalf("session %v", se)
	}
	if since, err := time.Parse(time.RFC3339Nano, se["connected_since"].(string)); err != nil || time.Since(since) > time.Minute {
		t.Fatalf("connected_since %v %v", se["connected_since"], err)
	}
	recent := func(what string, v any) {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
		if err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Second {
			t.Fatalf("%s: %v %v", what, v, err)
		}
	}
	recent("session last_active", se["last_active"])
	if se["transport"] != "tls" || se["detached"] != false || !strings.HasPrefix(fmt.Sprint(se["remote"]), "127.0.0.1:") {
		t.Fatalf("session connection %v", se)
	}
	status, v = call(t, s, "GET", "/api/v1/accounts/sensor1", nil)
	want(t, "account", status, v, 200, "")
	if v["sessions"] != 1.0 || v["online"] != true || fmt.Sprint(v["resources"]) != "[dev]" {
		t.Fatalf("account %v", v)
	}
	recent("account last_active", v["last_active"])

	// Password change: the old one fails, the new one works.
	status, v = call(t, s, "PUT", "/api/v1/accounts/sensor1/password", map[string]string{"password": "pw-two"})
	want(t, "passwd", status, v, 204, "")
	c := xmpptest.Dial(t, s)
	c.OpenStream()
	c.StartTLS()
	if el := c.AuthSCRAM("SCRAM-SHA-256", "sensor1", "pw-one"); el.Local != "failure" {
		t.Fatalf("old password still works: %s", el)
	}
	if el := c.AuthSCRAM("SCRAM-SHA-256", "sensor1", "pw-two"); el.Local != "success" {
		t.Fatalf("new password refused: %s", el)
	}
	c.Restart()
	c.Bind("second")

	// Kick: the session gets policy-violation and leaves the list.
	status, v = call(t, s, "DELETE", "/api/v1/sessions/"+url.PathEscape("sensor1@localhost/dev"), nil)
	want(t, "kick", status, v, 204, "")
	dev.ExpectStreamError(stanza.StreamPolicyViolation)
	xmpptest.WaitFor(t, "the kicked session to go", 5*time.Second, func() bool {
		_, v := call(t, s, "GET", "/api/v1/sessions?account=sensor1", nil)
		return !contains(jids(v["sessions"], "jid"), "sensor1@localhost/dev")
	})
	status, v = call(t, s, "DELETE", "/api/v1/sessions/sensor1@localhost/dev", nil)
	want(t, "kick again", status, v, 404, "not_found")
	status, v = call(t, s, "DELETE", "/api/v1/sessions/sensor1@localhost", nil)
	want(t, "kick a bare JID", status, v, 400, "bad_request")

	// Listing with paging.
	for _, u := range []string{"b1", "b2", "b3"} {
		status, v = call(t, s, "POST", "/api/v1/accounts", map[string]string{"username": u, "password": "pw"})
		want(t, "create "+u, status, v, 201, "")
	}
	status, v = call(t, s, "GET", "/api/v1/accounts?limit=2", nil)
	want(t, "list", status, v, 200, "")
	if got := jids(v["accounts"], "username"); strings.Join(got, ",") != "b1,b2" || v["next"] != "b2" {
		t.Fatalf("page 1: %v next %v", got, v["next"])
	}
	status, v = call(t, s, "GET", "/api/v1/accounts?limit=2&after=b2", nil)
	if got := jids(v["accounts"], "username"); strings.Join(got, ",") != "b3,sensor1" || v["next"] != nil {
		t.Fatalf("page 2: %v next %v", got, v["next"])
	}
	if a := v["accounts"].([]any)[1].(map[string]any); a["online"] != true || fmt.Sprint(a["resources"]) != "[second]" {
		t.Fatalf("listed account %v", a)
	}
	if a := v["accounts"].([]any)[0].(map[string]any); a["online"] != false || fmt.Sprint(a["resources"]) != "[]" {
		t.Fatalf("listed account %v", a)
	}
	// Offline, the last activity is when the last session ended.
	c.Send(`</stream:stream>`)
	xmpptest.WaitFor(t, "sensor1 to go offline", 5*time.Second, func() bool {
		_, v := call(t, s, "GET", "/api/v1/accounts/sensor1", nil)
		return v["online"] == false
	})
	_, v = call(t, s, "GET", "/api/v1/accounts/sensor1", nil)
	recent("last_active offline", v["last_active"])
	c = xmpptest.Login(t, s, "sensor1", "pw-two", "second")

	// Deleting the account closes its remaining session.
	status, v = call(t, s, "DELETE", "/api/v1/accounts/Sensor1", nil)
	want(t, "delete", status, v, 204, "")
	c.ExpectStreamError(stanza.StreamNotAuthorized)
	status, v = call(t, s, "GET", "/api/v1/accounts/sensor1", nil)
	want(t, "deleted", status, v, 404, "not_found")
	status, v = call(t, s, "DELETE", "/api/v1/accounts/sensor1", nil)
	want(t, "delete again", status, v, 404, "not_found")
	c2 := xmpptest.Dial(t, s)
	c2.OpenStream()
	c2.StartTLS()
	if el := c2.AuthSCRAM("SCRAM-SHA-256", "sensor1", "pw-two"); el.Local != "failure" {
		t.Fatalf("a deleted account logs in: %s", el)
	}

	status, v = call(t, s, "PATCH", "/api/v1/accounts/b1", nil)
	want(t, "PATCH", status, v, 405, "method_not_allowed")
	status, v = call(t, s, "GET", "/api/v1/nope", nil)
	want(t, "unknown path", status, v, 404, "not_found")
}

// TestAdminPubSub: nodes created over XMPP appear in the API with their
// configuration, subscribers, affiliations and items; a node deleted over
// the API is gone for XMPP too; deleting its owner's account over the API
// goes through the modules (the nodes it alone owned are deleted).
func TestAdminPubSub(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "owner", "pw")
	s.AddUser(t, "reader", "pw")
	o := xmpptest.Login(t, s, "owner", "pw", "o")
	r := xmpptest.Login(t, s, "reader", "pw", "r")
	const node = "sensors/temp" // a '/' in a node ID is %2F in the path
	path := "/api/v1/pubsub/nodes/" + url.PathEscape(node)
	iq(t, o, "c1", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><create node='`+node+`'/></pubsub>`)
	iq(t, o, "c2", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><create node='owned'/></pubsub>`)
	iq(t, r, "s1", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><subscribe node='`+node+`' jid='reader@localhost'/></pubsub>`)
	for i := 1; i <= 3; i++ {
		iq(t, o, "p"+strconv.Itoa(i), "set", "pubsub.localhost", fmt.Sprintf(
			`<pubsub xmlns='%s'><publish node='%s'><item id='i%d'><t xmlns='urn:example:t'>%d</t></item></publish></pubsub>`, nsPubSub, node, i, i))
	}

	status, v := call(t, s, "GET", "/api/v1/pubsub/nodes", nil)
	want(t, "nodes", status, v, 200, "")
	if got := jids(v["nodes"], "node"); strings.Join(got, ",") != "owned,"+node || v["service"] != "pubsub.localhost" {
		t.Fatalf("nodes %v service %v", got, v["service"])
	}
	if n := v["nodes"].([]any)[1].(map[string]any); n["subscribers"] != 1.0 || n["items"] != 3.0 || n["last_item"].(map[string]any)["id"] != "i3" {
		t.Fatalf("listed node %v", n)
	}
	if n := v["nodes"].([]any)[0].(map[string]any); n["items"] != 0.0 || n["last_item"] != nil {
		t.Fatalf("listed empty node %v", n)
	}
	status, v = call(t, s, "GET", path, nil)
	want(t, "node", status, v, 200, "")
	if v["node"] != node || v["type"] != "leaf" || v["creator"] != "owner@localhost" || v["items"] != 3.0 || v["subscribers"] != 1.0 {
		t.Fatalf("node %v", v)
	}
	if last, _ := v["last_item"].(map[string]any); last["id"] != "i3" || !strings.Contains(fmt.Sprint(last["payload"]), ">3</t>") {
		t.Fatalf("last item %v", v["last_item"])
	}
	cfg, _ := v["config"].(map[string]any)
	if cfg["pubsub#access_model"] != "open" || cfg["pubsub#max_items"] == nil {
		t.Fatalf("config %v", cfg)
	}
	if got := jids(v["affiliations"], "jid"); strings.Join(got, ",") != "owner@localhost" {
		t.Fatalf("affiliations %v", v["affiliations"])
	}
	if got := jids(v["subscriptions"], "jid"); strings.Join(got, ",") != "reader@localhost" {
		t.Fatalf("subscriptions %v", v["subscriptions"])
	}

	status, v = call(t, s, "GET", path+"/items?limit=2", nil)
	want(t, "items", status, v, 200, "")
	items, _ := v["items"].([]any)
	if got := jids(items, "id"); strings.Join(got, ",") != "i3,i2" || v["next"] != "i2" || v["count"] != 3.0 {
		t.Fatalf("items %v next %v count %v", got, v["next"], v["count"])
	}
	first := items[0].(map[string]any)
	if first["publisher"] != "owner@localhost/o" || !strings.Contains(first["payload"].(string), ">3</t>") {
		t.Fatalf("item %v", first)
	}
	status, v = call(t, s, "GET", path+"/items?after=i2", nil)
	if got := jids(v["items"], "id"); strings.Join(got, ",") != "i1" || v["next"] != nil {
		t.Fatalf("items after i2: %v next %v", got, v["next"])
	}
	status, v = call(t, s, "GET", path+"/items?after=nope", nil)
	want(t, "bad cursor", status, v, 400, "bad_request")
	status, v = call(t, s, "GET", "/api/v1/pubsub/nodes/none", nil)
	want(t, "unknown node", status, v, 404, "not_found")
	status, v = call(t, s, "GET", "/api/v1/pubsub/nodes/none/items", nil)
	want(t, "items of an unknown node", status, v, 404, "not_found")

	status, v = call(t, s, "DELETE", path, nil)
	want(t, "delete node", status, v, 204, "")
	status, v = call(t, s, "GET", path, nil)
	want(t, "deleted node", status, v, 404, "not_found")
	r.Send(`<iq type='get' to='pubsub.localhost' id='gone'><pubsub xmlns='` + nsPubSub + `'><items node='` + node + `'/></pubsub></iq>`)
	for {
		el := r.NextElement()
		if el.Local == "iq" && el.Attr("id") == "gone" {
			if el.Attr("type") != "error" || !strings.Contains(el.String(), "item-not-found") {
				t.Fatalf("items of a deleted node over XMPP: %s", el)
			}
			break
		}
	}

	// The owner's account goes through the modules: "owned" goes with it.
	status, v = call(t, s, "DELETE", "/api/v1/accounts/owner", nil)
	want(t, "delete owner", status, v, 204, "")
	o.ExpectStreamError(stanza.StreamNotAuthorized)
	status, v = call(t, s, "GET", "/api/v1/pubsub/nodes", nil)
	if got := jids(v["nodes"], "node"); len(got) != 0 {
		t.Fatalf("nodes after the owner's removal: %v", got)
	}
}

// metricValue returns the value of the sample name{labels} in the
// exposition text (labels as Prometheus writes them: sorted by name).
func metricValue(text, sample string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestMetricsAndHealth: /metrics, /healthz and /readyz need no token;
// after some traffic the metric families hold plausible values.
func TestMetricsAndHealth(t *testing.T) {
	s := xmpptest.Start(t, "")
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, b := s.AdminWithToken(t, "", "GET", p, nil); status != 200 {
			t.Fatalf("%s: %d %s", p, status, b)
		}
	}
	s.AddUser(t, "a", "pw")
	s.AddUser(t, "b", "pw")
	bad := xmpptest.Dial(t, s)
	bad.OpenStream()
	bad.StartTLS()
	if el := bad.AuthSCRAM("SCRAM-SHA-256", "a", "wrong"); el.Local != "failure" {
		t.Fatalf("wrong password: %s", el)
	}
	plain := xmpptest.Dial(t, s)
	plain.OpenStream()
	if el := plain.AuthSCRAM("SCRAM-SHA-256", "a", "pw"); el.Local != "failure" || el.FirstChild() == nil || el.FirstChild().Local != "encryption-required" {
		t.Fatalf("SASL before TLS: %s", el)
	}
	bad.Send(`<a></b>`)
	bad.ExpectStreamError(stanza.StreamNotWellFormed)
	a := xmpptest.Login(t, s, "a", "pw", "r")
	b := xmpptest.Login(t, s, "b", "pw", "r")
	xmpptest.LoginWS(t, s, true, "a", "pw", "ws")
	xmpptest.DialWS(t, s, false).OpenStream() // pending
	a.Send(`<presence/>`)
	b.Send(`<presence/>`)
	const n = 2 * 64 // router.RouteSample: at least one sample
	for i := range n {
		a.Send(fmt.Sprintf(`<message to='b@localhost/r' id='m%d'><body>%d</body></message>`, i, i))
	}
	for got := 0; got < n; {
		if el := b.NextElement(); el.Local == "message" {
			got++
		}
	}
	iq(t, a, "c", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><create node='n'/></pubsub>`)
	iq(t, b, "s", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><subscribe node='n' jid='b@localhost'/></pubsub>`)
	iq(t, a, "p", "set", "pubsub.localhost", `<pubsub xmlns='`+nsPubSub+`'><publish node='n'><item><x xmlns='urn:x'/></item></publish></pubsub>`)
	for {
		if el := b.NextElement(); el.Local == "message" && el.Attr("from") == "pubsub.localhost" {
			break
		}
	}

	status, body := s.AdminWithToken(t, "", "GET", "/metrics", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	text := string(body)
	for i, tc := range []struct {
		sample string
		min    float64
	}{
		0:  {`mote_connections{state="bound",transport="tcp"}`, 2},
		1:  {`mote_connections{state="pending",transport="websocket"}`, 1},
		20: {`mote_connections{state="bound",transport="websocket"}`, 1},
		21: {`mote_stream_errors_total{condition="not-well-formed"}`, 1},
		22: {`mote_auth_failures_total{condition="encryption-required",mechanism="SCRAM-SHA-256"}`, 1},
		2:  {`mote_sessions`, 2},
		3:  {`mote_stanzas_in_total{kind="message"}`, n},
		4:  {`mote_stanzas_in_total{kind="iq"}`, 3},
		5:  {`mote_stanzas_in_total{kind="presence"}`, 2},
		6:  {`mote_stanzas_out_total{kind="message"}`, n + 1},
		7:  {`mote_stanzas_out_total{kind="iq"}`, 3},
		8:  {`mote_route_duration_seconds_count`, n / 64},
		9:  {`mote_auth_failures_total{condition="not-authorized",mechanism="SCRAM-SHA-256"}`, 1},
		10: {`mote_stream_errors_total{condition="policy-violation"}`, 0},
		11: {`mote_pubsub_publishes_total{service="component"}`, 1},
		12: {`mote_pubsub_deliveries_total{service="component"}`, 1},
		13: {`mote_pubsub_publishes_total{service="pep"}`, 0},
		14: {`mote_storage_operation_duration_seconds_count{op="users.get_user"}`, 3},
		15: {`mote_storage_operation_duration_seconds_count{op="pubsub.put_item"}`, 1},
		16: {`mote_queue_depth{queue="pubsub_notifications"}`, 0},
		17: {`mote_queue_depth{queue="mam_archive"}`, 0},
		18: {`mote_queue_depth{queue="pubsub_archive"}`, 0},
		19: {`go_goroutines`, 1},
	} {
		got, ok := metricValue(text, tc.sample)
		if !ok || got < tc.min {
			t.Errorf("%d: %s = %v (present %v), want at least %v", i, tc.sample, got, ok, tc.min)
		}
	}
	if !strings.Contains(text, "mote_build_info{version=") {
		t.Error("no mote_build_info")
	}
	if v, _ := metricValue(text, `mote_stanzas_out_total{kind="message"}`); v > 2*n {
		t.Errorf("messages out %v for %d sent", v, n)
	}

	// The figures of the API agree.
	st, v := call(t, s, "GET", "/api/v1/stats", nil)
	want(t, "stats", st, v, 200, "")
	var stats admin.Stats
	raw, _ := json.Marshal(v)
	json.Unmarshal(raw, &stats)
	if stats.Accounts != 2 || stats.Sessions != 3 || stats.Connections < 4 || stats.Stanzas.In["message"] < n ||
		stats.PubSub.Nodes != 1 || stats.PubSub.Publishes != 1 || stats.Go.Goroutines == 0 || stats.UptimeSeconds <= 0 || stats.Version == "" {
		t.Errorf("stats %+v", stats)
	}

	// Shut down: the admin listener closes with the server.
	addr := s.AdminAddr().String()
	s.Stop(t)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the admin listener is still open after shutdown")
	}
}

// TestAdminAuthentication: the API refuses requests without the token or
// with another; the token is generated into the data directory (0600) or
// configured.
func TestAdminAuthentication(t *testing.T) {
	s := xmpptest.Start(t, "")
	b, err := os.ReadFile(filepath.Join(s.Config.DataDir, admin.TokenFile))
	if err != nil || strings.TrimSpace(string(b)) != s.AdminToken() || s.AdminToken() == "" {
		t.Fatalf("token file %q %v, token %q", b, err, s.AdminToken())
	}
	for _, tok := range []string{"", "wrong", s.AdminToken() + "x"} {
		if status, _ := s.AdminWithToken(t, tok, "GET", "/api/v1/stats", nil); status != 401 {
			t.Errorf("token %q: %d", tok, status)
		}
	}

	c := xmpptest.Start(t, "admin: {token: configured-token}")
	if c.AdminToken() != "configured-token" {
		t.Fatalf("token %q", c.AdminToken())
	}
	if status, _ := c.AdminWithToken(t, "configured-token", "GET", "/api/v1/stats", nil); status != 200 {
		t.Errorf("configured token: %d", status)
	}
	if _, err := os.Stat(filepath.Join(c.Config.DataDir, admin.TokenFile)); err == nil {
		t.Error("a configured token wrote the token file")
	}

	off := xmpptest.Start(t, `admin: {listen: ""}`)
	if off.AdminAddr() != nil || off.AdminToken() != "" {
		t.Errorf("admin.listen empty: %v %q", off.AdminAddr(), off.AdminToken())
	}
}
