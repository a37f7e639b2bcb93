package stanza

import "strconv"

// AppendXML appends the serialised form of e to buf and returns the extended
// buffer. parentNS is the default namespace in scope where e is written: an
// xmlns declaration is written only when e's namespace differs from it (a
// stanza written on a jabber:client stream passes NSClient and gets none).
//
// Every name and value is written from the tree with full escaping (the five
// predefined entities, and character references for CR, LF and TAB inside
// attribute values so that they survive attribute-value normalisation).
// Prefixed attributes other than xml:* get generated prefixes declared on
// the same element.
func (e *Element) AppendXML(buf []byte, parentNS string) []byte {
	buf = append(buf, '<')
	buf = append(buf, e.Local...)
	if e.Space != parentNS {
		buf = append(buf, ` xmlns="`...)
		buf = appendEscaped(buf, e.Space, true)
		buf = append(buf, '"')
	}
	var prefixes []string // namespaces given generated prefixes, index = prefix number
	for i := range e.Attrs {
		a := &e.Attrs[i]
		buf = append(buf, ' ')
		switch a.Space {
		case "":
		case NSXML:
			buf = append(buf, "xml:"...)
		default:
			n := -1
			for j, p := range prefixes {
				if p == a.Space {
					n = j
					break
				}
			}
			if n < 0 {
				n = len(prefixes)
				prefixes = append(prefixes, a.Space)
				buf = append(buf, "xmlns:ns"...)
				buf = strconv.AppendInt(buf, int64(n), 10)
				buf = append(buf, `="`...)
				buf = appendEscaped(buf, a.Space, true)
				buf = append(buf, `" `...)
			}
			buf = append(buf, "ns"...)
			buf = strconv.AppendInt(buf, int64(n), 10)
			buf = append(buf, ':')
		}
		buf = append(buf, a.Local...)
		buf = append(buf, `="`...)
		buf = appendEscaped(buf, a.Value, true)
		buf = append(buf, '"')
	}
	if len(e.Children) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, n := range e.Children {
		if n.Elem != nil {
			buf = n.Elem.AppendXML(buf, e.Space)
		} else {
			buf = appendEscaped(buf, n.Text, false)
		}
	}
	buf = append(buf, "</"...)
	buf = append(buf, e.Local...)
	return append(buf, '>')
}

// AppendEscaped appends s to buf escaped for use as character data, or as
// an attribute value when attr is true.
func AppendEscaped(buf []byte, s string, attr bool) []byte {
	return appendEscaped(buf, s, attr)
}

func appendEscaped(buf []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&apos;"
		case '\r':
			esc = "&#xD;"
		case '\n':
			if !attr {
				continue
			}
			esc = "&#xA;"
		case '\t':
			if !attr {
				continue
			}
			esc = "&#x9;"
		default:
			continue
		}
		buf = append(buf, s[last:i]...)
		buf = append(buf, esc...)
		last = i + 1
	}
	return append(buf, s[last:]...)
}
