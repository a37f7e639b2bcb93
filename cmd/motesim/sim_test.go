package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmppclient"
	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// The end-to-end tests run the simulator against an in-process mote:
// devices provisioned over the admin API (POST /api/v1/devices) log in
// with their certificates, and a watcher subscribed to their group's
// collection (XEP-0248) sees their readings.

const nsPubSubEvent = NSPubSub + "#event"

// testWriter sends progress lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// provision provisions the devices names in group over the admin API and
// writes their bundles and the device CA to a new directory, as
// provisioning does.
func provision(t *testing.T, s *xmpptest.Server, group string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		status, body := s.Admin(t, "POST", "/api/v1/devices", map[string]string{"name": name, "group": group})
		var v struct {
			Name, Node, Bundle, CA string
		}
		if err := json.Unmarshal(body, &v); status != 201 || err != nil {
			t.Fatalf("provisioning %s: %d %s", name, status, body)
		}
		if v.Node != "devices/"+name {
			t.Fatalf("provisioned %s with node %s", name, v.Node)
		}
		os.WriteFile(filepath.Join(dir, v.Name+".pem"), []byte(v.Bundle), 0o600)
		os.WriteFile(filepath.Join(dir, "ca.pem"), []byte(v.CA), 0o600)
	}
	return dir
}

// watcher is a client subscribed to a group's collection. Its elements
// are read on a goroutine of their own so that the test can wait with a
// deadline.
type watcher struct {
	c    *xmpptest.Client
	els  chan *stanza.Element
	done chan struct{}
	// items are the item ids notified so far, by node.
	items map[string]map[string]*stanza.Element
}

// watchGroup logs in a watcher and subscribes it to the collection of
// group, for the items of every node in it (XEP-0248 §6.1).
func watchGroup(t *testing.T, s *xmpptest.Server, group string) *watcher {
	t.Helper()
	s.AddUser(t, "watcher", "pw")
	c := xmpptest.Login(t, s, "watcher", "pw", "dash")
	c.Send(`<iq type='set' to='pubsub.localhost' id='sub1'><pubsub xmlns='` + NSPubSub + `'><subscribe node='groups/` + group + `' jid='` + c.JID + `'/>` +
		`<options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>` + NSPubSub + `#subscribe_options</value></field>` +
		`<field var='pubsub#subscription_type'><value>items</value></field><field var='pubsub#subscription_depth'><value>all</value></field></x></options></pubsub></iq>`)
	for {
		el := c.NextElement()
		if el.Attr("id") == "sub1" {
			if el.Attr("type") != stanza.TypeResult {
				t.Fatalf("subscribing to groups/%s: %s", group, el)
			}
			break
		}
	}
	w := &watcher{c: c, els: make(chan *stanza.Element, 64), done: make(chan struct{}), items: map[string]map[string]*stanza.Element{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			ev, err := c.NextErr()
			if err != nil {
				return
			}
			if ev.Elem == nil {
				continue
			}
			select {
			case w.els <- ev.Elem:
			case <-w.done:
				return
			}
		}
	})
	t.Cleanup(func() {
		close(w.done)
		c.Conn.Close()
		wg.Wait()
	})
	return w
}

// until reads elements until match returns true for one, which it
// returns, and notes the notified items on the way.
func (w *watcher) until(t *testing.T, what string, match func(el *stanza.Element) bool) *stanza.Element {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case el := <-w.els:
			w.note(el)
			if match(el) {
				return el
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s; items so far: %v", what, w.counts())
		}
	}
}

// note records the items of a pubsub notification.
func (w *watcher) note(el *stanza.Element) {
	ev := el.Child(nsPubSubEvent, "event")
	if ev == nil {
		return
	}
	items := ev.Child(nsPubSubEvent, "items")
	if items == nil {
		return
	}
	node := items.Attr("node")
	if w.items[node] == nil {
		w.items[node] = map[string]*stanza.Element{}
	}
	for _, it := range items.ChildElements() {
		if it.Local == "item" {
			w.items[node][it.Attr("id")] = it
		}
	}
}

// readings returns how many readings of node arrived, and the highest
// reading number.
func (w *watcher) readings(node string) (n, last int) {
	for id := range w.items[node] {
		if i, err := strconv.Atoi(id); err == nil {
			n++
			last = max(last, i)
		}
	}
	return n, last
}

func (w *watcher) counts() map[string]int {
	out := map[string]int{}
	for node, items := range w.items {
		out[node] = len(items)
	}
	return out
}

