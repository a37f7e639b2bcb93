package xmlstream

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/mote-xmpp/mote/stanza"
)

// Memory. An XMPP server for devices holds many idle connections, so a
// decoder with nothing pending keeps no large buffer: when all input is
// consumed and the next Read waits for a new top-level element (or stream
// header), the pooled read buffer and the pooled scratch go back to their
// pools and the Read goes into a small array inside the Decoder. Only when
// an element does not fit there does the decoder take a chunkSize buffer
// from the pool, growing it (unpooled) up to the token limit plus one read
// chunk for a token that needs it. The cost is an extra Read for elements
// larger than the small array that arrive after a pause; a busy connection
// keeps its pooled buffer between elements as long as input is buffered.
//
// Tokens. The parser works on whole tokens held contiguously in the buffer:
// a tag must fit into the buffer, and the buffer never holds more than the
// token limit plus one read chunk. Character data and CDATA sections are
// decoded incrementally instead, as bytes arrive, so they never need to fit.
// A tag that is not complete yet is re-parsed only when a quote-aware scan
// finds its possible end, when it reaches the limit or when a read fails:
// input delivered one byte at a time costs linear time, and the result does
// not depend on where the input was split.

const (
	smallSize = 256  // bytes read while idle
	chunkSize = 4096 // pooled read buffer
	minRead   = 512  // compact or grow when less room is left
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// Decoder states.
const (
	stHeader uint8 = iota // before a stream header (the prolog)
	stStream              // between top-level elements
	stElem                // inside a top-level element
	stCDATA               // inside a CDATA section
	stEnded               // after the closing stream tag
)

// Kinds of buffer.
const (
	bufSmall  uint8 = iota // d.small (or none)
	bufPooled              // from bufPool, *d.pbuf
	bufLarge               // allocated for a large token
)

// Which limit window applies.
const (
	limNone uint8 = iota
	limToken
	limStanza
)

var (
	// errMore and errIdle are internal: the parser needs more input, and
	// (errIdle) nothing is pending so the buffers can be released.
	errMore = errors.New("xmlstream: more input needed")
	errIdle = errors.New("xmlstream: idle")

	errInvalidUTF8 = errf(stanza.StreamUnsupportedEncoding, "invalid UTF-8 (RFC 6120 §11.6)")
	errBadRead     = errors.New("xmlstream: reader returned an invalid count")
)

// errf returns a framing error with condition c.
func errf(c stanza.StreamCondition, msg string) *Error { return &Error{Condition: c, Msg: msg} }

// notWF returns a not-well-formed framing error (RFC 6120 §4.9.3.13, §11.3).
func notWF(msg string) *Error { return errf(stanza.StreamNotWellFormed, msg) }

// Decoder frames an XMPP stream (RFC 6120 §4) into a stream header and top-
// level elements. It reads restricted XML (RFC 6120 §11) with its own
// scanner, resolves namespaces, and enforces Limits while reading.
//
// A Decoder is used by one goroutine at a time.
type Decoder struct {
	rd   io.Reader
	lim  Limits
	buf  []byte // buf[start:end] is read but not consumed
	pbuf *[]byte
	wk   *work
	rerr error // a read error held back until buffered input is used up
	err  error // the framing error that killed the decoder

	start, end int
	off        int64 // stream offset of buf[start]
	tokStart   int64 // stream offset of the current token
	elemStart  int64 // stream offset of the current top-level element
	pscan      int   // where the scan for a pending tag's end resumes

	state     uint8
	kind      uint8 // of buf
	limitKind uint8 // which limit the last window was cut by
	pquote    byte  // quote the pending scan is inside of, or 0
	atStart   bool  // nothing of this stream consumed yet
	pending   bool  // an incomplete tag is at buf[start]
	final     bool  // a read failed: parse what there is
	inText    bool  // the current character data run started earlier
	endNext   bool  // the header was an empty-element tag

	// The stream header's namespace scope and qualified name, which the
	// top-level elements inherit (RFC 6120 §4.8).
	hbind   []binding
	hstr    []string
	hprefix string
	hlocal  string

	small [smallSize]byte
}

// NewDecoder returns a decoder reading the stream from r with limits l.
func NewDecoder(r io.Reader, l Limits) *Decoder {
	return &Decoder{rd: r, lim: l, state: stHeader, atStart: true}
}

// SetLimits changes the limits from the next token on, for example from
// PreAuthLimits to DefaultLimits after authentication.
func (d *Decoder) SetLimits(l Limits) { d.lim = l }

// Buffered reports how many bytes were read from the reader but not yet
// consumed. It is what a peer pipelined after the last event.
func (d *Decoder) Buffered() int { return d.end - d.start }

// Restart makes the decoder expect a new stream header, keeping the input
// already buffered: the stream restart after SASL success (RFC 6120
// §6.4.6), where the peer may pipeline its new header. An XML declaration
// is allowed again at the start of the new stream. A dead decoder stays
// dead.
func (d *Decoder) Restart() {
	d.state = stHeader
	d.atStart = true
	d.pending, d.inText, d.endNext = false, false, false
	clear(d.hstr)
	d.hbind, d.hstr = d.hbind[:0], d.hstr[:0]
	d.hprefix, d.hlocal = "", ""
	if d.wk != nil {
		d.wk.reset()
	}
}

// Reset discards all buffered input and state, including a framing error,
// and makes the decoder read a new stream from r: the restart after
// STARTTLS (RFC 6120 §5.4.3.3), where r is the TLS connection. The limits
// are kept.
func (d *Decoder) Reset(r io.Reader) {
	d.release()
	lim := d.lim
	*d = Decoder{rd: r, lim: lim, state: stHeader, atStart: true}
}

// Next returns the next event: StreamStart for the stream header (after an
// optional XML declaration, RFC 6120 §11.5), Element for each complete top-
// level element, StreamEnd for the closing stream tag, and io.EOF after it.
//
// A framing error is an *Error carrying the stream error condition to send;
// after it the decoder is dead and returns the same error forever. Errors
// from the reader (io.EOF, timeouts) are returned unchanged and leave the
// decoder usable: a later call resumes where it stopped.
//
// Next reads only as much as the current element needs: once the closing
// tag of a top-level element has arrived it returns the element without
// another Read.
func (d *Decoder) Next() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	for {
		ev, err := d.step()
		switch err {
		case nil:
			return ev, nil
		case errMore, errIdle:
		default:
			return Event{}, d.fail(err)
		}
		rerr := d.fill(err == errIdle)
		if rerr == nil {
			continue
		}
		if !d.pending {
			return Event{}, rerr
		}
		// The input ends inside a tag: parse what there is, so that an
		// error inside it is reported whatever the reads looked like.
		d.final = true
		ev, err = d.step()
		d.final = false
		switch err {
		case nil:
			d.rerr = rerr
			return ev, nil
		case errMore, errIdle:
			return Event{}, rerr
		default:
			return Event{}, d.fail(err)
		}
	}
}

