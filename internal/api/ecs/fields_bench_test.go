package ecs

import (
	"encoding/json"
	"testing"

	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
)

// BenchmarkRefusedCheck measures what refusing unsupported members costs a
// RegisterTaskDefinition of ten containers.
func BenchmarkRefusedCheck(b *testing.B) {
	in := &wire.RegisterTaskDefinitionRequest{Family: ptr.To("web")}
	for range 10 {
		in.ContainerDefinitions = append(in.ContainerDefinitions, wire.ContainerDefinition{
			Name: ptr.To("c"), Image: ptr.To("busybox"), Memory: ptr.To(int32(64)),
			Environment:  []wire.KeyValuePair{{Name: ptr.To("A"), Value: ptr.To("1")}, {Name: ptr.To("B"), Value: ptr.To("2")}},
			PortMappings: []wire.PortMapping{{ContainerPort: ptr.To(int32(80))}},
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := refused.Check(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeTaskDefinition measures the encoding of a described task
// definition of ten containers, with the always-sent members' MarshalJSON.
func BenchmarkEncodeTaskDefinition(b *testing.B) {
	td := &wire.DescribeTaskDefinitionResponse{TaskDefinition: &wire.TaskDefinition{Family: ptr.To("web")}}
	for range 10 {
		td.TaskDefinition.ContainerDefinitions = append(td.TaskDefinition.ContainerDefinitions, wire.ContainerDefinition{
			Name: ptr.To("c"), Image: ptr.To("busybox"), Memory: ptr.To(int32(64)),
			Environment: []wire.KeyValuePair{{Name: ptr.To("A"), Value: ptr.To("1")}},
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(td); err != nil {
			b.Fatal(err)
		}
	}
}
