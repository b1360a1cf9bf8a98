// Command gen generates the Go wire types of an AWS service from its service
// model: a struct per structure shape, a string type per enum, the error
// types, Validate methods that check the model's constraints, and a table of
// the operations. What a protocol needs beyond that is the protocol's own
// emitter's: for JSON, MarshalJSON methods that send the always-sent members
// even when empty (encoding/json reads the struct tags for the rest); for the
// query protocol, query.gen.go, which decodes inputs from form parameters
// and writes outputs as XML (see queryProtocol).
//
// It reads api-2.json of the service from the github.com/aws/aws-sdk-go
// module (found with go mod download, so the module cache is enough), merges
// over it an optional newer botocore service-2.json(.gz) for the operations,
// shapes, members and enum values that aws-sdk-go, no longer updated, lacks,
// turns the result into a protocol-independent intermediate form (Service)
// and emits gofmt'ed *.gen.go files from it. It runs from a go:generate line
// in the target package:
//
//	//go:generate go run ../gen -service ecs -sdk-version v1.55.8 -overlay ../botocore/ecs-2014-11-13.service-2.json.gz
//
// Flags:
//
//	-service      the model's directory under models/apis in aws-sdk-go (ecs, elasticloadbalancingv2),
//	              or "all" for the names of every service by target prefix and signing name
//	              (services.gen.go)
//	-sdk-version  the version of github.com/aws/aws-sdk-go to read the model from
//	-api-version  the model's API version; needed only if aws-sdk-go has several
//	-overlay      a botocore service-2.json or service-2.json.gz to merge over it
//	-always       a JSON table of the members that responses always carry, even
//	              empty (see loadAlways)
//	-package      the Go package name (default: $GOPACKAGE, which go generate sets, else
//	              the name of the -out directory)
//	-out          the directory to write to (default: the current directory)
//
// Output files are named *.gen.go; stale ones in -out are removed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const sdkModule = "github.com/aws/aws-sdk-go"

// config is what the flags say.
type config struct {
	Service    string
	SDKVersion string
	APIVersion string
	Overlay    string
	Always     string
	Package    string
	Out        string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	if err := run(context.Background(), cfg); err != nil {
		log.Fatal(err)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.StringVar(&cfg.Service, "service", "", "model directory under models/apis in aws-sdk-go, such as ecs")
	fs.StringVar(&cfg.SDKVersion, "sdk-version", "", "version of "+sdkModule+" to read the model from")
	fs.StringVar(&cfg.APIVersion, "api-version", "", "API version of the model; needed only if there are several")
	fs.StringVar(&cfg.Overlay, "overlay", "", "botocore service-2.json(.gz) to merge over the model")
	fs.StringVar(&cfg.Always, "always", "", "JSON table of the members that responses always carry, even empty")
	fs.StringVar(&cfg.Package, "package", "", "Go package name (default: $GOPACKAGE, else the name of the output directory)")
	fs.StringVar(&cfg.Out, "out", ".", "output directory")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Service == "" || cfg.SDKVersion == "" {
		return config{}, errors.New("-service and -sdk-version are required")
	}
	return cfg, nil
}

// run generates the package that cfg describes and writes it to cfg.Out.
// Relative paths in cfg are relative to the current directory.
func run(ctx context.Context, cfg config) error {
	out, err := filepath.Abs(cfg.Out)
	if err != nil {
		return err
	}
	if cfg.Package == "" {
		cfg.Package = os.Getenv("GOPACKAGE")
	}
	if cfg.Package == "" {
		cfg.Package = filepath.Base(out)
	}
	files, err := generate(ctx, cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(out, "*.gen.go"))
	if err != nil {
		return err
	}
	for _, path := range old {
		if _, ok := files[filepath.Base(path)]; !ok {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	for name, src := range files {
		path := filepath.Join(out, name)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, src) {
			continue
		}
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// generate returns the files of the package that cfg describes, by name.
func generate(ctx context.Context, cfg config) (map[string][]byte, error) {
	dir, err := moduleDir(ctx, sdkModule+"@"+cfg.SDKVersion)
	if err != nil {
		return nil, err
	}
	if cfg.Service == allServices {
		return generateServiceTable(dir, cfg.Package, sdkModule+"@"+cfg.SDKVersion+" models/apis")
	}
	apis := filepath.Join(dir, "models", "apis", cfg.Service)
	if cfg.APIVersion == "" {
		if cfg.APIVersion, err = onlyVersion(apis); err != nil {
			return nil, err
		}
	}
	rel := filepath.ToSlash(filepath.Join("models", "apis", cfg.Service, cfg.APIVersion, "api-2.json"))
	m, err := loadModel(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	source := sdkModule + "@" + cfg.SDKVersion + " " + rel
	if cfg.Overlay != "" {
		o, err := loadModel(cfg.Overlay)
		if err != nil {
			return nil, err
		}
		if err := merge(m, o); err != nil {
			return nil, fmt.Errorf("merge %s: %w", cfg.Overlay, err)
		}
		source += " and botocore " + filepath.Base(cfg.Overlay)
	}
	svc, err := build(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Service, err)
	}
	if cfg.Always != "" {
		table, err := loadAlways(cfg.Always)
		if err != nil {
			return nil, err
		}
		if err := markAlways(svc, table); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Always, err)
		}
	}
	return emit(svc, cfg.Package, source)
}

// moduleDir returns the directory of a module version in the module cache,
// downloading it if need be.
func moduleDir(ctx context.Context, modVersion string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", modVersion)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Error != "" || info.Dir == "" {
		msg := strings.TrimSpace(info.Error + " " + stderr.String())
		if runErr != nil {
			msg = runErr.Error() + ": " + msg
		}
		return "", fmt.Errorf("go mod download %s: %s", modVersion, msg)
	}
	return info.Dir, nil
}

// onlyVersion returns the name of the only API version directory in dir.
func onlyVersion(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var versions []string
	for _, e := range entries {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	if len(versions) != 1 {
		return "", fmt.Errorf("%s holds API versions %q: choose one with -api-version", dir, versions)
	}
	return versions[0], nil
}
