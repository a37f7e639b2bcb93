package caps

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"

	"github.com/mote-xmpp/mote/internal/dataform"
	"github.com/mote-xmpp/mote/stanza"
)

// nsInfo is the service discovery information namespace (XEP-0030 §3).
const nsInfo = "http://jabber.org/protocol/disco#info"

// Errors of VerString: the disco#info result is ill-formed in the sense of
// XEP-0115 §5.4 step 3, and its verification string is not defined.
var (
	ErrNotInfo           = errors.New("caps: not a disco#info <query/>")
	ErrDuplicateIdentity = errors.New("caps: duplicate identity")
	ErrDuplicateFeature  = errors.New("caps: duplicate feature")
	ErrDuplicateFormType = errors.New("caps: duplicate FORM_TYPE")
	ErrFormTypeValues    = errors.New("caps: FORM_TYPE with different values")
	ErrForm              = errors.New("caps: malformed extended information form")
)

// identity is one disco#info identity (XEP-0030 §3.1).
type identity struct {
	category, typ, lang, name string
}

func compareIdentity(a, b identity) int {
	return cmp.Or(strings.Compare(a.category, b.category), strings.Compare(a.typ, b.typ),
		strings.Compare(a.lang, b.lang), strings.Compare(a.name, b.name))
}

// form is an extended information form (XEP-0128) that takes part in the
// verification string.
type form struct {
	formType string
	fields   []dataform.Field // without FORM_TYPE and var-less fields
}

// VerString returns the verification string S of XEP-0115 §5.1 (before
// hashing) of info, a <query xmlns='http://jabber.org/protocol/disco#info'/>
// result:
//
//   - the identities, sorted by category, type, xml:lang and name (each
//     compared as a whole, in i;octet order), each as
//     "category/type/lang/name<";
//   - the features, sorted, each followed by "<";
//   - the extended information forms (XEP-0128) sorted by FORM_TYPE, each
//     as its FORM_TYPE and "<", then its fields sorted by var, each as the
//     var and "<" followed by its values, sorted, each followed by "<".
//
// Only the identity's own xml:lang counts, not one inherited from an
// ancestor. Character data is used as parsed: "&lt;" in the input is the
// character "<", and a literal "&lt;" in the parsed text stays four
// characters (§5.1 note).
//
// Following §5.4 step 3, VerString fails when info holds two identities
// with the same category/type/lang/name (ErrDuplicateIdentity), two equal
// features (ErrDuplicateFeature), two forms with the same FORM_TYPE
// (ErrDuplicateFormType), or a FORM_TYPE field with values that differ
// (ErrFormTypeValues). A form that has no FORM_TYPE field, or whose
// FORM_TYPE field is not of type hidden or has no value, is ignored (§5.4
// step 3.6), as is an <x/> whose type is not "result" (XEP-0128 §3); the
// duplicate rule applies to the forms that remain. A form that remains but
// breaks XEP-0004 as internal/dataform.Parse checks it (for example two
// fields with the same var) is ErrForm. Fields without a var (fixed ones)
// carry no data keyed by var and are left out.
//
// The order of the children of info does not change the result.
func VerString(info *stanza.Element) (string, error) {
	if info == nil || info.Space != nsInfo || info.Local != "query" {
		return "", ErrNotInfo
	}
	var ids []identity
	var feats []string
	var forms []form
	for _, n := range info.Children {
		c := n.Elem
		if c == nil {
			continue
		}
		switch {
		case c.Space == nsInfo && c.Local == "identity":
			ids = append(ids, identity{c.Attr("category"), c.Attr("type"), c.AttrNS(stanza.NSXML, "lang"), c.Attr("name")})
		case c.Space == nsInfo && c.Local == "feature":
			feats = append(feats, c.Attr("var"))
		case c.Space == dataform.NS && c.Local == "x":
			f, ok, err := extendedForm(c)
			if err != nil {
				return "", err
			}
			if ok {
				forms = append(forms, f)
			}
		}
	}

	slices.SortFunc(ids, compareIdentity)
	slices.Sort(feats)
	slices.SortFunc(forms, func(a, b form) int { return strings.Compare(a.formType, b.formType) })
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			id := ids[i]
			return "", fmt.Errorf("%w: %s", ErrDuplicateIdentity, strconv.Quote(id.category+"/"+id.typ+"/"+id.lang+"/"+id.name))
		}
	}
	for i := 1; i < len(feats); i++ {
		if feats[i] == feats[i-1] {
			return "", fmt.Errorf("%w: %s", ErrDuplicateFeature, strconv.Quote(feats[i]))
		}
	}
	for i := 1; i < len(forms); i++ {
		if forms[i].formType == forms[i-1].formType {
			return "", fmt.Errorf("%w: %s", ErrDuplicateFormType, strconv.Quote(forms[i].formType))
		}
	}

	var b strings.Builder
	for _, id := range ids {
		b.WriteString(id.category)
		b.WriteByte('/')
		b.WriteString(id.typ)
		b.WriteByte('/')
		b.WriteString(id.lang)
		b.WriteByte('/')
		b.WriteString(id.name)
		b.WriteByte('<')
	}
	for _, f := range feats {
		b.WriteString(f)
		b.WriteByte('<')
	}
	for _, f := range forms {
		b.WriteString(f.formType)
		b.WriteByte('<')
		for _, fl := range f.fields {
			b.WriteString(fl.Var)
			b.WriteByte('<')
			for _, v := range fl.Values {
				b.WriteString(v)
				b.WriteByte('<')
			}
		}
	}
	return b.String(), nil
}

