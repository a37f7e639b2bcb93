package xmlstream

import (
	"bytes"
	"strconv"

	"github.com/mote-xmpp/mote/stanza"
)

// xmlNSRef refers to the interned XML namespace, bound to the xml prefix.
var xmlNSRef = func() sref {
	i, ok := lookupIntern([]byte(stanza.NSXML))
	if !ok {
		panic("xmlstream: XML namespace not interned")
	}
	return internRef(i)
}()

// elemMarkup handles markup inside a top-level element.
func (d *Decoder) elemMarkup() (Event, error) {
	d.inText = false
	d.tokStart = d.off
	b, limited := d.window(false, true)
	if len(b) < 2 {
		return Event{}, d.more(limited)
	}
	if d.pending && !d.ready(b, limited) {
		return Event{}, errMore
	}
	switch b[1] {
	case '/':
		return d.endElem(b, limited)
	case '?':
		return Event{}, d.pi(b, limited)
	case '!':
		if err := d.bang(b, limited); err != nil {
			return Event{}, err
		}
		// A CDATA section: its content is character data (XML 1.0
		// §2.7), which RFC 6120 §11.1 does not forbid. The section is
		// one token for MaxTokenBytes, counted from its '<'.
		d.consume(len("<![CDATA["))
		d.state = stCDATA
		return Event{}, nil
	}
	return d.startElem()
}

// startElem handles a start tag at stream level (a new top-level element)
// or inside an element.
func (d *Decoder) startElem() (Event, error) {
	w := d.wk
	if m := d.lim.MaxDepth; m > 0 && len(w.open) >= m {
		return Event{}, errf(stanza.StreamPolicyViolation, "elements nested deeper than "+strconv.Itoa(m)+" (MaxDepth)")
	}
	if k := len(w.open); k > 0 {
		if m := d.lim.MaxChildren; m > 0 && int(w.open[k-1].nchild) >= m {
			return Event{}, errf(stanza.StreamPolicyViolation, "element has more than "+strconv.Itoa(m)+" child elements (MaxChildren)")
		}
	}
	b, limited := d.window(false, true)
	if d.pending && !d.ready(b, limited) {
		return Event{}, errMore
	}
	bm := len(w.binds)
	n, empty, err := d.startTag(b)
	if err == errMore {
		return Event{}, d.more(limited)
	}
	if err != nil {
		return Event{}, err
	}
	d.consume(n)
	if k := len(w.open); k > 0 {
		w.open[k-1].nchild++
	}
	w.open = append(w.open, openEl{el: int32(len(w.els) - 1), pendMark: int32(len(w.pend)), bindMark: int32(bm)})
	if empty {
		d.closeElem()
	}
	if len(w.open) == 0 {
		return d.finishElem(), nil
	}
	d.state = stElem
	return Event{}, nil
}

// endElem handles an end tag inside an element: it must match the
// innermost open element's qualified name (XML 1.0 §3, WFC: Element Type
// Match).
func (d *Decoder) endElem(b []byte, limited bool) (Event, error) {
	n, colon, qe, err := scanEndTag(b)
	if err == errMore {
		return Event{}, d.more(limited)
	}
	if err != nil {
		return Event{}, err
	}
	var prefix []byte
	local := b[2:qe]
	if colon >= 0 {
		prefix, local = b[2:colon], b[colon+1:qe]
	}
	w := d.wk
	f := &w.els[w.open[len(w.open)-1].el]
	if !d.eqBytes(f.local, local) || !d.eqBytes(f.prefix, prefix) {
		return Event{}, notWF("end tag does not match the start tag")
	}
	d.consume(n)
	d.closeElem()
	if len(w.open) == 0 {
		return d.finishElem(), nil
	}
	return Event{}, nil
}

// finishElem returns the completed top-level element.
func (d *Decoder) finishElem() Event {
	el, _ := d.build()
	d.wk.reset()
	d.state = stStream
	return Event{Kind: Element, Elem: el}
}

