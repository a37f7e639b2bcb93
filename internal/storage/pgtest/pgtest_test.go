package pgtest

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect %q: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestDSN(t *testing.T) {
	ctx := context.Background()
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two DSN calls gave the same database %q", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	var nameA, nameB string
	if err := ca.QueryRow(ctx, "SELECT current_database()").Scan(&nameA); err != nil {
		t.Fatal(err)
	}
	if err := cb.QueryRow(ctx, "SELECT current_database()").Scan(&nameB); err != nil {
		t.Fatal(err)
	}
	if nameA == nameB || nameA == "postgres" {
		t.Errorf("databases %q and %q, want two new ones", nameA, nameB)
	}
	var tables int
	if err := ca.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("new database has %d tables (%v), want none", tables, err)
	}
	var enc string
	if err := ca.QueryRow(ctx, "SHOW server_encoding").Scan(&enc); err != nil || enc != "UTF8" {
		t.Errorf("server_encoding = %q, %v; want UTF8", enc, err)
	}
}

// TestDropped checks that a test's database, with a session still open on
// it, is gone when the test has ended.
func TestDropped(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		conn := connect(t, DSN(t))
		if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	base, err := serverDSN()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := connect(t, base).QueryRow(context.Background(),
		"SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %q still exists (%d, %v)", name, n, err)
	}
}

// TestCollation checks that test databases do not sort in byte order when
// the server has ICU, so that code which needs byte order must ask for it.
func TestCollation(t *testing.T) {
	conn := connect(t, DSN(t))
	var provider string
	if err := conn.QueryRow(context.Background(),
		"SELECT datlocprovider::text FROM pg_database WHERE datname = current_database()").Scan(&provider); err != nil {
		t.Skipf("server without locale providers: %v", err)
	}
	if provider != "i" {
		t.Skipf("server without ICU (locale provider %q)", provider)
	}
	var icu, c bool
	if err := conn.QueryRow(context.Background(),
		`SELECT 'Zed' < 'ab', 'Zed' COLLATE "C" < 'ab'`).Scan(&icu, &c); err != nil {
		t.Fatal(err)
	}
	if icu || !c {
		t.Errorf("'Zed' < 'ab' is %v in the database's collation and %v in C; want false and true", icu, c)
	}
}

func TestRestart(t *testing.T) {
	if os.Getenv(EnvDSN) != "" {
		t.Skip("external server")
	}
	ctx := context.Background()
	dsn := DSN(t)
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	Restart(t, func() {
		if _, err := pgx.Connect(ctx, dsn); err == nil {
			t.Error("connected while the server was stopped")
		}
	})
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection survived the restart")
	}
	var v int
	if err := connect(t, dsn).QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != 42 {
		t.Errorf("after the restart: %d, %v; want the data kept", v, err)
	}
}

func TestDBName(t *testing.T) {
	valid := regexp.MustCompile(`^mote_[a-z0-9_]{1,40}_[0-9a-f]{12}$`)
	for _, test := range []string{"TestX", "TestConformance/Users/RoundTrip", "Test/ü/" + string(make([]byte, 100))} {
		a, b := dbName(test), dbName(test)
		if !valid.MatchString(a) || len(a) > 63 || a == b {
			t.Errorf("dbName(%q) = %q, %q; want distinct identifiers of at most 63 bytes", test, a, b)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=x"},
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/x?sslmode=disable"},
		{"postgresql://h", "postgresql://h/x"},
	}
	for i, tt := range tests {
		got, err := withDatabase(tt.dsn, "x")
		if err != nil || got != tt.want {
			t.Errorf("%d: withDatabase(%q) = %q, %v; want %q", i, tt.dsn, got, err, tt.want)
		}
	}
}
