package admin

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPI: docs/admin-api.yaml describes exactly the paths and
// methods the handler serves, and every error code.
func TestOpenAPI(t *testing.T) {
	b, err := os.ReadFile("../../docs/admin-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI    string                    `yaml:"openapi"`
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Schemas map[string]schema `yaml:"schemas"`
		} `yaml:"components"`
		Info struct {
			Description string `yaml:"description"`
		} `yaml:"info"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("admin-api.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	served := map[string][]string{
		"/metrics": {"get"}, "/healthz": {"get"}, "/readyz": {"get"},
	}
	for _, r := range (&api{}).table() {
		p := strings.ReplaceAll(r.pattern, "...}", "}")
		for m := range r.methods {
			served[p] = append(served[p], strings.ToLower(m))
		}
	}
	for p, ms := range served {
		var documented []string
		for m := range doc.Paths[p] {
			if m != "parameters" {
				documented = append(documented, m)
			}
		}
		slices.Sort(ms)
		slices.Sort(documented)
		if !slices.Equal(ms, documented) {
			t.Errorf("%s: served %v, documented %v", p, ms, documented)
		}
	}
	for p := range doc.Paths {
		if served[p] == nil {
			t.Errorf("%s is documented but not served", p)
		}
	}
	// The schemas name the fields the types marshal.
	for name, v := range map[string]any{"Account": Account{}, "Session": Session{}, "Node": Node{}, "NodeDetail": NodeDetail{},
		"Item": Item{}, "Stats": Stats{}, "Device": Device{}, "CertificateInfo": CertificateInfo{},
		"ProvisionedDevice": ProvisionedDevice{}, "Group": Group{}, "GroupMember": GroupMember{},
		"ProvisionRequest": provisionRequest{}} {
		got := jsonFields(reflect.TypeOf(v))
		documented := doc.Components.Schemas[name].fields(doc.Components.Schemas)
		slices.Sort(got)
		slices.Sort(documented)
		if !slices.Equal(got, documented) {
			t.Errorf("schema %s: the type marshals %v, documented %v", name, got, documented)
		}
	}
	for c := range statuses {
		if !strings.Contains(doc.Info.Description, "`"+string(c)+"`") {
			t.Errorf("error code %s is not documented", c)
		}
	}
}

// schema is the part of an OpenAPI schema object the test compares.
type schema struct {
	Ref        string         `yaml:"$ref"`
	AllOf      []schema       `yaml:"allOf"`
	Properties map[string]any `yaml:"properties"`
}

// fields returns the property names of s, following $ref and allOf.
func (s schema) fields(all map[string]schema) []string {
	if s.Ref != "" {
		return all[strings.TrimPrefix(s.Ref, "#/components/schemas/")].fields(all)
	}
	var out []string
	for _, sub := range s.AllOf {
		out = append(out, sub.fields(all)...)
	}
	for p := range s.Properties {
		out = append(out, p)
	}
	return out
}

// jsonFields returns the names encoding/json gives t's fields, embedded
// structs flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}