// fail kills the decoder with a framing error and frees its buffers.
func (d *Decoder) fail(err error) error {
	if err == io.EOF { // after the closing stream tag
		return err
	}
	d.err = err
	d.release()
	return err
}

// step parses buffered input until it has an event or needs more input.
func (d *Decoder) step() (Event, error) {
	for {
		var ev Event
		var err error
		switch d.state {
		case stElem:
			if d.start == d.end {
				return Event{}, errMore
			}
			if d.buf[d.start] != '<' {
				err = d.text()
			} else {
				ev, err = d.elemMarkup()
			}
		case stCDATA:
			err = d.cdata()
		case stStream:
			ev, err = d.stepStream()
		case stHeader:
			ev, err = d.stepHeader()
		default:
			return Event{}, io.EOF
		}
		if err != nil || ev.Kind != 0 {
			return ev, err
		}
	}
}

// consume marks n bytes at buf[start] as used; a pending token is then
// complete.
func (d *Decoder) consume(n int) {
	if n == 0 {
		return
	}
	d.start += n
	d.off += int64(n)
	d.pending = false
}

// skipSpace consumes whitespace and reports whether input is left.
func (d *Decoder) skipSpace() bool {
	b := d.buf[d.start:d.end]
	i := 0
	for i < len(b) && class[b[i]]&cSpace != 0 {
		i++
	}
	d.consume(i)
	return i < len(b)
}

