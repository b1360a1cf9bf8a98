package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGeneratedUpToDate regenerates every package under internal/model that
// has a "//go:generate go run ../gen" line, with that line's flags, into a
// temporary directory and compares the result with the checked-in files.
func TestGeneratedUpToDate(t *testing.T) {
	docs, err := filepath.Glob("../*/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var found int
	for _, doc := range docs {
		args := generateArgs(t, doc)
		if args == nil {
			continue
		}
		found++
		pkgDir, err := filepath.Abs(filepath.Dir(doc))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(pkgDir), func(t *testing.T) {
			cfg, err := parseFlags(args)
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			if cfg.Out != "." {
				t.Fatalf("%s: -out %s: the test expects the default", doc, cfg.Out)
			}
			cfg.Out = t.TempDir()
			if cfg.Package == "" {
				cfg.Package = filepath.Base(pkgDir)
			}
			t.Chdir(pkgDir) // the flags' paths are relative to the package
			if err := run(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			want := genFiles(t, cfg.Out)
			got := genFiles(t, pkgDir)
			names := maps.Clone(want)
			maps.Copy(names, got)
			for _, name := range slices.Sorted(maps.Keys(names)) {
				switch w, g := want[name], got[name]; {
				case w == nil:
					t.Errorf("%s is stale: the generator no longer writes it", name)
				case g == nil:
					t.Errorf("%s is missing", name)
				case !bytes.Equal(w, g):
					t.Errorf("%s differs from what the generator writes now (first difference at line %d)", name, firstDiffLine(w, g))
				}
			}
			if t.Failed() {
				t.Log("run: go generate ./internal/model/...")
			}
		})
	}
	if found == 0 {
		t.Fatal("no package with a go:generate line for gen")
	}
}

// generateArgs returns the flags of doc's go:generate line that runs gen,
// or nil if it has none.
func generateArgs(t *testing.T, doc string) []string {
	t.Helper()
	src, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(src)) {
		if rest, ok := strings.CutPrefix(line, "//go:generate go run ../gen "); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

func genFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	return files
}

func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b) && a[i] == b[i]; i++ {
		if a[i] == '\n' {
			line++
		}
	}
	return line
}

