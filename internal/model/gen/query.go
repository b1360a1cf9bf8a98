package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// queryProtocol is AWS's query protocol (awsQuery), spoken by ELBv2 and
// CloudWatch: the input is a form (Action=...&Version=...&Name=x&
// Subnets.member.1=a&Tags.member.1.Key=k...), the output an XML document
// (<ActionResponse xmlns=...><ActionResult>...</ActionResult>...). It emits
// query.gen.go, reflection-free code on the runtime of internal/model
// (model.QueryNode, model.XMLWriter):
//
//   - an UnmarshalQuery method on every operation's input, decoding the
//     form's parameters;
//   - a MarshalQueryResult method on every operation's output, writing the
//     <ActionResult> element;
//   - ErrorMessage and HTTPStatus methods on every error type, so that a
//     handler can return the model's errors as they are;
//   - a decoder or an encoder function per structure that an input or an
//     output contains.
//
// Names on the wire follow the model as aws-sdk-go's query and XML
// marshalers read it: a structure member is its locationName, else its name;
// a list is Name.member.N (1-based) and <Name><member>...</member></Name>,
// with "member" replaced by the list member's locationName if it has one,
// an empty list left out unless the member is always sent (<Name/>),
// and Name.N and repeated <Name> elements if the member or the list is
// flattened; a map is Name.entry.N.key and Name.entry.N.value and
// <Name><entry><key/><value/></entry></Name>, with the key's and value's
// locationNames, and no entry level if flattened. Timestamps are ISO 8601
// with milliseconds in UTC unless the model says otherwise.
type queryProtocol struct{}

// wireName is the member's locationName, else its name.
func (queryProtocol) wireName(m *Member) string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

// fieldTag gives the fields JSON tags with the wire names, for logs and
// tests; the query protocol itself does not use them.
func (p queryProtocol) fieldTag(m *Member) string {
	return `json:"` + p.wireName(m) + `,omitempty"`
}

// fieldType is goType: the XML encoders handle the always-sent members.
func (queryProtocol) fieldType(_ *file, _ *Member, goType string) string { return goType }

// prepare gives every error shape without one a Message member: the query
// protocol's errors always carry <Message>, and the models of its services
// (ELBv2's) leave their error shapes empty, as the SDKs add the member
// themselves.
func (queryProtocol) prepare(svc *Service) {
	message := &Shape{Name: "ErrorMessage", Kind: String, Synthetic: true}
	for _, s := range svc.Shapes {
		if !s.Exception || slices.ContainsFunc(s.Members, isMessage) {
			continue
		}
		s.Members = append(s.Members, &Member{Name: "Message", Ref: Ref{Shape: message}})
		slices.SortFunc(s.Members, func(a, b *Member) int { return strings.Compare(a.Name, b.Name) })
	}
}

func (queryProtocol) constants(svc *Service) []constant {
	return []constant{
		{"XMLNamespace", "XMLNamespace is the default namespace of the XML documents of responses.", svc.XMLNamespace},
	}
}

func (p queryProtocol) files(g *emitter) ([]*file, error) {
	q := &queryEmitter{emitter: g, proto: p, f: newFile("query.gen.go")}
	if err := q.emit(); err != nil {
		return nil, err
	}
	return []*file{q.f}, nil
}

// queryEmitter writes query.gen.go.
type queryEmitter struct {
	*emitter
	proto   queryProtocol
	f       *file
	wrapper map[*Shape]string // output shapes: the result element
}

