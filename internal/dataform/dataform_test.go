package dataform

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// xmlElem parses s, one element, as xmlstream reads stanzas.
func xmlElem(t testing.TB, s string) *stanza.Element {
	t.Helper()
	el, err := xmlstream.ParseStanza([]byte(s))
	if err != nil {
		t.Fatalf("ParseStanza(%q): %v", s, err)
	}
	return el
}

// parseXML parses s and then the data form in it.
func parseXML(t testing.TB, s string) (*Form, error) {
	t.Helper()
	return Parse(xmlElem(t, s))
}

// checkRoundTrip checks that f survives Element and Parse, both on the tree
// and through serialisation and xmlstream.
func checkRoundTrip(t testing.TB, f *Form) {
	t.Helper()
	el := f.Element()
	g, err := Parse(el)
	if err != nil {
		t.Fatalf("Parse(Element()) of %+v: %v\n%s", f, err, el)
	}
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("tree round trip:\n got %#v\nwant %#v", g, f)
	}
	b := el.AppendXML(nil, stanza.NSClient)
	el2, err := xmlstream.ParseStanza(b)
	if err != nil {
		t.Fatalf("ParseStanza(%s): %v", b, err)
	}
	h, err := Parse(el2)
	if err != nil {
		t.Fatalf("Parse after XML round trip of %s: %v", b, err)
	}
	if !reflect.DeepEqual(f, h) {
		t.Fatalf("XML round trip of %s:\n got %#v\nwant %#v", b, h, f)
	}
}

// configForm is XEP-0004 Example 2, trimmed.
const configForm = `<x xmlns='jabber:x:data' type='form'>
  <title>Bot Configuration</title>
  <instructions>Fill out this form to configure your new bot!</instructions>
  <field type='hidden' var='FORM_TYPE'><value>jabber:bot</value></field>
  <field type='fixed'><value>Section 1: Bot Info</value></field>
  <field type='text-single' label='The name of your bot' var='botname'/>
  <field type='text-multi' label='Helpful description of your bot' var='description'/>
  <field type='boolean' label='Public bot?' var='public'><required/></field>
  <field type='text-private' label='Password for special access' var='password'/>
  <field type='list-multi' label='What features will the bot support?' var='features'>
    <option label='Contests'><value>contests</value></option>
    <option label='News'><value>news</value></option>
    <option label='Polls'><value>polls</value></option>
    <option label='Reminders'><value>reminders</value></option>
    <option label='Search'><value>search</value></option>
    <value>news</value>
    <value>search</value>
  </field>
  <field type='list-single' label='Maximum number of subscribers' var='maxsubs'>
    <desc>How many subscribers may the bot have?</desc>
    <value>20</value>
    <option label='10'><value>10</value></option>
    <option label='20'><value>20</value></option>
    <option label='None'><value>none</value></option>
  </field>
  <field type='jid-multi' label='People to invite' var='invitelist'>
    <desc>Tell all your friends about your new bot!</desc>
  </field>
  <field type='jid-single' label='Your JID' var='botjid'/>
</x>`