// stepStream handles input between top-level elements.
func (d *Decoder) stepStream() (Event, error) {
	if d.endNext {
		d.endNext = false
		d.state = stEnded
		return Event{Kind: StreamEnd}, nil
	}
	// Whitespace between stanzas is a keepalive (RFC 6120 §4.6.4, §11.7):
	// it is discarded as it arrives.
	if !d.skipSpace() {
		return Event{}, errIdle
	}
	b := d.buf[d.start:d.end]
	if b[0] != '<' {
		return Event{}, strayText(b, stanza.StreamBadFormat)
	}
	d.tokStart = d.off
	if len(b) < 2 {
		return Event{}, d.more(false)
	}
	switch b[1] {
	case '/':
		return d.streamEnd()
	case '?', '!':
		w, limited := d.window(false, false)
		if d.pending && !d.ready(w, limited) {
			return Event{}, errMore
		}
		return Event{}, d.special(w, limited, stanza.StreamBadFormat)
	}
	// A top-level element starts.
	d.elemStart = d.off
	d.work().reset()
	return d.startElem()
}

// streamEnd handles an end tag at stream level: it must close the header.
func (d *Decoder) streamEnd() (Event, error) {
	b, limited := d.window(false, false)
	if d.pending && !d.ready(b, limited) {
		return Event{}, errMore
	}
	n, colon, qe, err := scanEndTag(b)
	if err != nil {
		if err == errMore {
			return Event{}, d.more(limited)
		}
		return Event{}, err
	}
	var prefix []byte
	local := b[2:qe]
	if colon >= 0 {
		prefix, local = b[2:colon], b[colon+1:qe]
	}
	if string(prefix) != d.hprefix || string(local) != d.hlocal {
		return Event{}, notWF("end tag does not match the stream header")
	}
	d.consume(n)
	d.state = stEnded
	return Event{Kind: StreamEnd}, nil
}

// stepHeader handles the prolog: an optional byte order mark and XML
// declaration at the very start (RFC 6120 §11.5), whitespace, then the
// stream header (RFC 6120 §4.7).
func (d *Decoder) stepHeader() (Event, error) {
	if d.atStart && d.start < d.end {
		b := d.buf[d.start:d.end]
		bom := "\xEF\xBB\xBF"
		if len(b) < len(bom) && string(b) == bom[:len(b)] {
			return Event{}, errMore
		}
		if len(b) >= 3 && string(b[:3]) == bom {
			d.consume(3)
			b = b[3:]
		}
		const decl = "<?xml"
		if len(b) > 0 && len(b) <= len(decl) && string(b) == decl[:len(b)] {
			return Event{}, d.more(false)
		}
		if len(b) > 0 {
			d.atStart = false
		}
		if len(b) > len(decl) && string(b[:len(decl)]) == decl && (class[b[len(decl)]]&cSpace != 0 || b[len(decl)] == '?') {
			d.tokStart = d.off
			w, limited := d.window(false, false)
			if d.pending && !d.ready(w, limited) {
				d.atStart = true
				return Event{}, errMore
			}
			n, err := d.xmlDecl(w)
			if err == errMore {
				d.atStart = true
				return Event{}, d.more(limited)
			}
			if err != nil {
				return Event{}, err
			}
			d.consume(n)
		}
	}
	if !d.skipSpace() {
		return Event{}, errIdle
	}
	b := d.buf[d.start:d.end]
	if b[0] != '<' {
		return Event{}, strayText(b, stanza.StreamNotWellFormed)
	}
	d.tokStart = d.off
	w, limited := d.window(false, false)
	if len(w) < 2 {
		return Event{}, d.more(limited)
	}
	if d.pending && !d.ready(w, limited) {
		return Event{}, errMore
	}
	switch w[1] {
	case '?', '!':
		return Event{}, d.special(w, limited, stanza.StreamNotWellFormed)
	case '/':
		return Event{}, notWF("end tag before the stream header")
	}
	wk := d.work()
	wk.reset()
	n, empty, err := d.startTag(w)
	if err == errMore {
		return Event{}, d.more(limited)
	}
	if err != nil {
		return Event{}, err
	}
	d.consume(n)
	el, s := d.build()
	// The header's declarations stay in scope for the whole stream: keep
	// them as strings, since the scratch is reused.
	defNS := ""
	for _, bd := range wk.binds {
		p, u := d.str(bd.prefix, s), d.str(bd.uri, s)
		if p == "" {
			defNS = u
		}
		d.hstr = append(d.hstr, p, u)
		n := int32(len(d.hstr))
		d.hbind = append(d.hbind, binding{prefix: sref{off: n - 2, n: refHeader}, uri: sref{off: n - 1, n: refHeader}})
	}
	d.hprefix = d.str(wk.els[0].prefix, s)
	d.hlocal = el.Local
	wk.reset()
	d.state = stStream
	d.endNext = empty
	return Event{Kind: StreamStart, Elem: el, DefaultNS: defNS}, nil
}

