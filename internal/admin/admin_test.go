package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/admin"
)

const token = "s3cret-token"

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fake is an in-memory admin.Backend.
type fake struct {
	mu       sync.Mutex
	accounts map[string]string // username -> password; guarded by mu
	sessions []admin.Session   // guarded by mu
	nodes    map[string]admin.NodeDetail
	items    map[string][]admin.Item // newest first
	notReady error
	fail     error // returned by Stats when set
}

func newFake() *fake {
	return &fake{
		accounts: map[string]string{"alice": "pw", "bob": "pw", "carol": "pw"},
		sessions: []admin.Session{
			{JID: "alice@example.com/phone", Priority: 5, Available: true, Since: t0},
			{JID: "alice@example.com/with/slash", Since: t0},
			{JID: "bob@example.com/x", Since: t0},
		},
		nodes: map[string]admin.NodeDetail{
			"sensors/temp": {Node: admin.Node{Node: "sensors/temp", Type: "leaf", Created: t0, Parents: []string{},
				Items: 3, Subscribers: 1, LastItem: &admin.Item{ID: "3", Published: t0, Payload: "<t>3</t>"}},
				Config:        map[string]any{"pubsub#max_items": "10"},
				Subscriptions: []admin.Subscription{{JID: "bob@example.com", State: "subscribed"}},
				Affiliations:  []admin.Affiliation{{JID: "alice@example.com", Affiliation: "owner"}}},
		},
		items: map[string][]admin.Item{"sensors/temp": {
			{ID: "3", Published: t0, Payload: "<t>3</t>"}, {ID: "2", Published: t0}, {ID: "1", Published: t0},
		}},
	}
}

func bad(format string, a ...any) error { return admin.Errorf(admin.CodeBadRequest, format, a...) }

func (f *fake) check(username string) error {
	if username == "" || strings.ContainsAny(username, " @") {
		return bad("invalid username %q", username)
	}
	return nil
}

func (f *fake) ListAccounts(ctx context.Context, after string, limit int) ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.accounts {
		if n > after {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) > limit {
		return names[:limit], true, nil
	}
	return names, false, nil
}

func (f *fake) Presence(username string) admin.Presence {
	p := admin.Presence{Resources: []string{}}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if b, r, _ := strings.Cut(s.JID, "/"); b == username+"@example.com" {
			p.Resources = append(p.Resources, r)
		}
	}
	p.Sessions, p.Online = len(p.Resources), len(p.Resources) > 0
	return p
}

