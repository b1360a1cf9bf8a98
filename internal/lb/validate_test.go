package lb

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	valid := func() Config {
		tg := TargetGroup{ARN: tgARN("tg"), Protocol: ProtocolHTTP, Port: 80,
			Targets: []Target{{ID: "i-1", Address: "127.0.0.1"}, {ID: "i-2", Address: "127.0.0.1", Port: 8080}}}
		tg.TargetType = TargetTypeInstance
		return oneListener(forward(tg.ARN), []Rule{{Priority: 1,
			Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/a"}}}, Actions: forward(tg.ARN)}}, tg)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // in the error; "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"ELBv2 defaults", func(c *Config) { c.TargetGroups[0].HealthCheck = HealthCheck{} }, ""},
		{"interval below ELBv2's minimum", func(c *Config) {
			c.TargetGroups[0].HealthCheck = HealthCheck{IntervalSeconds: 1, TimeoutSeconds: 0.5}
		}, "interval 1s out of range"},
		{"timeout not below interval", func(c *Config) {
			c.TargetGroups[0].HealthCheck = HealthCheck{IntervalSeconds: 5, TimeoutSeconds: 5}
		}, "greater than the timeout"},
		{"threshold", func(c *Config) { c.TargetGroups[0].HealthCheck.HealthyThresholdCount = 11 }, "thresholds"},
		{"matcher", func(c *Config) { c.TargetGroups[0].HealthCheck.Matcher.HTTPCode = "600" }, "matcher"},
		{"health check port", func(c *Config) { c.TargetGroups[0].HealthCheck.Port = "http" }, "health check port"},
		{"health check path", func(c *Config) { c.TargetGroups[0].HealthCheck.Path = "health" }, "health check path"},
		{"algorithm", func(c *Config) { c.TargetGroups[0].Attributes = map[string]string{AttrAlgorithm: "random"} }, "load_balancing.algorithm.type"},
		{"slow start with least outstanding", func(c *Config) {
			c.TargetGroups[0].Attributes = map[string]string{AttrAlgorithm: AlgorithmLeastOutstanding, AttrSlowStart: "30"}
		}, "slow start"},
		{"deregistration delay", func(c *Config) { c.TargetGroups[0].Attributes = map[string]string{AttrDeregistrationDelay: "-1"} }, "deregistration_delay"},
		{"unknown attribute ignored", func(c *Config) { c.TargetGroups[0].Attributes = map[string]string{"stickiness.enabled": "false"} }, ""},
		{"target group protocol", func(c *Config) { c.TargetGroups[0].Protocol = "TCP" }, "protocol \"TCP\""},
		{"ip target dialed at its ID", func(c *Config) {
			c.TargetGroups[0].TargetType = TargetTypeIP
			c.TargetGroups[0].Targets = []Target{{ID: "10.0.0.1"}}
		}, ""},
		{"target without address", func(c *Config) { c.TargetGroups[0].Targets[0].Address = "" }, "no address"},
		{"target twice", func(c *Config) {
			c.TargetGroups[0].Targets = append(c.TargetGroups[0].Targets, Target{ID: "i-1", Address: "127.0.0.2"})
		}, "registered twice"},
		{"listener protocol", func(c *Config) { c.Listeners[0].Protocol = "TCP" }, "protocol"},
		{"HTTPS without certificate", func(c *Config) { c.Listeners[0].Protocol = ProtocolHTTPS }, "certificate"},
		{"listener of unknown load balancer", func(c *Config) { c.Listeners[0].LoadBalancerARN = "x" }, "load balancer \"x\" not found"},
		{"two listeners on one port", func(c *Config) {
			c.Listeners[0].Port = 8080
			c.Listeners = append(c.Listeners, Listener{ARN: "l2", LoadBalancerARN: lbARN, Port: 8080, Protocol: ProtocolHTTP, DefaultActions: fixed("200", "")})
		}, "already used"},
		{"no default action", func(c *Config) { c.Listeners[0].DefaultActions = nil }, "no action"},
		{"rule priority", func(c *Config) { c.Rules[0].Priority = 50001 }, "priority 50001"},
		{"rule priority twice", func(c *Config) {
			c.Rules = append(c.Rules, Rule{ARN: "r2", ListenerARN: listenerARN, Priority: 1, Actions: fixed("200", "")})
		}, "priority 1 already used"},
		{"rule of unknown listener", func(c *Config) { c.Rules[0].ListenerARN = "x" }, "listener \"x\" not found"},
		{"condition field", func(c *Config) { c.Rules[0].Conditions[0].Field = "cookie" }, "not supported"},
		{"condition without values", func(c *Config) { c.Rules[0].Conditions[0].Values = nil }, "no values"},
		{"bad CIDR", func(c *Config) {
			c.Rules[0].Conditions[0] = Condition{Field: FieldSourceIP, Values: []string{"10.0.0.1"}}
		}, "CIDR"},
		{"header condition without name", func(c *Config) {
			c.Rules[0].Conditions[0] = Condition{Field: FieldHTTPHeader, Values: []string{"x"}}
		}, "header name"},
		{"forward to unknown group", func(c *Config) { c.Rules[0].Actions = forward("x") }, "target group \"x\" not found"},
		{"weight", func(c *Config) {
			c.Rules[0].Actions = []Action{{Type: ActionForward, ForwardConfig: &ForwardConfig{
				TargetGroups: []TargetGroupTuple{{TargetGroupARN: tgARN("tg"), Weight: 1000}}}}}
		}, "weight 1000"},
		{"two actions", func(c *Config) { c.Rules[0].Actions = append(fixed("200", ""), fixed("404", "")...) }, "2 actions"},
		{"redirect loop", func(c *Config) {
			c.Rules[0].Actions = []Action{{Type: ActionRedirect, RedirectConfig: &RedirectConfig{StatusCode: RedirectHTTP301}}}
		}, "loop"},
		{"redirect status", func(c *Config) {
			c.Rules[0].Actions = []Action{{Type: ActionRedirect, RedirectConfig: &RedirectConfig{Protocol: "HTTPS", StatusCode: "307"}}}
		}, "HTTP_301 or HTTP_302"},
		{"fixed response status", func(c *Config) { c.Rules[0].Actions = fixed("302", "") }, "2XX, 4XX or 5XX"},
		{"fixed response content type", func(c *Config) {
			c.Rules[0].Actions = []Action{{Type: ActionFixedResponse, FixedResponseConfig: &FixedResponseConfig{StatusCode: "200", ContentType: "image/png"}}}
		}, "content type"},
		{"fixed response body", func(c *Config) { c.Rules[0].Actions = fixed("200", strings.Repeat("x", 1025)) }, "1025 bytes"},
		{"authenticate action", func(c *Config) { c.Rules[0].Actions = []Action{{Type: "authenticate-oidc"}} }, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error with %q", err, tt.want)
			case err != nil && !errors.Is(err, ErrInvalidConfig):
				t.Errorf("Validate = %v, not an ErrInvalidConfig", err)
			}
		})
	}
}

