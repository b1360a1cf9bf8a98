package main

import "strings"

// jsonProtocol is AWS's JSON 1.0 and 1.1 protocol (awsJson1_0, awsJson1_1):
// a POST of the input as a JSON object, the operation named in X-Amz-Target.
// encoding/json does the marshaling from the struct tags: empty members are
// left out, except the always-sent ones, whose structures get a MarshalJSON
// method in marshal.gen.go that sends them as [] or {} (see loadAlways).
type jsonProtocol struct{}

// wireName is the member name, unless the model renames it.
func (jsonProtocol) wireName(m *Member) string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

func (p jsonProtocol) fieldTag(m *Member) string {
	if m.AlwaysSent {
		return `json:"` + p.wireName(m) + `"`
	}
	return `json:"` + p.wireName(m) + `,omitempty"`
}

func (jsonProtocol) constants(svc *Service) []constant {
	return []constant{
		{"TargetPrefix", "TargetPrefix is what the X-Amz-Target header holds before \".\" and the operation name.", svc.TargetPrefix},
		{"JSONVersion", "JSONVersion is the x.y of the application/x-amz-json-x.y content type.", svc.JSONVersion},
	}
}

func (jsonProtocol) prepare(*Service) {}

func (jsonProtocol) files(g *emitter) ([]*file, error) {
	f := newFile("marshal.gen.go")
	for _, s := range g.svc.Shapes {
		if s.Kind != Structure || s.Exception {
			continue
		}
		always := alwaysSent(s)
		if len(always) == 0 {
			continue
		}
		f.use("encoding/json")
		name := g.typeNames[s]
		wire := make([]string, len(always))
		for i, m := range always {
			wire[i] = jsonProtocol{}.wireName(m)
		}
		f.p("// MarshalJSON encodes v, sending %s even when empty, as the service does.", strings.Join(wire, ", "))
		f.p("func (v %s) MarshalJSON() ([]byte, error) {", name)
		f.p("type plain %s", name)
		f.p("p := plain(v)")
		for _, m := range always {
			field := "p." + g.fieldNames[m]
			f.p("if %s == nil {", field)
			f.p("%s = %s{}", field, g.goType(f, m.Shape, true))
			f.p("}")
		}
		f.p("return json.Marshal(p)")
		f.p("}")
		f.p("")
	}
	if len(f.imports) == 0 {
		return nil, nil
	}
	return []*file{f}, nil
}
