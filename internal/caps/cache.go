package caps

import (
	"container/list"
	"strings"
	"sync"
)

// Cache maps verified caps, (hash, ver), to the feature sets they stand for
// (the global cache of XEP-0115 §5.4 step 3.8 and §8.2). It is safe for
// concurrent use.
//
// It holds at most the number of entries given to NewCache; when full, Put
// evicts the least recently used entry (Get and Put count as uses), in
// constant time. Its memory is therefore bounded by that number times
// MaxSetBytes plus per-entry and per-feature overhead. Keys are bounded
// too: Put ignores a (hash, ver) that cannot be a verification string
// (see Put).
type Cache struct {
	max int // fixed at NewCache

	mu      sync.Mutex
	entries map[cacheKey]*list.Element // guarded by mu; values are *cacheEntry
	lru     list.List                  // guarded by mu; front is the most recently used
}

type cacheKey struct{ hash, ver string }

type cacheEntry struct {
	key cacheKey
	set *Set
}

// NewCache returns an empty cache of at most max entries. It panics if max
// is less than 1.
func NewCache(max int) *Cache {
	if max < 1 {
		panic("caps: NewCache with max < 1")
	}
	return &Cache{max: max, entries: make(map[cacheKey]*list.Element)}
}

// Get returns the feature set cached for (hash, ver), if any, and marks it
// recently used.
func (c *Cache) Get(hash, ver string) (*Set, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey{hash, ver}]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cacheEntry).set, true
}

// Put caches s for (hash, ver), replacing what was cached for it, and
// evicts the least recently used entry if the cache is full. The caller
// puts only a set it verified (Verify); Put itself ignores a pair whose
// hash is not an algorithm Hash supports or whose ver does not have the
// length of that algorithm's base64 digest, so that a key never holds
// more than a few dozen bytes. It panics if s is nil.
func (c *Cache) Put(hash, ver string, s *Set) {
	if s == nil {
		panic("caps: Cache.Put of a nil *Set")
	}
	if n := verLen(hash); n == 0 || len(ver) != n {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[cacheKey{hash, ver}]; ok {
		e.Value.(*cacheEntry).set = s
		c.lru.MoveToFront(e)
		return
	}
	if c.lru.Len() >= c.max {
		c.removeLocked(c.lru.Back())
	}
	// Clone so that the key does not pin the stanza it was parsed from.
	k := cacheKey{strings.Clone(hash), strings.Clone(ver)}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, set: s})
}

// Len returns the number of cached entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// removeLocked removes the entry e; c.mu is held.
func (c *Cache) removeLocked(e *list.Element) {
	delete(c.entries, e.Value.(*cacheEntry).key)
	c.lru.Remove(e)
}
