package scheduler

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla/flotilla"
)

// Query is a parsed expression of ECS's cluster query language, such as
// "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d".
// A Query is immutable and safe for concurrent use.
type Query struct {
	// Root is the expression's syntax tree.
	Root Expr
	src  string
}

// String returns the query in a canonical form that ParseQuery reads back
// to an equal query.
func (q *Query) String() string { return q.Root.String() }

// Source returns the text the query was parsed from.
func (q *Query) Source() string { return q.src }

// Match reports whether a container instance satisfies the query. groups
// are the task groups of the instance's tasks whose desired status is not
// STOPPED (one entry per task or per group: only membership matters); they
// answer task:group.
func (q *Query) Match(ci *flotilla.ContainerInstance, groups []string) bool {
	return q.Root.eval(ciTarget{ci: ci, groups: groups})
}

// usesTaskGroups reports whether the query looks at task:group, whose
// answer changes as tasks are placed.
func (q *Query) usesTaskGroups() bool { return q.Root.usesTaskGroups() }

// Expr is a node of a query's syntax tree: *Cond, *And, *Or or *Not.
type Expr interface {
	// String returns the expression in canonical form.
	String() string
	eval(t target) bool
	usesTaskGroups() bool
}

// And is true when both X and Y are.
type And struct{ X, Y Expr }

// Or is true when X or Y is.
type Or struct{ X, Y Expr }

// Not is true when X is false.
type Not struct{ X Expr }

func (e *And) String() string       { return "(" + e.X.String() + " and " + e.Y.String() + ")" }
func (e *Or) String() string        { return "(" + e.X.String() + " or " + e.Y.String() + ")" }
func (e *Not) String() string       { return "not(" + e.X.String() + ")" }
func (e *And) eval(t target) bool   { return e.X.eval(t) && e.Y.eval(t) }
func (e *Or) eval(t target) bool    { return e.X.eval(t) || e.Y.eval(t) }
func (e *Not) eval(t target) bool   { return !e.X.eval(t) }
func (e *And) usesTaskGroups() bool { return e.X.usesTaskGroups() || e.Y.usesTaskGroups() }
func (e *Or) usesTaskGroups() bool  { return e.X.usesTaskGroups() || e.Y.usesTaskGroups() }
func (e *Not) usesTaskGroups() bool { return e.X.usesTaskGroups() }

// Subject is what a condition looks at.
type Subject int

// The subjects ECS documents.
const (
	SubjectAttribute         Subject = iota + 1 // attribute:<name>
	SubjectAgentConnected                       // agentConnected
	SubjectAgentVersion                         // agentVersion
	SubjectEC2InstanceID                        // ec2InstanceId
	SubjectRegisteredAt                         // registeredAt
	SubjectRunningTasksCount                    // runningTasksCount
	SubjectTaskGroup                            // task:group
)

var subjectNames = map[Subject]string{
	SubjectAgentConnected:    "agentConnected",
	SubjectAgentVersion:      "agentVersion",
	SubjectEC2InstanceID:     "ec2InstanceId",
	SubjectRegisteredAt:      "registeredAt",
	SubjectRunningTasksCount: "runningTasksCount",
	SubjectTaskGroup:         "task:group",
}

// Op is a comparison operator.
type Op int

// The operators, each with its symbol and its word form.
const (
	OpEq         Op = iota + 1 // ==, equals
	OpNe                       // !=, not_equals
	OpGt                       // >, greater_than
	OpGe                       // >=, greater_than_equal
	OpLt                       // <, less_than
	OpLe                       // <=, less_than_equal
	OpExists                   // exists
	OpNotExists                // !exists, not_exists
	OpIn                       // in
	OpNotIn                    // !in, not_in
	OpMatches                  // =~, matches
	OpNotMatches               // !~, not_matches
)

var opSymbols = [...]string{OpEq: "==", OpNe: "!=", OpGt: ">", OpGe: ">=", OpLt: "<", OpLe: "<=",
	OpExists: "exists", OpNotExists: "!exists", OpIn: "in", OpNotIn: "!in", OpMatches: "=~", OpNotMatches: "!~"}

