package mam

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/mote-xmpp/mote/internal/dataform"
	"github.com/mote-xmpp/mote/internal/rsm"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// The fields of the query form (XEP-0313 §4.1; those marked * in §4.1.3
// are the extended ones).
const (
	FieldWith     = "with"
	FieldStart    = "start"
	FieldEnd      = "end"
	FieldBeforeID = "before-id" // *
	FieldAfterID  = "after-id"  // *
	FieldIDs      = "ids"       // *
)

// MaxIDs bounds the values of the ids field (the values of any one field
// are bounded by dataform.MaxValues already).
const MaxIDs = dataform.MaxValues

// Query is a parsed <query xmlns='urn:xmpp:mam:2'/> (XEP-0313 §4).
type Query struct {
	// ID is the 'queryid' attribute, "" when absent, to be echoed in
	// every result (§4.2).
	ID string
	// Node is the 'node' attribute: the pubsub node whose archive is
	// queried (XEP-0442), "" when absent.
	Node string
	// Filter holds the form's fields (§4.1): With (normalised, bare or
	// full), Start, End, AfterID and BeforeID (the after-id and before-id
	// fields, which bound the selection but never page backwards, §9) and
	// IDs. Its Max and Last are never set: they come from RSM in Run.
	Filter storage.ArchiveQuery
	// RSM is the <set/> of XEP-0059 as given (Max -1 when absent; Index
	// is always -1: paging by index is refused).
	RSM rsm.Request
	// Flip asks for the page's results in reverse order (§4.3.4,
	// <flip-page/>); it changes nothing else.
	Flip bool
}

func badRequest(text string) error {
	return stanza.NewError(stanza.BadRequest, text)
}

// ParseQuery parses the payload of a query request (an IQ set). It
// enforces:
//   - at most one data form, of type submit with FORM_TYPE urn:xmpp:mam:2
//     (§4.1), valid by XEP-0004 (dataform.Parse);
//   - the fields of §4.1: with, a JID; start and end, XEP-0082 DateTimes
//     (ParseDateTime); before-id, after-id and ids (§4.1.3), IDs of at
//     most rsm.MaxIDLen bytes; each single-valued field with at most one
//     value (an empty one counts as absent); any other field is
//     feature-not-implemented (§4.1.5);
//   - at most one RSM <set/> (rsm.ParseRequest), without <index/>, which
//     is feature-not-implemented;
//   - a queryid and a node of at most rsm.MaxIDLen bytes.
//
// Malformed requests are bad-request (a form with too many values may be
// not-acceptable, as dataform says). Whether the IDs exist is Run's to
// find out.
func ParseQuery(el *stanza.Element) (*Query, error) {
	if el == nil || el.Space != NS || el.Local != "query" {
		return nil, badRequest("not a urn:xmpp:mam:2 <query/>")
	}
	q := &Query{ID: el.Attr("queryid"), Node: el.Attr("node"), RSM: rsm.Request{Max: -1, Index: -1}}
	if len(q.ID) > rsm.MaxIDLen || len(q.Node) > rsm.MaxIDLen {
		return nil, badRequest("queryid or node too long")
	}
	var form, set *stanza.Element
	for _, n := range el.Children {
		c := n.Elem
		if c == nil {
			continue
		}
		switch {
		case c.Space == dataform.NS && c.Local == "x":
			if form != nil {
				return nil, badRequest("more than one data form")
			}
			form = c
		case c.Space == rsm.NS && c.Local == "set":
			if set != nil {
				return nil, badRequest("more than one <set/>")
			}
			set = c
		case c.Space == NS && c.Local == "flip-page":
			q.Flip = true
		}
	}
	if form != nil {
		if err := q.parseForm(form); err != nil {
			return nil, err
		}
	}
	if set != nil {
		r, err := rsm.ParseRequest(set)
		if err != nil {
			var re *rsm.Error
			if errors.As(err, &re) {
				return nil, re.StanzaError()
			}
			return nil, badRequest("")
		}
		if r.Index >= 0 {
			// XEP-0059 §2.6 is optional; archives page by UID.
			return nil, stanza.NewError(stanza.FeatureNotImplemented, "paging by index is not supported")
		}
		q.RSM = r
	}
	return q, nil
}

// parseForm applies the data form's fields to q.
func (q *Query) parseForm(el *stanza.Element) error {
	f, err := dataform.Parse(el)
	if err != nil {
		var de *dataform.Error
		if errors.As(err, &de) {
			return de.StanzaError()
		}
		return badRequest("")
	}
	if f.Type != dataform.TypeSubmit {
		return badRequest("the query form must be of type submit")
	}
	if f.FormType() != NS {
		return badRequest("the query form's FORM_TYPE must be " + NS)
	}
	for i := range f.Fields {
		fl := &f.Fields[i]
		if fl.Var == "" || fl.Var == dataform.FormTypeVar {
			continue // fixed fields carry no data
		}
		if fl.Var == FieldIDs {
			if len(fl.Values) > MaxIDs {
				return stanza.NewError(stanza.NotAcceptable, "too many ids")
			}
			for _, v := range fl.Values {
				if v = trimSpace(v); v == "" {
					continue
				} else if len(v) > rsm.MaxIDLen {
					return badRequest("an id is too long")
				} else if !slices.Contains(q.Filter.IDs, v) {
					q.Filter.IDs = append(q.Filter.IDs, v)
				}
			}
			continue
		}
		if len(fl.Values) > 1 {
			return badRequest("more than one value in field " + strconv.Quote(fl.Var))
		}
		v := ""
		if len(fl.Values) == 1 {
			v = trimSpace(fl.Values[0])
		}
		switch fl.Var {
		case FieldWith:
			if v == "" {
				continue
			}
			j, err := jid.Parse(v)
			if err != nil {
				return badRequest("with: not a JID")
			}
			q.Filter.With = j.String()
		case FieldStart, FieldEnd:
			if v == "" {
				continue
			}
			t, err := ParseDateTime(v)
			if err != nil {
				return badRequest(fl.Var + ": not a XEP-0082 DateTime")
			}
			if fl.Var == FieldStart {
				q.Filter.Start = t
			} else {
				q.Filter.End = t
			}
		case FieldBeforeID, FieldAfterID:
			if len(v) > rsm.MaxIDLen {
				return badRequest(fl.Var + " is too long")
			}
			if fl.Var == FieldBeforeID {
				q.Filter.BeforeID = v
			} else {
				q.Filter.AfterID = v
			}
		default:
			// §4.1.5: a field the server does not know.
			return stanza.NewError(stanza.FeatureNotImplemented, "unknown field "+strconv.Quote(fl.Var))
		}
	}
	return nil
}