// request sends an IQ get with payload to a device and returns the reply.
func (w *watcher) request(t *testing.T, to, id, payload string) *stanza.Element {
	t.Helper()
	w.c.Send(`<iq type='get' to='` + to + `' id='` + id + `'>` + payload + `</iq>`)
	return w.until(t, "the reply "+id, func(el *stanza.Element) bool {
		return stanza.KindOf(el) == stanza.KindIQ && el.Attr("id") == id
	})
}

// sensorMessage waits for the message with the XEP-0323 element local
// for seqnr.
func (w *watcher) sensorMessage(t *testing.T, local, seqnr string) *stanza.Element {
	t.Helper()
	el := w.until(t, "<"+local+" seqnr='"+seqnr+"'/>", func(el *stanza.Element) bool {
		p := el.Child(NSSensorData, local)
		return stanza.KindOf(el) == stanza.KindMessage && p != nil && p.Attr("seqnr") == seqnr
	})
	return el.Child(NSSensorData, local)
}

// running is a simulation on a goroutine of its own.
type running struct {
	sim     *Sim
	cancel  context.CancelFunc
	done    chan struct{}
	res     *Result
	err     error
	stopped bool // stop ran
}

// start starts a simulation of cfg (with the tests' defaults).
func start(t *testing.T, s *xmpptest.Server, cfg Config) *running {
	t.Helper()
	cfg.Addr, cfg.Domain = s.Addr, s.Domain()
	if cfg.Rate == 0 {
		cfg.Rate = 100 * time.Millisecond
	}
	cfg.Seed, cfg.Progress, cfg.Quiet = 1, testWriter{t}, true
	sim, err := newSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	r := &running{sim: sim, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.res, r.err = sim.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the simulation and returns its result. It may be called
// again, by the cleanup.
func (r *running) stop(t *testing.T) *Result {
	t.Helper()
	r.cancel()
	<-r.done
	if r.stopped {
		return r.res
	}
	r.stopped = true
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	line, _ := json.Marshal(r.res)
	t.Logf("%s", line)
	return r.res
}

func loadTestDevices(t *testing.T, dir string) []Device {
	t.Helper()
	devs, err := loadDevices(dir, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	return devs
}

// TestVitals runs three bedside monitors: every one publishes readings and
// alarms that the ward's watcher receives, and answers read-outs
// (XEP-0323) with its latest values; at the end every stream is closed.
func TestVitals(t *testing.T) {
	s := xmpptest.Start(t, "")
	names := []string{"bed1", "bed2", "bed3"}
	dir := provision(t, s, "ward1", names...)
	w := watchGroup(t, s, "ward1")
	run := start(t, s, Config{Devices: loadTestDevices(t, dir), Preset: "vitals", AlarmRate: 0.2})

	var alarm *stanza.Element
	w.until(t, "readings of every device and an alarm", func(el *stanza.Element) bool {
		for node, items := range w.items {
			for id, it := range items {
				if strings.HasPrefix(id, "alarm-") && alarm == nil {
					alarm = it.Child(NSSim, "alarm")
					if alarm == nil {
						t.Fatalf("%s item %s: %s", node, id, it)
					}
				}
			}
		}
		for _, n := range names {
			if c, _ := w.readings("devices/" + n); c < 5 {
				return false
			}
		}
		return alarm != nil
	})
	// The reading payload (the design's XEP-0323 fields).
	fields := w.items["devices/bed2"]["1"].Child(NSSensorData, "fields")
	if fields == nil || fields.Attr("seqnr") != "0" || fields.Attr("done") != "true" {
		t.Fatalf("reading 1 of bed2: %s", w.items["devices/bed2"]["1"])
	}
	checkVitals(t, "published", fields, "bed2")
	// The alarm: a value outside its range.
	v, _ := strconv.ParseFloat(alarm.Attr("value"), 64)
	lo, _ := strconv.ParseFloat(alarm.Attr("low"), 64)
	hi, _ := strconv.ParseFloat(alarm.Attr("high"), 64)
	if _, ok := normalRanges[alarm.Attr("field")]; !ok || (v >= lo && v <= hi) || alarm.Attr("timestamp") == "" {
		t.Errorf("alarm %s", alarm)
	}

	// A read-out of momentary values (XEP-0323 §3.1).
	res := w.request(t, "bed1@localhost/sim", "S1", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'/>`)
	if acc := res.Child(NSSensorData, "accepted"); res.Attr("type") != stanza.TypeResult || acc == nil || acc.Attr("seqnr") != "1" || res.Attr("from") != "bed1@localhost/sim" {
		t.Fatalf("read-out: %s", res)
	}
	checkVitals(t, "read out", w.sensorMessage(t, "fields", "1"), "bed1")
	// Rejected: no historical values (§3.3).
	res = w.request(t, "bed1@localhost/sim", "S2", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='2' historicalDay='true'/>`)
	if e, ok := stanza.ErrorFromElement(res); res.Attr("type") != stanza.TypeError || !ok || e.Condition != stanza.ItemNotFound {
		t.Fatalf("historical read-out: %s", res)
	}
	// Scheduled (§3.4): accepted as queued, then started, then the fields.
	when := time.Now().Add(300 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	res = w.request(t, "bed3@localhost/sim", "S3", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='3' momentary='true' when='`+when+`'/>`)
	if acc := res.Child(NSSensorData, "accepted"); acc == nil || acc.Attr("queued") != "true" {
		t.Fatalf("scheduled read-out: %s", res)
	}
	w.sensorMessage(t, "started", "3")
	checkVitals(t, "scheduled", w.sensorMessage(t, "fields", "3"), "bed3")
	// Discovery (§4).
	res = w.request(t, "bed2@localhost/sim", "D1", `<query xmlns='http://jabber.org/protocol/disco#info'/>`)
	if !strings.Contains(res.String(), NSSensorData) {
		t.Errorf("disco#info: %s", res)
	}

	r := run.stop(t)
	if r.Devices != 3 || r.Logins != 3 || r.Online != 3 || r.Readings < 15 || r.Alarms < 1 || r.Reads != 2 || r.ReadsRejected != 1 ||
		r.Errors != 0 || r.PublishErrors != 0 || r.Reconnects != 0 || r.Preset != "vitals" || r.Scenario != "motesim" {
		t.Errorf("result %+v", *r)
	}
	// Every device closed its stream: only the watcher is left.
	xmpptest.WaitFor(t, "the devices' sessions to end", 5*time.Second, func() bool { return s.Sessions().Count() == 1 })
}

// checkVitals checks a <fields/> of device name: the four vital signs,
// momentary and read automatically, with their units (XEP-0323 §5.4).
func checkVitals(t *testing.T, what string, fields *stanza.Element, name string) {
	t.Helper()
	node := fields.Child(NSSensorData, "node")
	if fields.Attr("done") != "true" || node == nil || node.Attr("nodeId") != name {
		t.Fatalf("%s: %s", what, fields)
	}
	ts := node.Child(NSSensorData, "timestamp")
	if ts == nil {
		t.Fatalf("%s: no timestamp: %s", what, fields)
	}
	if _, err := time.Parse(time.RFC3339, ts.Attr("value")); err != nil {
		t.Errorf("%s: timestamp %q: %v", what, ts.Attr("value"), err)
	}
	units := map[string]string{"heartRate": "bpm", "spo2": "%", "bloodPressureSystolic": "mmHg", "bloodPressureDiastolic": "mmHg"}
	for _, n := range ts.ChildElements() {
		if n.Local != "numeric" || n.Attr("momentary") != "true" || n.Attr("automaticReadout") != "true" || units[n.Attr("name")] != n.Attr("unit") {
			t.Errorf("%s: field %s", what, n)
		}
		if _, err := strconv.ParseFloat(n.Attr("value"), 64); err != nil {
			t.Errorf("%s: field %s", what, n)
		}
		delete(units, n.Attr("name"))
	}
	if len(units) != 0 {
		t.Errorf("%s: fields %v missing in %s", what, units, fields)
	}
}

// tunnel drives device name of run into a tunnel for dur once it is
// online, and returns the highest reading number the watcher had then.
func tunnel(t *testing.T, run *running, w *watcher, name string, dur time.Duration) int {
	t.Helper()
	w.until(t, "readings of "+name, func(*stanza.Element) bool { n, _ := w.readings("devices/" + name); return n >= 3 })
	xmpptest.WaitFor(t, "every device online", 5*time.Second, func() bool {
		return run.sim.st.online.Load() == int64(len(run.sim.devices))
	})
	_, last := w.readings("devices/" + name)
	if !run.sim.dropConnection(name, dur) {
		t.Fatal("the tunnel request was not taken")
	}
	xmpptest.WaitFor(t, "the tunnel", 5*time.Second, func() bool { return run.sim.st.tunnels.Load() == 1 })
	return last
}

// checkContiguous checks that the watcher got every reading of node from
// 1 to its highest: nothing measured during a tunnel was lost.
func checkContiguous(t *testing.T, w *watcher, node string) {
	t.Helper()
	n, last := w.readings(node)
	for i := 1; i <= last; i++ {
		if w.items[node][strconv.Itoa(i)] == nil {
			t.Errorf("%s: reading %d of 1..%d missing (%d arrived)", node, i, last, n)
		}
	}
}

// TestFleetTunnel drives a vehicle through a tunnel: its connection drops
// without a closing tag, it resumes its session (XEP-0198 §5) and
// publishes what it measured in the tunnel; the server keeps the session,
// so no last will is published.
func TestFleetTunnel(t *testing.T) {
	s := xmpptest.Start(t, "")
	dir := provision(t, s, "trucks", "car1", "car2")
	w := watchGroup(t, s, "trucks")
	run := start(t, s, Config{Devices: loadTestDevices(t, dir), Preset: "fleet", TunnelRate: 0})

	last := tunnel(t, run, w, "car1", 500*time.Millisecond)
	xmpptest.WaitFor(t, "the resumption", 10*time.Second, func() bool { return run.sim.st.resumes.Load() == 1 })
	w.until(t, "readings after the tunnel", func(*stanza.Element) bool { _, l := w.readings("devices/car1"); return l >= last+10 })
	checkContiguous(t, w, "devices/car1")
	checkContiguous(t, w, "devices/car2")
	if w.items["devices/car1"][lastWillItem] != nil {
		t.Errorf("last will published for a resumable session: %s", w.items["devices/car1"][lastWillItem])
	}
	fields := w.items["devices/car1"]["1"].Child(NSSensorData, "fields")
	if fields == nil || !strings.Contains(fields.String(), `name="fuel"`) || !strings.Contains(fields.String(), `unit="km/h"`) {
		t.Errorf("reading 1 of car1: %s", w.items["devices/car1"]["1"])
	}

	r := run.stop(t)
	if r.Tunnels != 1 || r.Resumes != 1 || r.Reconnects != 1 || r.ResumeFailures != 0 || r.Logins != 2 || r.Errors != 0 || r.Online != 2 {
		t.Errorf("result %+v", *r)
	}
}

// TestShutdownInTunnel ends the run while a vehicle is in a tunnel: it
// resumes its session to close it, publishing what it measured in the
// tunnel, so that the server keeps no session waiting for it.
func TestShutdownInTunnel(t *testing.T) {
	s := xmpptest.Start(t, "")
	dir := provision(t, s, "trucks", "car1")
	w := watchGroup(t, s, "trucks")
	run := start(t, s, Config{Devices: loadTestDevices(t, dir), Preset: "fleet", TunnelRate: 0})
	tunnel(t, run, w, "car1", time.Minute)
	d := run.sim.byName["car1"]
	xmpptest.WaitFor(t, "readings in the tunnel", 5*time.Second, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		unsent := 0
		for _, p := range d.pending {
			if !p.sent {
				unsent++
			}
		}
		return unsent >= 3
	})
	r := run.stop(t)
	if r.Tunnels != 1 || r.Resumes != 1 || r.Online != 0 || r.Errors != 0 || r.Readings < 5 {
		t.Errorf("result %+v", *r)
	}
	xmpptest.WaitFor(t, "the device's session to end", 5*time.Second, func() bool { return s.Sessions().Count() == 1 })
	w.until(t, "every reading", func(*stanza.Element) bool { n, _ := w.readings("devices/car1"); return n == int(r.Readings) })
	checkContiguous(t, w, "devices/car1")
}

// lastWillItem is the item id of a last will (the design's).
const lastWillItem = "last-will"

// TestFleetResumeRefused keeps a vehicle in its tunnel longer than the
// server keeps sessions: the resumption fails, the vehicle logs in anew
// and publishes again what it has no reply for; the server published its
// last will meanwhile.
func TestFleetResumeRefused(t *testing.T) {
	s := xmpptest.Start(t, "c2s: {resume_timeout: 200ms}")
	dir := provision(t, s, "trucks", "car1", "car2")
	w := watchGroup(t, s, "trucks")
	run := start(t, s, Config{Devices: loadTestDevices(t, dir), Preset: "fleet", TunnelRate: 0})

	last := tunnel(t, run, w, "car1", 1500*time.Millisecond)
	w.until(t, "the last will", func(*stanza.Element) bool { return w.items["devices/car1"][lastWillItem] != nil })
	xmpptest.WaitFor(t, "the new session", 10*time.Second, func() bool { return run.sim.st.resumeFailures.Load() == 1 })
	w.until(t, "readings after the tunnel", func(*stanza.Element) bool { _, l := w.readings("devices/car1"); return l >= last+20 })
	checkContiguous(t, w, "devices/car1")

	r := run.stop(t)
	if r.Tunnels != 1 || r.Resumes != 0 || r.ResumeFailures != 1 || r.Reconnects != 1 || r.Logins != 3 || r.Errors != 0 {
		t.Errorf("result %+v", *r)
	}
}

// TestPasswordLogin runs a device that logs in with a password (the
// package's SCRAM login, for servers without certificates) over direct
// TLS (XEP-0368), publishing to a node it created itself.
func TestPasswordLogin(t *testing.T) {
	s := xmpptest.Start(t, "")
	s.AddUser(t, "probe", "secret")
	c := xmpptest.Login(t, s, "probe", "secret", "setup")
	c.Send(`<iq type='set' to='pubsub.localhost' id='c1'><pubsub xmlns='` + NSPubSub + `'><create node='devices/probe'/></pubsub></iq>`)
	if el := c.NextElement(); el.Attr("type") != stanza.TypeResult {
		t.Fatalf("create: %s", el)
	}
	c.Close()

	cfg := Config{Devices: []Device{{Name: "probe"}}, Preset: "vitals", auth: xmppclient.SCRAM{Mech: xmppclient.MechSCRAMSHA256, Password: "secret"}, DirectTLS: true}
	cfg.Addr = s.TLSAddr
	cfg.Domain, cfg.Rate, cfg.Progress, cfg.Quiet = s.Domain(), 50*time.Millisecond, testWriter{t}, true
	sim, err := newSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var res *Result
	go func() { res, err = sim.Run(ctx); close(done) }()
	xmpptest.WaitFor(t, "readings", 10*time.Second, func() bool { return sim.st.readings.Load() >= 5 })
	cancel()
	<-done
	if err != nil || res.Logins != 1 || res.Errors != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}
	// A wrong password is an error, and no device logs in.
	cfg.auth = xmppclient.SCRAM{Mech: xmppclient.MechSCRAMSHA256, Password: "wrong"}
	cfg.Duration = 300 * time.Millisecond
	sim, _ = newSim(cfg)
	if res, err := sim.Run(t.Context()); err != errNoSessions || res.Errors == 0 {
		t.Fatalf("wrong password: %+v, %v", res, err)
	}
}

// TestCLI runs the command line: one JSON line on stdout (and in -json),
// exit status 1 when no device can log in, 2 for bad arguments.
func TestCLI(t *testing.T) {
	s := xmpptest.Start(t, "")
	dir := provision(t, s, "", "van1", "van2")
	path := filepath.Join(t.TempDir(), "out.jsonl")
	var stdout, stderr bytes.Buffer
	args := []string{"run", "-addr", s.Addr, "-certs", dir, "-n", "1", "-preset", "fleet", "-rate", "50ms",
		"-duration", "1s", "-q", "-json", path, "-seed", "3"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || strings.Count(stdout.String(), "\n") != 1 {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	if res.Devices != 1 || res.Logins != 1 || res.Readings == 0 || res.Preset != "fleet" || res.Errors != 0 || res.Seconds < 1 {
		t.Errorf("result %s", stdout.String())
	}
	if data, err := os.ReadFile(path); err != nil || !bytes.Equal(data, stdout.Bytes()) {
		t.Errorf("-json file %q (%v), want the stdout line", data, err)
	}

	// The server's certificate is not from the device CA: with it as
	// -server-ca, no device gets through TLS.
	stdout.Reset()
	stderr.Reset()
	args = []string{"run", "-addr", s.Addr, "-certs", dir, "-rate", "50ms", "-duration", "500ms", "-q", "-server-ca", filepath.Join(dir, "ca.pem")}
	if code := run(args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "certificate") {
		t.Errorf("-server-ca of another CA: exit %d, stderr %s", code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Logins != 0 || res.Errors == 0 {
		t.Errorf("-server-ca of another CA: %s (%v)", stdout.String(), err)
	}

	for i, bad := range [][]string{
		{}, {"walk"}, {"run"}, {"run", "-certs", t.TempDir()}, {"run", "-certs", dir, "-preset", "toaster"},
		{"run", "-certs", dir, "extra"}, {"run", "-certs", dir, "-server-ca", "/nonexistent"}, {"run", "-rate", "soon"},
	} {
		if code := run(bad, &stdout, &stderr); code != 2 {
			t.Errorf("%d: run(%q) = %d, want 2", i, bad, code)
		}
	}
	if code := run([]string{"help"}, &stdout, &stderr); code != 0 {
		t.Errorf("help: %d", code)
	}
}
