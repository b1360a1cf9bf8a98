package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Service is the intermediate form of a service model that the emitters
// work from: every reference resolved, everything sorted, no Go naming yet,
// and the wire metadata of every protocol kept (XML names, flattening,
// timestamp formats) whether or not the current emitters use it.
type Service struct {
	APIVersion      string
	EndpointPrefix  string
	Protocol        string // json, query, rest-json, rest-xml, ec2
	JSONVersion     string // json protocol: the x-amz-json-1.x version
	TargetPrefix    string // json protocol: X-Amz-Target is TargetPrefix.Operation
	SigningName     string // SigV4 service name
	ServiceID       string
	ServiceFullName string
	XMLNamespace    string // query and rest-xml protocols

	Operations []*Operation // sorted by name
	Shapes     []*Shape     // sorted by name, including synthetic shapes
}

// Operation is one operation of a service.
type Operation struct {
	Name       string
	HTTPMethod string
	RequestURI string
	Input      *Shape // never nil: a synthetic empty structure if the model has none
	Output     *Shape // never nil, as Input
	// InputRef and OutputRef carry the wire metadata of the input and the
	// output (resultWrapper, locationName, xmlNamespace).
	InputRef, OutputRef Ref
	Errors              []*Shape // sorted by error code
	Idempotent          bool
	Deprecated          bool
}

// Kind is the type of a shape.
type Kind int

// The kinds of shape.
const (
	String Kind = iota
	Integer
	Long
	Boolean
	Float
	Double
	Timestamp
	Blob
	Structure
	List
	Map
	Document
)

