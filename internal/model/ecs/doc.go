// Package ecs holds the wire types of Amazon ECS's JSON API, generated from
// the service model: a struct per structure shape (CreateClusterRequest,
// Cluster, ContainerDefinition...), a string type per enum (LaunchType), a
// type per error (ClusterNotFoundException), Validate methods that check
// requests against the model's constraints, and the Operations table.
//
// Members are pointers, or nil-able slices and maps, or enums whose empty
// string means absent, so that an absent member differs from a zero one.
//
// The model is aws-sdk-go's api-2.json with botocore's newer operations,
// shapes, members and enum values merged in; see internal/model/gen.
package ecs

//go:generate go run ../gen -service ecs -sdk-version v1.55.8 -overlay ../botocore/ecs-2014-11-13.service-2.json.gz -always always.json