func (q *queryEmitter) emit() error {
	var inputs, outputs []*Shape
	q.wrapper = map[*Shape]string{}
	for _, op := range q.svc.Operations {
		inputs = append(inputs, op.Input)
		outputs = append(outputs, op.Output)
		// Clients look for <OperationResult> whatever the model says, and
		// the models always say so; an output without a wrapper is an
		// operation without output, whose response has no result element.
		w := op.OutputRef.ResultWrapper
		if w == "" && !op.Output.Synthetic {
			w = op.Name + "Result"
		}
		if prev, ok := q.wrapper[op.Output]; ok && prev != w {
			return fmt.Errorf("output %s is wrapped in both %s and %s", op.Output.Name, prev, w)
		}
		q.wrapper[op.Output] = w
	}
	decoded, encoded := reachable(inputs), reachable(outputs)
	for _, s := range q.svc.Shapes {
		if err := q.check(s, decoded[s], encoded[s]); err != nil {
			return err
		}
	}

	f := q.f
	f.use(runtimeImport)
	for _, s := range q.svc.Shapes {
		if s.Input {
			name := q.typeNames[s]
			f.p("// UnmarshalQuery sets s from the parameters of a query-protocol request.")
			f.p("// A parameter of the wrong type is a *model.ValidationError; unknown")
			f.p("// parameters are ignored. The model's constraints are Validate's to check.")
			f.p("func (s *%s) UnmarshalQuery(params *model.QueryNode) error {", name)
			f.p("var e model.ValidationError")
			f.p("*s, _ = %s(params, &e)", decodeFunc(name))
			f.p("return e.Err()")
			f.p("}")
			f.p("")
		}
		if s.Output {
			name := q.typeNames[s]
			w := q.wrapper[s]
			if w == "" {
				f.p("// MarshalQueryResult writes nothing: the operation has no output.")
				f.p("func (s *%s) MarshalQueryResult(*model.XMLWriter) {}", name)
			} else {
				f.p("// MarshalQueryResult writes s as the <%s> element of its", w)
				f.p("// operation's query-protocol response.")
				f.p("func (s *%s) MarshalQueryResult(w *model.XMLWriter) {", name)
				f.p("%s(w, %q, s)", encodeFunc(name), w)
				f.p("}")
			}
			f.p("")
		}
	}
	for _, s := range q.svc.Shapes {
		if s.Exception {
			q.errorMethods(s)
		}
	}
	for _, s := range q.svc.Shapes {
		if s.Kind != Structure {
			continue
		}
		if decoded[s] {
			q.decodeStruct(s)
		}
		if encoded[s] {
			q.encodeStruct(s)
		}
	}
	return nil
}

// reachable returns the shapes that the roots contain, the roots included.
func reachable(roots []*Shape) map[*Shape]bool {
	seen := map[*Shape]bool{}
	var walk func(*Shape)
	walk = func(s *Shape) {
		if seen[s] {
			return
		}
		seen[s] = true
		switch s.Kind {
		case Structure:
			for _, m := range s.Members {
				walk(m.Shape)
			}
		case List:
			walk(s.Elem.Shape)
		case Map:
			walk(s.Key.Shape)
			walk(s.Value.Shape)
		}
	}
	for _, s := range roots {
		walk(s)
	}
	return seen
}

// check fails on what the emitted code would get wrong rather than emit it.
func (q *queryEmitter) check(s *Shape, decoded, encoded bool) error {
	if !decoded && !encoded {
		return nil
	}
	if s.Kind == Document {
		return fmt.Errorf("shape %s: document shapes have no query-protocol form", s.Name)
	}
	if !encoded || s.Kind != Structure {
		return nil
	}
	for _, m := range s.Members {
		if m.XMLAttribute || m.XMLNamespace != nil {
			return fmt.Errorf("shape %s member %s: XML attributes and namespaces are not supported", s.Name, m.Name)
		}
	}
	return nil
}

func decodeFunc(typeName string) string { return "decodeQuery" + typeName }
func encodeFunc(typeName string) string { return "encodeXML" + typeName }

// listMember returns the name of the elements of the list that ref refers
// to: "" if flattened, else the list member's locationName or "member".
func listMember(ref *Ref) string {
	if ref.Flattened || ref.Shape.Flattened {
		return ""
	}
	if n := ref.Shape.Elem.LocationName; n != "" {
		return n
	}
	return "member"
}

// mapNames returns the names of the map that ref refers to: its entries
// ("" if flattened), keys and values.
func mapNames(ref *Ref) (entry, key, value string) {
	entry, key, value = "entry", "key", "value"
	if ref.Flattened || ref.Shape.Flattened {
		entry = ""
	}
	if n := ref.Shape.Key.LocationName; n != "" {
		key = n
	}
	if n := ref.Shape.Value.LocationName; n != "" {
		value = n
	}
	return entry, key, value
}