func TestExported(t *testing.T) {
	tests := []struct{ in, want string }{
		{"CreateClusterRequest", "CreateClusterRequest"},
		{"clusterName", "ClusterName"},
		{"__string", "X__string"},
		{"ListOf-Things.v2", "ListOfThingsv2"},
		{"2fa", "X2fa"},
		{"", "X"},
	}
	for _, tt := range tests {
		if got := exported(tt.in); got != tt.want {
			t.Errorf("exported(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEnumSuffix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"EC2", "Ec2"},
		{"FARGATE", "Fargate"},
		{"MANAGED_INSTANCES", "ManagedInstances"},
		{"awsvpc", "Awsvpc"},
		{"json-file", "JsonFile"},
		{"containerInstanceLongArnFormat", "ContainerInstanceLongArnFormat"},
		{"WINDOWS_SERVER_2019_FULL", "WindowsServer2019Full"},
		{"x86_64", "X8664"},
		{"ecs.capability.docker-plugin", "EcsCapabilityDockerPlugin"},
		{"", "Empty"},
		{"--", "Empty"},
	}
	for _, tt := range tests {
		if got := enumSuffix(tt.in); got != tt.want {
			t.Errorf("enumSuffix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBound(t *testing.T) {
	tests := []struct {
		name      string
		kind      Kind
		min, max  string
		wantLower string
		wantUpper string
	}{
		{"string length", String, "1", "255", "1", "255"},
		{"string min 0 is no bound", String, "0", "", "", ""},
		{"list", List, "0", "50", "", "50"},
		{"integer within int32", Integer, "0", "65535", "0", "65535"},
		{"integer at int32 limits", Integer, "-2147483648", "2147483647", "", ""},
		{"long beyond int64", Long, "-9223372036854775809", "9223372036854775808", "", ""},
		{"long at int64 max", Long, "1", "9223372036854775807", "1", ""},
		{"integer written as float", Integer, "1.0", "10.0", "1", "10"},
		{"double", Double, "0.0", "100.5", "0", "100.5"},
		{"timestamp has none", Timestamp, "1", "2", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Shape{Kind: tt.kind, Min: tt.min, Max: tt.max}
			var g emitter
			if got := g.minBound(s); got != tt.wantLower {
				t.Errorf("minBound = %q, want %q", got, tt.wantLower)
			}
			if got := g.maxBound(s); got != tt.wantUpper {
				t.Errorf("maxBound = %q, want %q", got, tt.wantUpper)
			}
		})
	}
}

func TestUsablePattern(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`, true},
		{`([\p{L}\p{Z}\p{N}_.:/=+\-@]*)`, false}, // not anchored
		{`[a-zA-Z0-9\.\*\-]+`, false},
		{`^[\p{Alnum}]+$`, false}, // Java only
		{`^(?!aws:).*$`, false},   // lookahead
		{`^abc\$`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := usablePattern(tt.pattern); got != tt.want {
			t.Errorf("usablePattern(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	base := &rawModel{
		Metadata: rawMetadata{APIVersion: "2014-11-13", Protocol: "json", EndpointPrefix: "ecs"},
		Operations: map[string]*rawOperation{
			"CreateCluster": {Name: "CreateCluster"},
		},
		Shapes: map[string]*rawShape{
			"LaunchType": {Type: "string", Enum: []string{"EC2", "FARGATE"}},
			"Name":       {Type: "string", Pattern: "^[a-z]+$"},
			"Request": {Type: "structure", Required: []string{"a", "b"}, Members: map[string]*rawRef{
				"a": {Shape: "Name"}, "b": {Shape: "Name"},
			}},
		},
	}
	overlay := &rawModel{
		Metadata: rawMetadata{APIVersion: "2014-11-13", Protocol: "json", SigningName: "ecs", EndpointPrefix: "other"},
		Operations: map[string]*rawOperation{
			"CreateCluster":          {Name: "CreateCluster", Idempotent: true},
			"ListServiceDeployments": {Name: "ListServiceDeployments"},
		},
		Shapes: map[string]*rawShape{
			"LaunchType": {Type: "string", Enum: []string{"MANAGED_INSTANCES", "EC2", "FARGATE"}},
			"Name":       {Type: "string", Pattern: "[a-z]+"},
			"Request": {Type: "structure", Required: []string{"a", "c"}, Members: map[string]*rawRef{
				"a": {Shape: "Name"}, "b": {Shape: "Name"}, "c": {Shape: "New"}, "d": {Shape: "New"},
			}},
			"New": {Type: "string"},
		},
	}
	if err := merge(base, overlay); err != nil {
		t.Fatal(err)
	}
	if base.Metadata.SigningName != "ecs" || base.Metadata.EndpointPrefix != "ecs" {
		t.Errorf("metadata = %+v: want signingName filled in and endpointPrefix kept", base.Metadata)
	}
	if base.Operations["CreateCluster"].Idempotent {
		t.Error("existing operation CreateCluster replaced")
	}
	if base.Operations["ListServiceDeployments"] == nil {
		t.Error("missing operation ListServiceDeployments not added")
	}
	if base.Shapes["New"] == nil {
		t.Error("missing shape New not added")
	}
	if got, want := base.Shapes["LaunchType"].Enum, []string{"EC2", "FARGATE", "MANAGED_INSTANCES"}; !slices.Equal(got, want) {
		t.Errorf("LaunchType enum = %q, want %q", got, want)
	}
	if got := base.Shapes["Name"].Pattern; got != "^[a-z]+$" {
		t.Errorf("Name pattern = %q, want base's", got)
	}
	req := base.Shapes["Request"]
	if got := slices.Sorted(maps.Keys(req.Members)); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("Request members = %q", got)
	}
	if got := slices.Sorted(slices.Values(req.Required)); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("Request required = %q, want [a c]: b no longer required, new member c required", got)
	}

	overlay.Metadata.APIVersion = "2015-01-01"
	if err := merge(base, overlay); err == nil {
		t.Error("merge of another API version succeeded")
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name   string
		shapes map[string]*rawShape
		want   string
	}{
		{"dangling reference", map[string]*rawShape{
			"In": {Type: "structure", Members: map[string]*rawRef{"a": {Shape: "Nowhere"}}},
		}, "Nowhere is referred to but not defined"},
		{"required non-member", map[string]*rawShape{
			"In": {Type: "structure", Required: []string{"b"}, Members: map[string]*rawRef{}},
		}, "requires b"},
		{"unknown type", map[string]*rawShape{
			"In": {Type: "structure", Members: map[string]*rawRef{"a": {Shape: "X"}}},
			"X":  {Type: "bigdecimal"},
		}, `unknown type "bigdecimal"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := &rawModel{
				Metadata:   rawMetadata{Protocol: "json"},
				Operations: map[string]*rawOperation{"Op": {Input: &rawRef{Shape: "In"}}},
				Shapes:     tt.shapes,
			}
			_, err := build(raw)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("build: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestSyntheticIO checks that an operation without input or output gets
// empty structures, which have Go types like any other.
func TestSyntheticIO(t *testing.T) {
	raw := &rawModel{
		Metadata:   rawMetadata{Protocol: "json", APIVersion: "2020-01-01"},
		Operations: map[string]*rawOperation{"DescribeFoo": {}},
		Shapes:     map[string]*rawShape{},
	}
	svc, err := build(raw)
	if err != nil {
		t.Fatal(err)
	}
	op := svc.Operations[0]
	if op.Input.Name != "DescribeFooInput" || !op.Input.Synthetic || op.Output.Name != "DescribeFooOutput" {
		t.Fatalf("input %s, output %s", op.Input.Name, op.Output.Name)
	}
	files, err := emit(svc, "foo", "test")
	if err != nil {
		t.Fatal(err)
	}
	if src := string(files["types.gen.go"]); !strings.Contains(src, "type DescribeFooInput struct{}") {
		t.Errorf("types.gen.go lacks DescribeFooInput:\n%s", src)
	}
}
