package xmlstream

import (
	"sync"

	"github.com/mote-xmpp/mote/stanza"
)

// While a top-level element is parsed, the decoder records it in flat
// scratch arrays (the work struct) and only builds the stanza.Element tree
// when the element is complete. Every string of the element that is not an
// interned constant is copied, decoded, into one scratch byte slice and the
// tree's strings are substrings of a single string made from it; the
// elements, attributes and child nodes come from three exactly sized
// slices. A stanza therefore costs about four allocations however many
// elements and attributes it has.

// sref names a string of the element being built: n >= 0 is text[off:off+n]
// of the work struct; n == refIntern is internStrs[off]; n == refHeader is
// the decoder's hstr[off] (a string of the stream header, which outlives
// the scratch).
type sref struct{ off, n int32 }

const (
	refIntern = -1
	refHeader = -2
)

func internRef(i int32) sref { return sref{off: i, n: refIntern} }

// felem is one element in document order.
type felem struct {
	space, local, prefix sref
	attrOff, nattr       int32
	kidOff, nkid         int32
}

// fattr is one attribute (namespace declarations excluded).
type fattr struct{ space, local, value sref }

// fnode is one child: an element (elem >= 0, an index into els) or text.
type fnode struct {
	elem int32
	text sref
}

// openEl is an element whose end tag has not been read yet.
type openEl struct {
	el       int32 // index into els
	pendMark int32 // its children start at pend[pendMark]
	bindMark int32 // its namespace declarations start at binds[bindMark]
	nchild   int32 // child elements so far (MaxChildren)
}

// binding is one namespace declaration in scope; the default namespace has
// an empty prefix.
type binding struct{ prefix, uri sref }

// rawAttr is an attribute of the start tag being parsed, before namespace
// resolution: the qualified name as offsets into the tag.
type rawAttr struct {
	qs, qe, colon int32
	value         sref
	decl          bool
}

// work is the decoder's scratch for one top-level element. It is pooled:
// an idle decoder holds none.
type work struct {
	text  []byte
	els   []felem
	attrs []fattr
	kids  []fnode // children lists of closed elements, contiguous per element
	pend  []fnode // children of open elements, innermost last
	open  []openEl
	binds []binding
	raw   []rawAttr
}

var workPool = sync.Pool{New: func() any { return new(work) }}

// maxPooledText bounds what a pooled work struct keeps, so one large stanza
// does not pin a large buffer in the pool.
const maxPooledText = 64 << 10

func (w *work) reset() {
	w.text = w.text[:0]
	w.els = w.els[:0]
	w.attrs = w.attrs[:0]
	w.kids = w.kids[:0]
	w.pend = w.pend[:0]
	w.open = w.open[:0]
	w.binds = w.binds[:0]
	w.raw = w.raw[:0]
}

func (w *work) recycle() {
	w.reset()
	if cap(w.text) > maxPooledText {
		w.text = nil
	}
	if cap(w.els) > 1024 || cap(w.attrs) > 1024 || cap(w.kids) > 1024 || cap(w.pend) > 1024 {
		w.els, w.attrs, w.kids, w.pend = nil, nil, nil, nil
	}
	workPool.Put(w)
}

// work returns the decoder's scratch, taking one from the pool if needed.
func (d *Decoder) work() *work {
	if d.wk == nil {
		d.wk = workPool.Get().(*work)
	}
	return d.wk
}

// eqBytes reports whether r names the string b.
func (d *Decoder) eqBytes(r sref, b []byte) bool {
	switch {
	case r.n >= 0:
		return string(d.wk.text[r.off:r.off+r.n]) == string(b)
	case r.n == refIntern:
		return internStrs[r.off] == string(b)
	default:
		return d.hstr[r.off] == string(b)
	}
}

// eqString reports whether r names s.
func (d *Decoder) eqString(r sref, s string) bool {
	switch {
	case r.n >= 0:
		return string(d.wk.text[r.off:r.off+r.n]) == s
	case r.n == refIntern:
		return internStrs[r.off] == s
	default:
		return d.hstr[r.off] == s
	}
}

