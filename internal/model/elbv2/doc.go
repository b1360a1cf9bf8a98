// Package elbv2 holds the wire types of Elastic Load Balancing v2 (API
// 2015-12-01, the query protocol), generated from the service model: a
// struct per structure shape (CreateLoadBalancerInput, LoadBalancer, Rule,
// TargetHealthDescription...), a string type per enum (LoadBalancerTypeEnum),
// a type per error (LoadBalancerNotFoundException), Validate methods that
// check requests against the model's constraints, and the Operations table.
//
// For the query protocol every input has an UnmarshalQuery method that reads
// it from a request's form parameters (Subnets.member.1=..., Tags.member.1.Key=...),
// every output a MarshalQueryResult method that writes its
// <OperationResult> XML element, and every error type ErrorMessage and
// HTTPStatus methods; internal/api's Query adapter uses them. The JSON tags
// of the fields carry the wire names, for logs and tests only.
//
// Members are pointers, or nil-able slices and maps, or enums whose empty
// string means absent, so that an absent member differs from a zero one.
//
// The model is aws-sdk-go's api-2.json with botocore's newer operations,
// shapes, members and enum values merged in; see internal/model/gen.
package elbv2

//go:generate go run ../gen -service elasticloadbalancingv2 -sdk-version v1.55.8 -overlay ../botocore/elbv2-2015-12-01.service-2.json.gz -always always.json