func TestParseConfigForm(t *testing.T) {
	f, err := parseXML(t, configForm)
	if err != nil {
		t.Fatal(err)
	}
	want := &Form{
		Type:         TypeForm,
		Title:        "Bot Configuration",
		Instructions: []string{"Fill out this form to configure your new bot!"},
		Fields: []Field{
			{Var: "FORM_TYPE", Type: FieldHidden, Values: []string{"jabber:bot"}},
			{Type: FieldFixed, Values: []string{"Section 1: Bot Info"}},
			{Var: "botname", Type: FieldTextSingle, Label: "The name of your bot"},
			{Var: "description", Type: FieldTextMulti, Label: "Helpful description of your bot"},
			{Var: "public", Type: FieldBoolean, Label: "Public bot?", Required: true},
			{Var: "password", Type: FieldTextPrivate, Label: "Password for special access"},
			{Var: "features", Type: FieldListMulti, Label: "What features will the bot support?",
				Values: []string{"news", "search"},
				Options: []Option{{"Contests", "contests"}, {"News", "news"}, {"Polls", "polls"},
					{"Reminders", "reminders"}, {"Search", "search"}}},
			{Var: "maxsubs", Type: FieldListSingle, Label: "Maximum number of subscribers",
				Desc: "How many subscribers may the bot have?", Values: []string{"20"},
				Options: []Option{{"10", "10"}, {"20", "20"}, {"None", "none"}}},
			{Var: "invitelist", Type: FieldJIDMulti, Label: "People to invite",
				Desc: "Tell all your friends about your new bot!"},
			{Var: "botjid", Type: FieldJIDSingle, Label: "Your JID"},
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got  %#v\nwant %#v", f, want)
	}
	if got := f.FormType(); got != "jabber:bot" {
		t.Errorf("FormType() = %q", got)
	}
	if got := f.Values("features"); !reflect.DeepEqual(got, []string{"news", "search"}) {
		t.Errorf("Values(features) = %q", got)
	}
	if got := f.Value("maxsubs"); got != "20" {
		t.Errorf("Value(maxsubs) = %q", got)
	}
	if f.Field("nope") != nil || f.Values("nope") != nil || f.Value("nope") != "" || f.Field("") != nil {
		t.Error("accessors found a missing field")
	}
	if fl := f.Field("public"); fl == nil || !fl.Required {
		t.Errorf("Field(public) = %+v", fl)
	}
	if v, present, err := f.Bool("public"); v || present || err != nil {
		t.Errorf("Bool(public) without value = %v, %v, %v", v, present, err)
	}
	checkRoundTrip(t, f)
}

// searchResult is XEP-0004 Example 8, trimmed.
const searchResult = `<x xmlns='jabber:x:data' type='result'>
  <title>Search Results for 'Pete'</title>
  <reported>
    <field var='first' label='Given Name' type='text-single'/>
    <field var='last' label='Family Name' type='text-single'/>
    <field var='jid' label='Jabber ID' type='jid-single'/>
  </reported>
  <item>
    <field var='first'><value>Peter</value></field>
    <field var='last'><value>Saint-Andre</value></field>
    <field var='jid'><value>stpeter@jabber.org</value></field>
  </item>
  <item>
    <field var='first'><value>Peter</value></field>
    <field var='last'><value/></field>
    <field var='jid'><value>peterpan@neverland.lit</value></field>
  </item>
</x>`

func TestParseMultipleItems(t *testing.T) {
	f, err := parseXML(t, searchResult)
	if err != nil {
		t.Fatal(err)
	}
	want := &Form{
		Type:  TypeResult,
		Title: "Search Results for 'Pete'",
		Reported: []Field{
			{Var: "first", Type: FieldTextSingle, Label: "Given Name"},
			{Var: "last", Type: FieldTextSingle, Label: "Family Name"},
			{Var: "jid", Type: FieldJIDSingle, Label: "Jabber ID"},
		},
		Items: [][]Field{
			{{Var: "first", Values: []string{"Peter"}}, {Var: "last", Values: []string{"Saint-Andre"}},
				{Var: "jid", Values: []string{"stpeter@jabber.org"}}},
			{{Var: "first", Values: []string{"Peter"}}, {Var: "last", Values: []string{""}},
				{Var: "jid", Values: []string{"peterpan@neverland.lit"}}},
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got  %#v\nwant %#v", f, want)
	}
	checkRoundTrip(t, f)
}

func TestParseSubmit(t *testing.T) {
	// Submitted fields commonly carry no type; a multi-valued untyped field
	// is fine outside a form of type "form" (§3.2).
	f, err := parseXML(t, `<x xmlns='jabber:x:data' type='submit'>
		<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>
		<field var='muc#roomconfig_roomadmins'><value>a@example.com</value><value>b@example.com</value></field>
		<field var='muc#roomconfig_public'><value> true </value></field>
		<field var='x-unknown' xmlns:v='urn:example' v:attr='1'><v:other>ignored</v:other><value>1</value></field>
		<foo xmlns='urn:example'><field var='ignored'/></foo>
		<unknown/>
	</x>`)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.FormType(); got != "http://jabber.org/protocol/muc#roomconfig" {
		t.Errorf("FormType() = %q", got)
	}
	if got := f.Values("muc#roomconfig_roomadmins"); len(got) != 2 {
		t.Errorf("roomadmins = %q", got)
	}
	if v, present, err := f.Bool("muc#roomconfig_public"); !v || !present || err != nil {
		t.Errorf("Bool(public) = %v, %v, %v", v, present, err)
	}
	if len(f.Fields) != 4 || f.Field("ignored") != nil {
		t.Errorf("fields = %+v", f.Fields)
	}
	checkRoundTrip(t, f)

	// A cancel form has no fields.
	f, err = parseXML(t, `<x xmlns='jabber:x:data' type='cancel'/>`)
	if err != nil || !reflect.DeepEqual(f, &Form{Type: TypeCancel}) {
		t.Fatalf("cancel: %+v, %v", f, err)
	}
	checkRoundTrip(t, f)
}

func TestParseErrors(t *testing.T) {
	many := func(n int, s string) string { return strings.Repeat(s, n) }
	manyFields := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(`<field var='f` + strconv.Itoa(i) + `'/>`)
		}
		return b.String()
	}
	x := func(typ, body string) string {
		return `<x xmlns='jabber:x:data' type='` + typ + `'>` + body + `</x>`
	}
	tests := []struct {
		name string
		in   string
		cond stanza.Condition
	}{
		{"wrong name", `<y xmlns='jabber:x:data' type='form'/>`, stanza.BadRequest},
		{"wrong namespace", `<x xmlns='jabber:x:oob' type='form'/>`, stanza.BadRequest},
		{"no type", `<x xmlns='jabber:x:data'/>`, stanza.BadRequest},
		{"unknown type", x("error", ""), stanza.BadRequest},
		{"type case", x("Submit", ""), stanza.BadRequest},
		{"unknown field type", x("form", `<field var='a' type='text'/>`), stanza.BadRequest},
		{"no var in submit", x("submit", `<field><value>a</value></field>`), stanza.BadRequest},
		{"empty var in submit", x("submit", `<field var=''/>`), stanza.BadRequest},
		{"no var in form", x("form", `<field type='text-single'/>`), stanza.BadRequest},
		{"no var in item", x("result", `<item><field/></item>`), stanza.BadRequest},
		{"no var in reported", x("result", `<reported><field type='boolean'/></reported>`), stanza.BadRequest},
		{"duplicate var", x("submit", `<field var='a'/><field var='a'/>`), stanza.BadRequest},
		{"duplicate var in item", x("result", `<item><field var='a'/><field var='a'/></item>`), stanza.BadRequest},
		{"two values text-single", x("submit", `<field var='a' type='text-single'><value>1</value><value>2</value></field>`), stanza.BadRequest},
		{"two values boolean", x("submit", `<field var='a' type='boolean'><value>1</value><value>0</value></field>`), stanza.BadRequest},
		{"two values fixed", x("form", `<field type='fixed'><value>1</value><value>2</value></field>`), stanza.BadRequest},
		{"two values jid-single", x("result", `<field var='a' type='jid-single'><value>a@b</value><value>c@d</value></field>`), stanza.BadRequest},
		{"two values list-single", x("form", `<field var='a' type='list-single'><value>1</value><value>2</value></field>`), stanza.BadRequest},
		{"two values text-private", x("submit", `<field var='a' type='text-private'><value>1</value><value>2</value></field>`), stanza.BadRequest},
		{"two values untyped in form", x("form", `<field var='a'><value>1</value><value>2</value></field>`), stanza.BadRequest},
		{"bad boolean", x("submit", `<field var='a' type='boolean'><value>yes</value></field>`), stanza.NotAcceptable},
		{"boolean case", x("form", `<field var='a' type='boolean'><value>True</value></field>`), stanza.NotAcceptable},
		{"option in text-single", x("form", `<field var='a' type='text-single'><option><value>1</value></option></field>`), stanza.BadRequest},
		{"option in untyped form field", x("form", `<field var='a'><option><value>1</value></option></field>`), stanza.BadRequest},
		{"option without value", x("form", `<field var='a' type='list-single'><option label='x'/></field>`), stanza.BadRequest},
		{"option with two values", x("form", `<field var='a' type='list-multi'><option><value>1</value><value>2</value></option></field>`), stanza.BadRequest},
		{"duplicate option", x("form", `<field var='a' type='list-multi'><option label='x'><value>1</value></option><option label='y'><value>1</value></option></field>`), stanza.BadRequest},
		{"two titles", x("form", `<title>a</title><title>b</title>`), stanza.BadRequest},
		{"two descs", x("form", `<field var='a'><desc>a</desc><desc>b</desc></field>`), stanza.BadRequest},
		{"two reported", x("result", `<reported><field var='a'/></reported><reported><field var='a'/></reported>`), stanza.BadRequest},
		{"empty reported", x("result", `<reported/>`), stanza.BadRequest},
		{"empty item", x("result", `<reported><field var='a'/></reported><item/>`), stanza.BadRequest},
		{"item with foreign fields only", x("result", `<item><field xmlns='urn:other' var='a'/></item>`), stanza.BadRequest},
		{"too many fields", x("submit", manyFields(MaxFields+1)), stanza.NotAcceptable},
		{"too many fields in items", x("result", `<reported>`+manyFields(MaxFields/2)+`</reported><item>`+manyFields(MaxFields/2)+`</item><item><field var='a'/></item>`), stanza.NotAcceptable},
		{"too many values", x("submit", `<field var='a' type='text-multi'>`+many(MaxValues+1, `<value/>`)+`</field>`), stanza.NotAcceptable},
		{"too many instructions", x("form", many(MaxValues+1, `<instructions/>`)), stanza.NotAcceptable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseXML(t, tt.in)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if f != nil {
				t.Errorf("Parse returned a form with the error %v", err)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if fe.Condition != tt.cond {
				t.Errorf("condition = %s, want %s (%v)", fe.Condition, tt.cond, err)
			}
			se := fe.StanzaError()
			if se.Condition != tt.cond || se.Text == "" || !strings.HasPrefix(err.Error(), "dataform: ") {
				t.Errorf("StanzaError() = %+v, Error() = %q", se, err)
			}
		})
	}
	if _, err := Parse(nil); err == nil {
		t.Error("Parse(nil) succeeded")
	}
}

