//go:build unix

package dashboard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

// browserDir holds the Node project of the browser test: package.json
// pins playwright-core and package-lock.json the rest; `npm ci` installs
// it (scripts/test does). The browser is the system's Chromium.
const browserDir = "testdata/browser"

const (
	nsPubSub = "http://jabber.org/protocol/pubsub"
	reading  = "21.5"
)

// TestDashboardInBrowser: the dashboard in headless Chromium against the
// real server. The script (testdata/browser/e2e.mjs) signs in (first
// with a wrong token), and the test and the script take turns: the test
// connects a device, and provisioned devices log in with their
// certificates and publish XEP-0323 readings; the Devices page shows them
// online, with their groups and certificate expiry (a revoked one
// flagged); a device publishes a reading, the Nodes page shows the value;
// the Groups page shows the fleet's readings and positions while the
// vehicles move and one loses its connection (its last will shows), and
// a ward's monitor in alarm; the script kicks the device on the Sessions
// page, the device gets the stream error and the session is gone.
// Screenshots of every view at desktop (1280×800) and phone (390×844)
// widths go to $MOTE_ARTIFACTS/dashboard (or a temporary directory).
func TestDashboardInBrowser(t *testing.T) {
	node, chromium := browserTools(t)
	out := artefacts(t)

	s := xmpptest.Start(t, "")
	for _, u := range []string{"ops", "sensor1", "meter", "display", "door-sensor", "thermostat", "weather-station"} {
		s.AddUser(t, u, "secret")
	}
	service := "pubsub." + s.Domain()
	const device, resource, temperature = "sensor1", "kitchen", "kitchen/temperature"

	// The device creates its node, then goes offline (the Devices page
	// shows when it was last seen); ops creates a few more with items.
	sensor := login(t, s, device, "setup")
	iq(t, sensor, service, "set", `<pubsub xmlns='`+nsPubSub+`'><create node='`+temperature+`'/><configure>`+
		nodeConfig("pubsub#title", "Kitchen temperature")+`</configure></pubsub>`)
	sensor.Close()
	ops := login(t, s, "ops", "console")
	for _, n := range []struct{ node, title, payload string }{
		{"hall/humidity", "Hall humidity", `<reading xmlns='urn:example:sensor' unit='%'>48</reading>`},
		{"garage/door", "Garage door", `<door xmlns='urn:example:sensor'>closed</door>`},
		{"weather/roof", "Roof weather station", `<weather xmlns='urn:example:weather'><temperature unit='C'>7.5</temperature>` +
			`<humidity unit='%'>81</humidity><wind unit='m/s'>3.2</wind></weather>`},
		{"lab/co2", "Lab CO₂", ""},
		// Markup in a payload is text on the page, never markup.
		{"lab/notes", "XSS probe: shown as text", `<note xmlns='urn:example:notes'>&lt;svg onload=xss()&gt;</note>`},
	} {
		iq(t, ops, service, "set", `<pubsub xmlns='`+nsPubSub+`'><create node='`+n.node+`'/><configure>`+
			nodeConfig("pubsub#title", n.title)+`</configure></pubsub>`)
		if n.payload != "" {
			publish(t, ops, service, n.node, n.payload)
		}
	}
	traffic(t, s, service)

	// Provisioned devices (issue 8): vehicles in the group fleet, bedside
	// monitors in ward1, and a sensor whose certificate is revoked.
	bundles := map[string][]byte{}
	for _, d := range []struct{ name, group string }{
		{"truck-1", "fleet"}, {"truck-2", "fleet"}, {"truck-3", "fleet"},
		{"monitor-1", "ward1"}, {"monitor-2", "ward1"}, {"old-sensor", ""},
	} {
		bundles[d.name] = provision(t, s, d.name, d.group)
	}
	if status, body := s.Admin(t, "POST", "/api/v1/devices/old-sensor/revoke", nil); status != 204 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	devices := map[string]*xmpptest.Client{}
	// drive publishes the vehicles' readings at step i of their tracks.
	drive := func(i int, names ...string) {
		for _, n := range names {
			publish(t, devices[n], service, "devices/"+n, track(n, i))
		}
	}

	cfg, _ := json.Marshal(map[string]any{
		"url": s.AdminURL(), "token": s.AdminToken(), "chromium": chromium, "out": out,
		"device": device + "@" + s.Domain(), "resource": resource, "node": temperature, "value": reading,
		"fleet": "fleet", "ward": "ward1", "truck": "truck-1", "lost": "truck-3", "revoked": "old-sensor",
		"monitor": "monitor-1", "alarmed": "monitor-2",
		// truck-1's latitude as the table shows it, at each step.
		"track": []string{position("truck-1", 0)[0] + "°", position("truck-1", 1)[0] + "°",
			position("truck-1", 2)[0] + "°", position("truck-1", 3)[0] + "°"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs", string(cfg))
	cmd.Dir = browserDir
	// Its own process group, so that killing it takes Chromium along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("e2e.mjs stderr:\n%s", stderr.String())
		}
		t.Logf("screenshots in %s", out)
	})

	var dev *xmpptest.Client
	steps := []struct {
		name string
		act  func()
	}{
		// Signed in: the device comes online, and the provisioned devices
		// log in with their certificates and publish a first reading; a
		// monitor raises an alarm after its reading.
		{"logged-in", func() {
			dev = login(t, s, device, resource)
			dev.Send(`<presence><priority>5</priority></presence>`)
			for _, n := range []string{"truck-1", "truck-2", "truck-3", "monitor-1", "monitor-2"} {
				devices[n] = xmpptest.LoginCert(t, s, bundles[n], "sim")
				devices[n].Send(`<presence/>`)
			}
			drive(0, "truck-1", "truck-2", "truck-3")
			publish(t, devices["monitor-1"], service, "devices/monitor-1", sensorData("monitor-1",
				"heartRate", "72", "bpm", "spo2", "98", "%", "bloodPressureSystolic", "118", "mmHg", "bloodPressureDiastolic", "76", "mmHg"))
			publish(t, devices["monitor-2"], service, "devices/monitor-2", sensorData("monitor-2",
				"heartRate", "96", "bpm", "spo2", "95", "%", "bloodPressureSystolic", "131", "mmHg", "bloodPressureDiastolic", "84", "mmHg"))
			publish(t, devices["monitor-2"], service, "devices/monitor-2",
				`<alarm xmlns='urn:mote:sim:0' field='heartRate' value='142' low='50' high='120' timestamp='2026-11-24T15:00:01Z'/>`)
		}},
		// The Devices page showed it: it publishes a reading.
		{"device-online", func() {
			publish(t, dev, service, temperature, `<reading xmlns='urn:example:sensor' unit='C'>`+reading+`</reading>`)
		}},
		{"reading-shown", func() {}},
		// The Groups page showed the fleet: the vehicles move on, and
		// truck-3 loses its connection (the server publishes its last
		// will).
		{"fleet-shown", func() {
			drive(1, "truck-1", "truck-2")
			devices["truck-3"].Drop()
		}},
		{"fleet-moved", func() { drive(2, "truck-1", "truck-2") }},
		// The script kicked it: its stream ends with policy-violation and
		// the session leaves the list.
		{"kicked", func() {
			dev.ExpectStreamError(stanza.StreamPolicyViolation)
			xmpptest.WaitFor(t, "the kicked session to go", 5*time.Second, func() bool {
				status, body := s.Admin(t, "GET", "/api/v1/sessions", nil)
				return status == 200 && !bytes.Contains(body, []byte(`"`+device+"@"+s.Domain()+"/"+resource+`"`))
			})
		}},
		// Back for the phone's pictures.
		{"desktop-done", func() {
			dev = login(t, s, device, resource)
			dev.Send(`<presence><priority>5</priority></presence>`)
		}},
		// The phone showed the fleet: the vehicles move on (a trail).
		{"phone-fleet", func() { drive(3, "truck-1", "truck-2") }},
	}

	sc := bufio.NewScanner(stdout)
	var done []string
	shots := 0
	finished := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "STEP "):
			name := strings.TrimPrefix(line, "STEP ")
			if len(done) == len(steps) || steps[len(done)].name != name {
				t.Fatalf("e2e.mjs reached step %q after %v", name, done)
			}
			steps[len(done)].act()
			done = append(done, name)
			if _, err := io.WriteString(stdin, "GO\n"); err != nil {
				t.Fatalf("after step %s: %v", name, err)
			}
		case strings.HasPrefix(line, "SHOT "):
			shots++
		case line == "DONE":
			finished = true
		default:
			t.Logf("e2e.mjs: %s", strings.TrimPrefix(line, "LOG "))
		}
	}
	err = cmd.Wait()
	waited = true
	// The cleanup logs the script's stderr.
	if ctx.Err() != nil {
		t.Fatalf("e2e.mjs timed out after steps %v", done)
	}
	if err != nil || !finished {
		t.Fatalf("e2e.mjs failed after steps %v: %v", done, err)
	}
	if len(done) != len(steps) {
		t.Fatalf("e2e.mjs skipped steps: did %v", done)
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if shots < 24 || len(pngs) != shots {
		t.Fatalf("%d screenshots reported, %d in %s", shots, len(pngs), out)
	}
}

