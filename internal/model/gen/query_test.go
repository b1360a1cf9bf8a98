package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toyQueryModel is a query-protocol model with what ELBv2 lacks: list
// members named by locationName, flattened lists and maps, lists of lists,
// renamed map keys and values, timestamps in other formats, an operation
// without input or output, an error without a message member.
func toyQueryModel() *rawModel {
	ref := func(shape string) *rawRef { return &rawRef{Shape: shape} }
	members := map[string]*rawRef{
		"Names":     ref("Names"),
		"Flat":      {Shape: "Names", Flattened: true, LocationName: "Flat"},
		"Grid":      ref("Grid"),
		"Attrs":     ref("Attrs"),
		"FlatAttrs": ref("FlatAttrs"),
		"Renamed":   {Shape: "Name", LocationName: "OnTheWire"},
		"Epoch":     ref("Epoch"),
		"At":        ref("At"),
		"Count":     ref("Count"),
		"Ratio":     ref("Ratio"),
		"On":        ref("On"),
		"Data":      ref("Data"),
		"Color":     ref("Color"),
		"Child":     ref("Child"),
	}
	return &rawModel{
		Metadata: rawMetadata{Protocol: "query", APIVersion: "2020-01-01", EndpointPrefix: "toy", XMLNamespace: "urn:toy"},
		Operations: map[string]*rawOperation{
			"PutThing": {
				Input:  ref("PutThingInput"),
				Output: &rawRef{Shape: "PutThingOutput", ResultWrapper: "PutThingResult"},
				Errors: []rawRef{{Shape: "Gone"}},
			},
			"Ping": {},
		},
		Shapes: map[string]*rawShape{
			"PutThingInput":  {Type: "structure", Members: members, Required: []string{"Names"}},
			"PutThingOutput": {Type: "structure", Members: members},
			"Child":          {Type: "structure", Members: map[string]*rawRef{"Name": ref("Name"), "Children": ref("Children")}},
			"Children":       {Type: "list", Member: ref("Child")},
			"Name":           {Type: "string"},
			"Names":          {Type: "list", Member: &rawRef{Shape: "Name", LocationName: "item"}},
			"Grid":           {Type: "list", Member: ref("Names")},
			"Attrs":          {Type: "map", Key: &rawRef{Shape: "Name", LocationName: "k"}, Value: &rawRef{Shape: "Names", LocationName: "v"}},
			"FlatAttrs":      {Type: "map", Flattened: true, Key: ref("Color"), Value: ref("Name")},
			"Epoch":          {Type: "timestamp", TimestampFormat: "unixTimestamp"},
			"At":             {Type: "timestamp"},
			"Count":          {Type: "long"},
			"Ratio":          {Type: "double"},
			"On":             {Type: "boolean"},
			"Data":           {Type: "blob"},
			"Color":          {Type: "string", Enum: []string{"red", "blue"}},
			"Gone":           {Type: "structure", Members: map[string]*rawRef{}, Exception: true, Error: &rawError{Code: "GoneCode", HTTPStatusCode: 410}},
		},
	}
}

