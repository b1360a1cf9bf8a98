package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/flotilla/flotilla/internal/model"
)

// JSONContentType is the Content-Type of AWS JSON 1.1 requests and responses.
const JSONContentType = "application/x-amz-json-1.1"

// JSONService is one AWS JSON 1.1 service: every request whose X-Amz-Target
// is "<TargetPrefix>.<operation>" goes to Operations[operation].
type JSONService struct {
	// TargetPrefix is the X-Amz-Target prefix, such as
	// "AmazonEC2ContainerServiceV20141113" for ECS.
	TargetPrefix string
	// SigningName is the service name of the SigV4 credential scope, such as
	// "ecs"; requests signed for another service are rejected. It is also the
	// service label of the metrics.
	SigningName string
	// Operations maps operation names to their handlers, made with JSON.
	Operations map[string]Operation
	// Permit maps operation names to the kinds of principal besides Account
	// that may call them; an operation not in it is the account's alone.
	// The server refuses everyone else with AccessDeniedException, once the
	// signature is verified and before the body is decoded.
	Permit map[string]PrincipalKind
	// ValidationErrorCode answers *model.ValidationError (from an input's
	// Validate or from a handler), such as "InvalidParameterException";
	// "ValidationException" when empty.
	ValidationErrorCode string
	// Refused lists the input members that the service does not honour yet:
	// a request setting one is answered ValidationErrorCode, naming it,
	// before the handler runs. It may be nil.
	Refused Refusals
	// MapError is the service's one table from domain errors to wire errors,
	// consulted for errors that are not already *Error. It returns nil for an
	// error it does not know, which is then answered ServerException and
	// logged. It may be nil.
	MapError func(error) *Error
}

// Operation is one operation of a JSON service. Make it with JSON.
type Operation struct {
	// invoke decodes body, validates, checks refused and calls the handler.
	// It returns the output to encode (never a nil pointer) or an error for
	// toError.
	invoke func(ctx context.Context, body []byte, refused Refusals) (any, error)
	input  reflect.Type
}

// InputType returns the type of the operation's input structure.
func (o Operation) InputType() reflect.Type { return o.input }

// validator is implemented by generated input types.
type validator interface{ Validate() error }

// emptyObject encodes as {}: the answer of a handler returning a nil output.
var emptyObject = struct{}{}

// JSON makes an Operation of a handler. The request body is decoded into a
// new I (an empty body counts as {}; unknown members are ignored, as AWS
// ignores them); a malformed body or a member of the wrong type is answered
// SerializationException. Before that, the body is checked in one pass that
// allocates next to nothing (see checkJSON): a member longer than the
// model's bound is answered with the service's ValidationErrorCode at its
// first item past the bound, and a body that would decode into more than
// DecodeBudget bytes is answered SerializationException. When *I has a
// Validate() error method it is called and a *model.ValidationError it
// returns is answered with the service's ValidationErrorCode, as is a member
// that the service's Refused lists. Then h is called: its output is encoded
// as JSON (nil as {}), its error goes through the service's error mapping
// (see JSONService.MapError). A panic in Validate or h is answered
// ServerException and logged.
func JSON[I, O any](h func(ctx context.Context, in *I) (*O, error)) Operation {
	bounds := jsonTypeOf(reflect.TypeFor[I](), map[reflect.Type]*jsonType{})
	return Operation{input: reflect.TypeFor[I](), invoke: func(ctx context.Context, body []byte, refused Refusals) (any, error) {
		if err := checkJSON(body, bounds); err != nil {
			return nil, err
		}
		in := new(I)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		if v, ok := any(in).(validator); ok {
			if err := v.Validate(); err != nil {
				return nil, err
			}
		}
		if err := refused.Check(in); err != nil {
			return nil, err
		}
		out, err := h(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return emptyObject, nil
		}
		return out, nil
	}}
}

// decodeJSON decodes body into v, answering errors as AWS does.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Errorf(CodeSerialization, "Malformed JSON input: %s (at byte %d).", strings.TrimPrefix(syn.Error(), "json: "), syn.Offset)
	case errors.As(err, &typ):
		return &Error{Code: CodeSerialization, Message: typeErrorMessage(typ)}
	}
	// An UnmarshalJSON of the model (a timestamp, an enum) refused a value;
	// its messages are written for clients.
	return Errorf(CodeSerialization, "Invalid input: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

// typeErrorMessage words a type mismatch with the member's path and AWS's
// type names instead of Go's.
func typeErrorMessage(e *json.UnmarshalTypeError) string {
	got := e.Value
	if got == "" {
		got = "a value"
	}
	if e.Field == "" {
		return fmt.Sprintf("Invalid input: expected %s, got %s.", awsType(e.Type), got)
	}
	return fmt.Sprintf("Invalid value for member '%s': expected %s, got %s.", e.Field, awsType(e.Type), got)
}

var timeType = reflect.TypeFor[model.Time]()

// awsType names a Go type as AWS's models name shapes.
func awsType(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "timestamp"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Int, reflect.Uint:
		return "integer"
	case reflect.Int64, reflect.Uint64:
		return "long"
	case reflect.Float32:
		return "float"
	case reflect.Float64:
		return "double"
	case reflect.Struct:
		return "structure"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "blob"
		}
		return "list"
	case reflect.Map:
		return "map"
	}
	return "a value"
}
