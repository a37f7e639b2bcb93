package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/pgtest"
	"github.com/mote-xmpp/mote/internal/storage/postgres"
	"github.com/mote-xmpp/mote/internal/storage/sqlite"
	"github.com/mote-xmpp/mote/stanza"
)

const (
	domain   = "localhost"
	password = "secret"
	nsSM     = "urn:xmpp:sm:3"
)

// bin is the mote binary built for the tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "motecrash")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	bin = filepath.Join(dir, "mote")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mote")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building mote: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if err := pgtest.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a mote process on a data directory.
type server struct {
	t    *testing.T
	dir  string
	addr string
	cmd  *exec.Cmd
	out  bytes.Buffer
}

// newServer prepares a data directory with the accounts and a
// configuration on a free loopback port, storing in backend: the embedded
// SQLite database, or a fresh PostgreSQL database (pgtest).
func newServer(t *testing.T, backend string, users []string) *server {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	var st storage.Store
	var err error
	storageCfg := ""
	switch backend {
	case "sqlite":
		st, err = sqlite.Open(ctx, filepath.Join(dir, "mote.db"))
	case "postgres":
		dsn := pgtest.DSN(t)
		storageCfg = fmt.Sprintf("storage: {driver: postgres, dsn: %q}\n", dsn)
		st, err = postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if _, err := accounts.Add(ctx, st.Users(), u, password); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("domain: %s\ndata_dir: %s\nlog: {level: warn}\nc2s:\n  listen: %q\n  direct_tls_listen: \"\"\n"+
		"admin: {listen: \"\"}\nhttp: {listen: \"\", tls_listen: \"\"}\n"+
		"modules:\n  offline: {max_messages: 100000}\n%s", domain, dir, addr, storageCfg)
	if err := os.WriteFile(filepath.Join(dir, "mote.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &server{t: t, dir: dir, addr: addr}
}

// start runs the server and waits until it accepts connections.
func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(bin, "serve", "-c", filepath.Join(s.dir, "mote.yaml"))
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.kill()
			s.t.Fatalf("server did not start: %v\n%s", err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL and waits for it.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

// stop ends the server with SIGTERM and waits for it.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// TestCrash: writers with stream management send thousands of messages
// to accounts that are offline and to accounts that are online; the
// server is killed with SIGKILL while they send; after a restart, every
// message the server had acknowledged (XEP-0198 h) is found: delivered
// live before the kill, delivered from offline storage, or in the
// recipient's message archive (XEP-0313). Several seeds vary the moment
// of the kill and the recipients of each message.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: starts and kills server processes")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, seed := range []uint64{1, 2, 3} {
			t.Run(fmt.Sprint(backend, "/seed=", seed), func(t *testing.T) { crash(t, backend, seed) })
		}
	}
}

func crash(t *testing.T, backend string, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6d6f7465))
	// Recipients 0..offline-1 never log in before the kill; the others
	// are online, reading.
	const writers, offline, online, perWriter = 4, 2, 2, 3000
	const recipients = offline + online
	var users []string
	for i := range writers {
		users = append(users, fmt.Sprint("w", i))
	}
	for i := range recipients {
		users = append(users, fmt.Sprint("r", i))
	}
	s := newServer(t, backend, users)
	s.start()

	var mu sync.Mutex
	seen := map[string]int{} // deliveries per message, live and after the restart
	refused := map[string]bool{}
	var wg sync.WaitGroup
	var clients []*client
	for r := offline; r < recipients; r++ {
		c, err := dial(s.addr, domain, fmt.Sprint("r", r), password, "reader")
		if err != nil {
			s.kill()
			t.Fatal(err)
		}
		if err := c.send(`<presence/>`); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				el, err := c.next()
				if err != nil {
					return
				}
				if el.Local == "message" {
					mu.Lock()
					seen[bodyOf(el)]++
					mu.Unlock()
				}
			}
		}()
	}

	// Each writer sends to recipients chosen by the seed, asking for an
	// acknowledgement every few messages, and records the last h.
	to := make([][]int, writers)
	for w := range writers {
		to[w] = make([]int, perWriter)
		for i := range to[w] {
			to[w][i] = rng.IntN(recipients)
		}
	}
	acked := make([]atomic.Uint32, writers)
	var total atomic.Int64
	for w := range writers {
		c, err := dial(s.addr, domain, fmt.Sprint("w", w), password, "writer")
		if err != nil {
			s.kill()
			t.Fatal(err)
		}
		if err := c.send(`<enable xmlns='urn:xmpp:sm:3'/>`); err != nil {
			t.Fatal(err)
		}
		if el, err := c.next(); err != nil || el.Local != "enabled" {
			t.Fatalf("enable: %v %v", el, err)
		}
		clients = append(clients, c)
		wg.Add(2)
		go func() { // acknowledgements, and refusals
			defer wg.Done()
			for {
				el, err := c.next()
				if err != nil {
					return
				}
				if el.Local == "message" && el.Attr("type") == "error" {
					// Refused (a storage limit): the sender was told, so
					// the server owes nothing.
					mu.Lock()
					refused[el.Attr("id")] = true
					mu.Unlock()
				}
				if el.Space == nsSM && el.Local == "a" {
					h, _ := strconv.ParseUint(el.Attr("h"), 10, 32)
					if old := acked[w].Swap(uint32(h)); uint32(h) > old {
						total.Add(int64(uint32(h) - old))
					}
				}
			}
		}()
		go func() { // messages; the connection stays open for the acks
			defer wg.Done()
			for i := range perWriter {
				msg := fmt.Sprintf(`<message type='chat' id='%s' to='r%d@localhost'><body>%s</body></message>`, msgID(w, i), to[w][i], msgID(w, i))
				if i%16 == 15 {
					msg += `<r xmlns='urn:xmpp:sm:3'/>`
				}
				if c.send(msg) != nil {
					return
				}
			}
			c.send(`<r xmlns='urn:xmpp:sm:3'/>`)
		}()
	}
	// Kill once some messages are acknowledged, at a moment the seed picks.
	minAcked := int64(200 + rng.IntN(writers*perWriter/2))
	deadline := time.Now().Add(60 * time.Second)
	for total.Load() < minAcked && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	s.kill()
	wg.Wait()
	for _, c := range clients {
		c.close()
	}
	want := map[string]bool{}
	expect := make([]int, recipients)
	for w := range writers {
		for i := range int(acked[w].Load()) {
			if id := msgID(w, i); !refused[id] {
				want[id] = true
				expect[to[w][i]]++
			}
		}
	}
	if len(want) == 0 {
		t.Fatalf("nothing was acknowledged before the kill\n%s", s.out.String())
	}
	live := len(seen)

	s.out.Reset()
	s.start()
	defer s.stop()
	for r := range offline {
		receive(t, s, fmt.Sprint("r", r), want, expect[r], seen)
	}
	archived, unarchived := 0, 0
	inArchive := map[string]bool{}
	for r := offline; r < recipients; r++ {
		c, err := dial(s.addr, domain, fmt.Sprint("r", r), password, "archive")
		if err != nil {
			t.Fatal(err)
		}
		bodies, err := c.archive()
		c.close()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bodies {
			if want[b] && seen[b] == 0 {
				archived++
			}
			inArchive[b] = true
		}
	}
	// Acknowledged means archived: every acknowledged message to an
	// online recipient is in its archive, delivered live or not.
	for w := range writers {
		for i := range int(acked[w].Load()) {
			if id := msgID(w, i); want[id] && to[w][i] >= offline && !inArchive[id] {
				unarchived++
			}
		}
	}
	if unarchived > 0 {
		t.Errorf("%d acknowledged messages to online recipients are not in their archives", unarchived)
	}
	lost, dups := 0, 0
	for id := range want {
		if seen[id] == 0 && !inArchive[id] {
			lost++
		}
	}
	for _, n := range seen {
		if n > 1 {
			dups += n - 1 // delivered more than once, live or from offline storage
		}
	}
	t.Logf("seed %d: %d messages acknowledged before SIGKILL (%d refused with an error); %d delivered live, then %d found only in the recipients' archives; lost %d, duplicates %d",
		seed, len(want), len(refused), live, archived, lost, dups)
	if lost > 0 {
		t.Errorf("%d acknowledged messages lost\n%s", lost, s.out.String())
	}
}

// receive logs user in, sends initial presence and reads the offline
// messages until expect acknowledged ones arrived or nothing more comes.
func receive(t *testing.T, s *server, user string, want map[string]bool, expect int, seen map[string]int) {
	t.Helper()
	c, err := dial(s.addr, domain, user, password, "reader")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if err := c.send(`<presence/>`); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < expect {
		c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		el, err := c.next()
		if err != nil {
			return // the rest is reported as lost
		}
		if el.Local != "message" {
			continue
		}
		id := bodyOf(el)
		if seen[id]++; want[id] && seen[id] == 1 {
			got++
		}
	}
}

func bodyOf(el *stanza.Element) string {
	if b := el.Child(stanza.NSClient, "body"); b != nil {
		return b.Text()
	}
	return ""
}

func msgID(w, i int) string { return fmt.Sprintf("w%d-%d", w, i) }
