package caps

import (
	"iter"
	"slices"
	"strings"
)

// Bounds of a Set. A feature longer than MaxFeatureLen bytes is dropped
// (never truncated, which could make Has true for a feature the client did
// not advertise); of the rest, in sorted order, a Set keeps at most
// MaxFeatures whose lengths add up to at most MaxSetBytes. A Set therefore
// holds at most MaxSetBytes bytes of feature text plus one string header
// per feature. Real clients advertise tens of features of tens of bytes.
const (
	MaxFeatures   = 1000
	MaxFeatureLen = 1024
	MaxSetBytes   = 64 << 10
)

// Set is an immutable set of disco#info feature vars: what a verified caps
// ver stands for. It is safe for concurrent use. A nil *Set is empty.
type Set struct {
	features []string // sorted, unique, each its own allocation
	size     int      // sum of len(features[i])
}

// NewSet returns the set of features, within the bounds above. Empty
// strings are dropped. The Set copies the strings it keeps, so it does
// not pin the memory of the stanza they came from, and does not retain
// the features slice.
func NewSet(features []string) *Set {
	sorted := slices.Clone(features)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	s := &Set{}
	for _, f := range sorted {
		if f == "" || len(f) > MaxFeatureLen {
			continue
		}
		if len(s.features) == MaxFeatures || s.size+len(f) > MaxSetBytes {
			break
		}
		s.features = append(s.features, strings.Clone(f))
		s.size += len(f)
	}
	s.features = slices.Clip(s.features)
	return s
}

// Has reports whether feature is in s.
func (s *Set) Has(feature string) bool {
	if s == nil {
		return false
	}
	_, ok := slices.BinarySearch(s.features, feature)
	return ok
}

// Len returns the number of features in s.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.features)
}

// All yields the features of s in sorted order.
func (s *Set) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		if s == nil {
			return
		}
		for _, f := range s.features {
			if !yield(f) {
				return
			}
		}
	}
}
