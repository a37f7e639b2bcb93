// Package dataform parses and renders XEP-0004 data forms (namespace
// jabber:x:data), with the FORM_TYPE convention of XEP-0068.
//
// Parse is strict about the rules of XEP-0004 §3 that a server relies on
// (form and field types, the 'var' attribute, single-valued fields, options,
// boolean values) and bounded (MaxFields, MaxValues), so that a form taken
// from a client stanza can be handed to module code without further shape
// checks. Every error it returns is an *Error whose StanzaError is the reply
// the caller should send.
//
// Elements in other namespaces inside a form (for example XEP-0122
// validation or XEP-0221 media) are ignored and not kept.
package dataform

import (
	"strconv"

	"github.com/mote-xmpp/mote/stanza"
)

// NS is the data forms namespace (XEP-0004 §3).
const NS = "jabber:x:data"

// Form types: the 'type' attribute of <x/> (XEP-0004 §3.1).
const (
	TypeForm   = "form"
	TypeSubmit = "submit"
	TypeCancel = "cancel"
	TypeResult = "result"
)

// Field types: the 'type' attribute of <field/> (XEP-0004 §3.3).
const (
	FieldBoolean     = "boolean"
	FieldFixed       = "fixed"
	FieldHidden      = "hidden"
	FieldJIDMulti    = "jid-multi"
	FieldJIDSingle   = "jid-single"
	FieldListMulti   = "list-multi"
	FieldListSingle  = "list-single"
	FieldTextMulti   = "text-multi"
	FieldTextPrivate = "text-private"
	FieldTextSingle  = "text-single"
)

// FormTypeVar is the var of the hidden field that names the form's
// namespace (XEP-0068 §3.1).
const FormTypeVar = "FORM_TYPE"

// Bounds enforced by Parse. MaxFields counts every <field/> of the form:
// top-level ones, those in <reported/> and those in all <item/> elements.
// MaxValues bounds the <value/> elements of one field, the <option/>
// elements of one field, and the <instructions/> elements of the form.
const (
	MaxFields = 1000
	MaxValues = 1000
)

// Form is a data form (XEP-0004 §3).
type Form struct {
	Type         string   // form, submit, cancel or result (§3.1)
	Title        string   // <title/>, "" when absent
	Instructions []string // <instructions/>, in order
	Fields       []Field  // top-level fields, in order (§3.2)
	Reported     []Field  // <reported/> fields of a multi-item result (§3.4)
	Items        [][]Field
}

// Field is one <field/> (XEP-0004 §3.2).
//
// Type is the 'type' attribute as given. "" means text-single in a form of
// type "form" (§3.2); in forms of other types the receiver infers the type
// from context, so Parse does not apply the single-value rule to an untyped
// field there (a submitted list-multi field commonly has no type).
type Field struct {
	Var      string
	Type     string
	Label    string
	Desc     string // <desc/>, "" when absent
	Required bool   // <required/>
	Values   []string
	Options  []Option // only in list-single and list-multi fields
}

// Option is one <option/> of a list field (XEP-0004 §3.2).
type Option struct {
	Label string
	Value string
}

// Error is the error returned for a form that breaks XEP-0004.
//
// Condition is bad-request for a malformed form and not-acceptable for a
// well-formed one whose data is invalid or too large (XEP-0004 §4).
type Error struct {
	Condition stanza.Condition
	Msg       string
}

// Error implements error.
func (e *Error) Error() string { return "dataform: " + e.Msg }

// StanzaError returns the stanza error to reply with.
func (e *Error) StanzaError() stanza.Error {
	return stanza.NewError(e.Condition, e.Msg)
}

func badRequest(msg string) *Error { return &Error{Condition: stanza.BadRequest, Msg: msg} }

func notAcceptable(msg string) *Error { return &Error{Condition: stanza.NotAcceptable, Msg: msg} }

// validFormType reports whether t is a form type of XEP-0004 §3.1.
func validFormType(t string) bool {
	switch t {
	case TypeForm, TypeSubmit, TypeCancel, TypeResult:
		return true
	}
	return false
}