// browserTools returns node and Chromium, failing the test with what to
// install when they or the npm packages are missing.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the dashboard's browser test (apt-get install nodejs npm; scripts/test installs it): %v", err)
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	var major int
	fmt.Sscanf(strings.TrimSpace(string(v)), "v%d", &major)
	if major < 20 {
		t.Fatalf("playwright-core needs node >= 20, found %s", bytes.TrimSpace(v))
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed: run `npm ci` in internal/admin/dashboard/%s (scripts/test does): %v", browserDir, err)
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium, err = exec.LookPath("chromium")
	} else {
		_, err = os.Stat(chromium)
	}
	if err != nil {
		t.Fatalf("Chromium is required for the dashboard's browser test (apt-get install chromium; .ci/run installs it), "+
			"or set CHROMIUM to a Chromium or Chrome binary: %v", err)
	}
	return node, chromium
}

// artefacts returns the directory of the screenshots:
// $MOTE_ARTIFACTS/dashboard, emptied of earlier screenshots, or a
// temporary directory.
func artefacts(t *testing.T) string {
	t.Helper()
	base := os.Getenv("MOTE_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(filepath.Join(base, "dashboard"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artefacts: %v", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return dir
}

// login logs user in with resource.
func login(t *testing.T, s *xmpptest.Server, user, resource string) *xmpptest.Client {
	t.Helper()
	return xmpptest.Login(t, s, user, "secret", resource)
}

// iq sends an IQ and returns the result, skipping what arrives meanwhile;
// an error fails the test.
func iq(t *testing.T, c *xmpptest.Client, to, typ, payload string) *stanza.Element {
	t.Helper()
	id := fmt.Sprintf("q%d", time.Now().UnixNano())
	c.Send(`<iq type='` + typ + `' to='` + to + `' id='` + id + `'>` + payload + `</iq>`)
	for {
		el := c.NextElement()
		if el.Local != "iq" || el.Attr("id") != id {
			continue
		}
		if el.Attr("type") != stanza.TypeResult {
			t.Fatalf("%s: %s", payload, el)
		}
		return el
	}
}

// publish publishes payload to node (XEP-0060 §7.1).
func publish(t *testing.T, c *xmpptest.Client, service, node, payload string) {
	t.Helper()
	iq(t, c, service, "set", `<pubsub xmlns='`+nsPubSub+`'><publish node='`+node+`'><item>`+payload+`</item></publish></pubsub>`)
}

// provision provisions a device in group over the admin API and returns
// its certificate bundle.
func provision(t *testing.T, s *xmpptest.Server, name, group string) []byte {
	t.Helper()
	status, body := s.Admin(t, "POST", "/api/v1/devices", map[string]string{"name": name, "group": group})
	var p struct {
		Bundle string `json:"bundle"`
	}
	if status != 201 || json.Unmarshal(body, &p) != nil || p.Bundle == "" {
		t.Fatalf("provision %s: %d %s", name, status, body)
	}
	return []byte(p.Bundle)
}

// sensorData is an XEP-0323 reading of device with the numeric fields
// name, value, unit, ...
func sensorData(device string, fields ...string) string {
	var b strings.Builder
	b.WriteString(`<fields xmlns='urn:xmpp:iot:sensordata' seqnr='0' done='true'><node nodeId='` + device +
		`'><timestamp value='` + time.Now().UTC().Format(time.RFC3339) + `'>`)
	for i := 0; i+2 < len(fields); i += 3 {
		fmt.Fprintf(&b, `<numeric name='%s' momentary='true' automaticReadout='true' value='%s' unit='%s'/>`,
			fields[i], fields[i+1], fields[i+2])
	}
	b.WriteString(`</timestamp></node></fields>`)
	return b.String()
}

// position returns vehicle's latitude and longitude at step i of its
// track (near Berlin's Alexanderplatz), as published.
func position(vehicle string, i int) [2]string {
	start := map[string][2]float64{"truck-1": {52.5200, 13.4000}, "truck-2": {52.5180, 13.4090}, "truck-3": {52.5232, 13.4066}}[vehicle]
	heading := map[string][2]float64{"truck-1": {0.0007, 0.0011}, "truck-2": {0.0004, -0.0013}}[vehicle]
	return [2]string{
		fmt.Sprintf("%.6f", start[0]+float64(i)*heading[0]),
		fmt.Sprintf("%.6f", start[1]+float64(i)*heading[1]),
	}
}

// track is vehicle's reading at step i of its track.
func track(vehicle string, i int) string {
	p := position(vehicle, i)
	speed := map[string]string{"truck-1": "42.5", "truck-2": "37.0", "truck-3": "0.0"}[vehicle]
	fuel := fmt.Sprintf("%.1f", 64.0-float64(i)*0.4)
	return sensorData(vehicle, "latitude", p[0], "°", "longitude", p[1], "°", "speed", speed, "km/h", "fuel", fuel, "%")
}

// nodeConfig is a node configuration form (XEP-0060 §16.4.4) with the
// fields var, value, ...
func nodeConfig(fields ...string) string {
	var b strings.Builder
	b.WriteString(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>` +
		nsPubSub + `#node_config</value></field>`)
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, `<field var='%s'><value>%s</value></field>`, fields[i], fields[i+1])
	}
	b.WriteString(`</x>`)
	return b.String()
}