// eqRef reports whether a and b name equal strings.
func (d *Decoder) eqRef(a, b sref) bool {
	if a == b {
		return true
	}
	switch {
	case a.n >= 0:
		return d.eqBytes(b, d.wk.text[a.off:a.off+a.n])
	case a.n == refIntern:
		return d.eqString(b, internStrs[a.off])
	default:
		return d.eqString(b, d.hstr[a.off])
	}
}

// str returns the string named by r; s is the string made from the
// scratch text.
func (d *Decoder) str(r sref, s string) string {
	switch {
	case r.n > 0:
		return s[r.off : r.off+r.n]
	case r.n == 0:
		return ""
	case r.n == refIntern:
		return internStrs[r.off]
	default:
		return d.hstr[r.off]
	}
}

// copyName returns a reference to b, interned when possible and copied into
// the scratch text otherwise.
func (d *Decoder) copyName(b []byte) sref {
	if i, ok := lookupIntern(b); ok {
		return internRef(i)
	}
	w := d.wk
	off := len(w.text)
	w.text = append(w.text, b...)
	return sref{off: int32(off), n: int32(len(b))}
}

// addText records that the scratch text from mark on is character data of
// the innermost open element, merging it with directly preceding text.
func (d *Decoder) addText(mark int) {
	w := d.wk
	n := len(w.text) - mark
	if n == 0 {
		return
	}
	top := &w.open[len(w.open)-1]
	if p := len(w.pend) - 1; p >= int(top.pendMark) && w.pend[p].elem < 0 {
		if t := &w.pend[p].text; t.n >= 0 && int(t.off+t.n) == mark {
			t.n += int32(n)
			return
		}
	}
	w.pend = append(w.pend, fnode{elem: -1, text: sref{off: int32(mark), n: int32(n)}})
}

// closeElem finishes the innermost open element: its children move from
// pend to kids and it becomes a child of its parent.
func (d *Decoder) closeElem() {
	w := d.wk
	top := w.open[len(w.open)-1]
	w.open = w.open[:len(w.open)-1]
	el := &w.els[top.el]
	kids := w.pend[top.pendMark:]
	el.kidOff = int32(len(w.kids))
	el.nkid = int32(len(kids))
	w.kids = append(w.kids, kids...)
	w.pend = w.pend[:top.pendMark]
	w.binds = w.binds[:top.bindMark]
	w.pend = append(w.pend, fnode{elem: top.el})
}

// build turns the scratch into a tree and returns its root, els[0], and
// the string its strings are cut from.
func (d *Decoder) build() (*stanza.Element, string) {
	w := d.wk
	var s string
	if len(w.text) > 0 {
		s = string(w.text)
	}
	els := make([]stanza.Element, len(w.els))
	var attrs []stanza.Attr
	if len(w.attrs) > 0 {
		attrs = make([]stanza.Attr, len(w.attrs))
	}
	var nodes []stanza.Node
	if len(w.kids) > 0 {
		nodes = make([]stanza.Node, len(w.kids))
	}
	for i := range w.els {
		f := &w.els[i]
		e := &els[i]
		e.Space = d.str(f.space, s)
		e.Local = d.str(f.local, s)
		if f.nattr > 0 {
			// Full slice expressions: appending to one element's
			// attributes or children must not overwrite the next's.
			a := attrs[f.attrOff : f.attrOff+f.nattr : f.attrOff+f.nattr]
			for k := range a {
				fa := &w.attrs[int(f.attrOff)+k]
				a[k] = stanza.Attr{Space: d.str(fa.space, s), Local: d.str(fa.local, s), Value: d.str(fa.value, s)}
			}
			e.Attrs = a
		}
		if f.nkid > 0 {
			ks := nodes[f.kidOff : f.kidOff+f.nkid : f.kidOff+f.nkid]
			for k := range ks {
				fk := &w.kids[int(f.kidOff)+k]
				if fk.elem >= 0 {
					ks[k].Elem = &els[fk.elem]
				} else {
					ks[k].Text = d.str(fk.text, s)
				}
			}
			e.Children = ks
		}
	}
	return &els[0], s
}
