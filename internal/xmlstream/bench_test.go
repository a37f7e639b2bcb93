package xmlstream

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"

	"github.com/mote-xmpp/mote/stanza"
)

// benchMix is a typical stanza mix for a server of devices and chat
// clients.
var benchMix = []string{
	`<message to='juliet@example.com/balcony' from='romeo@example.net/orchard' type='chat' id='ktx72v49' xml:lang='en'><body>Art thou not Romeo, and a Montague?</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>`,
	`<presence id='p1'><show>away</show><status>In a meeting &amp; unavailable</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://mote.example/caps' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>`,
	`<iq type='get' id='roster_1'><query xmlns='jabber:iq:roster'/></iq>`,
	`<iq type='result' id='roster_1' to='juliet@example.com/balcony'><query xmlns='jabber:iq:roster' ver='ver11'><item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group></item><item jid='nurse@example.com' name='Nurse' subscription='to'/></query></iq>`,
	`<iq type='get' id='disco1' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
	`<iq type='set' id='pub42' to='pubsub.example.com'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='sensors/greenhouse/1'><item id='2024-05-01T12:00:00Z'><reading xmlns='urn:example:sensor'>{"temp":21.5,"hum":48.2,"co2":612,"battery":3.71,"ts":1714564800}</reading></item></publish></pubsub></iq>`,
	`<r xmlns='urn:xmpp:sm:3'/>`,
	`<iq type='result' id='ping7' from='example.com'/>`,
}

func benchInput(reps int) []byte {
	in := []byte(header)
	for i := 0; i < reps; i++ {
		for _, s := range benchMix {
			in = append(in, s...)
		}
	}
	return in
}

var benchSink *stanza.Element

// BenchmarkDecode decodes the stanza mix into element trees; one op is one
// stanza. mote and encodingxml read the same bytes from a bytes.Reader;
// encodingxml builds the same stanza.Element tree from xml.Decoder.Token
// (namespaces resolved, xmlns attributes dropped). mote-perread delivers
// each stanza in its own Read, as on an interactive connection, which
// exercises the idle path (small array, pooled buffers).
func BenchmarkDecode(b *testing.B) {
	in := benchInput(100)
	perStanza := int64(len(in)-len(header)) / int64(100*len(benchMix))
	b.Run("mote", func(b *testing.B) {
		b.SetBytes(perStanza)
		b.ReportAllocs()
		r := bytes.NewReader(in)
		d := NewDecoder(r, DefaultLimits)
		d.Next()
		for b.Loop() {
			ev, err := d.Next()
			if err == io.EOF {
				r.Reset(in)
				d.Reset(r)
				d.Next()
				ev, err = d.Next()
			}
			if err != nil {
				b.Fatal(err)
			}
			benchSink = ev.Elem
		}
	})
	b.Run("mote-perread", func(b *testing.B) {
		b.SetBytes(perStanza)
		b.ReportAllocs()
		r := &stanzaReader{}
		d := NewDecoder(r, DefaultLimits)
		d.Next()
		for b.Loop() {
			ev, err := d.Next()
			if err != nil {
				b.Fatal(err)
			}
			benchSink = ev.Elem
		}
	})
	b.Run("encodingxml", func(b *testing.B) {
		b.SetBytes(perStanza)
		b.ReportAllocs()
		r := bytes.NewReader(in)
		xd := xml.NewDecoder(r)
		xd.Token()
		for b.Loop() {
			e, err := xmlNextElement(xd)
			if err != nil && r.Len() == 0 { // "unexpected EOF": the root is unclosed
				r.Reset(in)
				xd = xml.NewDecoder(r)
				xd.Token()
				e, err = xmlNextElement(xd)
			}
			if err != nil {
				b.Fatal(err)
			}
			benchSink = e
		}
	})
}

// stanzaReader returns the header, then one stanza of benchMix per Read
// (the rest of a stanza longer than the Read's buffer comes next), forever.
type stanzaReader struct {
	i, off int
	head   bool
}

func (r *stanzaReader) Read(p []byte) (int, error) {
	if !r.head {
		r.head = true
		return copy(p, header), nil
	}
	s := benchMix[r.i%len(benchMix)][r.off:]
	n := copy(p, s)
	if r.off += n; n == len(s) {
		r.i, r.off = r.i+1, 0
	}
	return n, nil
}

// xmlNextElement reads one top-level element below the stream root with
// encoding/xml and builds it as a stanza.Element.
func xmlNextElement(xd *xml.Decoder) (*stanza.Element, error) {
	var stack []*stanza.Element
	for {
		tok, err := xd.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := elementOf(tok)
			if len(stack) > 0 {
				stack[len(stack)-1].Append(e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, io.EOF
			}
			e := stack[len(stack)-1]
			if stack = stack[:len(stack)-1]; len(stack) == 0 {
				return e, nil
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].AppendText(string(tok))
			}
		}
	}
}
