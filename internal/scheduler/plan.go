package scheduler

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla/flotilla"
)

// Placement constraint and strategy types, and the fields strategies take,
// as ECS spells them.
const (
	ConstraintDistinctInstance = "distinctInstance"
	ConstraintMemberOf         = "memberOf"

	StrategyBinpack = "binpack"
	StrategySpread  = "spread"
	StrategyRandom  = "random"

	FieldCPU        = "cpu"
	FieldMemory     = "memory"
	FieldInstanceID = "instanceId"
	FieldHost       = "host" // spread on host is spread on instanceId
	FieldAttribute  = "attribute:"
)

// Limits ECS sets on a task's placement.
const (
	MaxConstraints      = 10   // task definition and request together
	MaxStrategies       = 5    // per RunTask or service
	MaxExpressionLength = 2000 // characters of a memberOf expression
)

// Failure reasons of placement that the root package does not name, worded
// as ECS words them.
const (
	ReasonMemberOf         = "MemberOf placement constraint unsatisfied."
	ReasonDistinctInstance = "DistinctInstance placement constraint unsatisfied."
	ReasonNoInstances      = "No Container Instances were found in your cluster."
)

// Constraint is one of ECS's placementConstraints: distinctInstance, or
// memberOf with a cluster query language expression.
type Constraint = flotilla.PlacementConstraint

// Strategy is one of ECS's placementStrategy items: binpack on cpu or
// memory, spread on instanceId, host or attribute:<name>, or random.
type Strategy = flotilla.PlacementStrategy

// DefaultServiceStrategies is ECS's placement strategy for a service's tasks
// when the service names none: spread across Availability Zones.
var DefaultServiceStrategies = []Strategy{{Type: StrategySpread, Field: "attribute:ecs.availability-zone"}}

// Plan is a compiled set of placement constraints and strategies. A Plan is
// immutable and may be shared by concurrent Place calls on different
// snapshots.
type Plan struct {
	queries    []*Query
	distinct   bool
	strategies []strategy // normalized

	// fast is set when the strategies have the shape the indexes answer:
	// spread on attributes, then optionally spread on instanceId, then up to
	// two binpacks; or spread on attributes, then random.
	fast       bool
	spread     []string   // the leading spread attributes
	spreadInst bool       // then spread on instanceId
	binpack    []resource // then binpack on these
	random     bool       // or random

	dynamic bool   // some memberOf looks at task:group
	viewKey string // what the snapshot indexes this plan's candidates by

	// requires holds the attributes a task definition requires
	// (requiresAttributes); an instance lacking one fails with ATTRIBUTE.
	requires *Query
}

type resource uint8

const (
	resCPU resource = iota + 1
	resMemory
)

type strategyKind uint8

const (
	kindSpreadAttr strategyKind = iota + 1
	kindSpreadInstance
	kindBinpack
	kindRandom
)

type strategy struct {
	kind strategyKind
	attr string
	res  resource
}

// Compile checks constraints and strategies as ECS does and prepares them
// for Place. The constraints are those of the task definition and of the
// request together. Errors are *flotilla.Error with code EInvalid (an
// InvalidParameterException) whose message says what is wrong; an invalid
// expression's error also is, or wraps, a *QueryError.
func Compile(constraints []Constraint, strategies []Strategy) (*Plan, error) {
	if len(constraints) > MaxConstraints {
		return nil, invalid("Too many placement constraints: %d. You can specify up to %d constraints for each task, including those in the task definition.", len(constraints), MaxConstraints)
	}
	if len(strategies) > MaxStrategies {
		return nil, invalid("Too many placement strategies: %d. You can specify a maximum of %d strategy rules for each task.", len(strategies), MaxStrategies)
	}
	p := &Plan{}
	var canon []string
	for i, c := range constraints {
		switch c.Type {
		case ConstraintDistinctInstance:
			if c.Expression != "" {
				return nil, invalid("distinctInstance expression should not be specified.")
			}
			p.distinct = true
		case ConstraintMemberOf:
			if strings.TrimSpace(c.Expression) == "" {
				return nil, invalid("memberOf placement constraint %d requires an expression.", i+1)
			}
			if n := len([]rune(c.Expression)); n > MaxExpressionLength {
				return nil, invalid("The expression of placement constraint %d is %d characters long; the maximum is %d.", i+1, n, MaxExpressionLength)
			}
			q, err := ParseQuery(c.Expression)
			if err != nil {
				var qe *QueryError
				if errors.As(err, &qe) {
					return nil, &QueryError{Expr: qe.Expr, Pos: qe.Pos, Msg: "placement constraint " + strconv.Itoa(i+1) + ": " + qe.Msg}
				}
				return nil, err
			}
			p.queries = append(p.queries, q)
			p.dynamic = p.dynamic || q.usesTaskGroups()
			canon = append(canon, q.String())
		default:
			return nil, invalid("Invalid placement constraint type %q. Valid types are distinctInstance and memberOf.", c.Type)
		}
	}
	seen := map[strategy]bool{}
	for _, s := range strategies {
		st, err := parseStrategy(s)
		if err != nil {
			return nil, err
		}
		// A strategy that repeats an earlier one has no ties left to break,
		// and none has after random.
		if seen[st] || seen[strategy{kind: kindRandom}] {
			continue
		}
		seen[st] = true
		p.strategies = append(p.strategies, st)
	}
	p.classify()
	slices.Sort(canon)
	canon = slices.Compact(canon)
	var key strings.Builder
	key.WriteString(strings.Join(canon, "\x00"))
	key.WriteString("\x01")
	if p.fast {
		key.WriteString(strings.Join(p.spread, "\x00"))
		for _, r := range p.binpack {
			key.WriteByte(byte('0' + r))
		}
	} else {
		key.WriteString("generic")
	}
	p.viewKey = key.String()
	return p, nil
}

