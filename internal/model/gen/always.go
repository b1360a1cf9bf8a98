package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// loadAlways reads the table of the members that the service always sends
// in its responses, even empty: a JSON object mapping shape names to lists
// of member names, as in the model:
//
//	{"ListTasksResponse": ["taskArns"], "TaskDefinition": ["volumes"]}
//
// AWS's documented example responses decide what goes in it: ECS answers
// {"taskArns": []} on an empty cluster, and ELBv2 <LoadBalancers/>, where an
// encoder that leaves out empty members would send nothing, which clients
// read as a missing key. Every listed member must exist and be a list or a
// map, so that the table cannot drift from the model unnoticed.
func loadAlways(path string) (map[string][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t map[string][]string
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// markAlways sets AlwaysSent on the members that table lists.
func markAlways(svc *Service, table map[string][]string) error {
	for _, name := range sortedKeys(table) {
		i := slices.IndexFunc(svc.Shapes, func(s *Shape) bool { return s.Name == name })
		if i < 0 {
			return fmt.Errorf("always-sent table: no shape %s", name)
		}
		s := svc.Shapes[i]
		for _, mname := range table[name] {
			j := slices.IndexFunc(s.Members, func(m *Member) bool { return m.Name == mname })
			if j < 0 {
				return fmt.Errorf("always-sent table: shape %s has no member %s", name, mname)
			}
			m := s.Members[j]
			if k := m.Shape.Kind; k != List && k != Map {
				return fmt.Errorf("always-sent table: %s.%s is a %s, not a list or a map", name, mname, k)
			}
			if m.AlwaysSent {
				return fmt.Errorf("always-sent table: %s.%s is listed twice", name, mname)
			}
			m.AlwaysSent = true
		}
	}
	return nil
}

// alwaysSent returns the members of s that are always sent.
func alwaysSent(s *Shape) []*Member {
	var ms []*Member
	for _, m := range s.Members {
		if m.AlwaysSent {
			ms = append(ms, m)
		}
	}
	return ms
}
