package main

import (
	"strings"
	"unicode"
)

// exported turns a model name into an exported Go identifier: characters
// that cannot appear in an identifier are dropped, the first letter is
// upper-cased, and a name that would start with a digit gets an X in front.
// Names that are already exported identifiers come back unchanged.
func exported(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	switch {
	case s == "":
		return "X"
	case s[0] >= '0' && s[0] <= '9', s[0] == '_':
		return "X" + s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// enumSuffix turns an enum value into the part of a constant name that
// follows the type name: the value is split into words at every character
// that cannot appear in an identifier, each word is capitalised, and words in
// capitals are lower-cased after their first letter. So EC2 gives Ec2,
// MANAGED_INSTANCES gives ManagedInstances, json-file gives JsonFile and
// containerInstanceLongArnFormat gives ContainerInstanceLongArnFormat.
func enumSuffix(value string) string {
	words := strings.FieldsFunc(value, func(r rune) bool {
		return r >= unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	})
	var b strings.Builder
	for _, w := range words {
		if strings.ToUpper(w) == w {
			w = strings.ToLower(w)
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	if b.Len() == 0 {
		return "Empty"
	}
	return b.String()
}