func TestParseLimits(t *testing.T) {
	// The bounds themselves are accepted. The tree is built directly: a
	// stream would not let 1,000 values through its child limit anyway.
	x := stanza.NewElement(NS, "x", "type", TypeSubmit)
	for i := range MaxFields - 1 {
		x.Append(stanza.NewElement(NS, "field", "var", "f"+strconv.Itoa(i)))
	}
	multi := stanza.NewElement(NS, "field", "var", "multi", "type", FieldListMulti)
	for i := range MaxValues {
		multi.Append(stanza.NewElement(NS, "value").AppendText(strconv.Itoa(i)))
		multi.Append(stanza.NewElement(NS, "option").Append(stanza.NewElement(NS, "value").AppendText(strconv.Itoa(i))))
	}
	x.Append(multi)
	f, err := Parse(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Fields) != MaxFields || len(f.Values("multi")) != MaxValues || len(f.Field("multi").Options) != MaxValues {
		t.Fatalf("parsed %d fields", len(f.Fields))
	}
	x.Append(stanza.NewElement(NS, "field", "var", "one-too-many"))
	if _, err := Parse(x); err == nil {
		t.Fatal("Parse accepted MaxFields+1 fields")
	}
}

func TestParseAccepts(t *testing.T) {
	x := func(typ, body string) string {
		return `<x xmlns='jabber:x:data' type='` + typ + `'>` + body + `</x>`
	}
	for _, in := range []string{
		x("form", `<field type='fixed'/>`),
		x("form", `<field type='fixed' var='a'/><field type='fixed'/><field type='fixed'/>`),
		x("submit", `<field var='a' type='boolean'><value/></field>`),
		x("submit", `<field var='a' type='boolean'><value>0</value></field>`),
		x("submit", `<field var='a' type='boolean'><value>	false
		</value></field>`),
		x("submit", `<field var='a' type='hidden'><value>1</value><value>2</value></field>`),
		x("submit", `<field var='a' type='text-multi'><value>1</value><value>2</value></field>`),
		x("submit", `<field var='a' type='jid-multi'><value>a@b</value><value>c@d</value></field>`),
		x("result", `<field var='a'><value>1</value><value>2</value></field>`),
		x("submit", `<field var='a'><option><value>1</value></option></field>`),
		x("form", `<field var='a' type='list-single'><option><value/></option><option><value>x</value></option></field>`),
		x("form", `<field var='a' type='list-single'><option label='same'><value>1</value></option><option label='same'><value>2</value></option></field>`),
		x("form", `<field var='a'><required/><required/></field>`),
		x("result", `<item><field var='a'/></item><reported><field var='a'/></reported>`),
		x("result", `<item><field var='a'/></item><item><field var='a'/></item>`),
		x("form", `<field var='a'/><reported><field var='a'/></reported><item><field var='a'/></item>`),
		x("form", `<instructions/><instructions>two</instructions><title/>`),
		x("submit", `<field var='a'><value>x<b xmlns='urn:other'>y</b>z</value></field>`),
	} {
		f, err := parseXML(t, in)
		if err != nil {
			t.Errorf("Parse(%s): %v", in, err)
			continue
		}
		checkRoundTrip(t, f)
	}
}

