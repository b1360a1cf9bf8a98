package elb_test

import (
	"testing"

	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
)

func TestCheckLoadBalancerAttribute(t *testing.T) {
	for _, tt := range []struct {
		k, v         string
		known, valid bool
	}{
		{elb.AttrIdleTimeout, "1", true, true},
		{elb.AttrIdleTimeout, "4000", true, true},
		{elb.AttrIdleTimeout, "0", true, false},
		{elb.AttrIdleTimeout, "4001", true, false},
		{elb.AttrDeletionProtection, "true", true, true},
		{elb.AttrDeletionProtection, "yes", true, false},
		{elb.AttrAccessLogsBucket, "anything", true, true},
		{elb.AttrCrossZone, "true", true, true},
		{elb.AttrCrossZone, "false", true, false},
		{"routing.http.xff_header_processing.mode", "preserve", true, true},
		{"routing.http.xff_header_processing.mode", "drop", true, false},
		{"client_keep_alive.seconds", "59", true, false},
		{"no.such.attribute", "true", false, false},
	} {
		if known, valid := elb.CheckLoadBalancerAttribute(tt.k, tt.v); known != tt.known || valid != tt.valid {
			t.Errorf("CheckLoadBalancerAttribute(%q, %q) = %v, %v; want %v, %v", tt.k, tt.v, known, valid, tt.known, tt.valid)
		}
	}
}

func TestAllAttributes(t *testing.T) {
	r := &elb.LoadBalancerRecord{Attributes: map[string]string{elb.AttrIdleTimeout: "7"}}
	all := r.AllAttributes()
	if all[elb.AttrIdleTimeout] != "7" || all[elb.AttrDeletionProtection] != "false" || all["routing.http2.enabled"] != "true" || len(all) != 19 {
		t.Errorf("AllAttributes = %v", all)
	}
	if len(r.Attributes) != 1 {
		t.Errorf("AllAttributes changed the record's: %v", r.Attributes)
	}
}

func TestCheckTargetGroupAttribute(t *testing.T) {
	for _, tt := range []struct {
		k, v         string
		known, valid bool
	}{
		{lb.AttrDeregistrationDelay, "0", true, true},
		{lb.AttrDeregistrationDelay, "3600", true, true},
		{lb.AttrDeregistrationDelay, "3601", true, false},
		{lb.AttrSlowStart, "0", true, true},
		{lb.AttrSlowStart, "29", true, false},
		{lb.AttrSlowStart, "30", true, true},
		{lb.AttrSlowStart, "901", true, false},
		{lb.AttrAlgorithm, lb.AlgorithmLeastOutstanding, true, true},
		{lb.AttrAlgorithm, "random", true, false},
		{elb.AttrStickinessEnabled, "true", true, true},
		{elb.AttrStickinessEnabled, "1", true, false},
		{elb.AttrStickinessType, "app_cookie", true, false},
		{elb.AttrStickinessDuration, "604800", true, true},
		{elb.AttrStickinessDuration, "0", true, false},
		{"no.such.attribute", "0", false, false},
	} {
		if known, valid := elb.CheckTargetGroupAttribute(tt.k, tt.v); known != tt.known || valid != tt.valid {
			t.Errorf("CheckTargetGroupAttribute(%q, %q) = %v, %v; want %v, %v", tt.k, tt.v, known, valid, tt.known, tt.valid)
		}
	}
	// Every default is valid.
	for k, v := range elb.DefaultTargetGroupAttributes() {
		if known, valid := elb.CheckTargetGroupAttribute(k, v); !known || !valid {
			t.Errorf("default %s=%s is refused", k, v)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"web": true, "a": true, "Web-1": true, "abcdefghijklmnopqrstuvwxyz012345": true,
		"": false, "-web": false, "web-": false, "we_b": false, "web.1": false, "abcdefghijklmnopqrstuvwxyz0123456": false,
	} {
		if got := elb.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}
