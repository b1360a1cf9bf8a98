package elbv2

import (
	"net/netip"
	"slices"

	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
)

// maxConditionValues is ELBv2's limit on the values of a rule's conditions.
const maxConditionValues = 5

// actionsFromWire converts and checks the actions of a listener or rule:
// one forward, redirect or fixed-response action. The target groups it
// forwards to are checked by the caller.
func actionsFromWire(in []wire.Action) ([]lb.Action, error) {
	if len(in) == 0 {
		return nil, errValidation("An action must be specified")
	}
	if len(in) > 1 {
		return nil, &wire.TooManyActionsException{Message: ptr.To("Only one forward, redirect or fixed-response action is supported per rule")}
	}
	out := make([]lb.Action, 0, len(in))
	for _, a := range in {
		la := lb.Action{Type: string(a.Type), Order: int(ptr.Deref(a.Order))}
		switch a.Type {
		case wire.ActionTypeEnumForward:
			la.TargetGroupARN = ptr.Deref(a.TargetGroupArn)
			if fc := a.ForwardConfig; fc != nil {
				la.ForwardConfig = &lb.ForwardConfig{}
				for _, t := range fc.TargetGroups {
					la.ForwardConfig.TargetGroups = append(la.ForwardConfig.TargetGroups,
						lb.TargetGroupTuple{TargetGroupARN: ptr.Deref(t.TargetGroupArn), Weight: int(ptr.Deref(t.Weight))})
				}
				if sc := fc.TargetGroupStickinessConfig; sc != nil {
					la.ForwardConfig.TargetGroupStickinessConfig = &lb.TargetGroupStickinessConfig{Enabled: ptr.Deref(sc.Enabled), DurationSeconds: int(ptr.Deref(sc.DurationSeconds))}
				}
				if len(la.ForwardConfig.TargetGroups) == 0 {
					return nil, errValidation("A forward action must name at least one target group")
				}
				if la.TargetGroupARN != "" {
					if len(la.ForwardConfig.TargetGroups) != 1 || la.ForwardConfig.TargetGroups[0].TargetGroupARN != la.TargetGroupARN {
						return nil, errValidation("You cannot specify both a target group ARN and a forward config with other target groups")
					}
					la.ForwardConfig = nil
				}
			}
			if la.TargetGroupARN == "" && la.ForwardConfig == nil {
				return nil, errValidation("A forward action must name a target group")
			}
		case wire.ActionTypeEnumRedirect:
			rc := a.RedirectConfig
			if rc == nil {
				return nil, errValidation("A redirect action must have a redirect config")
			}
			la.RedirectConfig = &lb.RedirectConfig{Protocol: ptr.Deref(rc.Protocol), Host: ptr.Deref(rc.Host), Port: ptr.Deref(rc.Port),
				Path: ptr.Deref(rc.Path), Query: ptr.Deref(rc.Query), StatusCode: string(rc.StatusCode)}
		case wire.ActionTypeEnumFixedResponse:
			fc := a.FixedResponseConfig
			if fc == nil {
				return nil, errValidation("A fixed-response action must have a fixed response config")
			}
			la.FixedResponseConfig = &lb.FixedResponseConfig{StatusCode: ptr.Deref(fc.StatusCode), ContentType: ptr.Deref(fc.ContentType), MessageBody: ptr.Deref(fc.MessageBody)}
		default:
			return nil, &wire.InvalidLoadBalancerActionException{Message: ptr.To("Action type '" + string(a.Type) + "' is not supported")}
		}
		out = append(out, la)
	}
	return out, nil
}