func TestBool(t *testing.T) {
	f := &Form{Type: TypeSubmit, Fields: []Field{
		{Var: "t1", Values: []string{"1"}},
		{Var: "t2", Values: []string{"true"}},
		{Var: "t3", Type: FieldBoolean, Values: []string{"\n true\t"}},
		{Var: "f1", Values: []string{"0"}},
		{Var: "f2", Values: []string{"false"}},
		{Var: "none", Type: FieldBoolean},
		{Var: "empty", Values: []string{""}},
		{Var: "blank", Values: []string{"  "}},
		{Var: "bad", Values: []string{"yes"}},
		{Var: "upper", Values: []string{"TRUE"}},
		{Var: "two", Values: []string{"1", "1"}},
	}}
	tests := []struct {
		name             string
		v, present, fail bool
	}{
		{"t1", true, true, false}, {"t2", true, true, false}, {"t3", true, true, false},
		{"f1", false, true, false}, {"f2", false, true, false},
		{"none", false, false, false}, {"empty", false, false, false}, {"blank", false, false, false},
		{"missing", false, false, false},
		{"bad", false, false, true}, {"upper", false, false, true}, {"two", false, false, true},
	}
	for _, tt := range tests {
		v, present, err := f.Bool(tt.name)
		if v != tt.v || present != tt.present || (err != nil) != tt.fail {
			t.Errorf("Bool(%s) = %v, %v, %v; want %v, %v, fail %v", tt.name, v, present, err, tt.v, tt.present, tt.fail)
		}
		var fe *Error
		if err != nil && (!errors.As(err, &fe) || fe.Condition != stanza.NotAcceptable) {
			t.Errorf("Bool(%s) error %#v", tt.name, err)
		}
	}
}