// validFieldType reports whether t is a field type of XEP-0004 §3.3.
func validFieldType(t string) bool {
	switch t {
	case FieldBoolean, FieldFixed, FieldHidden, FieldJIDMulti, FieldJIDSingle,
		FieldListMulti, FieldListSingle, FieldTextMulti, FieldTextPrivate, FieldTextSingle:
		return true
	}
	return false
}

// singleValued reports whether a field of type t may carry at most one
// <value/> (XEP-0004 §3.2).
func singleValued(t string) bool {
	switch t {
	case FieldBoolean, FieldFixed, FieldJIDSingle, FieldListSingle, FieldTextPrivate, FieldTextSingle:
		return true
	}
	return false
}

// Parse parses an <x xmlns='jabber:x:data'/> element.
//
// It rejects, with an *Error:
//   - a missing or unknown form type (§3.1) or field type (§3.3);
//   - a field other than "fixed" without a var, and two fields with the same
//     var in one field list (§3.2);
//   - more than one <value/> in a single-valued field, an <option/> in a
//     field that is not a list, an <option/> without exactly one <value/>,
//     and two options with the same value (§3.2, §3.3);
//   - a boolean field whose value is not one of 0, 1, false, true (§3.3;
//     an empty <value/> is allowed, see §3.6);
//   - more than one <title/>, <desc/> or <reported/>, and a <reported/> or
//     <item/> without fields (§3.4);
//   - more than MaxFields fields or MaxValues values, options or
//     instructions.
//
// It does not check that the values of jid-single and jid-multi fields are
// valid JIDs, nor that list values are among the options: that is the
// form-processing entity's data validation (§4).
func Parse(el *stanza.Element) (*Form, error) {
	if el == nil || el.Space != NS || el.Local != "x" {
		return nil, badRequest("not a jabber:x:data <x/> element")
	}
	f := &Form{Type: el.Attr("type")}
	if !validFormType(f.Type) {
		return nil, badRequest("unknown form type " + strconv.Quote(f.Type))
	}
	p := parser{formType: f.Type}
	var seenTitle, seenReported bool
	var vars map[string]struct{}
	for _, n := range el.Children {
		c := n.Elem
		if c == nil || c.Space != NS {
			continue
		}
		switch c.Local {
		case "title":
			if seenTitle {
				return nil, badRequest("more than one <title/>")
			}
			seenTitle = true
			f.Title = c.Text()
		case "instructions":
			if len(f.Instructions) >= MaxValues {
				return nil, notAcceptable("too many <instructions/>")
			}
			f.Instructions = append(f.Instructions, c.Text())
		case "field":
			fl, err := p.field(c)
			if err != nil {
				return nil, err
			}
			if err := checkUnique(&vars, fl.Var); err != nil {
				return nil, err
			}
			f.Fields = append(f.Fields, fl)
		case "reported":
			if seenReported {
				return nil, badRequest("more than one <reported/>")
			}
			seenReported = true
			fs, err := p.fieldList(c)
			if err != nil {
				return nil, err
			}
			f.Reported = fs
		case "item":
			fs, err := p.fieldList(c)
			if err != nil {
				return nil, err
			}
			f.Items = append(f.Items, fs)
		}
	}
	return f, nil
}

// parser carries the state of one Parse call.
type parser struct {
	formType string
	fields   int // fields parsed so far, for MaxFields
}

// checkUnique records v in *seen and fails if it was there already. Fields
// without a var (fixed ones) are not recorded.
func checkUnique(seen *map[string]struct{}, v string) error {
	if v == "" {
		return nil
	}
	if *seen == nil {
		*seen = make(map[string]struct{})
	}
	if _, dup := (*seen)[v]; dup {
		return badRequest("duplicate field var " + strconv.Quote(v))
	}
	(*seen)[v] = struct{}{}
	return nil
}

// fieldList parses the fields of a <reported/> or <item/> element, which
// must have at least one (§3.4).
func (p *parser) fieldList(el *stanza.Element) ([]Field, error) {
	var fs []Field
	var vars map[string]struct{}
	for _, n := range el.Children {
		c := n.Elem
		if c == nil || c.Space != NS || c.Local != "field" {
			continue
		}
		fl, err := p.field(c)
		if err != nil {
			return nil, err
		}
		if err := checkUnique(&vars, fl.Var); err != nil {
			return nil, err
		}
		fs = append(fs, fl)
	}
	if len(fs) == 0 {
		return nil, badRequest("<" + el.Local + "/> without fields")
	}
	return fs, nil
}

