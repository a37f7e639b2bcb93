package pubsubtest

import (
	"reflect"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/jid"
)

// FillNonZero sets every field of the struct v points to a non-zero value
// of its type, failing on a field type it does not know: a backend's test
// that Config and SubOptions survive its columns then covers every field,
// including those added later.
func FillNonZero(t *testing.T, v reflect.Value) {
	t.Helper()
	v = v.Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		if !f.CanSet() {
			t.Fatalf("%s.%s is unexported: it would not be stored", v.Type(), name)
		}
		switch {
		case f.Type() == reflect.TypeFor[time.Duration]():
			f.SetInt(int64(90*time.Minute + 1))
		case f.Type() == reflect.TypeFor[[]jid.JID]():
			f.Set(reflect.ValueOf([]jid.JID{jid.MustParse("a@example.com"), jid.MustParse("b@example.com/r")}))
		case f.Type() == reflect.TypeFor[[]string]():
			f.Set(reflect.ValueOf([]string{"x", "", "ü"}))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.CanInt():
			f.SetInt(int64(-1 - i))
		case f.CanUint():
			f.SetUint(uint64(1 + i%3))
		case f.Kind() == reflect.String:
			f.SetString(name + " \x00\"\n☃\\u0000")
		default:
			t.Fatalf("%s.%s: no test value for %s; check that it is stored", v.Type(), name, f.Type())
		}
	}
}
