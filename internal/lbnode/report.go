// Package lbnode connects load balancer data plane nodes (lb.Server, in
// `flotilla up` or in `flotilla lb` processes) to the control plane: a node
// follows the configuration the ELBv2 records describe and reports what it
// observes of the targets, its Report, which the control plane keeps in the
// store so that DescribeTargetHealth and the service controller see every
// node's view.
package lbnode

import (
	"cmp"
	"slices"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

// Prefix is the store prefix of the nodes' reports, one key per node. It is
// outside /elbv2/ so that a report never triggers a configuration rebuild.
const Prefix = "/lbnodes/"

// Key is the store key of a node's report.
func Key(node string) string { return Prefix + node }

// ReportTTL is how long a report counts after it was made: a node that has
// not reported for this long is gone and its view no longer counts.
const ReportTTL = 30 * time.Second

// Report is what one data plane node last observed.
type Report struct {
	// Node names the node; unique among the nodes serving one control plane.
	Node string `json:"node"`
	// AppliedRevision is the store revision of the configuration the node
	// applied last: every target group change up to it is in effect on the
	// node (a deregistered target gets no new request there).
	AppliedRevision int64 `json:"appliedRevision"`
	// At is when the node made the report, by the control plane's clock.
	At time.Time `json:"at"`
	// Groups is the health of every target of every target group the node
	// knows, draining targets included, by target group ARN
	// (lb.Server.Health).
	Groups map[string][]lb.TargetHealth `json:"groups,omitempty"`
	// ListenerErrors are the listeners of the applied configuration that
	// the node could not open, with why, by listener ARN
	// (lb.Server.ListenerErrors). Reports of earlier releases have none.
	ListenerErrors map[string]string `json:"listenerErrors,omitempty"`
}

// Live reports whether the report still counts at now.
func (r Report) Live(now time.Time) bool { return now.Sub(r.At) < ReportTTL }

// MergeListenerErrors returns, by listener ARN, why the listeners that some
// node of the reports live at now could not open did not: each node's
// reason after its name, the nodes in order of name.
func MergeListenerErrors(reports []Report, now time.Time) map[string]string {
	slices.SortFunc(reports, func(a, b Report) int { return cmp.Compare(a.Node, b.Node) })
	out := map[string]string{}
	for _, r := range reports {
		if !r.Live(now) {
			continue
		}
		for arn, why := range r.ListenerErrors {
			if prior := out[arn]; prior != "" {
				out[arn] = prior + "; node " + r.Node + ": " + why
			} else {
				out[arn] = "node " + r.Node + ": " + why
			}
		}
	}
	return out
}