// field parses one <field/>.
func (p *parser) field(el *stanza.Element) (Field, error) {
	p.fields++
	if p.fields > MaxFields {
		return Field{}, notAcceptable("too many fields")
	}
	fl := Field{Var: el.Attr("var"), Type: el.Attr("type"), Label: el.Attr("label")}
	if fl.Type != "" && !validFieldType(fl.Type) {
		return Field{}, badRequest("unknown field type " + strconv.Quote(fl.Type))
	}
	if fl.Var == "" && fl.Type != FieldFixed {
		return Field{}, badRequest("field without var")
	}
	// The type the rules apply to: text-single is the default only in a
	// form of type "form" (§3.2).
	typ := fl.Type
	if typ == "" && p.formType == TypeForm {
		typ = FieldTextSingle
	}
	var seenDesc bool
	var optValues map[string]struct{}
	for _, n := range el.Children {
		c := n.Elem
		if c == nil || c.Space != NS {
			continue
		}
		switch c.Local {
		case "desc":
			if seenDesc {
				return Field{}, badRequest("more than one <desc/> in field " + strconv.Quote(fl.Var))
			}
			seenDesc = true
			fl.Desc = c.Text()
		case "required":
			fl.Required = true
		case "value":
			if len(fl.Values) >= MaxValues {
				return Field{}, notAcceptable("too many values in field " + strconv.Quote(fl.Var))
			}
			fl.Values = append(fl.Values, c.Text())
		case "option":
			if len(fl.Options) >= MaxValues {
				return Field{}, notAcceptable("too many options in field " + strconv.Quote(fl.Var))
			}
			o, err := parseOption(c)
			if err != nil {
				return Field{}, err
			}
			if optValues == nil {
				optValues = make(map[string]struct{})
			}
			if _, dup := optValues[o.Value]; dup {
				return Field{}, badRequest("duplicate option value in field " + strconv.Quote(fl.Var))
			}
			optValues[o.Value] = struct{}{}
			fl.Options = append(fl.Options, o)
		}
	}
	if singleValued(typ) && len(fl.Values) > 1 {
		return Field{}, badRequest("more than one value in " + typ + " field " + strconv.Quote(fl.Var))
	}
	if len(fl.Options) > 0 && typ != "" && typ != FieldListSingle && typ != FieldListMulti {
		return Field{}, badRequest("options in " + typ + " field " + strconv.Quote(fl.Var))
	}
	if typ == FieldBoolean {
		for _, v := range fl.Values {
			if _, _, ok := parseBool(v); !ok {
				return Field{}, notAcceptable("invalid boolean value in field " + strconv.Quote(fl.Var))
			}
		}
	}
	return fl, nil
}

// parseOption parses an <option/>, which must have exactly one <value/>.
func parseOption(el *stanza.Element) (Option, error) {
	o := Option{Label: el.Attr("label")}
	values := 0
	for _, n := range el.Children {
		c := n.Elem
		if c == nil || c.Space != NS || c.Local != "value" {
			continue
		}
		values++
		o.Value = c.Text()
	}
	if values != 1 {
		return Option{}, badRequest("<option/> without exactly one <value/>")
	}
	return o, nil
}

// parseBool parses the lexical forms of xs:boolean that XEP-0004 §3.3
// allows ("0", "1", "false", "true"), after XML whitespace collapsing. An
// empty value is no value (§3.6): present is false.
func parseBool(s string) (v, present, ok bool) {
	switch trimSpace(s) {
	case "":
		return false, false, true
	case "1", "true":
		return true, true, true
	case "0", "false":
		return false, true, true
	}
	return false, false, false
}

// trimSpace removes leading and trailing XML white space (XML 1.0 §2.3).
func trimSpace(s string) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// Field returns the top-level field whose var is name, or nil. The result
// points into f.Fields.
func (f *Form) Field(name string) *Field {
	if name == "" {
		return nil
	}
	for i := range f.Fields {
		if f.Fields[i].Var == name {
			return &f.Fields[i]
		}
	}
	return nil
}

