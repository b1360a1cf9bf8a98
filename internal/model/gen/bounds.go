package main

import "strconv"

// boundsFile emits a MaxLengths method (model.Bounded) for every structure
// with a member whose list, map or string shape has an upper bound in
// the model, so that a decoder can stop at the first element past it instead
// of holding the whole value in memory before Validate sees it. Keys are the
// members' wire names, as the decoder reads them.
func (g *emitter) boundsFile() *file {
	f := newFile("bounds.gen.go")
	for _, s := range g.svc.Shapes {
		if s.Kind != Structure {
			continue
		}
		var entries []string
		for _, m := range s.Members {
			switch m.Shape.Kind {
			case List, Map, String:
				if hi := g.maxBound(m.Shape); hi != "" {
					entries = append(entries, strconv.Quote(g.proto.wireName(m))+": "+hi+",")
				}
			}
		}
		if len(entries) == 0 {
			continue
		}
		name := g.typeNames[s]
		f.p("// MaxLengths returns the model's upper bound of each bounded member of")
		f.p("// %s, by wire name: the most items of a list, entries of a map or", name)
		f.p("// characters of a string.")
		f.p("func (*%s) MaxLengths() map[string]int {", name)
		f.p("return map[string]int{")
		for _, e := range entries {
			f.p("%s", e)
		}
		f.p("}")
		f.p("}")
		f.p("")
	}
	return f
}
