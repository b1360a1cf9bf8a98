package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/ptr"
)

// docExamples are the expressions of ECS's documentation (cluster query
// language, task placement constraints, ListContainerInstances filters).
var docExamples = []string{
	"attribute:ecs.instance-type == t2.small",
	"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
	"attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
	"task:group == service:production",
	"not(task:group == database)",
	"runningTasksCount == 1",
	"agentVersion < 1.14.5",
	"registeredAt < 2018-02-13",
	"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
	"attribute:ecs.instance-type == g2.2xlarge",
	"attribute:stack == prod",
	"attribute:stack != prod",
	"attribute:ecs.instance-type in [t2.small, t2.medium]",
	"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a",
	"attribute:ecs.instance-type =~ t2.*",
	"task:group == databases",
	"(attribute:ecs.availability-zone == us-east-1a or attribute:ecs.availability-zone == us-east-1b) and attribute:ecs.instance-type =~ t2.*",
}

// host is a container instance for query tests: a t2.small in us-east-1a
// with agent 1.14.2, registered on 2018-02-10, running two tasks.
func host() *flotilla.ContainerInstance {
	return &flotilla.ContainerInstance{
		ID: "abc", EC2InstanceID: "i-abcd1234", Status: flotilla.InstanceActive, AgentConnected: true,
		Attributes: []flotilla.Attribute{
			{Name: "ecs.instance-type", Value: ptr.To("t2.small")},
			{Name: "ecs.availability-zone", Value: ptr.To("us-east-1a")},
			{Name: "stack", Value: ptr.To("prod")},
			{Name: "weight", Value: ptr.To("10")},
			{Name: "ecs.capability.docker-remote-api.1.17"},
		},
		VersionInfo:       flotilla.VersionInfo{AgentVersion: "1.14.2"},
		RegisteredAt:      time.Date(2018, 2, 10, 22, 28, 28, 500, time.UTC),
		RunningTasksCount: 2,
	}
}

var hostGroups = []string{"service:production", "family:web", "service:production"}