func TestFormType(t *testing.T) {
	ft := func(formType, fieldType string, values ...string) *Form {
		return &Form{Type: formType, Fields: []Field{{Var: "other", Values: []string{"x"}}, {Var: FormTypeVar, Type: fieldType, Values: values}}}
	}
	tests := []struct {
		f    *Form
		want string
	}{
		{ft(TypeForm, FieldHidden, "urn:a"), "urn:a"},
		{ft(TypeResult, FieldHidden, "urn:a"), "urn:a"},
		{ft(TypeSubmit, FieldHidden, "urn:a"), "urn:a"},
		{ft(TypeSubmit, "", "urn:a"), "urn:a"},
		{ft(TypeForm, "", "urn:a"), ""},
		{ft(TypeResult, FieldTextSingle, "urn:a"), ""},
		{ft(TypeSubmit, FieldTextSingle, "urn:a"), ""},
		{ft(TypeForm, FieldHidden), ""},
		{ft(TypeForm, FieldHidden, "urn:a", "urn:b"), ""},
		{&Form{Type: TypeForm}, ""},
	}
	for i, tt := range tests {
		if got := tt.f.FormType(); got != tt.want {
			t.Errorf("%d: FormType() = %q, want %q", i, got, tt.want)
		}
	}
}

func TestElement(t *testing.T) {
	f := &Form{
		Type:         TypeForm,
		Title:        "T",
		Instructions: []string{"a", ""},
		Fields: []Field{
			{Var: FormTypeVar, Type: FieldHidden, Values: []string{"urn:x"}},
			{Type: FieldFixed, Values: []string{"Section"}},
			{Var: "l", Type: FieldListSingle, Label: "L", Desc: "D", Required: true, Values: []string{"2"},
				Options: []Option{{Value: "1"}, {Label: "Two", Value: "2"}}},
		},
		Reported: []Field{{Var: "r", Label: "R"}},
		Items:    [][]Field{{{Var: "r", Values: []string{"v"}}}},
	}
	want := `<x xmlns="jabber:x:data" type="form"><title>T</title><instructions>a</instructions><instructions/>` +
		`<field var="FORM_TYPE" type="hidden"><value>urn:x</value></field>` +
		`<field type="fixed"><value>Section</value></field>` +
		`<field var="l" type="list-single" label="L"><desc>D</desc><required/><value>2</value>` +
		`<option><value>1</value></option><option label="Two"><value>2</value></option></field>` +
		`<reported><field var="r" label="R"/></reported>` +
		`<item><field var="r"><value>v</value></field></item></x>`
	if got := f.Element().String(); got != want {
		t.Fatalf("Element():\n got %s\nwant %s", got, want)
	}
	checkRoundTrip(t, f)
}

func TestRoundTripSpecialCharacters(t *testing.T) {
	special := []string{
		`<>&'"`, "line1\nline2", "cr\rlf\r\n", "\ttab", " lead and trail ", "]]>", "&amp;",
		"\u00e9\u4e16\U0001F600", "",
	}
	f := &Form{Type: TypeSubmit, Title: "a<b>&c\nd", Instructions: special}
	for i, s := range special {
		f.Fields = append(f.Fields, Field{
			Var:     "v" + strconv.Itoa(i) + s,
			Type:    FieldListMulti,
			Label:   s,
			Desc:    s,
			Values:  []string{s, s + "x"},
			Options: []Option{{Label: s, Value: s}, {Label: s, Value: s + "y"}},
		})
	}
	f.Fields = append(f.Fields, Field{Var: "multi", Type: FieldTextMulti, Values: special})
	checkRoundTrip(t, f)
}