// scanEndTag scans "</" QName S? ">" at b.
func scanEndTag(b []byte) (n, colon, qe int, err error) {
	qe, colon, err = scanName(b, 2, true)
	if err != nil {
		return 0, 0, 0, err
	}
	i := qe
	for i < len(b) && class[b[i]]&cSpace != 0 {
		i++
	}
	if i >= len(b) {
		return 0, 0, 0, errMore
	}
	if b[i] != '>' {
		return 0, 0, 0, notWF("invalid end tag")
	}
	return i + 1, colon, qe, nil
}

// startTag parses the start tag at b (b[0] == '<'), resolves its
// namespaces and appends its element, attributes and namespace
// declarations to the scratch. On errMore the scratch is as before.
func (d *Decoder) startTag(b []byte) (n int, empty bool, err error) {
	mark := len(d.wk.text)
	n, empty, err = d.scanStartTag(b)
	if err == errMore {
		d.wk.text = d.wk.text[:mark]
	}
	return n, empty, err
}

func (d *Decoder) scanStartTag(b []byte) (int, bool, error) {
	w := d.wk
	w.raw = w.raw[:0]
	qe, colon, err := scanName(b, 1, true)
	if err != nil {
		return 0, false, err
	}
	i := qe
	empty := false
	nattr, nns := 0, 0
	for {
		if i >= len(b) {
			return 0, false, errMore
		}
		c := b[i]
		sp := false
		if class[c]&cSpace != 0 {
			sp = true
			for {
				i++
				if i >= len(b) {
					return 0, false, errMore
				}
				if c = b[i]; class[c]&cSpace == 0 {
					break
				}
			}
		}
		if c == '>' {
			i++
			break
		}
		if c == '/' {
			if i+1 >= len(b) {
				return 0, false, errMore
			}
			if b[i+1] != '>' {
				return 0, false, notWF("expected '>' after '/' in a tag")
			}
			i += 2
			empty = true
			break
		}
		if !sp {
			return 0, false, notWF("expected whitespace, '>' or '/>' in a tag")
		}
		// Attribute ::= Name Eq AttValue (XML 1.0 §3.1).
		as := i
		ae, acolon, err := scanName(b, i, true)
		if err != nil {
			return 0, false, err
		}
		i = ae
		for i < len(b) && class[b[i]]&cSpace != 0 {
			i++
		}
		if i >= len(b) {
			return 0, false, errMore
		}
		if b[i] != '=' {
			return 0, false, notWF("attribute without a value")
		}
		i++
		for i < len(b) && class[b[i]]&cSpace != 0 {
			i++
		}
		if i >= len(b) {
			return 0, false, errMore
		}
		q := b[i]
		if q != '"' && q != '\'' {
			return 0, false, notWF("attribute value not quoted")
		}
		i++
		name := b[as:ae]
		var decl, intern bool
		if acolon < 0 {
			decl = string(name) == "xmlns"
			intern = decl || string(name) == "type"
		} else {
			decl = string(b[as:acolon]) == "xmlns"
			intern = decl
		}
		if decl {
			if nns++; d.lim.MaxNamespaces > 0 && nns > d.lim.MaxNamespaces {
				return 0, false, errf(stanza.StreamPolicyViolation, "more than "+strconv.Itoa(d.lim.MaxNamespaces)+" namespace declarations on an element (MaxNamespaces)")
			}
		} else if nattr++; d.lim.MaxAttrs > 0 && nattr > d.lim.MaxAttrs {
			return 0, false, errf(stanza.StreamPolicyViolation, "more than "+strconv.Itoa(d.lim.MaxAttrs)+" attributes on an element (MaxAttrs)")
		}
		v, j, err := d.attrValue(b, i, q, intern)
		if err != nil {
			return 0, false, err
		}
		i = j
		w.raw = append(w.raw, rawAttr{qs: int32(as), qe: int32(ae), colon: int32(acolon), value: v, decl: decl})
	}
	if err := d.resolve(b, qe, colon); err != nil {
		return 0, false, err
	}
	return i, empty, nil
}