func actionsToWire(in []lb.Action) []wire.Action {
	out := make([]wire.Action, 0, len(in))
	for _, a := range in {
		wa := wire.Action{Type: wire.ActionTypeEnum(a.Type)}
		if a.Order != 0 {
			wa.Order = ptr.To(int32(a.Order))
		}
		if a.TargetGroupARN != "" {
			wa.TargetGroupArn = ptr.To(a.TargetGroupARN)
		}
		if fc := a.ForwardConfig; fc != nil {
			wa.ForwardConfig = &wire.ForwardActionConfig{}
			for _, t := range fc.TargetGroups {
				wa.ForwardConfig.TargetGroups = append(wa.ForwardConfig.TargetGroups,
					wire.TargetGroupTuple{TargetGroupArn: ptr.To(t.TargetGroupARN), Weight: ptr.To(int32(t.Weight))})
			}
			if sc := fc.TargetGroupStickinessConfig; sc != nil {
				wa.ForwardConfig.TargetGroupStickinessConfig = &wire.TargetGroupStickinessConfig{Enabled: ptr.To(sc.Enabled)}
				if sc.DurationSeconds != 0 {
					wa.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds = ptr.To(int32(sc.DurationSeconds))
				}
			}
		}
		if rc := a.RedirectConfig; rc != nil {
			wa.RedirectConfig = &wire.RedirectActionConfig{StatusCode: wire.RedirectActionStatusCodeEnum(rc.StatusCode),
				Protocol: nonEmpty(rc.Protocol), Host: nonEmpty(rc.Host), Port: nonEmpty(rc.Port), Path: nonEmpty(rc.Path), Query: nonEmpty(rc.Query)}
		}
		if fc := a.FixedResponseConfig; fc != nil {
			wa.FixedResponseConfig = &wire.FixedResponseActionConfig{StatusCode: ptr.To(fc.StatusCode), ContentType: nonEmpty(fc.ContentType), MessageBody: nonEmpty(fc.MessageBody)}
		}
		out = append(out, wa)
	}
	return out
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// conditionsFromWire converts and checks the conditions of a rule.
func conditionsFromWire(in []wire.RuleCondition) ([]lb.Condition, error) {
	out := make([]lb.Condition, 0, len(in))
	total := 0
	for _, c := range in {
		field := ptr.Deref(c.Field)
		lc := lb.Condition{Field: field}
		// pick returns the values of the condition's config, or its legacy
		// Values (path-pattern and host-header only).
		pick := func(cfg []string, legacy bool) ([]string, error) {
			if len(c.RegexValues) > 0 {
				return nil, errValidation("Regular expression values are not supported")
			}
			if len(cfg) > 0 && len(c.Values) > 0 {
				return nil, errValidation("You cannot specify both Values and a %s config", field)
			}
			if len(c.Values) > 0 {
				if !legacy {
					return nil, errValidation("The %s condition must use its config, not Values", field)
				}
				return c.Values, nil
			}
			return cfg, nil
		}
		var err error
		switch field {
		case lb.FieldPathPattern:
			var cfg []string
			if c.PathPatternConfig != nil {
				if len(c.PathPatternConfig.RegexValues) > 0 {
					return nil, errValidation("Regular expression values are not supported")
				}
				cfg = c.PathPatternConfig.Values
			}
			lc.Values, err = pick(cfg, true)
		case lb.FieldHostHeader:
			var cfg []string
			if c.HostHeaderConfig != nil {
				if len(c.HostHeaderConfig.RegexValues) > 0 {
					return nil, errValidation("Regular expression values are not supported")
				}
				cfg = c.HostHeaderConfig.Values
			}
			lc.Values, err = pick(cfg, true)
		case lb.FieldHTTPHeader:
			if c.HttpHeaderConfig == nil || ptr.Deref(c.HttpHeaderConfig.HttpHeaderName) == "" {
				return nil, errValidation("An http-header condition must name a header")
			}
			lc.HTTPHeaderName = *c.HttpHeaderConfig.HttpHeaderName
			lc.Values, err = pick(c.HttpHeaderConfig.Values, false)
		case lb.FieldHTTPRequestMethod:
			var cfg []string
			if c.HttpRequestMethodConfig != nil {
				cfg = c.HttpRequestMethodConfig.Values
			}
			lc.Values, err = pick(cfg, false)
		case lb.FieldSourceIP:
			var cfg []string
			if c.SourceIpConfig != nil {
				cfg = c.SourceIpConfig.Values
			}
			lc.Values, err = pick(cfg, false)
			for _, v := range lc.Values {
				if _, perr := netip.ParsePrefix(v); perr != nil {
					return nil, errValidation("The source IP '%s' is not a CIDR block", v)
				}
			}
		case lb.FieldQueryString:
			if c.QueryStringConfig != nil {
				for _, kv := range c.QueryStringConfig.Values {
					lc.QueryStringValues = append(lc.QueryStringValues, lb.QueryStringKeyValue{Key: ptr.Deref(kv.Key), Value: ptr.Deref(kv.Value)})
				}
			}
			if len(c.Values) > 0 {
				return nil, errValidation("The query-string condition must use its config, not Values")
			}
		default:
			return nil, errValidation("Condition field '%s' is not supported", field)
		}
		if err != nil {
			return nil, err
		}
		n := len(lc.Values) + len(lc.QueryStringValues)
		if n == 0 {
			return nil, errValidation("A %s condition must have at least one value", field)
		}
		total += n
		out = append(out, lc)
	}
	if total > maxConditionValues {
		return nil, errValidation("A rule can only have '%d' condition values", maxConditionValues)
	}
	return out, nil
}

func conditionsToWire(in []lb.Condition) []wire.RuleCondition {
	out := make([]wire.RuleCondition, 0, len(in))
	for _, c := range in {
		wc := wire.RuleCondition{Field: ptr.To(c.Field)}
		values := slices.Clone(c.Values)
		switch c.Field {
		case lb.FieldPathPattern:
			wc.Values, wc.PathPatternConfig = values, &wire.PathPatternConditionConfig{Values: values}
		case lb.FieldHostHeader:
			wc.Values, wc.HostHeaderConfig = values, &wire.HostHeaderConditionConfig{Values: values}
		case lb.FieldHTTPHeader:
			wc.HttpHeaderConfig = &wire.HttpHeaderConditionConfig{HttpHeaderName: ptr.To(c.HTTPHeaderName), Values: values}
		case lb.FieldHTTPRequestMethod:
			wc.HttpRequestMethodConfig = &wire.HttpRequestMethodConditionConfig{Values: values}
		case lb.FieldSourceIP:
			wc.SourceIpConfig = &wire.SourceIpConditionConfig{Values: values}
		case lb.FieldQueryString:
			wc.QueryStringConfig = &wire.QueryStringConditionConfig{}
			for _, kv := range c.QueryStringValues {
				wc.QueryStringConfig.Values = append(wc.QueryStringConfig.Values, wire.QueryStringKeyValuePair{Key: nonEmpty(kv.Key), Value: nonEmpty(kv.Value)})
			}
		}
		out = append(out, wc)
	}
	return out
}
