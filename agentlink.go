package flotilla

import "time"

// AgentLink is the liveness of an instance's agent link, recorded in the
// store so that every server sees it: which server holds the link, and
// when that server last heard from the agent. The server holding a link
// renews HeartbeatAt while it hears from the agent; a record not renewed
// for the link's lease belongs to a server that went away (or lost the
// store), and any server may then mark the instance disconnected as of
// HeartbeatAt.
type AgentLink struct {
	Cluster    string `json:"cluster"`
	InstanceID string `json:"instanceId"`
	// LinkID is the link's id, the instance's LinkID while the link is
	// its current one.
	LinkID string `json:"linkId"`
	// Server names the server process holding the link.
	Server      string    `json:"server"`
	ConnectedAt time.Time `json:"connectedAt"`
	// HeartbeatAt is when the holding server last heard from the agent.
	HeartbeatAt time.Time `json:"heartbeatAt"`
}

// AgentLinksPrefix is the store prefix of all agent links.
const AgentLinksPrefix = "/ecs/agentlinks/"

// AgentLinkKey is the store key of an instance's agent link.
func AgentLinkKey(cluster, instanceID string) string {
	return AgentLinksPrefix + cluster + "/" + instanceID
}