func (f *fake) Account(ctx context.Context, username string) (admin.Account, error) {
	if err := f.check(username); err != nil {
		return admin.Account{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.accounts[username]; !ok {
		return admin.Account{}, admin.Errorf(admin.CodeNotFound, "no such account")
	}
	return admin.Account{Username: username, Created: t0}, nil
}

func (f *fake) CreateAccount(ctx context.Context, username, password string) (admin.Account, error) {
	if err := f.check(username); err != nil {
		return admin.Account{}, err
	}
	username = strings.ToLower(username)
	f.mu.Lock()
	if _, ok := f.accounts[username]; ok {
		f.mu.Unlock()
		return admin.Account{}, admin.Errorf(admin.CodeConflict, "the account already exists")
	}
	f.accounts[username] = password
	f.mu.Unlock()
	return f.Account(ctx, username)
}

func (f *fake) SetPassword(ctx context.Context, username, password string) error {
	if _, err := f.Account(ctx, username); err != nil {
		return err
	}
	f.mu.Lock()
	f.accounts[username] = password
	f.mu.Unlock()
	return nil
}

func (f *fake) DeleteAccount(ctx context.Context, username string) error {
	if _, err := f.Account(ctx, username); err != nil {
		return err
	}
	f.mu.Lock()
	delete(f.accounts, username)
	f.mu.Unlock()
	return nil
}

func (f *fake) ListSessions(ctx context.Context, account string) ([]admin.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []admin.Session
	for _, s := range f.sessions {
		if account == "" || strings.HasPrefix(s.JID, account+"@") {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fake) Kick(ctx context.Context, jid string) error {
	if !strings.Contains(jid, "/") {
		return bad("%q is not a full JID", jid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.sessions, func(s admin.Session) bool { return s.JID == jid })
	if i < 0 {
		return admin.Errorf(admin.CodeNotFound, "no session %s", jid)
	}
	f.sessions = slices.Delete(f.sessions, i, i+1)
	return nil
}

func (f *fake) PubSubService() string { return "pubsub.example.com" }

func (f *fake) PubSubNodes(ctx context.Context) ([]admin.Node, error) {
	var out []admin.Node
	for _, n := range f.nodes {
		out = append(out, n.Node)
	}
	return out, nil
}

func (f *fake) PubSubNode(ctx context.Context, node string) (admin.NodeDetail, error) {
	n, ok := f.nodes[node]
	if !ok {
		return admin.NodeDetail{}, admin.Errorf(admin.CodeNotFound, "no such node")
	}
	return n, nil
}

func (f *fake) PubSubItems(ctx context.Context, node, after string, limit int) (admin.ItemPage, error) {
	items, ok := f.items[node]
	if !ok {
		return admin.ItemPage{}, admin.Errorf(admin.CodeNotFound, "no such node")
	}
	start := 0
	if after != "" {
		start = slices.IndexFunc(items, func(it admin.Item) bool { return it.ID == after }) + 1
		if start == 0 {
			return admin.ItemPage{}, bad("no such item to page from")
		}
	}
	end := min(start+limit, len(items))
	return admin.ItemPage{Items: items[start:end], Count: len(items), More: end < len(items)}, nil
}

func (f *fake) DeletePubSubNode(ctx context.Context, node string) error {
	if _, ok := f.nodes[node]; !ok {
		return admin.Errorf(admin.CodeNotFound, "no such node")
	}
	delete(f.nodes, node)
	return nil
}

func (f *fake) SetLoginPolicy(ctx context.Context, username, policy string) error {
	_, err := f.Account(ctx, username)
	return err
}

// The fake's devices: "meter" exists, in group "lab"; provisioning takes
// any other valid name.

func (f *fake) ProvisionDevice(ctx context.Context, name, group string, lastWill *string) (admin.ProvisionedDevice, error) {
	if err := f.check(name); err != nil {
		return admin.ProvisionedDevice{}, err
	}
	if name == "meter" {
		return admin.ProvisionedDevice{}, admin.Errorf(admin.CodeConflict, "the account already exists")
	}
	return admin.ProvisionedDevice{Name: name, JID: name + "@example.com", Group: group, Node: "devices/" + name,
		Certificate: admin.CertificateInfo{Serial: "1f", Issued: t0, NotAfter: t0.Add(time.Hour)},
		Bundle:      "-----BEGIN PRIVATE KEY-----", CA: "-----BEGIN CERTIFICATE-----"}, nil
}

var meter = admin.Device{Name: "meter", JID: "meter@example.com", Group: "lab", Node: "devices/meter", Created: t0,
	Presence: admin.Presence{Resources: []string{}}, Certificate: &admin.CertificateInfo{Serial: "1f", Issued: t0, NotAfter: t0}}

func (f *fake) ListDevices(ctx context.Context, after string, limit int) ([]admin.Device, bool, error) {
	if after >= "meter" {
		return nil, false, nil
	}
	return []admin.Device{meter}, false, nil
}

func (f *fake) Device(ctx context.Context, name string) (admin.Device, error) {
	if name != "meter" {
		return admin.Device{}, admin.Errorf(admin.CodeNotFound, "no such device")
	}
	return meter, nil
}

func (f *fake) RevokeDevice(ctx context.Context, name string) error {
	_, err := f.Device(ctx, name)
	return err
}

func (f *fake) ReissueDevice(ctx context.Context, name string) (admin.ProvisionedDevice, error) {
	if _, err := f.Device(ctx, name); err != nil {
		return admin.ProvisionedDevice{}, err
	}
	return admin.ProvisionedDevice{Name: name, Certificate: admin.CertificateInfo{Serial: "20"}}, nil
}

func (f *fake) DeleteDevice(ctx context.Context, name string) error {
	_, err := f.Device(ctx, name)
	return err
}

func (f *fake) DeviceCA(ctx context.Context) ([]byte, error) {
	return []byte("-----BEGIN CERTIFICATE-----\n"), nil
}

func (f *fake) Groups(ctx context.Context) ([]admin.Group, error) {
	return []admin.Group{{Name: "lab", Node: "groups/lab", Members: 1}}, nil
}

func (f *fake) Group(ctx context.Context, name string) (admin.GroupDetail, error) {
	if name != "lab" {
		return admin.GroupDetail{}, admin.Errorf(admin.CodeNotFound, "no such group")
	}
	return admin.GroupDetail{Group: admin.Group{Name: "lab", Node: "groups/lab", Members: 1},
		Devices: []admin.GroupMember{{Name: "meter", JID: "meter@example.com", Node: "devices/meter"}}}, nil
}

func (f *fake) Stats(ctx context.Context) (admin.Stats, error) {
	if f.fail != nil {
		return admin.Stats{}, f.fail
	}
	return admin.Stats{Version: "test", Sessions: len(f.sessions), Accounts: len(f.accounts)}, nil
}

func (f *fake) Ready(ctx context.Context) error { return f.notReady }

// client talks to an admin handler under test.
type client struct {
	t   *testing.T
	url string
}

func start(t *testing.T, f *fake) *client {
	h := admin.New(admin.Options{Backend: f, Token: token,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mote_up 1\n") })})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL}
}

// do sends a request with the header Authorization: auth ("" for none)
// and returns the status, the response and its decoded JSON body (nil if
// the body is not JSON).
func (c *client) do(auth, method, path, body string) (int, *http.Response, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.url+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if json.Unmarshal(b, &v) != nil {
		v = nil
	}
	return resp.StatusCode, resp, v
}

func (c *client) api(method, path, body string) (int, *http.Response, map[string]any) {
	c.t.Helper()
	return c.do("Bearer "+token, method, path, body)
}

// errorCode returns error.code of an error body, or "".
func errorCode(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	c, _ := e["code"].(string)
	if m, _ := e["message"].(string); c != "" && m == "" {
		return c + " (without message)"
	}
	return c
}

// TestEndpoints: every endpoint, with its success and error responses.
func TestEndpoints(t *testing.T) {
	f := newFake()
	c := start(t, f)
	for i, tc := range []struct {
		method, path, body string
		status             int
		code               string // error code, "" on success
		check              func(t *testing.T, v map[string]any)
	}{
		// Accounts.
		0: {"GET", "/api/v1/accounts", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["accounts"], "username"); !slices.Equal(got, []string{"alice", "bob", "carol"}) || v["next"] != nil {
				t.Errorf("accounts %v next %v", got, v["next"])
			}
		}},
		1: {"GET", "/api/v1/accounts?limit=2", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["accounts"], "username"); !slices.Equal(got, []string{"alice", "bob"}) || v["next"] != "bob" {
				t.Errorf("accounts %v next %v", got, v["next"])
			}
		}},
		2: {"GET", "/api/v1/accounts?limit=2&after=bob", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["accounts"], "username"); !slices.Equal(got, []string{"carol"}) || v["next"] != nil {
				t.Errorf("accounts %v next %v", got, v["next"])
			}
		}},
		3:  {"GET", "/api/v1/accounts?limit=0", "", 400, "bad_request", nil},
		4:  {"GET", "/api/v1/accounts?limit=1001", "", 400, "bad_request", nil},
		5:  {"GET", "/api/v1/accounts?limit=x", "", 400, "bad_request", nil},
		6:  {"POST", "/api/v1/accounts", `{"username":"Dave","password":"pw"}`, 201, "", wantField("username", "dave")},
		7:  {"POST", "/api/v1/accounts", `{"username":"dave","password":"pw"}`, 409, "conflict", nil},
		8:  {"POST", "/api/v1/accounts", `{"username":"da ve","password":"pw"}`, 400, "bad_request", nil},
		9:  {"POST", "/api/v1/accounts", `{"username":"eve"}`, 400, "bad_request", nil},
		10: {"POST", "/api/v1/accounts", `{"password":"pw"}`, 400, "bad_request", nil},
		11: {"POST", "/api/v1/accounts", `{"username":"eve","password":"pw"`, 400, "bad_request", nil},
		12: {"POST", "/api/v1/accounts", `{"username":"eve","password":"pw","admin":true}`, 400, "bad_request", nil},
		13: {"POST", "/api/v1/accounts", `{"username":"eve","password":"pw"}{}`, 400, "bad_request", nil},
		14: {"POST", "/api/v1/accounts", ``, 400, "bad_request", nil},
		15: {"POST", "/api/v1/accounts", `["eve","pw"]`, 400, "bad_request", nil},
		16: {"POST", "/api/v1/accounts", `{"username":"eve","password":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", nil},
		17: {"GET", "/api/v1/accounts/alice", "", 200, "", wantField("username", "alice")},
		18: {"GET", "/api/v1/accounts/nobody", "", 404, "not_found", nil},
		19: {"GET", "/api/v1/accounts/a%20b", "", 400, "bad_request", nil},
		20: {"PUT", "/api/v1/accounts/alice/password", `{"password":"new"}`, 204, "", nil},
		21: {"PUT", "/api/v1/accounts/alice/password", `{}`, 400, "bad_request", nil},
		22: {"PUT", "/api/v1/accounts/alice/password", `{"password":""}`, 400, "bad_request", nil},
		23: {"PUT", "/api/v1/accounts/alice/password", `nope`, 400, "bad_request", nil},
		24: {"PUT", "/api/v1/accounts/nobody/password", `{"password":"x"}`, 404, "not_found", nil},
		25: {"DELETE", "/api/v1/accounts/carol", "", 204, "", nil},
		26: {"DELETE", "/api/v1/accounts/carol", "", 404, "not_found", nil},
		27: {"DELETE", "/api/v1/accounts/a@b", "", 400, "bad_request", nil},
		28: {"PATCH", "/api/v1/accounts/alice", "", 405, "method_not_allowed", nil},
		29: {"DELETE", "/api/v1/accounts", "", 405, "method_not_allowed", nil},
		30: {"GET", "/api/v1/accounts/alice/password", "", 405, "method_not_allowed", nil},

		// Sessions.
		31: {"GET", "/api/v1/sessions", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["sessions"], "jid"); len(got) != 3 {
				t.Errorf("sessions %v", got)
			}
		}},
		32: {"GET", "/api/v1/sessions?limit=1", "", 200, "", wantField("next", "alice@example.com/phone")},
		33: {"GET", "/api/v1/sessions?limit=1&after=alice@example.com/phone", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["sessions"], "jid"); !slices.Equal(got, []string{"alice@example.com/with/slash"}) {
				t.Errorf("sessions %v", got)
			}
		}},
		34: {"GET", "/api/v1/sessions?account=bob", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["sessions"], "jid"); !slices.Equal(got, []string{"bob@example.com/x"}) {
				t.Errorf("sessions %v", got)
			}
		}},
		35: {"GET", "/api/v1/sessions?account=nobody", "", 200, "", func(t *testing.T, v map[string]any) {
			if s, ok := v["sessions"].([]any); !ok || len(s) != 0 {
				t.Errorf("sessions %v, want []", v["sessions"])
			}
		}},
		36: {"DELETE", "/api/v1/sessions/alice@example.com/with/slash", "", 204, "", nil},
		37: {"DELETE", "/api/v1/sessions/alice@example.com/with/slash", "", 404, "not_found", nil},
		38: {"DELETE", "/api/v1/sessions/alice@example.com", "", 400, "bad_request", nil},
		39: {"POST", "/api/v1/sessions", "{}", 405, "method_not_allowed", nil},
		40: {"GET", "/api/v1/sessions?limit=-1", "", 400, "bad_request", nil},

		// Publish-subscribe.
		41: {"GET", "/api/v1/pubsub/nodes", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["nodes"], "node"); !slices.Equal(got, []string{"sensors/temp"}) || v["service"] != "pubsub.example.com" {
				t.Errorf("nodes %v service %v", got, v["service"])
			}
		}},
		42: {"GET", "/api/v1/pubsub/nodes/sensors%2Ftemp", "", 200, "", func(t *testing.T, v map[string]any) {
			if v["node"] != "sensors/temp" || v["subscribers"] != 1.0 || v["items"] != 3.0 {
				t.Errorf("node %v", v)
			}
		}},
		43: {"GET", "/api/v1/pubsub/nodes/nothing", "", 404, "not_found", nil},
		44: {"GET", "/api/v1/pubsub/nodes/sensors%2Ftemp/items?limit=2", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["items"], "id"); !slices.Equal(got, []string{"3", "2"}) || v["next"] != "2" || v["count"] != 3.0 {
				t.Errorf("items %v next %v count %v", got, v["next"], v["count"])
			}
		}},
		45: {"GET", "/api/v1/pubsub/nodes/sensors%2Ftemp/items?after=2", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["items"], "id"); !slices.Equal(got, []string{"1"}) || v["next"] != nil {
				t.Errorf("items %v next %v", got, v["next"])
			}
		}},
		46: {"GET", "/api/v1/pubsub/nodes/sensors%2Ftemp/items?after=9", "", 400, "bad_request", nil},
		47: {"GET", "/api/v1/pubsub/nodes/nothing/items", "", 404, "not_found", nil},
		48: {"GET", "/api/v1/pubsub/nodes/sensors%2Ftemp/items?limit=1001", "", 400, "bad_request", nil},
		49: {"PUT", "/api/v1/pubsub/nodes/sensors%2Ftemp", "{}", 405, "method_not_allowed", nil},
		50: {"DELETE", "/api/v1/pubsub/nodes/sensors%2Ftemp/items", "", 405, "method_not_allowed", nil},
		51: {"DELETE", "/api/v1/pubsub/nodes/sensors%2Ftemp", "", 204, "", nil},
		52: {"DELETE", "/api/v1/pubsub/nodes/sensors%2Ftemp", "", 404, "not_found", nil},
		53: {"GET", "/api/v1/pubsub/nodes", "", 200, "", func(t *testing.T, v map[string]any) {
			if n, ok := v["nodes"].([]any); !ok || len(n) != 0 {
				t.Errorf("nodes %v, want []", v["nodes"])
			}
		}},

		// Statistics, and what is not there.
		54: {"GET", "/api/v1/stats", "", 200, "", wantField("version", "test")},
		55: {"POST", "/api/v1/stats", "", 405, "method_not_allowed", nil},
		56: {"GET", "/api/v1/nothing", "", 404, "not_found", nil},
		57: {"GET", "/api/v2/stats", "", 404, "not_found", nil},
		58: {"GET", "/api/", "", 404, "not_found", nil},

		// Devices.
		59: {"POST", "/api/v1/devices", `{"name":"s1","group":"lab"}`, 201, "", func(t *testing.T, v map[string]any) {
			if v["name"] != "s1" || v["group"] != "lab" || v["bundle"] == "" || v["ca"] == "" || v["certificate"].(map[string]any)["serial"] != "1f" {
				t.Errorf("provisioned %v", v)
			}
		}},
		60: {"POST", "/api/v1/devices", `{"group":"lab"}`, 400, "bad_request", nil},
		61: {"POST", "/api/v1/devices", `{"name":"s1","colour":"red"}`, 400, "bad_request", nil},
		62: {"POST", "/api/v1/devices", `{"name":"meter"}`, 409, "conflict", nil},
		63: {"POST", "/api/v1/devices", `{"name":"a b"}`, 400, "bad_request", nil},
		64: {"POST", "/api/v1/device-batches", `{"devices":[{"name":"s1"},{"name":"meter"},{"name":""}]}`, 200, "", func(t *testing.T, v map[string]any) {
			ds, _ := v["devices"].([]any)
			if len(ds) != 3 || ds[0].(map[string]any)["bundle"] == nil || errorCode(ds[1].(map[string]any)) != "conflict" ||
				errorCode(ds[2].(map[string]any)) != "bad_request" {
				t.Errorf("batch %v", v)
			}
		}},
		65: {"POST", "/api/v1/device-batches", `{"devices":[]}`, 400, "bad_request", nil},
		66: {"GET", "/api/v1/devices", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["devices"], "name"); !slices.Equal(got, []string{"meter"}) {
				t.Errorf("devices %v", got)
			}
		}},
		67: {"GET", "/api/v1/devices/meter", "", 200, "", wantField("group", "lab")},
		68: {"GET", "/api/v1/devices/nope", "", 404, "not_found", nil},
		69: {"POST", "/api/v1/devices/meter/revoke", "", 204, "", nil},
		70: {"POST", "/api/v1/devices/nope/revoke", "", 404, "not_found", nil},
		71: {"POST", "/api/v1/devices/meter/certificate", "", 201, "", func(t *testing.T, v map[string]any) {
			if v["certificate"].(map[string]any)["serial"] != "20" {
				t.Errorf("reissued %v", v)
			}
		}},
		72: {"DELETE", "/api/v1/devices/meter", "", 204, "", nil},
		73: {"DELETE", "/api/v1/devices/nope", "", 404, "not_found", nil},
		74: {"GET", "/api/v1/device-ca", "", 200, "", nil},
		75: {"GET", "/api/v1/groups", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["groups"], "name"); !slices.Equal(got, []string{"lab"}) {
				t.Errorf("groups %v", got)
			}
		}},
		76: {"GET", "/api/v1/groups/lab", "", 200, "", func(t *testing.T, v map[string]any) {
			if got := names(v["devices"], "name"); !slices.Equal(got, []string{"meter"}) {
				t.Errorf("group devices %v", got)
			}
		}},
		77: {"GET", "/api/v1/groups/none", "", 404, "not_found", nil},
		78: {"PUT", "/api/v1/devices/meter/revoke", "", 405, "method_not_allowed", nil},
		79: {"PUT", "/api/v1/accounts/alice/login-policy", `{"policy":"both"}`, 204, "", nil},
		80: {"PUT", "/api/v1/accounts/alice/login-policy", `{"policy":"magic"}`, 400, "bad_request", nil},
		81: {"PUT", "/api/v1/accounts/nobody/login-policy", `{"policy":"password"}`, 404, "not_found", nil},
	} {
		status, resp, v := c.api(tc.method, tc.path, tc.body)
		if status != tc.status || errorCode(v) != tc.code {
			t.Errorf("%d: %s %s: %d %q, want %d %q (%v)", i, tc.method, tc.path, status, errorCode(v), tc.status, tc.code, v)
			continue
		}
		wantType := "application/json"
		if tc.path == "/api/v1/device-ca" && status == 200 {
			wantType = "application/x-pem-file"
		}
		if status != 204 && resp.Header.Get("Content-Type") != wantType {
			t.Errorf("%d: Content-Type %q", i, resp.Header.Get("Content-Type"))
		}
		if status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%d: 405 without Allow", i)
		}
		if tc.check != nil {
			tc.check(t, v)
		}
	}
	if f.accounts["alice"] != "new" {
		t.Errorf("alice's password is %q", f.accounts["alice"])
	}
}

// names returns the field key of each object of a JSON list.
func names(list any, key string) []string {
	var out []string
	l, _ := list.([]any)
	for _, e := range l {
		m, _ := e.(map[string]any)
		s, _ := m[key].(string)
		out = append(out, s)
	}
	return out
}

func wantField(key, want string) func(t *testing.T, v map[string]any) {
	return func(t *testing.T, v map[string]any) {
		t.Helper()
		if v[key] != want {
			t.Errorf("%s = %v, want %q (%v)", key, v[key], want, v)
		}
	}
}

// TestAuthentication: every API path needs the token; a request without
// it, with another, or with another scheme gets unauthorized and the
// WWW-Authenticate challenge, and learns nothing of the path (unknown
// paths and wrong methods are unauthorized too). /metrics, /healthz and
// /readyz need none.
func TestAuthentication(t *testing.T) {
	c := start(t, newFake())
	for i, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer " + token + "x", "Basic " + token, token, "Bearer s3cret-toke"} {
		for _, p := range []struct{ method, path string }{
			{"GET", "/api/v1/accounts"}, {"POST", "/api/v1/accounts"}, {"DELETE", "/api/v1/accounts/alice"},
			{"PUT", "/api/v1/accounts/alice/password"}, {"GET", "/api/v1/sessions"}, {"DELETE", "/api/v1/sessions/alice@example.com/phone"},
			{"GET", "/api/v1/pubsub/nodes"}, {"DELETE", "/api/v1/pubsub/nodes/sensors%2Ftemp"}, {"GET", "/api/v1/stats"},
			{"GET", "/api/v1/nothing"}, {"PATCH", "/api/v1/stats"},
		} {
			status, resp, v := c.do(auth, p.method, p.path, "")
			if status != 401 || errorCode(v) != "unauthorized" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%d: %s %s with %q: %d %v %q", i, p.method, p.path, auth, status, v, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	// The scheme is case-insensitive (RFC 9110 §11.1).
	if status, _, _ := c.do("bearer "+token, "GET", "/api/v1/stats", ""); status != 200 {
		t.Errorf("lower-case scheme: %d", status)
	}
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if status, _, _ := c.do("", "GET", p, ""); status != 200 {
			t.Errorf("%s without a token: %d", p, status)
		}
	}
	// / is the dashboard (its assets hold no data; see dashboard_test.go).
	if status, _, _ := c.do("", "GET", "/", ""); status != 200 {
		t.Errorf("/: %d", status)
	}
}

// TestHealth: /healthz is 200 while serving; /readyz follows the
// backend's readiness, 503 unavailable with the reason.
func TestHealth(t *testing.T) {
	f := newFake()
	c := start(t, f)
	if status, _, v := c.do("", "GET", "/healthz", ""); status != 200 || v["status"] != "ok" {
		t.Errorf("healthz: %d %v", status, v)
	}
	if status, _, v := c.do("", "GET", "/readyz", ""); status != 200 || v["status"] != "ready" {
		t.Errorf("readyz: %d %v", status, v)
	}
	f.notReady = errors.New("storage: disk on fire")
	status, _, v := c.do("", "GET", "/readyz", "")
	if status != 503 || errorCode(v) != "unavailable" || !strings.Contains(v["error"].(map[string]any)["message"].(string), "disk on fire") {
		t.Errorf("readyz when not ready: %d %v", status, v)
	}
}

// TestInternalError: an error that is no *admin.Error is internal, and
// its text stays in the log.
func TestInternalError(t *testing.T) {
	f := newFake()
	f.fail = errors.New("sqlite: the secret path /var/lib/x is broken")
	c := start(t, f)
	status, _, v := c.api("GET", "/api/v1/stats", "")
	if status != 500 || errorCode(v) != "internal" || strings.Contains(v["error"].(map[string]any)["message"].(string), "secret") {
		t.Errorf("%d %v", status, v)
	}
}

// TestNewPanics: a handler without a token would let anyone in.
func TestNewPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without a token did not panic")
		}
	}()
	admin.New(admin.Options{Backend: newFake()})
}

// TestToken: a configured token wins; otherwise one is generated into the
// data directory (mode 0600) and read back on the next start.
func TestToken(t *testing.T) {
	dir := t.TempDir()
	if tok, err := admin.LoadOrCreateToken(dir, "configured"); err != nil || tok != "configured" {
		t.Fatalf("configured: %q %v", tok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, admin.TokenFile)); err == nil {
		t.Fatal("a configured token wrote the token file")
	}
	tok, err := admin.LoadOrCreateToken(dir, "")
	if err != nil || len(tok) != 43 {
		t.Fatalf("generated: %q %v", tok, err)
	}
	fi, err := os.Stat(filepath.Join(dir, admin.TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	again, err := admin.LoadOrCreateToken(dir, "")
	if err != nil || again != tok {
		t.Fatalf("second start: %q %v, want %q", again, err, tok)
	}
	other, _ := admin.LoadOrCreateToken(t.TempDir(), "")
	if other == tok {
		t.Fatal("two data directories got the same token")
	}
	os.WriteFile(filepath.Join(dir, admin.TokenFile), []byte("\n"), 0o600)
	if _, err := admin.LoadOrCreateToken(dir, ""); err == nil {
		t.Fatal("an empty token file was accepted")
	}
}
