package main

import "strings"

// jsonProtocol is AWS's JSON 1.0 and 1.1 protocol (awsJson1_0, awsJson1_1):
// a POST of the input as a JSON object, the operation named in X-Amz-Target.
// encoding/json does the marshaling from the struct tags: empty members are
// left out, except the always-sent ones (see loadAlways), which are
// model.List and model.Map fields that send [] and {} when nil. Beyond the
// struct tags there is only bounds.gen.go, the model's length bounds for the
// decoder (see boundsFile).
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

// fieldType makes an always-sent member a model.List or model.Map, whose
// MarshalJSON sends [] or {} for nil; the tag has no omitempty.
func (jsonProtocol) fieldType(f *file, m *Member, goType string) string {
	if !m.AlwaysSent {
		return goType
	}
	f.use(runtimeImport)
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "model.List[" + strings.TrimPrefix(goType, "[]") + "]"
	case strings.HasPrefix(goType, "map["):
		key, value, _ := strings.Cut(strings.TrimPrefix(goType, "map["), "]")
		return "model.Map[" + key + ", " + value + "]"
	}
	return goType
}

func (jsonProtocol) files(g *emitter) ([]*file, error) { return []*file{g.boundsFile()}, nil }