// strayText reports character data where none is allowed: cond for a
// character, or the encoding error the first character has.
func strayText(b []byte, cond stanza.StreamCondition) error {
	if c := b[0]; c < utf8.RuneSelf {
		if c < 0x20 {
			return notWF("character not allowed in XML")
		}
		return errf(cond, "character data outside an element")
	}
	if !utf8.FullRune(b) {
		return errMore
	}
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError && n == 1 {
		return errInvalidUTF8
	}
	if !isChar(r) {
		return notWF("character not allowed in XML")
	}
	return errf(cond, "character data outside an element")
}

// special handles markup starting with "<?" or "<!" outside an element:
// forbidden (RFC 6120 §11.1), or a CDATA section, which is character data
// (cond).
func (d *Decoder) special(b []byte, limited bool, cond stanza.StreamCondition) error {
	if b[1] == '?' {
		return d.pi(b, limited)
	}
	if err := d.bang(b, limited); err != nil {
		return err
	}
	return errf(cond, "character data outside an element")
}

// pi rejects "<?": a processing instruction (RFC 6120 §11.1), or an XML
// declaration that is not at the start of the stream (XML 1.0 §2.8).
func (d *Decoder) pi(b []byte, limited bool) error {
	const decl = "<?xml"
	if len(b) <= len(decl) && string(b) == decl[:len(b)] {
		return d.more(limited)
	}
	if len(b) > len(decl) && string(b[:len(decl)]) == decl && (class[b[len(decl)]]&cSpace != 0 || b[len(decl)] == '?') {
		return notWF("XML declaration not at the start of the stream")
	}
	return errf(stanza.StreamRestrictedXML, "processing instruction (RFC 6120 §11.1)")
}

// bang handles "<!": comments and document type declarations are
// forbidden (RFC 6120 §11.1); a CDATA section start returns nil once
// complete.
func (d *Decoder) bang(b []byte, limited bool) error {
	if len(b) < 3 {
		return d.more(limited)
	}
	switch c := b[2]; {
	case c == '-':
		return errf(stanza.StreamRestrictedXML, "comment (RFC 6120 §11.1)")
	case c >= 'A' && c <= 'Z':
		return errf(stanza.StreamRestrictedXML, "document type declaration (RFC 6120 §11.1)")
	case c != '[':
		return notWF("invalid markup after <!")
	}
	const cdata = "<![CDATA["
	if n := min(len(b), len(cdata)); string(b[:n]) != cdata[:n] {
		return notWF("invalid markup after <![")
	}
	if len(b) < len(cdata) {
		return d.more(limited)
	}
	return nil
}

// window returns the buffered bytes the current token may use: up to the
// end of the input, or up to where the token would exceed MaxTokenBytes
// (one byte more for character data, to see the '<' ending the run) or the
// top-level element would exceed MaxStanzaBytes. limited reports the
// latter: a token that needs more than the window violates the limit.
func (d *Decoder) window(text, inStanza bool) ([]byte, bool) {
	end := int64(-1)
	d.limitKind = limNone
	if t := d.lim.MaxTokenBytes; t > 0 {
		end = d.tokStart + int64(t)
		if text {
			end++
		}
		d.limitKind = limToken
	}
	if s := d.lim.MaxStanzaBytes; inStanza && s > 0 {
		if e := d.elemStart + int64(s); end < 0 || e < end {
			end = e
			d.limitKind = limStanza
		}
	}
	if end >= 0 {
		if rel := end - d.off; rel <= int64(d.end-d.start) {
			return d.buf[d.start : d.start+int(max(rel, 0))], true
		}
	}
	return d.buf[d.start:d.end], false
}