var opWords = map[string]Op{
	"equals": OpEq, "not_equals": OpNe, "greater_than": OpGt, "greater_than_equal": OpGe,
	"less_than": OpLt, "less_than_equal": OpLe, "exists": OpExists, "not_exists": OpNotExists,
	"in": OpIn, "not_in": OpNotIn, "matches": OpMatches, "not_matches": OpNotMatches,
}

// String returns the operator's symbol.
func (o Op) String() string {
	if o > 0 && int(o) < len(opSymbols) {
		return opSymbols[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// validOps are the operators ECS documents for each subject; attributes
// take every operator.
var validOps = map[Subject][]Op{
	SubjectAgentConnected:    {OpEq, OpNe, OpIn, OpNotIn, OpMatches, OpNotMatches},
	SubjectAgentVersion:      {OpEq, OpNe, OpGt, OpGe, OpLt, OpLe},
	SubjectEC2InstanceID:     {OpEq, OpNe, OpIn, OpNotIn, OpMatches, OpNotMatches},
	SubjectRegisteredAt:      {OpEq, OpNe, OpGt, OpGe, OpLt, OpLe},
	SubjectRunningTasksCount: {OpEq, OpNe, OpGt, OpGe, OpLt, OpLe},
	SubjectTaskGroup:         {OpEq, OpNe, OpIn, OpNotIn, OpMatches, OpNotMatches, OpExists, OpNotExists},
}

// Cond is one comparison: subject operator [argument].
type Cond struct {
	Subject   Subject
	Attribute string   // the attribute name, for SubjectAttribute
	Op        Op       // the operator
	Args      []string // the argument, or the argument list of in and !in
	Pos       int      // 1-based position of the subject in the source

	re      *regexp.Regexp // matches, not_matches: the whole value must match
	nums    []float64      // the arguments as numbers, when all are numbers
	isNum   bool           // nums is set
	version []string       // agentVersion: the argument's dot-separated parts
	from    time.Time      // registeredAt: the instant or day named, [from, to)
	to      time.Time
	count   int // runningTasksCount
}

// SubjectName returns the subject as written in the language.
func (c *Cond) SubjectName() string {
	if c.Subject == SubjectAttribute {
		return "attribute:" + c.Attribute
	}
	return subjectNames[c.Subject]
}

// String returns the condition in canonical form.
func (c *Cond) String() string {
	var b strings.Builder
	b.WriteString(c.SubjectName())
	b.WriteByte(' ')
	b.WriteString(c.Op.String())
	switch c.Op {
	case OpExists, OpNotExists:
	case OpIn, OpNotIn:
		b.WriteString(" [")
		for i, a := range c.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(a))
		}
		b.WriteByte(']')
	default:
		b.WriteByte(' ')
		b.WriteString(quote(c.Args[0]))
	}
	return b.String()
}

func (c *Cond) usesTaskGroups() bool { return c.Subject == SubjectTaskGroup }

// target is what a condition is evaluated against: a stored container
// instance or a snapshot's copy of one.
type target interface {
	attribute(name string) (string, bool)
	agentConnected() bool
	agentVersion() string
	ec2InstanceID() string
	registeredAt() time.Time
	runningTasksCount() int
	// anyGroup reports whether f is true of some task group of the instance.
	anyGroup(f func(group string) bool) bool
}

func (c *Cond) eval(t target) bool {
	switch c.Subject {
	case SubjectAttribute:
		v, ok := t.attribute(c.Attribute)
		if c.Op == OpExists || c.Op == OpNotExists {
			return ok == (c.Op == OpExists)
		}
		return ok && c.compareString(v, true)
	case SubjectAgentConnected:
		return c.compareString(strconv.FormatBool(t.agentConnected()), false)
	case SubjectAgentVersion:
		v := t.agentVersion()
		return v != "" && c.ordered(compareVersions(strings.Split(v, "."), c.version))
	case SubjectEC2InstanceID:
		v := t.ec2InstanceID()
		return v != "" && c.compareString(v, false)
	case SubjectRegisteredAt:
		at := t.registeredAt()
		if at.IsZero() {
			return false
		}
		switch c.Op {
		case OpEq:
			return !at.Before(c.from) && at.Before(c.to)
		case OpNe:
			return at.Before(c.from) || !at.Before(c.to)
		case OpLt:
			return at.Before(c.from)
		case OpLe:
			return at.Before(c.to)
		case OpGt:
			return !at.Before(c.to)
		case OpGe:
			return !at.Before(c.from)
		}
	case SubjectRunningTasksCount:
		n := t.runningTasksCount()
		return c.ordered(cmpInt(n, c.count))
	case SubjectTaskGroup:
		switch c.Op {
		case OpExists:
			return t.anyGroup(func(string) bool { return true })
		case OpNotExists:
			return !t.anyGroup(func(string) bool { return true })
		}
		return t.anyGroup(func(g string) bool { return c.compareString(g, false) })
	}
	return false
}

// compareString applies the operator to a present string value. Ordering
// operators compare numbers as numbers when both sides are numbers, and
// strings otherwise (only attributes take them).
func (c *Cond) compareString(v string, numeric bool) bool {
	switch c.Op {
	case OpEq:
		return v == c.Args[0]
	case OpNe:
		return v != c.Args[0]
	case OpIn, OpNotIn:
		in := false
		for _, a := range c.Args {
			if v == a {
				in = true
				break
			}
		}
		return in == (c.Op == OpIn)
	case OpMatches:
		return c.re.MatchString(v)
	case OpNotMatches:
		return !c.re.MatchString(v)
	case OpGt, OpGe, OpLt, OpLe:
		if numeric && c.isNum {
			if f, ok := number(v); ok {
				return c.ordered(cmpFloat(f, c.nums[0]))
			}
		}
		return c.ordered(strings.Compare(v, c.Args[0]))
	}
	return false
}

// ordered applies ==, !=, >, >=, <, <= to the result of a three-way
// comparison of the value with the argument.
func (c *Cond) ordered(cmp int) bool {
	switch c.Op {
	case OpEq:
		return cmp == 0
	case OpNe:
		return cmp != 0
	case OpGt:
		return cmp > 0
	case OpGe:
		return cmp >= 0
	case OpLt:
		return cmp < 0
	case OpLe:
		return cmp <= 0
	}
	return false
}

// number reads a finite decimal number.
func number(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareVersions compares dot-separated versions part by part: numerically
// when both parts are numbers, as strings otherwise; a missing part counts as
// 0, so 1.14 == 1.14.0 and 1.9.0 < 1.14.5.
func compareVersions(a, b []string) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := "0", "0"
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		var c int
		if ex == nil && ey == nil {
			switch {
			case nx < ny:
				c = -1
			case nx > ny:
				c = 1
			}
		} else {
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// ciTarget evaluates queries against a stored container instance.
type ciTarget struct {
	ci     *flotilla.ContainerInstance
	groups []string
}

func (t ciTarget) attribute(name string) (string, bool) {
	for _, a := range t.ci.Attributes {
		if a.Name == name {
			if a.Value == nil {
				return "", true
			}
			return *a.Value, true
		}
	}
	return "", false
}
func (t ciTarget) agentConnected() bool    { return t.ci.AgentConnected }
func (t ciTarget) agentVersion() string    { return t.ci.VersionInfo.AgentVersion }
func (t ciTarget) ec2InstanceID() string   { return t.ci.EC2InstanceID }
func (t ciTarget) registeredAt() time.Time { return t.ci.RegisteredAt }
func (t ciTarget) runningTasksCount() int  { return int(t.ci.RunningTasksCount) }
func (t ciTarget) anyGroup(f func(string) bool) bool {
	for _, g := range t.groups {
		if f(g) {
			return true
		}
	}
	return false
}
