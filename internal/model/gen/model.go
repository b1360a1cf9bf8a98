package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
)

// rawModel is an AWS service model file (aws-sdk-go's api-2.json or
// botocore's service-2.json) as decoded, minus the documentation, which is
// not decoded at all.
type rawModel struct {
	Metadata   rawMetadata              `json:"metadata"`
	Operations map[string]*rawOperation `json:"operations"`
	Shapes     map[string]*rawShape     `json:"shapes"`
}

type rawMetadata struct {
	APIVersion       string `json:"apiVersion"`
	EndpointPrefix   string `json:"endpointPrefix"`
	JSONVersion      string `json:"jsonVersion"`
	Protocol         string `json:"protocol"`
	ServiceFullName  string `json:"serviceFullName"`
	ServiceID        string `json:"serviceId"`
	SignatureVersion string `json:"signatureVersion"`
	SigningName      string `json:"signingName"`
	TargetPrefix     string `json:"targetPrefix"`
	UID              string `json:"uid"`
	XMLNamespace     string `json:"xmlNamespace"`
}

type rawOperation struct {
	Name string `json:"name"`
	HTTP struct {
		Method       string `json:"method"`
		RequestURI   string `json:"requestUri"`
		ResponseCode int    `json:"responseCode"`
	} `json:"http"`
	Input      *rawRef  `json:"input"`
	Output     *rawRef  `json:"output"`
	Errors     []rawRef `json:"errors"`
	Idempotent bool     `json:"idempotent"`
	Deprecated bool     `json:"deprecated"`
}

// rawRef is a reference to a shape: an operation's input, output or error, a
// structure member, a list member, a map key or value.
type rawRef struct {
	Shape            string           `json:"shape"`
	LocationName     string           `json:"locationName"`
	Location         string           `json:"location"`
	QueryName        string           `json:"queryName"`
	ResultWrapper    string           `json:"resultWrapper"`
	Flattened        bool             `json:"flattened"`
	XMLAttribute     bool             `json:"xmlAttribute"`
	XMLNamespace     *rawXMLNamespace `json:"xmlNamespace"`
	TimestampFormat  string           `json:"timestampFormat"`
	IdempotencyToken bool             `json:"idempotencyToken"`
	JSONValue        bool             `json:"jsonvalue"`
	HostLabel        bool             `json:"hostLabel"`
	Streaming        bool             `json:"streaming"`
	Deprecated       bool             `json:"deprecated"`
}

type rawXMLNamespace struct {
	Prefix string `json:"prefix"`
	URI    string `json:"uri"`
}

type rawShape struct {
	Type            string             `json:"type"`
	Members         map[string]*rawRef `json:"members"`
	Required        []string           `json:"required"`
	Member          *rawRef            `json:"member"`
	Key             *rawRef            `json:"key"`
	Value           *rawRef            `json:"value"`
	Enum            []string           `json:"enum"`
	Min             json.Number        `json:"min"`
	Max             json.Number        `json:"max"`
	Pattern         string             `json:"pattern"`
	Exception       bool               `json:"exception"`
	Fault           bool               `json:"fault"`
	Error           *rawError          `json:"error"`
	Document        bool               `json:"document"`
	Union           bool               `json:"union"`
	Sensitive       bool               `json:"sensitive"`
	Deprecated      bool               `json:"deprecated"`
	Flattened       bool               `json:"flattened"`
	LocationName    string             `json:"locationName"`
	XMLNamespace    *rawXMLNamespace   `json:"xmlNamespace"`
	TimestampFormat string             `json:"timestampFormat"`
	Payload         string             `json:"payload"`
	Streaming       bool               `json:"streaming"`
	EventStream     bool               `json:"eventstream"`
}

type rawError struct {
	Code           string `json:"code"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	SenderFault    bool   `json:"senderFault"`
}

// loadModel reads a model file, gzip-compressed or not.
func loadModel(path string) (*rawModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var m rawModel
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Operations) == 0 || len(m.Shapes) == 0 {
		return nil, fmt.Errorf("%s: no operations or shapes: not a service model", path)
	}
	return &m, nil
}

// merge adds to base what the newer model overlay has and base lacks:
//
//   - metadata fields that base leaves empty (signingName, for instance);
//   - every operation missing from base;
//   - every shape missing from base;
//   - every member missing from a structure shape of base, required if
//     overlay requires it;
//   - every enum value missing from a string shape of base, appended after
//     base's values in overlay's order, so that values that newer clients
//     send (LaunchType MANAGED_INSTANCES, say) pass validation;
//   - the end of a requirement: a member that base requires and overlay,
//     having the member too, does not (ECS's CreateCapacityProviderRequest
//     no longer requires autoScalingGroupProvider since managed instances
//     providers came), so that the newer members merged above can be used.
//
// Everything else of base wins: shape types, member targets, patterns, limits.
// merge changes base; it fails if the two models are not of the same API
// version and protocol.
func merge(base, overlay *rawModel) error {
	if b, o := base.Metadata, overlay.Metadata; b.APIVersion != o.APIVersion || b.Protocol != o.Protocol {
		return fmt.Errorf("overlay is API version %s, protocol %s; base is %s, %s", o.APIVersion, o.Protocol, b.APIVersion, b.Protocol)
	}
	mergeMetadata(&base.Metadata, overlay.Metadata)
	for name, op := range overlay.Operations {
		if _, ok := base.Operations[name]; !ok {
			base.Operations[name] = op
		}
	}
	for name, o := range overlay.Shapes {
		b, ok := base.Shapes[name]
		if !ok {
			base.Shapes[name] = o
			continue
		}
		if b.Type != o.Type {
			continue
		}
		switch b.Type {
		case "structure":
			mergeMembers(b, o)
		case "string":
			for _, v := range o.Enum {
				if len(b.Enum) > 0 && !slices.Contains(b.Enum, v) {
					b.Enum = append(b.Enum, v)
				}
			}
		}
	}
	return nil
}

func mergeMembers(b, o *rawShape) {
	for name, m := range o.Members {
		if _, ok := b.Members[name]; ok {
			continue
		}
		if b.Members == nil {
			b.Members = map[string]*rawRef{}
		}
		b.Members[name] = m
		if slices.Contains(o.Required, name) {
			b.Required = append(b.Required, name)
		}
	}
	b.Required = slices.DeleteFunc(b.Required, func(name string) bool {
		_, inOverlay := o.Members[name]
		return inOverlay && !slices.Contains(o.Required, name)
	})
}

func mergeMetadata(b *rawMetadata, o rawMetadata) {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&b.APIVersion, o.APIVersion)
	fill(&b.EndpointPrefix, o.EndpointPrefix)
	fill(&b.JSONVersion, o.JSONVersion)
	fill(&b.Protocol, o.Protocol)
	fill(&b.ServiceFullName, o.ServiceFullName)
	fill(&b.ServiceID, o.ServiceID)
	fill(&b.SignatureVersion, o.SignatureVersion)
	fill(&b.SigningName, o.SigningName)
	fill(&b.TargetPrefix, o.TargetPrefix)
	fill(&b.UID, o.UID)
	fill(&b.XMLNamespace, o.XMLNamespace)
}
