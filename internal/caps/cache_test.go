package caps

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestSet(t *testing.T) {
	in := []string{"urn:b", "urn:a", "", "urn:b", "urn:c+notify"}
	s := NewSet(in)
	in[0] = "urn:changed"
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	for _, f := range []string{"urn:a", "urn:b", "urn:c+notify"} {
		if !s.Has(f) {
			t.Errorf("Has(%q) = false", f)
		}
	}
	for _, f := range []string{"", "urn:changed", "urn:c", "urn:"} {
		if s.Has(f) {
			t.Errorf("Has(%q) = true", f)
		}
	}
	if got := slices.Collect(s.All()); !slices.Equal(got, []string{"urn:a", "urn:b", "urn:c+notify"}) {
		t.Errorf("All = %q", got)
	}
	for range s.All() {
		break // yield must stop
	}
	var empty *Set
	if empty.Has("urn:a") || empty.Len() != 0 || len(slices.Collect(empty.All())) != 0 {
		t.Error("nil Set is not empty")
	}
	if NewSet(nil).Len() != 0 {
		t.Error("NewSet(nil) not empty")
	}
}

// TestSetBounds: a client cannot make a Set hold more than MaxFeatures
// features, a feature longer than MaxFeatureLen, or more than MaxSetBytes.
func TestSetBounds(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		var in []string
		for i := range 3 * MaxFeatures {
			in = append(in, "urn:f:"+strconv.Itoa(100000+i))
		}
		s := NewSet(in)
		if s.Len() != MaxFeatures {
			t.Fatalf("Len = %d, want %d", s.Len(), MaxFeatures)
		}
		// The sorted prefix is kept.
		if !s.Has("urn:f:100000") || !s.Has("urn:f:100999") || s.Has("urn:f:101000") {
			t.Fatal("not the sorted prefix")
		}
	})
	t.Run("length", func(t *testing.T) {
		long := "urn:" + strings.Repeat("x", MaxFeatureLen-4)
		s := NewSet([]string{long + "y", long, "urn:a"})
		if s.Len() != 2 || !s.Has(long) || s.Has(long+"y") || s.Has(long[:MaxFeatureLen-1]) {
			t.Fatalf("Len = %d", s.Len())
		}
	})
	t.Run("bytes", func(t *testing.T) {
		var in []string
		for i := range 100 {
			in = append(in, strconv.Itoa(100+i)+strings.Repeat("x", 997)) // 1,000 bytes each
		}
		s := NewSet(in)
		if want := MaxSetBytes / 1000; s.Len() != want {
			t.Fatalf("Len = %d, want %d", s.Len(), want)
		}
		if s.size > MaxSetBytes {
			t.Fatalf("size = %d", s.size)
		}
	})
}

// ver returns a valid sha-1 ver for i.
func ver(i int) string {
	v, _ := Hash("sha-1", strconv.Itoa(i))
	return v
}

func TestCache(t *testing.T) {
	c := NewCache(2)
	a, b, d := NewSet([]string{"urn:a"}), NewSet([]string{"urn:b"}), NewSet([]string{"urn:d"})
	if _, ok := c.Get("sha-1", ver(1)); ok {
		t.Fatal("Get on an empty cache")
	}
	c.Put("sha-1", ver(1), a)
	c.Put("sha-1", ver(2), b)
	if s, ok := c.Get("sha-1", ver(1)); !ok || s != a {
		t.Fatalf("Get 1 = %v, %v", s, ok)
	}
	if _, ok := c.Get("sha-256", ver(1)); ok {
		t.Fatal("the hash is part of the key")
	}
	// 1 was used after 2: 2 is evicted.
	c.Put("sha-1", ver(3), d)
	if _, ok := c.Get("sha-1", ver(2)); ok {
		t.Fatal("least recently used entry not evicted")
	}
	if s, ok := c.Get("sha-1", ver(1)); !ok || s != a {
		t.Fatal("recently used entry evicted")
	}
	if s, ok := c.Get("sha-1", ver(3)); !ok || s != d {
		t.Fatal("new entry missing")
	}
	// Replacing an entry keeps the size.
	c.Put("sha-1", ver(1), b)
	if s, _ := c.Get("sha-1", ver(1)); s != b || c.Len() != 2 {
		t.Fatalf("replace: Len = %d", c.Len())
	}
}

func TestCachePutIgnoresBadKeys(t *testing.T) {
	c := NewCache(10)
	s := NewSet([]string{"urn:a"})
	v256, _ := Hash("sha-256", "x")
	for i, k := range []struct{ hash, ver string }{
		{"", ver(1)},
		{"md5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
		{"sha-1", ""},
		{"sha-1", v256},
		{"sha-256", ver(1)},
		{"sha-1", strings.Repeat("A", 1<<20)},
	} {
		c.Put(k.hash, k.ver, s)
		if _, ok := c.Get(k.hash, k.ver); ok || c.Len() != 0 {
			t.Errorf("%d: Put(%q, %.40q) cached", i, k.hash, k.ver)
		}
	}
	c.Put("sha-256", v256, s)
	if got, ok := c.Get("sha-256", v256); !ok || got != s {
		t.Error("sha-256 key not cached")
	}
}

// TestCacheBound: however many entries are put, the cache holds at most
// max, and the most recent ones.
func TestCacheBound(t *testing.T) {
	const max = 64
	c := NewCache(max)
	s := NewSet([]string{"urn:a"})
	for i := range 10 * max {
		c.Put("sha-1", ver(i), s)
		if c.Len() > max {
			t.Fatalf("after %d puts: Len = %d", i+1, c.Len())
		}
	}
	if c.Len() != max || len(c.entries) != max {
		t.Fatalf("Len = %d, map %d", c.Len(), len(c.entries))
	}
	for i := range 10 * max {
		_, ok := c.Get("sha-1", ver(i))
		if want := i >= 9*max; ok != want {
			t.Fatalf("Get %d = %v, want %v", i, ok, want)
		}
	}
}

func TestCachePanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("NewCache(0)", func() { NewCache(0) })
	mustPanic("Put(nil)", func() { NewCache(1).Put("sha-1", ver(1), nil) })
}

// TestCacheConcurrent runs Get and Put from several goroutines, for the
// race detector, and checks the bound afterwards.
func TestCacheConcurrent(t *testing.T) {
	const max = 16
	c := NewCache(max)
	sets := []*Set{NewSet([]string{"urn:a"}), NewSet([]string{"urn:b"})}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := ver((g*500 + i) % 40)
				if s, ok := c.Get("sha-1", k); ok && s.Len() != 1 {
					t.Error("bad set")
					return
				}
				c.Put("sha-1", k, sets[i%2])
			}
		})
	}
	wg.Wait()
	if c.Len() > max || len(c.entries) != c.Len() {
		t.Fatalf("Len = %d, map %d", c.Len(), len(c.entries))
	}
}
