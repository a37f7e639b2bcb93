package xmlstream

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mote-xmpp/mote/stanza"
)

// header is a client's stream header (RFC 6120 §4.7).
const header = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`

// chunkReader returns data in chunks whose sizes come from sizes (cycled;
// 0 entries count as 1), and io.EOF together with the last bytes when
// eofWithData is set.
type chunkReader struct {
	data        []byte
	sizes       []byte
	i           int
	eofWithData bool
	onRead      func(p []byte)
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.onRead != nil {
		r.onRead(p)
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	if r.eofWithData && len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// describe serialises an event for comparisons.
func describe(ev Event, ns string) string {
	switch ev.Kind {
	case StreamStart:
		return "start " + ev.DefaultNS + " " + string(ev.Elem.AppendXML(nil, ""))
	case Element:
		return string(ev.Elem.AppendXML(nil, ns))
	case StreamEnd:
		return "end"
	}
	return "?"
}

// decodeAll decodes everything from r and returns the described events
// and the error that ended decoding.
func decodeAll(r io.Reader, l Limits) ([]string, error) {
	return decodeAll3(NewDecoder(r, l))
}

// elementOf converts an encoding/xml start tag to an element without
// children, leaving out namespace declarations (which the tree does not
// hold).
func elementOf(tok xml.StartElement) *stanza.Element {
	e := &stanza.Element{Space: tok.Name.Space, Local: tok.Name.Local}
	for _, a := range tok.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		e.Attrs = append(e.Attrs, stanza.Attr{Space: a.Name.Space, Local: a.Name.Local, Value: a.Value})
	}
	return e
}

// condOf names an error for comparisons: the stream condition of an *Error,
// "EOF", or the error text.
func condOf(err error) string {
	var xe *Error
	switch {
	case errors.As(err, &xe):
		return string(xe.Condition)
	case err == io.EOF:
		return "EOF"
	case err == nil:
		return "nil"
	}
	return err.Error()
}

// elements decodes a stream and returns its top-level elements; the stream
// must decode without a framing error.
func elements(t *testing.T, in string) []*stanza.Element {
	t.Helper()
	d := NewDecoder(strings.NewReader(in), DefaultLimits)
	var out []*stanza.Element
	for {
		ev, err := d.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("decode %q: %v", in, err)
		}
		if ev.Kind == Element {
			out = append(out, ev.Elem)
		}
	}
}

// readers returns the ways the tests deliver one input.
func readers(in string) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":   func() io.Reader { return strings.NewReader(in) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
		"chunks": func() io.Reader {
			return &chunkReader{data: []byte(in), sizes: []byte{2, 6, 0, 12, 3}, eofWithData: true}
		},
	}
}
