package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/xmpptest"
	"github.com/mote-xmpp/mote/stanza"
)

const nsPubSub = "http://jabber.org/protocol/pubsub"

// TestFleetEndToEnd is issue 8's end-to-end check, with the real
// binaries: 50 devices enrolled in group ward1 from a CSV file
// (mote device enrol), simulated by motesim with their certificates
// (SASL EXTERNAL); a dashboard subscribed to the group's collection gets
// every device's readings, and when one simulated device's TCP
// connection is cut (motesim -drop), its last will once the server's
// stream-management resumption times out.
func TestFleetEndToEnd(t *testing.T) {
	const n, dropped = 50, "monitor-07"
	sim := filepath.Join(t.TempDir(), "motesim")
	if out, err := exec.Command("go", "build", "-o", sim, "../motesim").CombinedOutput(); err != nil {
		t.Fatalf("build motesim: %v\n%s", err, out)
	}
	dir, addr, _ := startFleetServer(t, "resume_timeout: 2s")
	var csv strings.Builder
	for i := range n {
		fmt.Fprintf(&csv, "monitor-%02d,ward1\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "fleet.csv"), []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mote(t, dir, "", "device", "enrol", "--csv", "fleet.csv", "--out", "certs", "-c", "mote.yaml"); !strings.Contains(out, fmt.Sprintf("%d of %d devices provisioned", n, n)) {
		t.Fatalf("enrol: %s", out)
	}
	mote(t, dir, "", "user", "add", "dashboard", "--password", "pw", "-c", "mote.yaml")

	dash := xmpptest.NewClient(t, xmpptest.DialTCP(t, addr), "localhost")
	dash.OpenStream()
	dash.StartTLS()
	if el := dash.AuthSCRAM("SCRAM-SHA-256", "dashboard", "pw"); el.Local != "success" {
		t.Fatalf("dashboard login: %s", el)
	}
	dash.Restart()
	dash.Bind("web")
	dash.Send(`<presence/>`)
	dash.Send(`<iq type='set' to='pubsub.localhost' id='sub'><pubsub xmlns='` + nsPubSub + `'>` +
		`<subscribe node='groups/ward1' jid='dashboard@localhost'/><options><x xmlns='jabber:x:data' type='submit'>` +
		`<field var='FORM_TYPE' type='hidden'><value>` + nsPubSub + `#subscribe_options</value></field>` +
		`<field var='pubsub#subscription_type'><value>items</value></field></x></options></pubsub></iq>`)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	simCmd := exec.CommandContext(ctx, sim, "run", "-addr", addr, "-certs", filepath.Join(dir, "certs"), "-preset", "vitals",
		"-rate", "500ms", "-duration", "10s", "-drop", dropped, "-drop-after", "3s", "-alarm-rate", "0", "-q")
	var simOut, simErr strings.Builder
	simCmd.Stdout, simCmd.Stderr = &simOut, &simErr
	if err := simCmd.Start(); err != nil {
		t.Fatal(err)
	}
	simDone := make(chan error, 1)
	go func() { simDone <- simCmd.Wait() }()

	// Every device's readings, and the dropped device's last will (once
	// its resumption times out, 2 s after the drop).
	readings := map[string]int{}
	var wills []string
	subscribed := false
	deadline := time.Now().Add(30 * time.Second)
	for (len(readings) < n || len(wills) == 0 || !subscribed) && time.Now().Before(deadline) {
		el := dash.NextElement()
		if el.Local == "iq" && el.Attr("id") == "sub" {
			if el.Attr("type") != "result" {
				t.Fatalf("subscribe: %s", el)
			}
			subscribed = true
			continue
		}
		items := eventItems(el)
		if items == nil {
			continue
		}
		device := strings.TrimPrefix(items.Attr("node"), "devices/")
		for _, it := range items.ChildElements() {
			switch {
			case it.Attr("id") == "last-will":
				wills = append(wills, device)
			case it.Child("urn:xmpp:iot:sensordata", "fields") != nil:
				readings[device]++
			}
		}
	}
	if len(readings) != n {
		t.Errorf("readings from %d devices, want %d", len(readings), n)
	}
	if len(wills) != 1 || wills[0] != dropped {
		t.Errorf("last wills %v, want one from %s", wills, dropped)
	}
	select {
	case err := <-simDone:
		if err != nil {
			t.Fatalf("motesim: %v\n%s\n%s", err, simOut.String(), simErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("motesim did not end")
	}
	var res struct {
		Devices  int   `json:"devices"`
		Logins   int64 `json:"logins"`
		Readings int64 `json:"readings"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(simOut.String())), &res); err != nil || res.Devices != n || res.Logins < n {
		t.Fatalf("motesim result %q: %v", simOut.String(), err)
	}
	t.Logf("motesim: %d devices, %d readings; the dashboard saw %d devices, last wills %v", res.Devices, res.Readings, len(readings), wills)
	// No other will: the others closed their streams at the end.
	time.Sleep(500 * time.Millisecond)
	dash.Send(`<iq type='get' to='localhost' id='ping'><ping xmlns='urn:xmpp:ping'/></iq>`)
	for {
		el := dash.NextElement()
		if el.Local == "iq" && el.Attr("id") == "ping" {
			break
		}
		if items := eventItems(el); items != nil && items.Child(nsPubSub+"#event", "item") != nil &&
			items.Child(nsPubSub+"#event", "item").Attr("id") == "last-will" {
			t.Errorf("a last will after a clean close: %s", el)
		}
	}
}

// eventItems returns the <items/> of a pubsub notification, or nil.
func eventItems(el *stanza.Element) *stanza.Element {
	if el.Local != "message" {
		return nil
	}
	ev := el.Child(nsPubSub+"#event", "event")
	if ev == nil {
		return nil
	}
	return ev.Child(nsPubSub+"#event", "items")
}