var kindNames = [...]string{
	String:    "string",
	Integer:   "integer",
	Long:      "long",
	Boolean:   "boolean",
	Float:     "float",
	Double:    "double",
	Timestamp: "timestamp",
	Blob:      "blob",
	Structure: "structure",
	List:      "list",
	Map:       "map",
	Document:  "document",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// kindOf returns the kind of a model's shape type name; document shapes
// are structures in the model, with a document flag.
func kindOf(typ string) (Kind, bool) {
	i := slices.Index(kindNames[:], typ)
	if i < 0 || Kind(i) == Document {
		return 0, false
	}
	return Kind(i), true
}

// Shape is a named type of the model.
type Shape struct {
	Name string
	Kind Kind

	Members []*Member // Structure: sorted by name
	Elem    *Ref      // List: the element
	Key     *Ref      // Map
	Value   *Ref      // Map

	Enum    []string // String: the allowed values, in model order
	Min     string   // length or value bound as written in the model; "" if none
	Max     string
	Pattern string // as written in the model (a Java regular expression)

	Exception   bool
	Fault       bool   // a server error rather than a client one
	ErrorCode   string // Exception: the code on the wire (error.code, else Name)
	HTTPStatus  int    // Exception: error.httpStatusCode; 0 if the model says nothing
	SenderFault bool

	Union      bool
	Sensitive  bool
	Deprecated bool
	Streaming  bool

	// Wire metadata of the XML protocols.
	LocationName    string
	Flattened       bool
	XMLNamespace    *XMLNamespace
	TimestampFormat string
	Payload         string // rest protocols: the member that is the body

	// Synthetic marks the empty structures made up for operations that have
	// no input or no output in the model.
	Synthetic bool
	// Input and Output mark the shapes that are some operation's input or
	// output.
	Input, Output bool
}

// XMLNamespace is an xmlNamespace of a shape or member.
type XMLNamespace struct{ Prefix, URI string }

// Ref is a use of a shape, with the metadata attached to the use rather
// than to the shape.
type Ref struct {
	Shape            *Shape
	LocationName     string // wire name (XML element, query key, header name...)
	Location         string // rest protocols: header, uri, querystring, statusCode...
	QueryName        string // ec2 protocol
	ResultWrapper    string // query protocol, operation output: the wrapping element
	Flattened        bool
	XMLAttribute     bool
	XMLNamespace     *XMLNamespace
	TimestampFormat  string
	IdempotencyToken bool
	JSONValue        bool
	HostLabel        bool
	Streaming        bool
	Deprecated       bool
}

// Member is a member of a structure.
type Member struct {
	Name     string // as in the model
	Required bool
	// AlwaysSent marks the list and map members that responses carry even
	// when empty (from the -always table), rather than leaving them out.
	AlwaysSent bool
	Ref
}

// errorCode returns the code of error shape s on the wire.
func (s *Shape) errorCode() string {
	if s.ErrorCode != "" {
		return s.ErrorCode
	}
	return s.Name
}

// build resolves raw into a Service.
func build(raw *rawModel) (*Service, error) {
	md := raw.Metadata
	svc := &Service{
		APIVersion:      md.APIVersion,
		EndpointPrefix:  md.EndpointPrefix,
		Protocol:        md.Protocol,
		JSONVersion:     md.JSONVersion,
		TargetPrefix:    md.TargetPrefix,
		SigningName:     md.SigningName,
		ServiceID:       md.ServiceID,
		ServiceFullName: md.ServiceFullName,
		XMLNamespace:    md.XMLNamespace,
	}
	if svc.SigningName == "" {
		svc.SigningName = md.EndpointPrefix
	}
	b := &builder{raw: raw, shapes: map[string]*Shape{}}
	for _, name := range sortedKeys(raw.Shapes) {
		if _, err := b.shape(name); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(raw.Operations) {
		op, err := b.operation(name, raw.Operations[name])
		if err != nil {
			return nil, fmt.Errorf("operation %s: %w", name, err)
		}
		svc.Operations = append(svc.Operations, op)
	}
	for _, name := range sortedKeys(b.shapes) {
		svc.Shapes = append(svc.Shapes, b.shapes[name])
	}
	return svc, nil
}

type builder struct {
	raw    *rawModel
	shapes map[string]*Shape
}

func (b *builder) operation(name string, r *rawOperation) (*Operation, error) {
	if r.Name != "" && r.Name != name {
		return nil, fmt.Errorf("named %q in its body", r.Name)
	}
	op := &Operation{
		Name:       name,
		HTTPMethod: r.HTTP.Method,
		RequestURI: r.HTTP.RequestURI,
		Idempotent: r.Idempotent,
		Deprecated: r.Deprecated,
	}
	var err error
	if op.Input, op.InputRef, err = b.io(r.Input, name+"Input"); err != nil {
		return nil, err
	}
	op.Input.Input = true
	if op.Output, op.OutputRef, err = b.io(r.Output, name+"Output"); err != nil {
		return nil, err
	}
	op.Output.Output = true
	for _, e := range r.Errors {
		s, err := b.shape(e.Shape)
		if err != nil {
			return nil, err
		}
		if !s.Exception {
			return nil, fmt.Errorf("error %s is not an exception shape", s.Name)
		}
		if !slices.Contains(op.Errors, s) {
			op.Errors = append(op.Errors, s)
		}
	}
	slices.SortFunc(op.Errors, func(a, b *Shape) int { return strings.Compare(a.errorCode(), b.errorCode()) })
	return op, nil
}

// io resolves an operation's input or output, making up an empty structure
// called synthetic if the model has none.
func (b *builder) io(r *rawRef, synthetic string) (*Shape, Ref, error) {
	if r == nil {
		if _, ok := b.shapes[synthetic]; ok {
			return nil, Ref{}, fmt.Errorf("no input or output, and shape %s exists already", synthetic)
		}
		s := &Shape{Name: synthetic, Kind: Structure, Synthetic: true}
		b.shapes[synthetic] = s
		return s, Ref{Shape: s}, nil
	}
	ref, err := b.ref(r)
	if err != nil {
		return nil, Ref{}, err
	}
	if ref.Shape.Kind != Structure {
		return nil, Ref{}, fmt.Errorf("input or output %s is a %s, not a structure", ref.Shape.Name, ref.Shape.Kind)
	}
	return ref.Shape, ref, nil
}

func (b *builder) ref(r *rawRef) (Ref, error) {
	s, err := b.shape(r.Shape)
	if err != nil {
		return Ref{}, err
	}
	return Ref{
		Shape:            s,
		LocationName:     r.LocationName,
		Location:         r.Location,
		QueryName:        r.QueryName,
		ResultWrapper:    r.ResultWrapper,
		Flattened:        r.Flattened,
		XMLAttribute:     r.XMLAttribute,
		XMLNamespace:     xmlNamespace(r.XMLNamespace),
		TimestampFormat:  r.TimestampFormat,
		IdempotencyToken: r.IdempotencyToken,
		JSONValue:        r.JSONValue,
		HostLabel:        r.HostLabel,
		Streaming:        r.Streaming,
		Deprecated:       r.Deprecated,
	}, nil
}

func xmlNamespace(r *rawXMLNamespace) *XMLNamespace {
	if r == nil {
		return nil
	}
	return &XMLNamespace{Prefix: r.Prefix, URI: r.URI}
}

// shape resolves the shape called name, once; shapes that refer to each
// other resolve because a shape is recorded before its members are.
func (b *builder) shape(name string) (*Shape, error) {
	if s, ok := b.shapes[name]; ok {
		return s, nil
	}
	r, ok := b.raw.Shapes[name]
	if !ok {
		return nil, fmt.Errorf("shape %s is referred to but not defined", name)
	}
	kind, ok := kindOf(r.Type)
	if !ok {
		return nil, fmt.Errorf("shape %s: unknown type %q", name, r.Type)
	}
	if r.Document {
		kind = Document
	}
	s := &Shape{
		Name:            name,
		Kind:            kind,
		Enum:            slices.Compact(slices.Clone(r.Enum)),
		Min:             r.Min.String(),
		Max:             r.Max.String(),
		Pattern:         r.Pattern,
		Exception:       r.Exception,
		Fault:           r.Fault,
		Union:           r.Union,
		Sensitive:       r.Sensitive,
		Deprecated:      r.Deprecated,
		Streaming:       r.Streaming || r.EventStream,
		LocationName:    r.LocationName,
		Flattened:       r.Flattened,
		XMLNamespace:    xmlNamespace(r.XMLNamespace),
		TimestampFormat: r.TimestampFormat,
		Payload:         r.Payload,
	}
	if r.Error != nil {
		s.ErrorCode = r.Error.Code
		s.HTTPStatus = r.Error.HTTPStatusCode
		s.SenderFault = r.Error.SenderFault
	}
	b.shapes[name] = s
	if len(s.Enum) > 0 && kind != String {
		return nil, fmt.Errorf("shape %s: enum on a %s", name, kind)
	}
	var err error
	switch kind {
	case Structure:
		err = b.members(s, r)
	case List:
		if r.Member == nil {
			return nil, fmt.Errorf("list shape %s has no member", name)
		}
		s.Elem = new(Ref)
		*s.Elem, err = b.ref(r.Member)
	case Map:
		if r.Key == nil || r.Value == nil {
			return nil, fmt.Errorf("map shape %s lacks a key or a value", name)
		}
		s.Key, s.Value = new(Ref), new(Ref)
		if *s.Key, err = b.ref(r.Key); err == nil {
			*s.Value, err = b.ref(r.Value)
		}
		if err == nil && s.Key.Shape.Kind != String {
			err = fmt.Errorf("map shape %s: key %s is a %s, not a string", name, s.Key.Shape.Name, s.Key.Shape.Kind)
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b *builder) members(s *Shape, r *rawShape) error {
	for _, req := range r.Required {
		if _, ok := r.Members[req]; !ok {
			return fmt.Errorf("shape %s requires %s, which is not a member", s.Name, req)
		}
	}
	for _, name := range sortedKeys(r.Members) {
		ref, err := b.ref(r.Members[name])
		if err != nil {
			return fmt.Errorf("shape %s member %s: %w", s.Name, name, err)
		}
		s.Members = append(s.Members, &Member{
			Name:     name,
			Required: slices.Contains(r.Required, name),
			Ref:      ref,
		})
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
