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
// connects a device, the Devices page shows it online; the device
// publishes a reading, the Nodes page shows the value; the script kicks
// the device on the Sessions page, the device gets the stream error and
// the session is gone. Screenshots of every view at desktop (1280×800) and
// phone (390×844) widths go to $MOTE_ARTIFACTS/dashboard (or a temporary
// directory).
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

	cfg, _ := json.Marshal(map[string]string{
		"url": s.AdminURL(), "token": s.AdminToken(), "chromium": chromium, "out": out,
		"device": device + "@" + s.Domain(), "resource": resource, "node": temperature, "value": reading,
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
		// Signed in: the device comes online.
		{"logged-in", func() {
			dev = login(t, s, device, resource)
			dev.Send(`<presence><priority>5</priority></presence>`)
		}},
		// The Devices page showed it: it publishes a reading.
		{"device-online", func() {
			publish(t, dev, service, temperature, `<reading xmlns='urn:example:sensor' unit='C'>`+reading+`</reading>`)
		}},
		{"reading-shown", func() {}},
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
	if shots < 12 || len(pngs) != shots {
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