// TestConfigJSON checks that a Config reads the JSON the control plane
// writes, whole seconds included.
func TestConfigJSON(t *testing.T) {
	const in = `{
	  "loadBalancers": [{"arn": "lb", "name": "web"}],
	  "listeners": [{"arn": "l", "loadBalancerArn": "lb", "port": 80, "protocol": "HTTP",
	    "defaultActions": [{"type": "forward", "forwardConfig": {"targetGroups": [{"targetGroupArn": "tg", "weight": 1}]}}]}],
	  "rules": [{"arn": "r", "listenerArn": "l", "priority": 1,
	    "conditions": [{"field": "http-header", "httpHeaderName": "X-A", "values": ["b*"]},
	                   {"field": "query-string", "queryStringValues": [{"key": "k", "value": "v"}]}],
	    "actions": [{"type": "redirect", "redirectConfig": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]}],
	  "targetGroups": [{"arn": "tg", "protocol": "HTTP", "port": 8080, "targetType": "ip",
	    "healthCheck": {"path": "/health", "intervalSeconds": 10, "timeoutSeconds": 5, "matcher": {"httpCode": "200-299"}},
	    "attributes": {"deregistration_delay.timeout_seconds": "30"},
	    "targets": [{"id": "10.0.0.1", "port": 8080}]}]
	}`
	var cfg Config
	if err := json.Unmarshal([]byte(in), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if hc := cfg.TargetGroups[0].HealthCheck; hc.IntervalSeconds != 10 || hc.Matcher.HTTPCode != "200-299" {
		t.Errorf("health check %+v", hc)
	}
	if c := cfg.Rules[0].Conditions[1]; c.QueryStringValues[0] != (QueryStringKeyValue{Key: "k", Value: "v"}) {
		t.Errorf("condition %+v", c)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"intervalSeconds":10,`) {
		t.Errorf("whole seconds not written as integers: %s", out)
	}
}
