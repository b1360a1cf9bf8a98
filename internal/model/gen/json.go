package main

// jsonProtocol is AWS's JSON 1.0 and 1.1 protocol (awsJson1_0, awsJson1_1):
// a POST of the input as a JSON object, the operation named in X-Amz-Target.
// encoding/json does the marshaling; beyond the struct tags there is only
// bounds.gen.go, the model's length bounds for the decoder (see boundsFile).
type jsonProtocol struct{}

// wireName is the member name, unless the model renames it.
func (jsonProtocol) wireName(m *Member) string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

func (p jsonProtocol) fieldTag(m *Member) string {
	return `json:"` + p.wireName(m) + `,omitempty"`
}

func (jsonProtocol) constants(svc *Service) []constant {
	return []constant{
		{"TargetPrefix", "TargetPrefix is what the X-Amz-Target header holds before \".\" and the operation name.", svc.TargetPrefix},
		{"JSONVersion", "JSONVersion is the x.y of the application/x-amz-json-x.y content type.", svc.JSONVersion},
	}
}

func (jsonProtocol) prepare(*Service) {}

func (jsonProtocol) files(g *emitter) ([]*file, error) { return []*file{g.boundsFile()}, nil }