// toyRoundTrip runs in the package generated from toyQueryModel: it decodes
// a form and writes the output made of the input, so that it checks both
// directions of every rule of toyQueryModel.
const toyRoundTrip = `package toy

import (
	"net/url"
	"testing"

	"github.com/flotilla/flotilla/internal/model"
)

func TestRoundTrip(t *testing.T) {
	form, err := url.ParseQuery("Action=PutThing&Names.item.2=b&Names.item.1=a&Flat.1=f&" +
		"Grid.member.1.item.1=g1&Grid.member.2=&Attrs.entry.1.k=x&Attrs.entry.1.v.item.1=x1&" +
		"FlatAttrs.1.key=red&FlatAttrs.1.value=r&OnTheWire=w&Epoch=1767225600.5&At=2026-01-01T00:00:00Z&" +
		"Count=5000000000&Ratio=0.25&On=true&Data=aGk%3D&Color=blue&Child.Name=c&Child.Children.member.1.Name=cc&Ignored=1")
	if err != nil {
		t.Fatal(err)
	}
	var in PutThingInput
	if err := in.UnmarshalQuery(model.ParseQuery(form)); err != nil {
		t.Fatal(err)
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	out := PutThingOutput(in)
	var w model.XMLWriter
	out.MarshalQueryResult(&w)
	want := "<PutThingResult>" +
		"<At>2026-01-01T00:00:00.000Z</At>" +
		"<Attrs><entry><k>x</k><v><item>x1</item></v></entry></Attrs>" +
		"<Child><Children><member><Name>cc</Name></member></Children><Name>c</Name></Child>" +
		"<Color>blue</Color><Count>5000000000</Count><Data>aGk=</Data><Epoch>1767225600.500</Epoch>" +
		"<Flat>f</Flat>" +
		"<FlatAttrs><key>red</key><value>r</value></FlatAttrs>" +
		"<Grid><member><item>g1</item></member><member/></Grid>" +
		"<Names><item>a</item><item>b</item></Names>" +
		"<On>true</On><Ratio>0.25</Ratio><OnTheWire>w</OnTheWire>" +
		"</PutThingResult>"
	if got := string(w.Bytes()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	var ping PingOutput
	w.Reset()
	ping.MarshalQueryResult(&w)
	if len(w.Bytes()) != 0 {
		t.Errorf("PingOutput wrote %s", w.Bytes())
	}
	gone := &Gone{Message: new(string)}
	*gone.Message = "gone"
	if gone.ErrorCode() != "GoneCode" || gone.ErrorMessage() != "gone" || gone.HTTPStatus() != 410 || gone.Error() != "GoneCode: gone" {
		t.Errorf("Gone: %s %q %d %q", gone.ErrorCode(), gone.ErrorMessage(), gone.HTTPStatus(), gone.Error())
	}
}

func TestWrongTypes(t *testing.T) {
	form, _ := url.ParseQuery("Names.item.1=a&Count=x&On=1&Epoch=later&Grid.member.1=x")
	var in PutThingInput
	err := in.UnmarshalQuery(model.ParseQuery(form))
	want := "Count must be an integer from -9223372036854775808 to 9223372036854775807; " +
		"Epoch must be a timestamp in ISO 8601 format, such as 2026-01-01T00:00:00Z; " +
		"Grid.member.1 must be a list, sent as Grid.member.1.item.1, ...; " +
		"On must be a boolean (true or false)"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}
`

// TestQueryProtocol generates a package from toyQueryModel and runs
// toyRoundTrip in it: the generated code must compile, vet and follow the
// query protocol's naming rules in both directions.
func TestQueryProtocol(t *testing.T) {
	svc, err := build(toyQueryModel())
	if err != nil {
		t.Fatal(err)
	}
	files, err := emit(svc, "toy", "test")
	if err != nil {
		t.Fatal(err)
	}
	src := string(files["query.gen.go"])
	for _, want := range []string{
		`model.QueryList(n.Child("Names"), "item", e, model.QueryString[string])`,
		`model.QueryList(n.Child("Flat"), "", e, model.QueryString[string])`,
		`model.QueryMap(n.Child("FlatAttrs"), "", "key", "value", e, model.QueryString[Color], model.QueryString[string])`,
		`model.XMLOptional(w, "Epoch", s.Epoch, model.XMLTimeUnix)`,
		`func (s *PingOutput) MarshalQueryResult(*model.XMLWriter) {}`,
		`func (e *Gone) HTTPStatus() int { return 410 }`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("query.gen.go lacks %s", want)
		}
	}
	if testing.Short() {
		return
	}
	// A directory of the module, so that the package can import
	// internal/model; under testdata, so that ./... never sees it.
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("testdata", "toy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove("testdata") // if nothing else is there
	})
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "roundtrip_test.go"), []byte(toyRoundTrip), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"vet", "./" + dir}, {"test", "-count=1", "./" + dir}} {
		cmd := exec.CommandContext(t.Context(), "go", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestQueryProtocolRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *rawModel)
		want   string
	}{
		{"document", func(m *rawModel) {
			m.Shapes["Doc"] = &rawShape{Type: "structure", Document: true}
			m.Shapes["PutThingInput"].Members["Doc"] = &rawRef{Shape: "Doc"}
		}, "document shapes"},
		{"XML attribute", func(m *rawModel) {
			m.Shapes["PutThingOutput"].Members["Attr"] = &rawRef{Shape: "Name", XMLAttribute: true}
		}, "XML attributes"},
		{"shared output, two wrappers", func(m *rawModel) {
			m.Operations["PutOther"] = &rawOperation{Input: &rawRef{Shape: "PutThingInput"}, Output: &rawRef{Shape: "PutThingOutput", ResultWrapper: "PutOtherResult"}}
		}, "wrapped in both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := toyQueryModel()
			tt.change(m)
			svc, err := build(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := emit(svc, "toy", "test"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("emit: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