func TestQueryMatch(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		// The documentation's examples.
		{"attribute:ecs.instance-type == t2.small", true},
		{"attribute:ecs.instance-type == t2.medium", false},
		{"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", true},
		{"attribute:ecs.availability-zone in [us-east-1c, us-east-1d]", false},
		{"attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", false},
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d", true},
		{"task:group == service:production", true},
		{"task:group == database", false},
		{"not(task:group == database)", true},
		{"not(task:group == service:production)", false},
		{"runningTasksCount == 1", false},
		{"runningTasksCount == 2", true},
		{"agentVersion < 1.14.5", true},
		{"registeredAt < 2018-02-13", true},
		{"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", true},
		{"ec2InstanceId in ['i-1', 'i-wxyx7890']", false},
		{"attribute:stack == prod", true},
		{"attribute:stack != prod", false},
		{"attribute:ecs.instance-type in [t2.small, t2.medium]", true},
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a", true},

		// Every operator, symbol and word, on an attribute.
		{"attribute:stack equals prod", true},
		{"attribute:stack not_equals dev", true},
		{"attribute:stack != dev", true},
		{"attribute:weight > 9", true},
		{"attribute:weight greater_than 10", false},
		{"attribute:weight >= 10", true},
		{"attribute:weight greater_than_equal 11", false},
		{"attribute:weight < 11", true},
		{"attribute:weight less_than 10", false},
		{"attribute:weight <= 10", true},
		{"attribute:weight less_than_equal 9", false},
		{"attribute:weight > 9.5", true},
		{"attribute:weight < 9", false},  // numbers compare as numbers: "10" < "9" as strings
		{"attribute:stack > pro", true},  // strings compare as strings
		{"attribute:weight < Inf", true}, // "10" < "Inf" as strings: Inf is no number here
		{"attribute:weight > NaN", false},
		{"attribute:stack < pro", false},
		{"attribute:stack exists", true},
		{"attribute:nope exists", false},
		{"attribute:nope !exists", true},
		{"attribute:stack not_exists", false},
		{"attribute:stack in [dev, prod]", true},
		{"attribute:stack !in [dev, prod]", false},
		{"attribute:stack not_in [dev, test]", true},
		{"attribute:stack =~ pr.*", true},
		{"attribute:stack matches p", false}, // the whole value must match
		{"attribute:stack =~ 'p.*|d.*'", true},
		{"attribute:stack !~ d.*", true},
		{"attribute:stack not_matches pr.d", false},
		// A missing attribute satisfies nothing but !exists, and not(...).
		{"attribute:nope != prod", false},
		{"attribute:nope !in [prod]", false},
		{"attribute:nope !~ prod", false},
		{"not(attribute:nope == prod)", true},
		// An attribute without a value exists, with the empty value.
		{"attribute:ecs.capability.docker-remote-api.1.17 exists", true},
		{"attribute:ecs.capability.docker-remote-api.1.17 == ''", true},

		// agentConnected.
		{"agentConnected == true", true},
		{"agentConnected equals TRUE", true},
		{"agentConnected != true", false},
		{"agentConnected in [false]", false},
		{"agentConnected !in [false]", true},
		{"agentConnected =~ t.*", true},
		{"agentConnected !~ t.*", false},

		// agentVersion compares versions, not strings.
		{"agentVersion == 1.14.2", true},
		{"agentVersion != 1.14.2", false},
		{"agentVersion > 1.9.0", true},
		{"agentVersion >= 1.14.2", true},
		{"agentVersion <= 1.14", false},
		{"agentVersion < 1.14.10", true},
		{"agentVersion == 1.14.2.0", true},

		// ec2InstanceId.
		{"ec2InstanceId == i-abcd1234", true},
		{"ec2InstanceId != i-abcd1234", false},
		{"ec2InstanceId !in ['i-1']", true},
		{"ec2InstanceId =~ i-abcd.*", true},
		{"ec2InstanceId !~ i-abcd.*", false},

		// registeredAt, in every documented format.
		{"registeredAt == 2018-02-10", true},
		{"registeredAt != 2018-02-10", false},
		{"registeredAt > 2018-02-09", true},
		{"registeredAt > 2018-02-10", false},
		{"registeredAt >= 2018-02-10", true},
		{"registeredAt <= 2018-02-10", true},
		{"registeredAt < 2018-02-10", false},
		{"registeredAt == 2018-02-10T22:28:28Z", true},
		{"registeredAt == 2018-02-10T22:28:28+00:00", true},
		{"registeredAt == 2018-02-10T23:28:28+01:00", true},
		{"registeredAt == 2018-02-10T22:28:28", true},
		{"registeredAt > 2018-02-10T22:28:27", true},
		{"registeredAt < 2018-02-10T22:28:29Z", true},

		// runningTasksCount.
		{"runningTasksCount != 2", false},
		{"runningTasksCount > 1", true},
		{"runningTasksCount >= 3", false},
		{"runningTasksCount < 3", true},
		{"runningTasksCount <= 1", false},

		// task:group: true when some task's group satisfies the operator.
		{"task:group != service:production", true},
		{"task:group in [service:production, service:db]", true},
		{"task:group !in [service:production, family:web]", false},
		{"task:group =~ service:.*", true},
		{"task:group !~ service:.*", true},
		{"task:group exists", true},
		{"task:group !exists", false},

		// Boolean operators and precedence.
		{"attribute:stack == prod && runningTasksCount == 2", true},
		{"attribute:stack == dev || runningTasksCount == 2", true},
		{"attribute:stack == dev OR runningTasksCount == 3", false},
		{"!attribute:stack == dev", true},
		{"not attribute:stack == prod", false},
		{"attribute:stack == dev or attribute:stack == prod and runningTasksCount == 3", false},
		{"(attribute:stack == dev or attribute:stack == prod) and runningTasksCount == 2", true},
		{"not (attribute:stack == dev or attribute:stack == test)", true},
		{"!(attribute:stack == prod)&&attribute:stack==prod", false},
		{"attribute:stack==prod&&runningTasksCount>1", true},
		{"  attribute:stack   ==   prod  ", true},
		{"Attribute:stack == prod", true},
		{"attribute:stack == \"prod\"", true},
		{`attribute:stack in ["prod"]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			q, err := ParseQuery(tt.expr)
			if err != nil {
				t.Fatalf("ParseQuery: %v", err)
			}
			if got := q.Match(host(), hostGroups); got != tt.want {
				t.Errorf("Match = %v, want %v (parsed as %s)", got, tt.want, q)
			}
			// The canonical form means the same.
			q2, err := ParseQuery(q.String())
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", q.String(), err)
			}
			if got := q2.Match(host(), hostGroups); got != tt.want {
				t.Errorf("canonical %q: Match = %v, want %v", q.String(), got, tt.want)
			}
		})
	}
}

func TestQueryMissingSubjects(t *testing.T) {
	ci := &flotilla.ContainerInstance{ID: "x"} // no EC2 id, agent version, registration time or tasks
	for _, expr := range []string{
		"ec2InstanceId != i-1", "ec2InstanceId =~ .*", "agentVersion < 9", "registeredAt < 2100-01-01",
		"task:group != x", "task:group exists", "agentConnected == true",
	} {
		q, err := ParseQuery(expr)
		if err != nil {
			t.Fatal(err)
		}
		if q.Match(ci, nil) {
			t.Errorf("%s matches an instance without it", expr)
		}
	}
	for _, expr := range []string{"task:group !exists", "agentConnected == false", "runningTasksCount == 0"} {
		if q, _ := ParseQuery(expr); !q.Match(ci, nil) {
			t.Errorf("%s does not match", expr)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr string
		pos  int
		msg  string
	}{
		{"", 1, "the expression is empty"},
		{"   ", 1, "the expression is empty"},
		{"attribute:stack", 16, "expected an operator after \"attribute:stack\""},
		{"attribute:stack ==", 19, "expected a value after \"==\""},
		{"attribute:stack = prod", 17, "unknown operator \"=\""},
		{"attribute:stack === prod", 17, "unknown operator \"===\""},
		{"attribute:stack like prod", 17, "unknown operator \"like\""},
		{"stack == prod", 1, "unknown subject \"stack\""},
		{"attribute: == prod", 1, "invalid attribute name \"\""},
		{"attribute:st*ck == prod", 1, "invalid attribute name"},
		{"attribute:stack in prod", 20, "expects an argument list"},
		{"attribute:stack == [a, b]", 20, "expects a single value"},
		{"attribute:stack in []", 21, "the argument list is empty"},
		{"attribute:stack in [a, b", 20, "never closed"},
		{"attribute:stack in [a b]", 23, "expected \",\" or \"]\""},
		{"attribute:stack in [a, ]", 24, "expected a value"},
		{"attribute:stack == 'prod", 20, "this quoted value is never closed"},
		{"attribute:stack == prod and", 28, "expected an expression"},
		{"attribute:stack == prod prod", 25, "expected \"and\", \"or\" or the end"},
		{"(attribute:stack == prod", 1, "this parenthesis is never closed"},
		{"(attribute:stack == prod x", 26, "expected \")\""},
		{"attribute:stack == prod)", 24, "expected \"and\", \"or\""},
		{"()", 2, "expected a subject"},
		{"and attribute:stack == prod", 1, "unknown subject \"and\""},
		{"attribute:stack =~ 't2.('", 1, "invalid regular expression"},
		{"attribute:stack =~ t2.(", 23, "expected \"and\", \"or\""}, // parentheses end bare values
		{"attribute:stack =~ '(?=x)'", 1, "invalid regular expression"},
		{"agentConnected == yes", 1, "agentConnected is true or false"},
		{"agentConnected > true", 16, "operator \">\" is not valid for agentConnected"},
		{"agentVersion in [1.0]", 14, "operator \"in\" is not valid for agentVersion"},
		{"agentVersion exists", 14, "operator \"exists\" is not valid"},
		{"ec2InstanceId > i-1", 15, "not valid for ec2InstanceId"},
		{"registeredAt < yesterday", 1, "invalid date \"yesterday\""},
		{"registeredAt =~ 2018.*", 14, "not valid for registeredAt"},
		{"runningTasksCount > many", 1, "whole number"},
		{"runningTasksCount in [1, 2]", 19, "not valid for runningTasksCount"},
		{"task:group > a", 12, "not valid for task:group"},
		{"né == x", 1, "unknown subject \"né\""},
		{"attribute:a == b and né", 22, "unknown subject \"né\""},
		{strings.Repeat("(", 200) + "attribute:a exists" + strings.Repeat(")", 200), 101, "nested more than 100 levels"},
		{strings.Repeat("not ", 200) + "attribute:a exists", 401, "nested more than 100 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseQuery(tt.expr)
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("ParseQuery = %v, want a *QueryError", err)
			}
			if qe.Pos != tt.pos || !strings.Contains(qe.Msg, tt.msg) {
				t.Errorf("error at %d %q, want at %d containing %q", qe.Pos, qe.Msg, tt.pos, tt.msg)
			}
			if flotilla.ErrorCode(err) != flotilla.EInvalid {
				t.Errorf("code %q, want %q", flotilla.ErrorCode(err), flotilla.EInvalid)
			}
			if !strings.HasPrefix(err.Error(), "Invalid cluster query expression at position ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestQueryString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"attribute:a == b", "attribute:a == b"},
		{"attribute:a equals b and runningTasksCount greater_than 1", "(attribute:a == b and runningTasksCount > 1)"},
		{"not(task:group == database)", "not(task:group == database)"},
		{"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", "ec2InstanceId in [i-abcd1234, i-wxyx7890]"},
		{"attribute:a == 'two words'", "attribute:a == 'two words'"},
		{`attribute:a == "it's"`, `attribute:a == 'it\'s'`},
		{"attribute:a == ''", "attribute:a == ''"},
		{"attribute:a not_exists || attribute:b exists", "(attribute:a !exists or attribute:b exists)"},
		{"a:b", ""},
	}
	for _, tt := range tests {
		q, err := ParseQuery(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q parsed", tt.in)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if q.String() != tt.want {
			t.Errorf("%q: String = %q, want %q", tt.in, q.String(), tt.want)
		}
		if q.Source() != tt.in {
			t.Errorf("Source = %q", q.Source())
		}
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.14.5", "1.14.5", 0}, {"1.9.0", "1.14.5", -1}, {"1.14.10", "1.14.9", 1},
		{"1.14", "1.14.0", 0}, {"2", "1.99.99", 1}, {"1.0.0-rc1", "1.0.0", 1},
	}
	for _, tt := range tests {
		if got := compareVersions(strings.Split(tt.a, "."), strings.Split(tt.b, ".")); got != tt.want {
			t.Errorf("compareVersions(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