// Values returns the values of the top-level field name, or nil when there
// is no such field. The slice is the field's own and must not be modified.
func (f *Form) Values(name string) []string {
	if fl := f.Field(name); fl != nil {
		return fl.Values
	}
	return nil
}

// Value returns the first value of the top-level field name, or "".
func (f *Form) Value(name string) string {
	if vs := f.Values(name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Bool returns the value of the boolean field name (XEP-0004 §3.3): "1" and
// "true" are true, "0" and "false" are false. present is false, with a nil
// error, when there is no such field or it has no value or only an empty
// one (§3.5 and §3.6: the caller keeps the current value or applies the
// default, which §3.3 says is false). Any other value, or more than one
// value, is an *Error with condition not-acceptable.
func (f *Form) Bool(name string) (v, present bool, err error) {
	fl := f.Field(name)
	if fl == nil || len(fl.Values) == 0 {
		return false, false, nil
	}
	if len(fl.Values) > 1 {
		return false, false, notAcceptable("more than one value in boolean field " + strconv.Quote(name))
	}
	v, present, ok := parseBool(fl.Values[0])
	if !ok {
		return false, false, notAcceptable("invalid boolean value in field " + strconv.Quote(name))
	}
	return v, present, nil
}

// FormType returns the value of the FORM_TYPE field (XEP-0068), or "" when
// the form has none. In forms of type "form" and "result" the field counts
// only if it is of type hidden; in a submitted form an untyped FORM_TYPE
// field counts as well (XEP-0068 §5). A FORM_TYPE field with other than
// exactly one value is ambiguous and yields "".
func (f *Form) FormType() string {
	fl := f.Field(FormTypeVar)
	if fl == nil || len(fl.Values) != 1 {
		return ""
	}
	switch f.Type {
	case TypeForm, TypeResult:
		if fl.Type != FieldHidden {
			return ""
		}
	default:
		if fl.Type != FieldHidden && fl.Type != "" {
			return ""
		}
	}
	return fl.Values[0]
}

// Element renders f as an <x xmlns='jabber:x:data'/> element (XEP-0004 §3):
// title, instructions, fields, reported and items in order, each field
// with its desc, required flag, values and options. Empty attributes and an
// empty title or desc are omitted. For a form that Parse accepted,
// Parse(f.Element()) returns a form equal to f.
func (f *Form) Element() *stanza.Element {
	x := stanza.NewElement(NS, "x")
	if f.Type != "" {
		x.SetAttr("type", f.Type)
	}
	if f.Title != "" {
		x.Append(stanza.NewElement(NS, "title").AppendText(f.Title))
	}
	for _, s := range f.Instructions {
		x.Append(stanza.NewElement(NS, "instructions").AppendText(s))
	}
	for i := range f.Fields {
		x.Append(f.Fields[i].Element())
	}
	if len(f.Reported) > 0 {
		x.Append(fieldList("reported", f.Reported))
	}
	for _, item := range f.Items {
		x.Append(fieldList("item", item))
	}
	return x
}

func fieldList(local string, fs []Field) *stanza.Element {
	el := stanza.NewElement(NS, local)
	for i := range fs {
		el.Append(fs[i].Element())
	}
	return el
}

// Element renders fl as a <field/> element (XEP-0004 §3.2), omitting empty
// attributes and an empty desc.
func (fl *Field) Element() *stanza.Element {
	el := stanza.NewElement(NS, "field")
	if fl.Var != "" {
		el.SetAttr("var", fl.Var)
	}
	if fl.Type != "" {
		el.SetAttr("type", fl.Type)
	}
	if fl.Label != "" {
		el.SetAttr("label", fl.Label)
	}
	if fl.Desc != "" {
		el.Append(stanza.NewElement(NS, "desc").AppendText(fl.Desc))
	}
	if fl.Required {
		el.Append(stanza.NewElement(NS, "required"))
	}
	for _, v := range fl.Values {
		el.Append(stanza.NewElement(NS, "value").AppendText(v))
	}
	for _, o := range fl.Options {
		opt := stanza.NewElement(NS, "option")
		if o.Label != "" {
			opt.SetAttr("label", o.Label)
		}
		el.Append(opt.Append(stanza.NewElement(NS, "value").AppendText(o.Value)))
	}
	return el
}
