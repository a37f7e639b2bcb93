package xmlstream

import (
	"unicode/utf8"

	"github.com/mote-xmpp/mote/stanza"
)

// isChar reports whether r is allowed in XML 1.0 (§2.2, production Char).
func isChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

var errBadChar = notWF("character not allowed in XML (XML 1.0 §2.2)")

// checkRune validates the multi-byte UTF-8 sequence at b[0]: invalid UTF-8
// is unsupported-encoding (RFC 6120 §11.6), a code point outside Char is
// not-well-formed. It returns the sequence's length, or errMore when b
// ends inside it.
func checkRune(b []byte) (int, error) {
	if !utf8.FullRune(b) {
		return 0, errMore
	}
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError && n == 1 {
		return 0, errInvalidUTF8
	}
	// Surrogates and values above U+10FFFF are invalid UTF-8 already.
	if r == 0xFFFE || r == 0xFFFF {
		return 0, errBadChar
	}
	return n, nil
}

// text decodes character data inside an element. It is incremental: every
// complete part of the run is decoded and consumed as it arrives, and only
// an incomplete tail (a reference, a UTF-8 sequence, a CR that may start
// CRLF, or "]" that may start "]]>") waits in the buffer.
func (d *Decoder) text() error {
	if !d.inText {
		d.inText = true
		d.tokStart = d.off
	}
	b, limited := d.window(true, true)
	if d.pending && !limited && !d.final && !d.refReady(b) {
		return errMore
	}
	mark := len(d.wk.text)
	n, err := d.scanText(b)
	d.addText(mark)
	d.consume(n)
	if err == errMore {
		if limited {
			return d.limitErr()
		}
		if n < len(b) && b[n] == '&' {
			// An incomplete reference: gate re-parsing it on refReady.
			return d.more(false)
		}
	}
	return err
}

// refReady reports whether an incomplete reference at b[0] may be complete
// now: a byte arrived that cannot continue it (ref returns errMore only
// while every byte after the '&' is a name, '#' or digit byte). The scan
// resumes where it stopped, so a reference arriving byte by byte costs
// linear time; without it, a long entity name or a character reference
// with many leading zeros would be parsed again after every read.
func (d *Decoder) refReady(b []byte) bool {
	i := d.pscan
	for i < len(b) {
		if c := b[i]; c < utf8.RuneSelf && class[c]&cName == 0 && c != ':' && c != '#' {
			return true
		}
		i++
	}
	d.pscan = i
	return false
}

// scanText decodes the character data at the start of b into the scratch
// text. It returns how many bytes it used and nil when it stopped at a '<',
// errMore when the run goes on past b.
func (d *Decoder) scanText(b []byte) (int, error) {
	w := d.wk
	start, i := 0, 0
	for i < len(b) {
		c := b[i]
		if class[c]&cText != 0 {
			i++
			continue
		}
		switch {
		case c == '<':
			w.text = append(w.text, b[start:i]...)
			return i, nil
		case c == '&':
			w.text = append(w.text, b[start:i]...)
			j, err := d.ref(b, i)
			if err == errMore {
				return i, errMore
			}
			if err != nil {
				return 0, err
			}
			i, start = j, j
		case c == '\r':
			// XML 1.0 §2.11: CRLF and lone CR become LF.
			w.text = append(w.text, b[start:i]...)
			if i+1 >= len(b) {
				return i, errMore
			}
			w.text = append(w.text, '\n')
			if i++; b[i] == '\n' {
				i++
			}
			start = i
		case c == '>':
			// XML 1.0 §2.4: "]]>" must not appear in character data.
			if i >= 2 && b[i-1] == ']' && b[i-2] == ']' {
				return 0, notWF("]]> in character data")
			}
			i++
		case c >= utf8.RuneSelf:
			n, err := checkRune(b[i:])
			if err == errMore {
				w.text = append(w.text, b[start:i]...)
				return i, errMore
			}
			if err != nil {
				return 0, err
			}
			i += n
		default:
			return 0, errBadChar
		}
	}
	// Keep up to two trailing ']' back: they may start "]]>".
	end := len(b)
	for k := 0; k < 2 && end > start && b[end-1] == ']'; k++ {
		end--
	}
	w.text = append(w.text, b[start:end]...)
	return end, errMore
}

// cdata decodes the content of a CDATA section, incrementally like text.
func (d *Decoder) cdata() error {
	b, limited := d.window(false, true)
	mark := len(d.wk.text)
	n, done, err := d.scanCDATA(b)
	if err != nil {
		return err
	}
	d.addText(mark)
	d.consume(n)
	if done {
		d.state = stElem
		return nil
	}
	if limited {
		return d.limitErr()
	}
	return errMore
}

