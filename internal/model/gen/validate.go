package main

import (
	"fmt"
	"strconv"
	"strings"
)

// validateFile emits the Validate and validate methods of every structure,
// the validate method of every enum and the compiled patterns.
//
// A structure's validate(path, e) adds to e every member that breaks the
// model's constraints: a required member that is absent (a nil pointer,
// slice or map, an empty enum), an enum value the model does not list, a
// length or value out of bounds, a string that does not match an anchored
// pattern. It recurses into members that have something to check, in member
// order, list elements in index order and map entries in key order, so that
// the result is deterministic.
//
// The validate methods are marked go:noinline: inlining them (and the enums'
// switches) into each other doubles the package's compile time, and
// validation is far from hot.
func (g *emitter) validateFile() *file {
	f := newFile("validate.gen.go")
	f.use(runtimeImport)
	var patterns []string
	for _, s := range g.svc.Shapes {
		if re := g.patterns[s]; re != "" {
			patterns = append(patterns, fmt.Sprintf("%s = regexp.MustCompile(%s)", re, quote(s.Pattern)))
		}
	}
	if len(patterns) > 0 {
		f.use("regexp")
		f.p("// Patterns of the model's string shapes.")
		f.p("var (")
		for _, p := range patterns {
			f.p("%s", p)
		}
		f.p(")")
		f.p("")
	}
	for _, s := range g.svc.Shapes {
		switch {
		case s.Kind == Structure:
			g.validateStruct(f, s)
		case isEnum(s):
			g.validateEnum(f, s)
		}
	}
	return f
}

func (g *emitter) validateStruct(f *file, s *Shape) {
	name := g.typeNames[s]
	f.p("// Validate returns a *model.ValidationError that lists the members of s")
	f.p("// that break the model's constraints, or nil if there are none.")
	f.p("func (s *%s) Validate() error {", name)
	if !g.checked[s] {
		f.p("return nil")
		f.p("}")
		f.p("")
		f.p("func (s *%s) validate(string, *model.ValidationError) {}", name)
		f.p("")
		return
	}
	f.p("var e model.ValidationError")
	f.p(`s.validate("", &e)`)
	f.p("return e.Err()")
	f.p("}")
	f.p("")
	f.p("//go:noinline")
	f.p("func (s *%s) validate(path string, e *model.ValidationError) {", name)
	for _, m := range s.Members {
		g.validateMember(f, m)
	}
	f.p("}")
	f.p("")
}

func (g *emitter) validateMember(f *file, m *Member) {
	sh := m.Shape
	if !m.Required && !g.checked[sh] {
		return
	}
	field := "s." + g.fieldNames[m]
	path := fmt.Sprintf("model.JoinPath(path, %q)", g.proto.wireName(m))
	absent, present, value := field+" == nil", field+" != nil", field
	switch sh.Kind {
	case String, Integer, Long, Boolean, Float, Double, Timestamp:
		if isEnum(sh) {
			absent, present = field+` == ""`, field+` != ""`
		} else {
			value = "*" + field
		}
	}
	switch {
	case !g.checked[sh]:
		f.p("if %s {", absent)
		f.p(`e.Add(%s, "is required")`, path)
		f.p("}")
	case m.Required:
		f.p("if %s {", absent)
		f.p(`e.Add(%s, "is required")`, path)
		f.p("} else {")
		g.check(f, sh, value, path, 0)
		f.p("}")
	case (sh.Kind == List || sh.Kind == Map) && g.minBound(sh) == "":
		// Ranging over nil does nothing, and len(nil) is within any upper bound.
		g.check(f, sh, value, path, 0)
	default:
		f.p("if %s {", present)
		g.check(f, sh, value, path, 0)
		f.p("}")
	}
}

