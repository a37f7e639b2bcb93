package xmlstream

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/mote-xmpp/mote/stanza"
)

// storedHeader opens the stream a stored stanza is parsed in: stanzas are
// stored as stanza.Element.AppendXML writes them inside a jabber:client
// stream, without their own default namespace declaration.
const storedHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// ParseStanza parses b, one stanza serialised with
// stanza.Element.AppendXML(buf, stanza.NSClient), for example read back
// from storage, with the limits of an authenticated stream.
func ParseStanza(b []byte) (*stanza.Element, error) {
	d := NewDecoder(io.MultiReader(strings.NewReader(storedHeader), bytes.NewReader(b)), DefaultLimits)
	if ev, err := d.Next(); err != nil || ev.Kind != StreamStart {
		return nil, errors.Join(errors.New("xmlstream: stored stanza: bad header"), err)
	}
	ev, err := d.Next()
	if err != nil {
		return nil, err
	}
	if ev.Kind != Element {
		return nil, errors.New("xmlstream: stored stanza: no element")
	}
	if d.Buffered() != 0 {
		return nil, errors.New("xmlstream: stored stanza: trailing data")
	}
	return ev.Elem, nil
}