// extendedForm returns the extended information form x with its fields
// and their values sorted, or ok false when x does not take part in the
// verification string (see VerString).
func extendedForm(x *stanza.Element) (f form, ok bool, err error) {
	if x.Attr("type") != dataform.TypeResult || !hasHiddenFormType(x) {
		return form{}, false, nil
	}
	df, err := dataform.Parse(x)
	if err != nil {
		return form{}, false, fmt.Errorf("%w: %w", ErrForm, err)
	}
	ft := df.Field(dataform.FormTypeVar)
	if len(ft.Values) == 0 {
		return form{}, false, nil
	}
	for _, v := range ft.Values[1:] {
		if v != ft.Values[0] {
			return form{}, false, fmt.Errorf("%w: %s and %s", ErrFormTypeValues, strconv.Quote(ft.Values[0]), strconv.Quote(v))
		}
	}
	f.formType = ft.Values[0]
	for _, fl := range df.Fields {
		if fl.Var == "" || fl.Var == dataform.FormTypeVar {
			continue
		}
		// Parse does not share Values with x; sorting them in place is
		// safe.
		slices.Sort(fl.Values)
		f.fields = append(f.fields, fl)
	}
	// Parse rejects two fields with the same var, so the order is total.
	slices.SortFunc(f.fields, func(a, b dataform.Field) int { return strings.Compare(a.Var, b.Var) })
	return f, true, nil
}

// hasHiddenFormType reports whether the form x has a top-level FORM_TYPE
// field of type hidden (XEP-0068 §3, XEP-0115 §5.4 step 3.6). Any such
// field counts, whatever its position, so that the answer does not depend
// on the order of the fields; a second FORM_TYPE field is a duplicate var
// that dataform.Parse then rejects.
func hasHiddenFormType(x *stanza.Element) bool {
	for _, n := range x.Children {
		c := n.Elem
		if c != nil && c.Space == dataform.NS && c.Local == "field" &&
			c.Attr("var") == dataform.FormTypeVar && c.Attr("type") == dataform.FieldHidden {
			return true
		}
	}
	return false
}

// hashes are the algorithms Hash supports, by IANA hash function textual
// name (XEP-0115 §4 and §9.1; RFC 3174, RFC 6234). MD5 and MD2 are
// refused.
var hashes = map[string]func() hash.Hash{
	"sha-1":   sha1.New,
	"sha-224": sha256.New224,
	"sha-256": sha256.New,
	"sha-384": sha512.New384,
	"sha-512": sha512.New,
}

// Hash returns the 'ver' for the verification string s: the digest of s
// with the algorithm named algo, in padded base64 without whitespace
// (XEP-0115 §5.1 step 9, RFC 4648 §4). algo is an IANA hash name: "sha-1"
// (mandatory to implement, §9.1), "sha-224", "sha-256", "sha-384" or
// "sha-512". ok is false for any other algorithm, including "md5".
func Hash(algo, s string) (ver string, ok bool) {
	h, ok := hashes[algo]
	if !ok {
		return "", false
	}
	d := h()
	d.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(d.Sum(nil)), true
}

// verLen returns the length of a 'ver' that Hash produces with algo, or 0
// for an unsupported algorithm.
func verLen(algo string) int {
	h, ok := hashes[algo]
	if !ok {
		return 0
	}
	return base64.StdEncoding.EncodedLen(h().Size())
}

// Verify reports whether info, the disco#info result the client returned
// for c, matches c: c names a supported hash algorithm, info is well-formed
// (VerString does not fail) and hashes to c.Ver (XEP-0115 §5.4 step 3).
// Legacy caps (no hash) never verify. Verify does not check the 'node' of
// info, which the caller matches with its request.
func Verify(c Caps, info *stanza.Element) bool {
	if c.Hash == "" || c.Ver == "" {
		return false
	}
	s, err := VerString(info)
	if err != nil {
		return false
	}
	ver, ok := Hash(c.Hash, s)
	return ok && ver == c.Ver
}

// Features returns the feature vars of info, a disco#info <query/>
// result, sorted and without duplicates; an empty var is left out. It does
// not check that info is well-formed: use Verify or VerString for that.
func Features(info *stanza.Element) []string {
	if info == nil {
		return nil
	}
	var feats []string
	for _, n := range info.Children {
		if c := n.Elem; c != nil && c.Space == nsInfo && c.Local == "feature" {
			if v := c.Attr("var"); v != "" {
				feats = append(feats, v)
			}
		}
	}
	slices.Sort(feats)
	return slices.Compact(feats)
}
