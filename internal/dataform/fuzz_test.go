package dataform

import (
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/mote-xmpp/mote/internal/xmlstream"
	"github.com/mote-xmpp/mote/stanza"
)

// FuzzParse parses fuzzed XML with xmlstream and then as a data form (the
// <x/> itself, or the <x/> child of a stanza). Parse must not panic, must
// fail only with an *Error, and every form it accepts must survive Element
// and Parse, on the tree and through serialisation.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		configForm, searchResult,
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:a</value></field><field var='b' type='boolean'><value>1</value></field></x>`,
		`<message><x xmlns='jabber:x:data' type='form'><field var='a' type='list-multi'><option label='A'><value>a</value></option><value>a</value><value>b</value></field></x></message>`,
		`<x xmlns='jabber:x:data' type='cancel'/>`,
		`<x xmlns='jabber:x:data' type='result'><reported><field var='a'/></reported><item><field var='a'><value>&lt;&amp;&#13;</value></field></item></x>`,
		"<x xmlns='jabber:x:data' type='form'><title>a\r\nb</title><field type='fixed' label='&#9;'><value><![CDATA[<]]></value></field></x>",
		`<x xmlns='jabber:x:data' type='submit'><field var='a' type='text-single'><value>1</value><value>2</value></field></x>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := xmlstream.ParseStanza(data)
		if err != nil {
			return
		}
		if el.Space != NS || el.Local != "x" {
			if c := el.Child(NS, "x"); c != nil {
				el = c
			}
		}
		form, err := Parse(el)
		if err != nil {
			var fe *Error
			if form != nil || !errors.As(err, &fe) || (fe.Condition != stanza.BadRequest && fe.Condition != stanza.NotAcceptable) {
				t.Fatalf("Parse: %v, %#v", form, err)
			}
			return
		}
		checkInvariants(t, form)
		if len(el.String()) > 64<<10 {
			return // re-escaping could push the output past the stream limits
		}
		checkRoundTrip(t, form)
	})
}

// checkInvariants checks the promises Parse makes about accepted forms.
func checkInvariants(t *testing.T, f *Form) {
	t.Helper()
	if !validFormType(f.Type) {
		t.Fatalf("accepted form type %q", f.Type)
	}
	n := 0
	check := func(fs []Field) {
		for _, fl := range fs {
			n++
			if fl.Type != "" && !validFieldType(fl.Type) {
				t.Fatalf("accepted field type %q", fl.Type)
			}
			if fl.Var == "" && fl.Type != FieldFixed {
				t.Fatalf("accepted field without var: %+v", fl)
			}
			if len(fl.Values) > MaxValues || len(fl.Options) > MaxValues {
				t.Fatalf("accepted %d values, %d options", len(fl.Values), len(fl.Options))
			}
			if singleValued(fl.Type) && len(fl.Values) > 1 {
				t.Fatalf("accepted %d values in %s field", len(fl.Values), fl.Type)
			}
		}
	}
	check(f.Fields)
	check(f.Reported)
	for _, item := range f.Items {
		if len(item) == 0 {
			t.Fatal("accepted an empty item")
		}
		check(item)
	}
	if n > MaxFields {
		t.Fatalf("accepted %d fields", n)
	}
	for _, fl := range f.Fields {
		if fl.Type == FieldBoolean {
			if _, _, err := f.Bool(fl.Var); err != nil {
				t.Fatalf("accepted boolean field %+v, but Bool: %v", fl, err)
			}
		}
	}
}

// FuzzElement builds a form from fuzzed strings, renders it and parses it
// back. Parse must not panic; a form it accepts must equal the one built;
// and when every string is valid XML character data the serialised form
// must parse back through xmlstream to the same form.
func FuzzElement(f *testing.F) {
	f.Add("submit", "var", "text-single", "Label", "desc", "value", "", "opt", true)
	f.Add("form", "FORM_TYPE", "hidden", "", "", "urn:x", "v2", "", false)
	f.Add("form", "b", "boolean", "<&>", "a\r\nb", "true", "", "", false)
	f.Add("result", "", "fixed", "'\"", "]]>", "a\nb", "c", "", true)
	f.Add("submit", "m", "list-multi", "\x00", "\xff", "1", "2", "3", false)
	f.Fuzz(func(t *testing.T, formType, name, typ, label, desc, v1, v2, opt string, required bool) {
		fl := Field{Var: name, Type: typ, Label: label, Desc: desc, Required: required, Values: []string{v1}}
		if v2 != "" {
			fl.Values = append(fl.Values, v2)
		}
		if opt != "" {
			fl.Options = []Option{{Label: label, Value: opt}, {Value: opt + "2"}}
		}
		form := &Form{Type: formType, Title: desc, Instructions: []string{label}, Fields: []Field{fl}}
		if formType == TypeResult {
			form.Reported = []Field{{Var: name, Type: typ, Label: label}}
			form.Items = [][]Field{{fl}, {fl}}
		}
		el := form.Element()
		got, err := Parse(el)
		if err != nil {
			var fe *Error
			if got != nil || !errors.As(err, &fe) {
				t.Fatalf("Parse: %v, %#v", got, err)
			}
			return
		}
		checkInvariants(t, got)
		if !reflect.DeepEqual(got, form) {
			t.Fatalf("round trip of %s:\n got %#v\nwant %#v", el, got, form)
		}
		for _, s := range []string{formType, name, typ, label, desc, v1, v2, opt} {
			if !xmlChars(s) {
				return
			}
		}
		checkRoundTrip(t, form)
	})
}

// xmlChars reports whether s is valid UTF-8 made of XML 1.0 characters
// (XML 1.0 §2.2).
func xmlChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t', r == '\n', r == '\r':
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return true
}