// resolve applies the namespace declarations of a complete start tag and
// records the element with its namespace-resolved name and attributes
// (Namespaces in XML 1.0 §3–§6; RFC 6120 §11.2 requires namespace
// well-formedness).
func (d *Decoder) resolve(b []byte, qe, colon int) error {
	w := d.wk
	raw := w.raw
	// XML 1.0 §3.1, WFC: Unique Att Spec.
	for i := 1; i < len(raw); i++ {
		ni := b[raw[i].qs:raw[i].qe]
		for j := 0; j < i; j++ {
			if string(b[raw[j].qs:raw[j].qe]) == string(ni) {
				return notWF("duplicate attribute")
			}
		}
	}
	for k := range raw {
		a := &raw[k]
		if !a.decl {
			continue
		}
		var prefix sref
		if a.colon >= 0 {
			p := b[a.colon+1 : a.qe]
			switch string(p) {
			case "xmlns":
				return notWF("the xmlns prefix must not be declared")
			case "xml":
				if !d.eqString(a.value, stanza.NSXML) {
					return notWF("the xml prefix must not be bound to another namespace")
				}
				continue // predefined
			}
			if a.value.n == 0 {
				return notWF("a prefix must not be bound to the empty namespace name")
			}
			prefix = d.copyName(p)
		}
		if d.eqString(a.value, stanza.NSXML) || d.eqString(a.value, stanza.NSXMLNS) {
			return notWF("reserved namespace name declared")
		}
		w.binds = append(w.binds, binding{prefix: prefix, uri: a.value})
	}

	f := felem{attrOff: int32(len(w.attrs))}
	local := b[1:qe]
	if colon >= 0 {
		p := b[1:colon]
		local = b[colon+1 : qe]
		if string(p) == "xml" || string(p) == "xmlns" {
			// Namespaces in XML §3: elements must not have the prefix
			// xmlns. An element in the XML namespace could not be
			// serialised again (stanza.Element.AppendXML would declare
			// it as the default namespace, which §3 also forbids), so
			// it is refused too.
			return notWF("element with a reserved prefix")
		}
		bd, ok := d.lookup(p)
		if !ok {
			return notWF("undeclared namespace prefix")
		}
		f.space, f.prefix = bd.uri, bd.prefix
	} else if bd, ok := d.lookup(nil); ok {
		f.space = bd.uri
	}
	f.local = d.copyName(local)

	prefixed := 0
	for k := range raw {
		a := &raw[k]
		if a.decl {
			continue
		}
		fa := fattr{value: a.value}
		if a.colon < 0 {
			fa.local = d.copyName(b[a.qs:a.qe])
		} else {
			p := b[a.qs:a.colon]
			if string(p) == "xml" {
				fa.space = xmlNSRef
			} else {
				bd, ok := d.lookup(p)
				if !ok {
					return notWF("undeclared namespace prefix")
				}
				fa.space = bd.uri
			}
			fa.local = d.copyName(b[a.colon+1 : a.qe])
			prefixed++
		}
		w.attrs = append(w.attrs, fa)
	}
	f.nattr = int32(len(w.attrs)) - f.attrOff
	if prefixed > 1 {
		// Namespaces in XML §6.3: no two attributes with the same
		// expanded name. Unprefixed attributes have no namespace and a
		// prefix is never bound to the empty name, so only prefixed
		// pairs can collide.
		as := w.attrs[f.attrOff:]
		for i := 1; i < len(as); i++ {
			if as[i].space.n == 0 {
				continue
			}
			for j := 0; j < i; j++ {
				if as[j].space.n != 0 && d.eqRef(as[i].local, as[j].local) && d.eqRef(as[i].space, as[j].space) {
					return notWF("duplicate attribute after namespace resolution")
				}
			}
		}
	}
	w.els = append(w.els, f)
	return nil
}

