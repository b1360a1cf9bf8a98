package scheduler

import (
	"testing"
)

// FuzzParse checks that no input makes the parser panic, and that what it
// accepts prints to a canonical form that parses back to the same form and
// the same answers.
func FuzzParse(f *testing.F) {
	for _, e := range docExamples {
		f.Add(e)
	}
	for _, e := range []string{
		"agentConnected == false", "agentVersion >= 1.20.0", "registeredAt > 2018-06-18T22:28:28+00:00",
		"registeredAt <= 2018-06-18T22:28:28Z", "registeredAt != 2018-06-18T22:28:28", "task:group !exists",
		"attribute:stack not_in [a, 'b c', \"d\"]", "!(attribute:a exists) || attribute:b !~ '[a-z]+'",
		"attribute:a == 'x\\'y'", "attribute:a =~ (", "(((", "[", "attribute:a in [", "'", "not not not",
	} {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		canon := q.String()
		q2, err := ParseQuery(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if q2.String() != canon {
			t.Fatalf("canonical form %q reads back as %q", canon, q2.String())
		}
		ci := host()
		if q.Match(ci, hostGroups) != q2.Match(ci, hostGroups) {
			t.Fatalf("%q and its canonical form %q disagree", s, canon)
		}
	})
}
