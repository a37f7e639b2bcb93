// Package pgtest gives tests a PostgreSQL database of their own.
//
// DSN returns the connection string of a fresh, empty database, created
// for the calling test and dropped when it ends. The databases live on one
// of two servers:
//
//   - the server named by the environment variable MOTE_TEST_POSTGRES, a
//     DSN (key=value or postgres:// URL) whose user may CREATE DATABASE,
//     when it is set;
//   - otherwise a throwaway server of the test process's own, started on
//     first use: initdb into a temporary directory (trust authentication,
//     UTF8, --no-sync), then postgres on a free loopback port with fsync
//     and full-page writes off. Its binaries are looked up in PATH and in
//     Debian's /usr/lib/postgresql/<version>/bin, newest version first;
//     without them the test fails, saying to install them (Debian:
//     apt-get install postgresql). PostgreSQL refuses to run as root, so
//     under root initdb and postgres run as the "postgres" system user
//     (Debian's package creates it; the credentials are set on the child
//     process, as runuser would), which owns the temporary directory.
//
// A package that uses DSN calls Main from its TestMain, which stops the
// throwaway server once the tests are done:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// A test process that dies without getting there (killed, or panicking on
// the -test.timeout deadline) does not leave the server behind: the kernel
// sends it SIGQUIT (immediate shutdown) when the process exits
// (PR_SET_PDEATHSIG), and a small watchdog process stops it and removes its
// directory once the test process is gone, or at the latest when the
// process outlives its -test.timeout by a minute.
//
// Test databases use an ICU collation where the server supports one
// (PostgreSQL 15 and later built with ICU), so that a query that relies on
// the database's collation for byte order, instead of COLLATE "C", fails
// its tests rather than a deployment's.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvDSN names the environment variable with the DSN of an existing server
// to create the test databases on, instead of a throwaway one.
const EnvDSN = "MOTE_TEST_POSTGRES"

// startTimeout bounds how long the throwaway server may take to initialise
// and to accept connections.
const startTimeout = time.Minute

// Process-wide state. mu guards the fields below it and serialises starting
// and stopping the throwaway server.
var (
	mu sync.Mutex
	// admin is the DSN of the server's maintenance database, set once
	// the server is known; startErr is why there is no server (sticky:
	// every test fails with it instead of each trying again).
	admin    string
	startErr error
	srv      *server // the throwaway server, nil with MOTE_TEST_POSTGRES
)