// check emits the statements that validate v, a present value of shape s: an
// expression of the type of list elements (a pointer, or addressable, for
// structures) whose path is the expression path. depth numbers the variables
// of nested loops.
func (g *emitter) check(f *file, s *Shape, v, path string, depth int) {
	switch s.Kind {
	case String:
		if isEnum(s) {
			f.p("%s.validate(%s, e)", v, path)
			return
		}
		f.use("unicode/utf8")
		g.lengthCheck(f, s, "utf8.RuneCountInString("+v+")", path, "must have length %s")
		if re := g.patterns[s]; re != "" {
			f.p("if !%s.MatchString(%s) {", re, v)
			f.p("e.Add(%s, %s)", path, quote("must match the pattern "+s.Pattern))
			f.p("}")
		}
	case Blob:
		g.lengthCheck(f, s, "len("+v+")", path, "must have length %s")
	case Integer, Long, Float, Double:
		if lo := g.minBound(s); lo != "" {
			f.p("if %s < %s {", v, lo)
			f.p(`e.Add(%s, "must be at least %s")`, path, lo)
			f.p("}")
		}
		if hi := g.maxBound(s); hi != "" {
			f.p("if %s > %s {", v, hi)
			f.p(`e.Add(%s, "must be at most %s")`, path, hi)
			f.p("}")
		}
	case Structure:
		f.p("%s.validate(%s, e)", v, path)
	case List:
		g.lengthCheck(f, s, "len("+v+")", path, "must have %s items")
		if g.checked[s.Elem.Shape] {
			i := loopVar("i", depth)
			f.p("for %s := range %s {", i, v)
			g.check(f, s.Elem.Shape, v+"["+i+"]", "model.IndexPath("+path+", "+i+")", depth+1)
			f.p("}")
		}
	case Map:
		g.lengthCheck(f, s, "len("+v+")", path, "must have %s entries")
		key, value := s.Key.Shape, s.Value.Shape
		if g.checked[key] || g.checked[value] {
			f.use("maps")
			f.use("slices")
			k := loopVar("k", depth)
			f.p("for _, %s := range slices.Sorted(maps.Keys(%s)) {", k, v)
			keyString := k
			if isEnum(key) {
				keyString = "string(" + k + ")"
			}
			p := "model.KeyPath(" + path + ", " + keyString + ")"
			if g.checked[key] {
				g.check(f, key, k, p, depth+1)
			}
			if g.checked[value] {
				val := loopVar("v", depth)
				f.p("%s := %s[%s]", val, v, k)
				g.check(f, value, val, p, depth+1)
			}
			f.p("}")
		}
	}
}

// lengthCheck emits the checks of a length, n, against the bounds of s;
// reason is a format for the reason, with a %s for "at least 1", say.
func (g *emitter) lengthCheck(f *file, s *Shape, n, path, reason string) {
	lo, hi := g.minBound(s), g.maxBound(s)
	add := func(bound string) {
		f.p("e.Add(%s, %q)", path, fmt.Sprintf(reason, bound))
	}
	switch {
	case lo != "" && hi != "":
		f.p("if n := %s; n < %s {", n, lo)
		add("at least " + lo)
		f.p("} else if n > %s {", hi)
		add("at most " + hi)
		f.p("}")
	case lo != "":
		f.p("if %s < %s {", n, lo)
		add("at least " + lo)
		f.p("}")
	case hi != "":
		f.p("if %s > %s {", n, hi)
		add("at most " + hi)
		f.p("}")
	}
}

// quote returns s as a Go string literal, raw if s has backslashes.
func quote(s string) string {
	if strings.Contains(s, `\`) && strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

func loopVar(base string, depth int) string {
	if depth == 0 {
		return base
	}
	return base + strconv.Itoa(depth)
}

func (g *emitter) validateEnum(f *file, s *Shape) {
	name := g.typeNames[s]
	f.p("//go:noinline")
	f.p("func (v %s) validate(path string, e *model.ValidationError) {", name)
	f.p("switch v {")
	f.p("case %s:", strings.Join(g.enumConsts[s], ", "))
	f.p("return")
	f.p("}")
	f.p("e.Add(path, %s)", strconv.Quote("must be one of ["+strings.Join(s.Enum, ", ")+"]"))
	f.p("}")
	f.p("")
}