// Run queries archive key of a as q asks, with pages of at most maxPage
// (positive) messages: an RSM <max/> above it, or none, gets maxPage
// (§4.3.1); <max>0</max> gets the count alone, with no messages
// (XEP-0059 §2.7). The page is the first one of the selection, the one
// after RSM's <after/>, the last one for an empty <before/> (§4.3.3) or
// the one before RSM's <before/>; when the form's after-id (before-id)
// and RSM's <after/> (<before/>) are both given, the later (earlier) of
// the two bounds it, found with one more query (§9 leaves the
// combination to the server).
//
// An ID that names no message of the archive is storage.ErrNotFound:
// the caller replies item-not-found (§4.1.3, §4.3.2).
func (q *Query) Run(ctx context.Context, a storage.Archive, key string, maxPage int) (storage.ArchivePage, error) {
	aq := q.Filter
	aq.IDs = slices.Clip(aq.IDs)
	aq.Max = q.RSM.Max
	if aq.Max < 0 || aq.Max > maxPage {
		aq.Max = maxPage
	}
	countOnly := aq.Max == 0
	if countOnly {
		aq.Max = 1
	}
	var err error
	switch {
	case q.RSM.HasBefore:
		aq.Last = true
		if q.RSM.Before != "" {
			aq.BeforeID, err = bound(ctx, a, key, q.Filter.BeforeID, q.RSM.Before, false)
		}
	case q.RSM.After != "":
		aq.AfterID, err = bound(ctx, a, key, q.Filter.AfterID, q.RSM.After, true)
	}
	if err != nil {
		return storage.ArchivePage{}, err
	}
	page, err := a.QueryArchive(ctx, key, aq)
	if err != nil {
		return storage.ArchivePage{}, err
	}
	if countOnly {
		page.Complete = len(page.Messages) == 0
		page.Messages, page.FirstIndex = nil, 0
	}
	return page, nil
}

// bound returns the tighter of two exclusive bounds of one side, the
// form's and RSM's: the later of two after-IDs (after true), the earlier
// of two before-IDs. rsmID must exist (else storage.ErrNotFound); the
// form's ID is checked by the page query itself.
func bound(ctx context.Context, a storage.Archive, key, formID, rsmID string, after bool) (string, error) {
	if formID == "" || formID == rsmID {
		return rsmID, nil
	}
	probe := storage.ArchiveQuery{IDs: []string{rsmID}, Max: 1}
	if after {
		probe.AfterID = formID
	} else {
		probe.BeforeID = formID
	}
	p, err := a.QueryArchive(ctx, key, probe)
	if err != nil {
		return "", err
	}
	if len(p.Messages) == 1 {
		return rsmID, nil // beyond the form's bound: it is the tighter one
	}
	return formID, nil
}

// Element renders q as the payload of a query request, as a client sends
// it (§4): the form (type submit, FORM_TYPE first) with the fields that
// are set, start and end in UTC to the nanosecond; the RSM <set/> when it
// asks for anything; <flip-page/>. For a Query that ParseQuery returned,
// ParseQuery(q.Element()) returns an equal one.
func (q *Query) Element() *stanza.Element {
	el := stanza.NewElement(NS, "query")
	if q.ID != "" {
		el.SetAttr("queryid", q.ID)
	}
	if q.Node != "" {
		el.SetAttr("node", q.Node)
	}
	f := dataform.Form{Type: dataform.TypeSubmit}
	add := func(name string, values ...string) {
		f.Fields = append(f.Fields, dataform.Field{Var: name, Values: values})
	}
	if q.Filter.With != "" {
		add(FieldWith, q.Filter.With)
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{FieldStart, q.Filter.Start}, {FieldEnd, q.Filter.End}} {
		if !t.t.IsZero() {
			add(t.name, t.t.UTC().Format(time.RFC3339Nano))
		}
	}
	if q.Filter.BeforeID != "" {
		add(FieldBeforeID, q.Filter.BeforeID)
	}
	if q.Filter.AfterID != "" {
		add(FieldAfterID, q.Filter.AfterID)
	}
	if len(q.Filter.IDs) > 0 {
		add(FieldIDs, q.Filter.IDs...)
	}
	if len(f.Fields) > 0 {
		f.Fields = slices.Insert(f.Fields, 0, dataform.Field{Var: dataform.FormTypeVar, Type: dataform.FieldHidden, Values: []string{NS}})
		el.Append(f.Element())
	}
	if q.RSM != (rsm.Request{Max: -1, Index: -1}) {
		el.Append(q.RSM.Element())
	}
	if q.Flip {
		el.Append(stanza.NewElement(NS, "flip-page"))
	}
	return el
}