// scanCDATA decodes CDATA content at b up to "]]>" (XML 1.0 §2.7): markup
// characters are literal, line ends are normalised, characters checked.
func (d *Decoder) scanCDATA(b []byte) (n int, done bool, err error) {
	w := d.wk
	start, i := 0, 0
	for i < len(b) {
		c := b[i]
		switch {
		case c == ']':
			if i+1 < len(b) && b[i+1] != ']' {
				i++
				continue
			}
			if i+2 >= len(b) {
				// Keep "]" or "]]" back: they may start "]]>".
				w.text = append(w.text, b[start:i]...)
				return i, false, nil
			}
			if b[i+2] == '>' {
				w.text = append(w.text, b[start:i]...)
				return i + 3, true, nil
			}
			i++
		case class[c]&cText != 0 || c == '<' || c == '&' || c == '>':
			i++
		case c == '\r':
			w.text = append(w.text, b[start:i]...)
			if i+1 >= len(b) {
				return i, false, nil
			}
			w.text = append(w.text, '\n')
			if i++; b[i] == '\n' {
				i++
			}
			start = i
		case c >= utf8.RuneSelf:
			n, err := checkRune(b[i:])
			if err == errMore {
				w.text = append(w.text, b[start:i]...)
				return i, false, nil
			}
			if err != nil {
				return 0, false, err
			}
			i += n
		default:
			return 0, false, errBadChar
		}
	}
	w.text = append(w.text, b[start:]...)
	return len(b), false, nil
}

// attrValue decodes the attribute value starting at b[i], after its
// opening quote q, into the scratch text (or the intern table when intern
// is set and the value is a known constant) and returns the index after
// the closing quote. Attribute-value normalisation (XML 1.0 §3.3.3): a
// literal tab, LF, CR or CRLF becomes one space; references are decoded
// after it, so &#x9; stays a tab.
func (d *Decoder) attrValue(b []byte, i int, q byte, intern bool) (sref, int, error) {
	w := d.wk
	start := i
	for i < len(b) && class[b[i]]&cAttr != 0 {
		i++
	}
	if i < len(b) && b[i] == q {
		v := b[start:i]
		if intern {
			if k, ok := lookupIntern(v); ok {
				return internRef(k), i + 1, nil
			}
		}
		off := len(w.text)
		w.text = append(w.text, v...)
		return sref{off: int32(off), n: int32(len(v))}, i + 1, nil
	}
	mark := len(w.text)
	w.text = append(w.text, b[start:i]...)
	for {
		if i >= len(b) {
			return sref{}, 0, errMore
		}
		c := b[i]
		if class[c]&cAttr != 0 {
			j := i + 1
			for j < len(b) && class[b[j]]&cAttr != 0 {
				j++
			}
			w.text = append(w.text, b[i:j]...)
			i = j
			continue
		}
		switch {
		case c == q:
			v := w.text[mark:]
			if intern {
				if k, ok := lookupIntern(v); ok {
					w.text = w.text[:mark]
					return internRef(k), i + 1, nil
				}
			}
			return sref{off: int32(mark), n: int32(len(v))}, i + 1, nil
		case c == '"' || c == '\'':
			w.text = append(w.text, c)
			i++
		case c == '&':
			j, err := d.ref(b, i)
			if err != nil {
				return sref{}, 0, err
			}
			i = j
		case c == '<':
			return sref{}, 0, notWF("'<' in an attribute value")
		case c == '\t' || c == '\n':
			w.text = append(w.text, ' ')
			i++
		case c == '\r':
			if i+1 >= len(b) {
				return sref{}, 0, errMore
			}
			w.text = append(w.text, ' ')
			if i++; b[i] == '\n' {
				i++
			}
		case c >= utf8.RuneSelf:
			n, err := checkRune(b[i:])
			if err != nil {
				return sref{}, 0, err
			}
			w.text = append(w.text, b[i:i+n]...)
			i += n
		default:
			return sref{}, 0, errBadChar
		}
	}
}

// ref decodes the reference at b[i] == '&' into the scratch text and
// returns the index after its ';'. Character references (XML 1.0 §4.1)
// must name a Char; of the entity references only the five predefined
// ones are allowed (RFC 6120 §11.1): any other is restricted-xml.
func (d *Decoder) ref(b []byte, i int) (int, error) {
	w := d.wk
	j := i + 1
	if j >= len(b) {
		return 0, errMore
	}
	if b[j] == '#' {
		j++
		if j >= len(b) {
			return 0, errMore
		}
		hex := b[j] == 'x'
		if hex {
			j++
		}
		var v rune
		digits := 0
		for ; ; j++ {
			if j >= len(b) {
				return 0, errMore
			}
			c := b[j]
			var x rune
			switch {
			case c >= '0' && c <= '9':
				x = rune(c - '0')
			case hex && c >= 'a' && c <= 'f':
				x = rune(c-'a') + 10
			case hex && c >= 'A' && c <= 'F':
				x = rune(c-'A') + 10
			case c == ';' && digits > 0:
				if !isChar(v) {
					return 0, notWF("character reference to a code point not allowed in XML")
				}
				w.text = utf8.AppendRune(w.text, v)
				return j + 1, nil
			default:
				return 0, notWF("malformed character reference")
			}
			digits++
			if hex {
				v = v*16 + x
			} else {
				v = v*10 + x
			}
			if v > utf8.MaxRune {
				v = utf8.MaxRune + 1 // saturate: leading digits may be many
			}
		}
	}
	end, _, err := scanName(b, j, false)
	if err != nil {
		return 0, err
	}
	if b[end] != ';' {
		return 0, notWF("malformed entity reference")
	}
	var c byte
	switch string(b[j:end]) {
	case "lt":
		c = '<'
	case "gt":
		c = '>'
	case "amp":
		c = '&'
	case "quot":
		c = '"'
	case "apos":
		c = '\''
	default:
		return 0, errf(stanza.StreamRestrictedXML, "entity reference other than the predefined ones (RFC 6120 §11.1)")
	}
	w.text = append(w.text, c)
	return end + 1, nil
}