// traffic keeps the charts moving until the test ends: meter sends
// display a message every 150 ms and publishes to its node meter/power,
// to which display subscribed, every 300 ms. Neither reads what it gets
// (it is drained).
func traffic(t *testing.T, s *xmpptest.Server, service string) {
	t.Helper()
	meter := login(t, s, "meter", "main")
	iq(t, meter, service, "set", `<pubsub xmlns='`+nsPubSub+`'><create node='meter/power'/><configure>`+
		nodeConfig("pubsub#title", "Mains power")+`</configure></pubsub>`)
	display := login(t, s, "display", "wall")
	display.Send(`<presence/>`)
	for _, n := range []string{"meter/power", "kitchen/temperature", "hall/humidity"} {
		iq(t, display, service, "set", `<pubsub xmlns='`+nsPubSub+`'><subscribe node='`+n+`' jid='display@`+s.Domain()+`'/></pubsub>`)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range []*xmpptest.Client{meter, display} {
		c.Conn.SetReadDeadline(time.Time{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(io.Discard, c.Conn)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			x := fmt.Sprintf(`<message to='display@%s' type='chat'><body>%d</body></message>`, s.Domain(), i)
			if i%2 == 0 {
				x += fmt.Sprintf(`<iq type='set' to='%s' id='p%d'><pubsub xmlns='%s'><publish node='meter/power'><item>`+
					`<power xmlns='urn:example:meter' unit='W'>%d</power></item></publish></pubsub></iq>`, service, i, nsPubSub, 400+(i*37)%900)
			}
			meter.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(meter.Conn, x); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		meter.Conn.Close()
		display.Conn.Close()
		wg.Wait()
	})
}

// syncBuffer is a bytes.Buffer the test may read while the process
// writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