func (q *queryEmitter) decodeStruct(s *Shape) {
	f, name := q.f, q.typeNames[s]
	f.p("func %s(n *model.QueryNode, e *model.ValidationError) (s %s, ok bool) {", decodeFunc(name), name)
	if len(s.Members) == 0 {
		f.p("return s, n != nil")
		f.p("}")
		f.p("")
		return
	}
	f.p("if n == nil {")
	f.p("return s, false")
	f.p("}")
	for _, m := range s.Members {
		field := "s." + q.fieldNames[m]
		child := fmt.Sprintf("n.Child(%q)", q.proto.wireName(m))
		f.p("%s = %s", field, q.decodeExpr(&m.Ref, child, true))
	}
	f.p("return s, true")
	f.p("}")
	f.p("")
}

// decodeExpr returns an expression that decodes the node n of the value
// that ref refers to: of the field's type if field is set, else of the type
// of list elements.
func (q *queryEmitter) decodeExpr(ref *Ref, n string, field bool) string {
	s := ref.Shape
	switch s.Kind {
	case List:
		if hi := q.maxBound(s); hi != "" {
			return fmt.Sprintf("model.QueryListMax(%s, %q, %s, e, %s)", n, listMember(ref), hi, q.decoder(s.Elem))
		}
		return fmt.Sprintf("model.QueryList(%s, %q, e, %s)", n, listMember(ref), q.decoder(s.Elem))
	case Map:
		entry, key, value := mapNames(ref)
		return fmt.Sprintf("model.QueryMap(%s, %q, %q, %q, e, %s, %s)", n, entry, key, value, q.decoder(s.Key), q.decoder(s.Value))
	}
	if !field || isEnum(s) || s.Kind == Blob {
		return fmt.Sprintf("model.QueryValue(%s, e, %s)", n, q.decoder(ref))
	}
	return fmt.Sprintf("model.QueryOptional(%s, e, %s)", n, q.decoder(ref))
}

// decoder returns a model.QueryDecoder of the value that ref refers to.
func (q *queryEmitter) decoder(ref *Ref) string {
	s := ref.Shape
	switch s.Kind {
	case String:
		if isEnum(s) {
			return "model.QueryString[" + q.typeNames[s] + "]"
		}
		return "model.QueryString[string]"
	case Integer:
		return "model.QueryInt32"
	case Long:
		return "model.QueryInt64"
	case Boolean:
		return "model.QueryBool"
	case Float, Double:
		return "model.QueryFloat64"
	case Timestamp:
		return "model.QueryTime"
	case Blob:
		return "model.QueryBlob"
	case Structure:
		return decodeFunc(q.typeNames[s])
	case List, Map:
		typ := q.goType(q.f, s, false)
		return fmt.Sprintf("func(n *model.QueryNode, e *model.ValidationError) (%s, bool) {\nv := %s\nreturn v, v != nil\n}", typ, q.decodeExpr(ref, "n", false))
	}
	panic("no query decoder for " + s.Kind.String())
}