// DSN returns the connection string of a new, empty database for t,
// dropped (with any connections still open to it) when t and its subtests
// have finished. It fails t if there is no server to create it on.
func DSN(t testing.TB) string {
	t.Helper()
	base, err := serverDSN()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, base, createDatabaseICU(name), createDatabase(name)); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE (PostgreSQL 13) ends the sessions a test left open.
		if err := adminExec(ctx, base, "DROP DATABASE IF EXISTS "+quote(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// Main runs the tests of m, stops the throwaway server if one was started,
// and exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Stop stops the throwaway server and removes its directory; a later DSN
// starts a new one. It does nothing with MOTE_TEST_POSTGRES or when no
// server was started. Main calls it.
func Stop() error {
	mu.Lock()
	defer mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.close()
	srv, admin, startErr = nil, "", nil
	return err
}

// Restart stops the throwaway server, calls down (if not nil) while it is
// stopped, and starts it again on the same port with the same data, for
// tests of what clients do when the server goes away. Connections open to
// it are lost. It skips t with MOTE_TEST_POSTGRES, a server the harness
// does not control. Tests that call it must not run in parallel with other
// tests of the process that use the server.
func Restart(t testing.TB, down func()) {
	t.Helper()
	if _, err := serverDSN(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	mu.Lock()
	s := srv
	mu.Unlock()
	if s == nil {
		t.Skipf("pgtest: Restart needs the throwaway server, not the one %s names", EnvDSN)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
	if down != nil {
		down()
	}
	mu.Lock()
	defer mu.Unlock()
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
}

// serverDSN returns the DSN of the maintenance database of the server the
// test databases go on, starting the throwaway server on first use.
func serverDSN() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if admin != "" || startErr != nil {
		return admin, startErr
	}
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		if _, err := pgconn.ParseConfig(dsn); err != nil {
			startErr = fmt.Errorf("%s: %w", EnvDSN, err)
			return "", startErr
		}
		admin = dsn
		return admin, nil
	}
	s, err := newServer()
	if err != nil {
		startErr = err
		return "", err
	}
	srv = s
	admin = s.dsn()
	return admin, nil
}

// adminExec connects to the server's maintenance database and runs the
// first of queries that succeeds; it returns the last one's error if none
// does.
func adminExec(ctx context.Context, dsn string, queries ...string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, q := range queries {
		if _, err = conn.Exec(ctx, q); err == nil {
			return nil
		}
	}
	return err
}

// createDatabaseICU creates the database with the ICU root collation
// (PostgreSQL 15 syntax), whose order is not byte order: "Zed" sorts after
// "ab" and "a-c".
func createDatabaseICU(name string) string {
	return createDatabase(name) + " LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'und'"
}

// createDatabase creates the database from template0, so that nothing an
// administrator added to template1 is in it.
func createDatabase(name string) string {
	return "CREATE DATABASE " + quote(name) + " TEMPLATE template0 ENCODING 'UTF8'"
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

// dbName returns a database name unique to this call: the test's name, cut
// and made an identifier, and a random suffix (several test processes may
// share one MOTE_TEST_POSTGRES server).
func dbName(test string) string {
	var b strings.Builder
	b.WriteString("mote_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	return b.String() + "_" + hex.EncodeToString(suffix[:])
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In key=value form a later key overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// server is the throwaway PostgreSQL server of the test process.
type server struct {
	dir  string // temporary directory: data/, the socket, postgres.log
	bin  string // directory of initdb and postgres
	port int
	// cred is the postgres system user the server runs as when the test
	// process runs as root; nil otherwise.
	cred *syscall.Credential

	cmd      *exec.Cmd     // the postmaster while it runs
	exited   chan struct{} // closed once cmd has exited
	watchdog *exec.Cmd
}

// newServer initialises a data directory and starts a server on it.
func newServer() (*server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &server{bin: bin}
	if os.Getuid() == 0 {
		if s.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if s.dir, err = os.MkdirTemp("", "mote-pgtest-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*server, error) {
		s.close()
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fail(err)
		}
	}
	if err := s.initdb(); err != nil {
		return fail(err)
	}
	// A port another process takes between our probe and the server's
	// bind is retried with another.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return fail(err)
		}
		if err = s.start(); err == nil {
			break
		}
		if attempt == 2 {
			return fail(err)
		}
	}
	if err := s.startWatchdog(); err != nil {
		return fail(err)
	}
	return s, nil
}

// findBinaries returns the directory that holds both initdb and postgres:
// the one in PATH, or else Debian's newest /usr/lib/postgresql/*/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return int(version(b)*100 - version(a)*100) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found in PATH or /usr/lib/postgresql/*/bin: " +
		"install them (Debian, Ubuntu: apt-get install postgresql), or set " + EnvDSN +
		" to the DSN of a server whose user may CREATE DATABASE")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// postgresUser returns the credential of the postgres system user, for a
// test process running as root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root: "+
			"no postgres user to run it as (%v); install postgresql, or run the tests as another user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func (s *server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *server) logPath() string { return filepath.Join(s.dir, "postgres.log") }

// dsn returns the DSN of the server's maintenance database.
func (s *server) dsn() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=10", s.port)
}

// command returns cmd for one of the server's binaries, run as the
// postgres user under root, in the server's directory, with its output
// appended to the log.
func (s *server) command(log *os.File, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	// The server's own environment: no PG* variables of the caller's.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

// openLog opens the server's log for appending; the children write to it
// through the inherited descriptor, whoever they run as.
func (s *server) openLog() (*os.File, error) {
	return os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// logTail returns the end of the server's log, for error messages.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// initdb creates the data directory: trust authentication (the server
// listens on loopback only, for this process's tests), UTF8, superuser
// postgres.
func (s *server) initdb() error {
	log, err := s.openLog()
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := s.command(log, "initdb", "-D", s.dataDir(), "--auth=trust", "--encoding=UTF8", "--locale=C",
		"--username=postgres", "--no-sync")
	if err := cmd.Run(); err != nil {
		hint := ""
		if s.cred != nil {
			hint = fmt.Sprintf(" (run as the postgres user, which must be able to reach %s)", s.dir)
		}
		return fmt.Errorf("initdb%s: %w\n%s", hint, err, s.logTail())
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start starts the postmaster on s.port and waits until it accepts
// connections.
func (s *server) start() error {
	log, err := s.openLog()
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := s.command(log, "postgres", "-D", s.dataDir(), "-k", s.dir, "-p", strconv.Itoa(s.port),
		"-h", "127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
		"-c", "log_min_messages=warning")
	// Immediate shutdown if the test process dies first. The signal goes
	// when the thread that forked the child exits, so it is forked from a
	// locked thread that stays until the server has exited.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.exited = cmd, exited

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		conn, err := pgx.Connect(ctx, s.dsn())
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("postgres exited at start: %v\n%s", cmd.ProcessState, s.logTail())
		case <-ctx.Done():
			s.stop()
			return fmt.Errorf("postgres does not accept connections after %v: %w\n%s", startTimeout, err, s.logTail())
		case <-time.After(wait):
		}
	}
}

// stop shuts the postmaster down (fast shutdown: sessions are ended) and
// waits for it, killing it if it takes too long.
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil }()
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
		return nil
	case <-time.After(30 * time.Second):
	}
	s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("postgres did not shut down within 30s, killed")
}

// close stops the watchdog and the server and removes the directory.
func (s *server) close() error {
	if s.watchdog != nil {
		s.watchdog.Process.Kill()
		s.watchdog.Wait()
		s.watchdog = nil
	}
	err := s.stop()
	if s.dir != "" {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	return err
}

// watchdogScript runs in its own session, outside the test process: once
// that process is gone, or past the deadline, it stops the server whose
// pid is in postmaster.pid (if that pid is a postgres process still) and
// removes the directory. Arguments: test process pid, deadline (Unix
// seconds), directory.
const watchdogScript = `
parent=$1 deadline=$2 dir=$3
while kill -0 "$parent" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = postgres ]; then
	kill -QUIT "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do sleep 1; i=$((i+1)); done
	kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$dir"
`

// startWatchdog starts the watchdog of the server. Its deadline is a
// minute past the test binary's -test.timeout, or a day without one.
func (s *server) startWatchdog() error {
	life := 24 * time.Hour
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 0 {
			life = d + time.Minute
		}
	}
	deadline := time.Now().Add(life).Unix()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "pgtest-watchdog",
		strconv.Itoa(os.Getpid()), strconv.FormatInt(deadline, 10), s.dir)
	// Its own session: a terminal's ^C to the tests does not end it
	// before it has cleaned up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start watchdog: %w", err)
	}
	s.watchdog = cmd
	return nil
}
