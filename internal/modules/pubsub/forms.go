package pubsub

import (
	"slices"
	"time"

	"github.com/mote-xmpp/mote/internal/dataform"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/stanza"
)

// Data forms of XEP-0060 §16.4 (node_config, subscribe_options,
// meta-data, publish-options, subscribe_authorization), built from and
// read into the core's types.

// formTypeField is the hidden FORM_TYPE field (XEP-0068).
func formTypeField(ns string) dataform.Field {
	return dataform.Field{Var: dataform.FormTypeVar, Type: dataform.FieldHidden, Values: []string{ns}}
}

// convertFields turns the core's form fields into data form fields; a
// result form carries no options (XEP-0004 §3.4).
func convertFields(fs []ps.FormField, result bool) []dataform.Field {
	out := make([]dataform.Field, 0, len(fs))
	for _, f := range fs {
		fl := dataform.Field{Var: f.Var, Type: string(f.Type), Label: f.Label, Values: f.Values}
		if !result {
			for _, o := range f.Options {
				fl.Options = append(fl.Options, dataform.Option{Value: o})
			}
		}
		out = append(out, fl)
	}
	return out
}

// nodeIDs returns ids as strings.
func nodeIDs(ids []ps.NodeID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// structureFields are the node-structure fields of XEP-0248 §7.2:
// pubsub#node_type, pubsub#collection and, for a collection,
// pubsub#children.
func structureFields(typ ps.NodeType, parents, children []ps.NodeID, result bool) []dataform.Field {
	t := dataform.Field{Var: "pubsub#node_type", Type: dataform.FieldListSingle, Label: "Whether the node is a leaf (default) or a collection", Values: []string{typ.String()}}
	if !result {
		t.Options = []dataform.Option{{Value: ps.Leaf.String()}, {Value: ps.Collection.String()}}
	}
	fs := []dataform.Field{t, {Var: "pubsub#collection", Type: dataform.FieldTextMulti, Label: "The collections with which a node is affiliated", Values: nodeIDs(parents)}}
	if typ == ps.Collection {
		fs = append(fs, dataform.Field{Var: "pubsub#children", Type: dataform.FieldTextMulti, Label: "The child nodes (leaf or collection) associated with a collection", Values: nodeIDs(children)})
	}
	return fs
}

// nodeConfigForm is a pubsub#node_config form (XEP-0060 §8.2.2, §8.3)
// of type form or result, with the node-structure fields when n is not
// nil.
func nodeConfigForm(typ string, cfg ps.Config, n *ps.Node, children []ps.NodeID) *stanza.Element {
	result := typ == dataform.TypeResult
	f := &dataform.Form{Type: typ, Fields: []dataform.Field{formTypeField(formNodeConfig)}}
	if n != nil {
		f.Fields = append(f.Fields, structureFields(n.Type, n.Parents, children, result)...)
	}
	f.Fields = append(f.Fields, convertFields(cfg.Form(), result)...)
	return f.Element()
}

// subOptionsForm is a pubsub#subscribe_options form (XEP-0060 §6.3.2,
// §6.4, XEP-0248 §6.1).
func subOptionsForm(typ string, o ps.SubOptions) *stanza.Element {
	f := &dataform.Form{Type: typ, Fields: []dataform.Field{formTypeField(formSubOptions)}}
	f.Fields = append(f.Fields, convertFields(o.Form(), typ == dataform.TypeResult)...)
	return f.Element()
}

// metaDataForm is the pubsub#meta-data form of a node's disco#info
// (XEP-0060 §5.4): the configuration and the automatic information.
func metaDataForm(n ps.Node, children []ps.NodeID, owners, publishers []string) *stanza.Element {
	f := &dataform.Form{Type: dataform.TypeResult, Fields: []dataform.Field{
		formTypeField(formMetaData),
		{Var: "pubsub#creator", Type: dataform.FieldJIDSingle, Label: "Node creator", Values: []string{n.Creator.String()}},
		{Var: "pubsub#creation_date", Type: dataform.FieldTextSingle, Label: "Creation date", Values: []string{n.Created.UTC().Format(time.RFC3339)}},
		{Var: "pubsub#owner", Type: dataform.FieldJIDMulti, Label: "Node owners", Values: owners},
		{Var: "pubsub#publisher", Type: dataform.FieldJIDMulti, Label: "Publishers to this node", Values: publishers},
	}}
	f.Fields = append(f.Fields, structureFields(n.Type, n.Parents, children, true)...)
	f.Fields = append(f.Fields, convertFields(n.Config.Form(), true)...)
	return f.Element()
}

// authorizationForm is the form a node owner gets for a pending
// subscription (XEP-0060 §8.6).
func authorizationForm(sub *ps.Subscription) *stanza.Element {
	f := &dataform.Form{
		Type:         dataform.TypeForm,
		Title:        "PubSub subscriber request",
		Instructions: []string{"To approve this entity's subscription request, set pubsub#allow and submit the form. To deny it, submit the form with pubsub#allow unset. Cancel to decide later."},
		Fields: []dataform.Field{
			formTypeField(formSubAuth),
			{Var: "pubsub#subid", Type: dataform.FieldHidden, Values: []string{sub.SubID}},
			{Var: "pubsub#node", Type: dataform.FieldTextSingle, Label: "Node ID", Values: []string{string(sub.Node)}},
			{Var: "pubsub#subscriber_jid", Type: dataform.FieldJIDSingle, Label: "Subscriber Address", Values: []string{sub.JID.String()}},
			{Var: "pubsub#allow", Type: dataform.FieldBoolean, Label: "Allow this JID to subscribe to this pubsub node?", Values: []string{"false"}},
		},
	}
	return f.Element()
}

// submitted parses a submitted form of FORM_TYPE formType: nil for a
// cancelled one (the caller keeps what it had, XEP-0060 §8.2.4). A
// missing FORM_TYPE is accepted; another one is bad-request.
func submitted(x *stanza.Element, formType string) (*dataform.Form, error) {
	f, err := dataform.Parse(x)
	if err != nil {
		return nil, err
	}
	switch f.Type {
	case dataform.TypeCancel:
		return nil, nil
	case dataform.TypeSubmit:
	default:
		return nil, badRequest("the form must be of type submit")
	}
	if ft := f.Value(dataform.FormTypeVar); ft != "" && ft != formType {
		return nil, badRequest("the form's FORM_TYPE must be " + formType)
	}
	return f, nil
}

// configFieldTypes are the field types of the node_config options.
var configFieldTypes = func() map[string]ps.FieldType {
	m := map[string]ps.FieldType{}
	for _, f := range ps.DefaultConfig().Form() {
		m[f.Var] = f.Type
	}
	return m
}()

// multi reports whether a field type takes several values.
func multi(t ps.FieldType) bool { return t == ps.FieldListMulti || t == ps.FieldJIDMulti }

// noValue reports whether a submitted field of a single-valued type has
// no value (XEP-0004 §3.6: an empty <value/> is none), so the option
// keeps its current value.
func noValue(t ps.FieldType, values []string) bool {
	if multi(t) {
		return false
	}
	return len(values) == 0 || (len(values) == 1 && values[0] == "" && t != ps.FieldTextSingle)
}

// nodeForm is a submitted node_config form, applied to a base
// configuration.
type nodeForm struct {
	cfg      ps.Config
	typ      *ps.NodeType // pubsub#node_type, if given
	parents  []ps.NodeID  // pubsub#collection, if hasParents
	children []ps.NodeID  // pubsub#children, if hasChildren

	hasParents, hasChildren bool
}

// parseNodeForm applies the fields of a submitted node_config form to
// base (XEP-0060 §8.2.4; XEP-0004 §3.5: absent fields keep their value).
// Unknown fields are ignored; invalid values are a *pubsub.ConfigError
// (not-acceptable, or unsupported-access-model). It returns nil for a
// cancelled form.
func parseNodeForm(x *stanza.Element, base ps.Config) (*nodeForm, error) {
	f, err := submitted(x, formNodeConfig)
	if f == nil || err != nil {
		return nil, err
	}
	nf := &nodeForm{cfg: base.Clone()}
	for _, fl := range f.Fields {
		switch fl.Var {
		case dataform.FormTypeVar:
		case "pubsub#node_type":
			if noValue(ps.FieldListSingle, fl.Values) {
				continue
			}
			if len(fl.Values) != 1 {
				return nil, ps.ErrNotAcceptable
			}
			t, err := ps.ParseNodeType(fl.Values[0])
			if err != nil {
				return nil, err
			}
			nf.typ = &t
		case "pubsub#collection":
			nf.hasParents, nf.parents = true, idList(fl.Values)
		case "pubsub#children":
			nf.hasChildren, nf.children = true, idList(fl.Values)
		default:
			if noValue(configFieldTypes[fl.Var], fl.Values) {
				continue
			}
			apply, err := ps.ParseOption(fl.Var, fl.Values)
			if err != nil {
				if configFieldTypes[fl.Var] == "" {
					continue // not an option of ours: ignored
				}
				return nil, err
			}
			apply(&nf.cfg)
		}
	}
	if err := nf.cfg.Validate(); err != nil {
		return nil, err
	}
	return nf, nil
}

// idList returns the non-empty values as NodeIDs, without duplicates (an
// empty value stands for the root collection, XEP-0248 §7.2).
func idList(vs []string) []ps.NodeID {
	var out []ps.NodeID
	for _, v := range vs {
		if v != "" && !slices.Contains(out, ps.NodeID(v)) {
			out = append(out, ps.NodeID(v))
		}
	}
	return out
}

// parseSubOptionsForm applies a submitted subscribe_options form to base
// (XEP-0060 §6.3.5). Unknown fields and invalid values are a
// *pubsub.ConfigError wrapping ErrInvalidSubOptions (bad-request with
// <invalid-options/>, §6.3.6.2). It returns nil for a cancelled form.
func parseSubOptionsForm(x *stanza.Element, base ps.SubOptions) (*ps.SubOptions, error) {
	f, err := submitted(x, formSubOptions)
	if f == nil || err != nil {
		return nil, err
	}
	o := base
	o.ShowValues = slices.Clone(base.ShowValues)
	for _, fl := range f.Fields {
		if fl.Var == dataform.FormTypeVar {
			continue
		}
		if fl.Var != "pubsub#show-values" && (len(fl.Values) == 0 || (len(fl.Values) == 1 && fl.Values[0] == "")) {
			continue // no value: keep the current one (XEP-0004 §3.6)
		}
		apply, err := ps.ParseSubOption(fl.Var, fl.Values)
		if err != nil {
			return nil, err
		}
		apply(&o)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &o, nil
}

// parsePreconditions reads a publish-options form (XEP-0060 §7.1.5): each
// field is a precondition on the node's configuration.
func parsePreconditions(x *stanza.Element) (map[string][]string, error) {
	f, err := dataform.Parse(x)
	if err != nil {
		return nil, err
	}
	if f.Type != dataform.TypeSubmit || f.FormType() != formPublishOpt {
		return nil, badRequest("publish-options need a submitted form of FORM_TYPE " + formPublishOpt)
	}
	pre := make(map[string][]string, len(f.Fields))
	for _, fl := range f.Fields {
		if fl.Var != dataform.FormTypeVar {
			pre[fl.Var] = fl.Values
		}
	}
	return pre, nil
}