// ReasonAttribute is the failure of an instance that lacks an attribute the
// task definition requires.
const ReasonAttribute = "ATTRIBUTE"

// RequireAttributes returns the plan that also requires each named
// attribute of an instance (a task definition's requiresAttributes).
func (p *Plan) RequireAttributes(names []string) (*Plan, error) {
	if len(names) == 0 {
		return p, nil
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "attribute:" + n + " exists"
	}
	q, err := ParseQuery(strings.Join(parts, " and "))
	if err != nil {
		return nil, err
	}
	c := *p
	c.requires = q
	c.viewKey = p.viewKey + "\x02" + q.String()
	return &c, nil
}

// filters are the queries an instance must match to be a candidate.
func (p *Plan) filters() []*Query {
	if p.requires == nil {
		return p.queries
	}
	return append(slices.Clip(p.queries), p.requires)
}

func parseStrategy(s Strategy) (strategy, error) {
	switch s.Type {
	case StrategyRandom:
		return strategy{kind: kindRandom}, nil
	case StrategyBinpack:
		switch strings.ToLower(s.Field) {
		case FieldCPU:
			return strategy{kind: kindBinpack, res: resCPU}, nil
		case FieldMemory:
			return strategy{kind: kindBinpack, res: resMemory}, nil
		}
		return strategy{}, invalid("Invalid field %q for placement strategy binpack. Valid fields are cpu and memory.", s.Field)
	case StrategySpread:
		switch {
		case strings.EqualFold(s.Field, FieldInstanceID), strings.EqualFold(s.Field, FieldHost):
			return strategy{kind: kindSpreadInstance}, nil
		case len(s.Field) > len(FieldAttribute) && strings.EqualFold(s.Field[:len(FieldAttribute)], FieldAttribute):
			name := s.Field[len(FieldAttribute):]
			if !attrNamePattern.MatchString(name) {
				return strategy{}, invalid("Invalid field %q for placement strategy spread: attribute names have 1-128 letters, numbers, hyphens, underscores, periods, forward slashes or back slashes.", s.Field)
			}
			return strategy{kind: kindSpreadAttr, attr: name}, nil
		}
		return strategy{}, invalid("Invalid field %q for placement strategy spread. Valid fields are instanceId, host and attribute:<name>, such as attribute:ecs.availability-zone.", s.Field)
	}
	return strategy{}, invalid("Invalid placement strategy type %q. Valid types are random, spread and binpack.", s.Type)
}

// classify sets fast and the fields the indexes use when the strategies
// have a shape they answer.
func (p *Plan) classify() {
	s := p.strategies
	for len(s) > 0 && s[0].kind == kindSpreadAttr {
		p.spread = append(p.spread, s[0].attr)
		s = s[1:]
	}
	if len(s) == 1 && s[0].kind == kindRandom {
		p.random, p.fast = true, true
		return
	}
	if len(s) > 0 && s[0].kind == kindSpreadInstance {
		p.spreadInst = true
		s = s[1:]
	}
	for len(s) > 0 && s[0].kind == kindBinpack {
		p.binpack = append(p.binpack, s[0].res)
		s = s[1:]
	}
	p.fast = len(s) == 0
	if !p.fast {
		p.spread, p.spreadInst, p.binpack = nil, false, nil
	}
}

// String describes the plan, for logs and tests.
func (p *Plan) String() string {
	var parts []string
	if p.distinct {
		parts = append(parts, "distinctInstance")
	}
	for _, q := range p.queries {
		parts = append(parts, "memberOf("+q.String()+")")
	}
	for _, s := range p.strategies {
		switch s.kind {
		case kindSpreadAttr:
			parts = append(parts, "spread(attribute:"+s.attr+")")
		case kindSpreadInstance:
			parts = append(parts, "spread(instanceId)")
		case kindBinpack:
			parts = append(parts, map[resource]string{resCPU: "binpack(cpu)", resMemory: "binpack(memory)"}[s.res])
		case kindRandom:
			parts = append(parts, "random")
		}
	}
	return strings.Join(parts, " ")
}

func invalid(format string, args ...any) error {
	return flotilla.Errorf(flotilla.EInvalid, format, args...)
}