// more reports that the token at buf[start] needs more input, or that it
// violates a limit when its window was cut by one.
func (d *Decoder) more(limited bool) error {
	if limited {
		return d.limitErr()
	}
	if !d.pending {
		d.pending = true
		d.pscan, d.pquote = 1, 0
	}
	return errMore
}

func (d *Decoder) limitErr() error {
	if d.limitKind == limStanza {
		return errf(stanza.StreamPolicyViolation, "top-level element exceeds "+strconv.Itoa(d.lim.MaxStanzaBytes)+" bytes (MaxStanzaBytes)")
	}
	return errf(stanza.StreamPolicyViolation, "token exceeds "+strconv.Itoa(d.lim.MaxTokenBytes)+" bytes (MaxTokenBytes)")
}

// ready reports whether an incomplete tag at buf[start] (b is its window)
// is worth parsing again: it is short, reached its limit, a read failed,
// or a quote-aware scan found a '>' that may end it. The scan resumes where
// it stopped, so a tag arriving in many small reads is scanned once.
func (d *Decoder) ready(b []byte, limited bool) bool {
	if d.final || limited || len(b) < 16 {
		return true
	}
	i, q := d.pscan, d.pquote
	for i < len(b) {
		if q != 0 {
			j := bytes.IndexByte(b[i:], q)
			if j < 0 {
				i = len(b)
				break
			}
			i += j + 1
			q = 0
			continue
		}
		switch c := b[i]; c {
		case '"', '\'':
			q = c
		case '>':
			d.pscan, d.pquote = i+1, 0
			return true
		}
		i++
	}
	d.pscan, d.pquote = i, q
	return false
}

// fill reads more input. When idle (nothing pending) it first returns the
// pooled buffers and reads into the small array.
func (d *Decoder) fill(idle bool) error {
	if d.rerr != nil {
		err := d.rerr
		d.rerr = nil
		return err
	}
	if idle && d.start == d.end {
		d.release()
		d.buf = d.small[:]
		d.start, d.end = 0, 0
	} else {
		d.makeRoom()
	}
	for tries := 0; ; tries++ {
		n, err := d.rd.Read(d.buf[d.end:])
		if n < 0 || n > len(d.buf)-d.end {
			return errBadRead
		}
		d.end += n
		if err != nil {
			if n > 0 {
				d.rerr = err
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
		if tries == 100 {
			return io.ErrNoProgress
		}
	}
}

// makeRoom makes room for a read of at least minRead bytes after the
// buffered input, moving to a pooled buffer, compacting or growing.
func (d *Decoder) makeRoom() {
	pending := d.end - d.start
	if d.kind == bufSmall {
		p := bufPool.Get().(*[]byte)
		copy(*p, d.buf[d.start:d.end])
		d.buf, d.pbuf, d.kind = *p, p, bufPooled
		d.start, d.end = 0, pending
		return
	}
	if len(d.buf)-d.end >= minRead {
		return
	}
	if d.start > 0 {
		copy(d.buf, d.buf[d.start:d.end])
		d.start, d.end = 0, pending
		if len(d.buf)-d.end >= minRead {
			return
		}
	}
	// A token longer than the buffer: grow, never beyond the limit plus a
	// read chunk (the windows keep pending input within the limit).
	n := 2 * len(d.buf)
	if m := d.maxBuf(); m > 0 && n > m {
		n = m
	}
	n = max(n, pending+minRead)
	nb := make([]byte, n)
	copy(nb, d.buf[:pending])
	if d.kind == bufPooled {
		bufPool.Put(d.pbuf)
		d.pbuf = nil
	}
	d.buf, d.kind = nb, bufLarge
}

// maxBuf is the largest buffer the limits need, or 0 without limits.
func (d *Decoder) maxBuf() int {
	m := d.lim.MaxTokenBytes
	if s := d.lim.MaxStanzaBytes; s > 0 && (m <= 0 || s < m) {
		m = s
	}
	if m <= 0 {
		return 0
	}
	return m + 1 + chunkSize
}

// release returns the pooled read buffer and scratch. Buffered input is
// dropped: the caller has none or discards it.
func (d *Decoder) release() {
	if d.kind == bufPooled {
		bufPool.Put(d.pbuf)
	}
	d.buf, d.pbuf, d.kind = nil, nil, bufSmall
	d.start, d.end = 0, 0
	if d.wk != nil {
		d.wk.recycle()
		d.wk = nil
	}
}