// lookup finds the binding of prefix (nil for the default namespace) in
// the open elements, then in the stream header.
func (d *Decoder) lookup(prefix []byte) (binding, bool) {
	bs := d.wk.binds
	for i := len(bs) - 1; i >= 0; i-- {
		if d.eqBytes(bs[i].prefix, prefix) {
			return bs[i], true
		}
	}
	for i := len(d.hbind) - 1; i >= 0; i-- {
		if d.eqBytes(d.hbind[i].prefix, prefix) {
			return d.hbind[i], true
		}
	}
	return binding{}, false
}

// xmlDecl parses the XML declaration at b (XML 1.0 §2.8):
// '<?xml' VersionInfo EncodingDecl? SDDecl? S? '?>'. The stream must be
// UTF-8 (RFC 6120 §11.6): another encoding is unsupported-encoding.
func (d *Decoder) xmlDecl(b []byte) (int, error) {
	i := len("<?xml")
	seen := 0 // 1 after version, 2 after encoding, 3 after standalone
	for {
		sp := i
		for i < len(b) && class[b[i]]&cSpace != 0 {
			i++
		}
		if i >= len(b) {
			return 0, errMore
		}
		if b[i] == '?' {
			if i+1 >= len(b) {
				return 0, errMore
			}
			if b[i+1] != '>' || seen == 0 {
				return 0, notWF("malformed XML declaration")
			}
			return i + 2, nil
		}
		if i == sp {
			return 0, notWF("malformed XML declaration")
		}
		ns := i
		for i < len(b) && b[i] >= 'a' && b[i] <= 'z' {
			i++
		}
		name := b[ns:i]
		for i < len(b) && class[b[i]]&cSpace != 0 {
			i++
		}
		if i >= len(b) {
			return 0, errMore
		}
		if b[i] != '=' {
			return 0, notWF("malformed XML declaration")
		}
		i++
		for i < len(b) && class[b[i]]&cSpace != 0 {
			i++
		}
		if i >= len(b) {
			return 0, errMore
		}
		q := b[i]
		if q != '"' && q != '\'' {
			return 0, notWF("malformed XML declaration")
		}
		j := bytes.IndexByte(b[i+1:], q)
		if j < 0 {
			return 0, errMore
		}
		v := b[i+1 : i+1+j]
		i += j + 2
		switch string(name) {
		case "version":
			if seen != 0 || !validVersion(v) {
				return 0, notWF("malformed XML declaration version")
			}
			seen = 1
		case "encoding":
			if seen != 1 || !validEncName(v) {
				return 0, notWF("malformed XML declaration encoding")
			}
			if !bytes.EqualFold(v, []byte("UTF-8")) {
				return 0, errf(stanza.StreamUnsupportedEncoding, "encoding other than UTF-8 declared (RFC 6120 §11.6)")
			}
			seen = 2
		case "standalone":
			if seen == 0 || seen == 3 || (string(v) != "yes" && string(v) != "no") {
				return 0, notWF("malformed XML declaration standalone")
			}
			seen = 3
		default:
			return 0, notWF("malformed XML declaration")
		}
	}
}

// validVersion matches VersionNum ::= '1.' [0-9]+ (XML 1.0 §2.8).
func validVersion(v []byte) bool {
	if len(v) < 3 || v[0] != '1' || v[1] != '.' {
		return false
	}
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validEncName matches EncName ::= [A-Za-z] ([A-Za-z0-9._] | '-')*
// (XML 1.0 §4.3.3).
func validEncName(v []byte) bool {
	if len(v) == 0 || class[v[0]]&cNameStart == 0 || v[0] == '_' {
		return false
	}
	for _, c := range v[1:] {
		if class[c]&cName == 0 {
			return false
		}
	}
	return true
}
