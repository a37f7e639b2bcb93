package mam

import (
	"context"
	"fmt"

	"github.com/mote-xmpp/mote/internal/dataform"
	"github.com/mote-xmpp/mote/internal/rsm"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// Result returns the message that carries one result of a query
// (§4.2): from the archive's address to the requester, with
// <result queryid='…' id='…'><forwarded><delay stamp='…'/>the stored
// message</forwarded></result>, the stamp being when the archive got it
// (XEP-0203, XEP-0297). The stored stanza is parsed back with
// xmlstream.ParseStanza; an error means it cannot be.
func Result(from, to, queryID string, m storage.ArchivedMessage) (*stanza.Element, error) {
	orig, err := xmlstream.ParseStanza(m.Stanza)
	if err != nil {
		return nil, fmt.Errorf("mam: archived message %s: %w", m.ID, err)
	}
	res := stanza.NewElement(NS, "result")
	if queryID != "" {
		res.SetAttr("queryid", queryID)
	}
	res.SetAttr("id", m.ID)
	res.Append(stanza.NewElement(NSForward, "forwarded").Append(
		stanza.NewElement(NSDelay, "delay", "stamp", FormatStamp(m.Stamp)),
		orig,
	))
	return stanza.NewElement(stanza.NSClient, "message", "from", from, "to", to).Append(res), nil
}

// Fin returns the <fin/> of the IQ result that ends a query (§4.3):
// complete='true' when no message of the selection lies beyond the page
// in the paging direction (§4.3.2; omitted otherwise), and the RSM <set/>
// with the IDs of the page's first and last results and count (XEP-0059
// §2.2; only count for an empty page). page is what was sent, in archive
// order. <first/> has no index: it is optional (§4.3.2), and a client
// that pages backwards may take first index plus page size equal to
// count for the end, which the last page always satisfies (slixmpp 1.8
// does).
func Fin(page []storage.ArchivedMessage, count int, complete bool) *stanza.Element {
	fin := stanza.NewElement(NS, "fin")
	if complete {
		fin.SetAttr("complete", "true")
	}
	r := rsm.Response{FirstIndex: -1, Count: count}
	if len(page) > 0 {
		r.First, r.Last = page[0].ID, page[len(page)-1].ID
	}
	return fin.Append(r.Element())
}

// Form returns the reply to an IQ get of <query/>: the query form with
// every field it supports (§4.1.5), none of them required. ids is a
// list-multi open to any value, per §4.1.5 with a XEP-0122 <validate/>.
func Form() *stanza.Element {
	f := dataform.Form{Type: dataform.TypeForm, Fields: []dataform.Field{
		{Var: dataform.FormTypeVar, Type: dataform.FieldHidden, Values: []string{NS}},
		{Var: FieldWith, Type: dataform.FieldJIDSingle},
		{Var: FieldStart, Type: dataform.FieldTextSingle},
		{Var: FieldEnd, Type: dataform.FieldTextSingle},
		{Var: FieldBeforeID, Type: dataform.FieldTextSingle},
		{Var: FieldAfterID, Type: dataform.FieldTextSingle},
	}}
	x := f.Element()
	ids := (&dataform.Field{Var: FieldIDs, Type: dataform.FieldListMulti}).Element()
	ids.Append(stanza.NewElement(NSValidate, "validate", "datatype", "xs:string").
		Append(stanza.NewElement(NSValidate, "open")))
	x.Append(ids)
	return stanza.NewElement(NS, "query").Append(x)
}

// Metadata returns the reply to an IQ get of <metadata/> (§5): the ID
// and stamp of the archive's first and last messages, or an empty
// element for an empty archive.
func Metadata(ctx context.Context, a storage.Archive, key string) (*stanza.Element, error) {
	md := stanza.NewElement(NS, "metadata")
	first, err := a.QueryArchive(ctx, key, storage.ArchiveQuery{Max: 1})
	if err != nil || len(first.Messages) == 0 {
		return md, err
	}
	last, err := a.QueryArchive(ctx, key, storage.ArchiveQuery{Max: 1, Last: true})
	if err != nil {
		return nil, err
	}
	if len(last.Messages) == 0 {
		last = first // emptied between the two reads
	}
	for _, e := range []struct {
		name string
		m    storage.ArchivedMessage
	}{{"start", first.Messages[0]}, {"end", last.Messages[0]}} {
		md.Append(stanza.NewElement(NS, e.name, "id", e.m.ID, "timestamp", FormatStamp(e.m.Stamp)))
	}
	return md, nil
}