func (q *queryEmitter) encodeStruct(s *Shape) {
	f, name := q.f, q.typeNames[s]
	if len(s.Members) == 0 {
		f.p("func %s(w *model.XMLWriter, name string, _ *%s) {", encodeFunc(name), name)
		f.p("w.Start(name)")
		f.p("w.End(name)")
		f.p("}")
		f.p("")
		return
	}
	f.p("func %s(w *model.XMLWriter, name string, s *%s) {", encodeFunc(name), name)
	f.p("w.Start(name)")
	for _, m := range s.Members {
		field := "s." + q.fieldNames[m]
		wire := q.proto.wireName(m)
		switch sh := m.Shape; {
		case sh.Kind == List:
			if m.AlwaysSent {
				field = "model.NonNilSlice(" + field + ")"
			}
			f.p("model.XMLList(w, %q, %q, %s, %s)", wire, listMember(&m.Ref), field, q.encoder(sh.Elem))
		case sh.Kind == Map:
			if m.AlwaysSent {
				field = "model.NonNilMap(" + field + ")"
			}
			entry, key, value := mapNames(&m.Ref)
			f.p("model.XMLMap(w, %q, %q, %q, %q, %s, %s, %s)", wire, entry, key, value, field, q.encoder(sh.Key), q.encoder(sh.Value))
		case isEnum(sh):
			f.p("if %s != \"\" {", field)
			f.p("%s(w, %q, &%s)", q.encoder(&m.Ref), wire, field)
			f.p("}")
		case sh.Kind == Blob:
			f.p("if %s != nil {", field)
			f.p("%s(w, %q, &%s)", q.encoder(&m.Ref), wire, field)
			f.p("}")
		default:
			f.p("model.XMLOptional(w, %q, %s, %s)", wire, field, q.encoder(&m.Ref))
		}
	}
	f.p("w.End(name)")
	f.p("}")
	f.p("")
}

// encoder returns a model.XMLEncoder of the value that ref refers to.
func (q *queryEmitter) encoder(ref *Ref) string {
	s := ref.Shape
	switch s.Kind {
	case String:
		if isEnum(s) {
			return "model.XMLString[" + q.typeNames[s] + "]"
		}
		return "model.XMLString[string]"
	case Integer:
		return "model.XMLInt32"
	case Long:
		return "model.XMLInt64"
	case Boolean:
		return "model.XMLBool"
	case Float, Double:
		return "model.XMLFloat64"
	case Timestamp:
		format := ref.TimestampFormat
		if format == "" {
			format = s.TimestampFormat
		}
		switch strings.ToLower(format) {
		case "", "iso8601":
			return "model.XMLTime"
		case "unixtimestamp":
			return "model.XMLTimeUnix"
		case "rfc822":
			return "model.XMLTimeHTTP"
		}
		panic(fmt.Sprintf("shape %s: unknown timestamp format %q", s.Name, format))
	case Blob:
		return "model.XMLBlob"
	case Structure:
		return encodeFunc(q.typeNames[s])
	case List:
		typ := q.goType(q.f, s, false)
		return fmt.Sprintf("func(w *model.XMLWriter, name string, v *%s) {\nmodel.XMLList(w, name, %q, *v, %s)\n}", typ, listMember(ref), q.encoder(s.Elem))
	case Map:
		typ := q.goType(q.f, s, false)
		entry, key, value := mapNames(ref)
		return fmt.Sprintf("func(w *model.XMLWriter, name string, v *%s) {\nmodel.XMLMap(w, name, %q, %q, %q, *v, %s, %s)\n}", typ, entry, key, value, q.encoder(s.Key), q.encoder(s.Value))
	}
	panic("no XML encoder for " + s.Kind.String())
}

// errorMethods gives an error type what a server needs to answer with it:
// its message and the HTTP status the model gives it (a Receiver fault
// from 500 up, a Sender fault below).
func (q *queryEmitter) errorMethods(s *Shape) {
	f, name := q.f, q.typeNames[s]
	status := s.HTTPStatus
	if status == 0 {
		status = 400
		if s.Fault {
			status = 500
		}
	}
	msg := ""
	for _, m := range s.Members {
		if isMessage(m) {
			msg = q.fieldNames[m]
		}
	}
	f.p("// ErrorMessage returns the error's message, or \"\" if it has none.")
	if msg == "" {
		f.p("func (e *%s) ErrorMessage() string { return \"\" }", name)
	} else {
		f.p("func (e *%s) ErrorMessage() string {", name)
		f.p("if e.%s == nil {", msg)
		f.p("return \"\"")
		f.p("}")
		f.p("return *e.%s", msg)
		f.p("}")
	}
	f.p("")
	f.p("// HTTPStatus returns %s, the HTTP status of the error in the model.", strconv.Itoa(status))
	f.p("func (e *%s) HTTPStatus() int { return %d }", name, status)
	f.p("")
}
