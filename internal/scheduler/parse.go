package scheduler

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flotilla/flotilla"
)

// QueryError says why an expression is not valid cluster query language and
// where. It unwraps to a *flotilla.Error with code EInvalid, which the ECS
// API answers as InvalidParameterException with the same message.
type QueryError struct {
	Expr string // the expression
	Pos  int    // 1-based character position where parsing stopped
	Msg  string // what is wrong, lowercase, without position
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("Invalid cluster query expression at position %d: %s.", e.Pos, e.Msg)
}

// Unwrap returns the domain error the API layer maps.
func (e *QueryError) Unwrap() error {
	return &flotilla.Error{Code: flotilla.EInvalid, Message: e.Error()}
}

// maxDepth bounds nesting of parentheses and not, so that a hostile
// expression cannot exhaust the stack.
const maxDepth = 100

// ParseQuery parses an expression of ECS's cluster query language:
//
//	subject operator [argument]
//
// combined with and (&&), or (||), not (!) and parentheses; not binds
// tighter than and, and tighter than or. Subjects are agentConnected,
// agentVersion, attribute:<name>, ec2InstanceId, registeredAt,
// runningTasksCount and task:group. Operators are == (equals), !=
// (not_equals), > (greater_than), >= (greater_than_equal), < (less_than),
// <= (less_than_equal), exists, !exists (not_exists), in, !in (not_in), =~
// (matches) and !~ (not_matches). Arguments are bare words (t2.small,
// us-east-1a, g2.*) or quoted strings ('i-abcd1234', "a b"); in and !in take
// a list [a, b, c]. The errors are *QueryError.
func ParseQuery(s string) (*Query, error) {
	p := &parser{src: s}
	p.skipSpace()
	if p.eof() {
		return nil, p.errAt(0, "the expression is empty")
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errAt(p.off, "expected \"and\", \"or\" or the end of the expression, found %s", p.found())
	}
	return &Query{Root: e, src: s}, nil
}

type parser struct {
	src   string
	off   int
	depth int
}

func (p *parser) eof() bool { return p.off >= len(p.src) }

func (p *parser) errAt(off int, format string, args ...any) *QueryError {
	return &QueryError{Expr: p.src, Pos: utf8.RuneCountInString(p.src[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

// found describes what is at the current position, for error messages.
func (p *parser) found() string {
	if p.eof() {
		return "the end of the expression"
	}
	end := p.off
	for end < len(p.src) && end-p.off < 20 && !isSpace(p.src[end]) {
		_, n := utf8.DecodeRuneInString(p.src[end:])
		end += n
		if strings.IndexByte("()[],", p.src[end-n]) >= 0 {
			break
		}
	}
	return strconv.Quote(p.src[p.off:end])
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *parser) skipSpace() {
	for !p.eof() && isSpace(p.src[p.off]) {
		p.off++
	}
}

// peekWord returns the run of letters and underscores at the current
// position.
func (p *parser) peekWord() string {
	end := p.off
	for end < len(p.src) {
		c := p.src[end]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			end++
			continue
		}
		break
	}
	return p.src[p.off:end]
}

// atKeyword reports whether the keyword kw (and, or, not) is at the current
// position as a whole word.
func (p *parser) atKeyword(kw string) bool {
	w := p.peekWord()
	if !strings.EqualFold(w, kw) {
		return false
	}
	end := p.off + len(w)
	return end == len(p.src) || isSpace(p.src[end]) || p.src[end] == '(' || p.src[end] == ')'
}

func (p *parser) parseOr() (Expr, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		switch {
		case strings.HasPrefix(p.src[p.off:], "||"):
			p.off += 2
		case p.atKeyword("or"):
			p.off += 2
		default:
			return x, nil
		}
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		x = &Or{X: x, Y: y}
	}
}

func (p *parser) parseAnd() (Expr, error) {
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		switch {
		case strings.HasPrefix(p.src[p.off:], "&&"):
			p.off += 2
		case p.atKeyword("and"):
			p.off += 3
		default:
			return x, nil
		}
		y, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		x = &And{X: x, Y: y}
	}
}

func (p *parser) parseUnary() (Expr, error) {
	p.skipSpace()
	if p.eof() {
		return nil, p.errAt(p.off, "expected an expression, found the end of the expression")
	}
	if p.depth >= maxDepth {
		return nil, p.errAt(p.off, "the expression is nested more than %d levels deep", maxDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	switch c := p.src[p.off]; {
	case c == '(':
		open := p.off
		p.off++
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.eof() || p.src[p.off] != ')' {
			if p.eof() {
				return nil, p.errAt(open, "this parenthesis is never closed")
			}
			return nil, p.errAt(p.off, "expected \")\", \"and\" or \"or\", found %s", p.found())
		}
		p.off++
		return e, nil
	case c == '!' && !strings.HasPrefix(p.src[p.off:], "!=") && !strings.HasPrefix(p.src[p.off:], "!~"):
		p.off++
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case p.atKeyword("not"):
		p.off += 3
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	return p.parseCond()
}

// subjectStop are the bytes that end a subject.
const subjectStop = "()[],'\"=!<>~&|"

func (p *parser) parseCond() (Expr, error) {
	start := p.off
	for !p.eof() && !isSpace(p.src[p.off]) && strings.IndexByte(subjectStop, p.src[p.off]) < 0 {
		p.off++
	}
	word := p.src[start:p.off]
	if word == "" {
		return nil, p.errAt(start, "expected a subject such as attribute:ecs.instance-type, found %s", p.found())
	}
	c := &Cond{Pos: utf8.RuneCountInString(p.src[:start]) + 1}
	switch {
	case len(word) >= len("attribute:") && strings.EqualFold(word[:len("attribute:")], "attribute:"):
		c.Subject, c.Attribute = SubjectAttribute, word[len("attribute:"):]
		if !attrNamePattern.MatchString(c.Attribute) {
			return nil, p.errAt(start, "invalid attribute name %q: attribute names have 1-128 letters, numbers, hyphens, underscores, periods, forward slashes or back slashes", c.Attribute)
		}
	default:
		for s, name := range subjectNames {
			if strings.EqualFold(word, name) {
				c.Subject = s
			}
		}
		if c.Subject == 0 {
			return nil, p.errAt(start, "unknown subject %q; valid subjects are agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount and task:group", word)
		}
	}
	p.skipSpace()
	opAt := p.off
	op, text := p.scanOp()
	if op == 0 {
		if text == "" {
			return nil, p.errAt(opAt, "expected an operator after %q, found %s", word, p.found())
		}
		return nil, p.errAt(opAt, "unknown operator %q", text)
	}
	c.Op = op
	if ops, ok := validOps[c.Subject]; ok && !slices.Contains(ops, op) {
		names := make([]string, len(ops))
		for i, o := range ops {
			names[i] = o.String()
		}
		return nil, p.errAt(opAt, "operator %q is not valid for %s; valid operators are %s", text, c.SubjectName(), strings.Join(names, ", "))
	}
	if op != OpExists && op != OpNotExists {
		if err := p.parseArgs(c, text); err != nil {
			return nil, err
		}
	}
	if err := p.compile(c, start); err != nil {
		return nil, err
	}
	return c, nil
}

// scanOp reads an operator, returning 0 and what was there when it is not
// one.
func (p *parser) scanOp() (Op, string) {
	rest := p.src[p.off:]
	if rest == "" {
		return 0, ""
	}
	if rest[0] == '!' {
		w := (&parser{src: rest, off: 1}).peekWord()
		if lw := strings.ToLower(w); lw == "in" || lw == "exists" {
			p.off += 1 + len(w)
			if lw == "in" {
				return OpNotIn, rest[:1+len(w)]
			}
			return OpNotExists, rest[:1+len(w)]
		}
	}
	if strings.IndexByte("=!<>~", rest[0]) >= 0 {
		n := 0
		for n < len(rest) && strings.IndexByte("=!<>~", rest[n]) >= 0 {
			n++
		}
		sym := rest[:n]
		for op, s := range opSymbols {
			if s == sym {
				p.off += n
				return Op(op), sym
			}
		}
		return 0, sym
	}
	w := p.peekWord()
	if w == "" {
		return 0, ""
	}
	if op, ok := opWords[strings.ToLower(w)]; ok {
		p.off += len(w)
		return op, w
	}
	return 0, w
}

func (p *parser) parseArgs(c *Cond, opText string) error {
	p.skipSpace()
	if p.eof() {
		return p.errAt(p.off, "expected a value after %q, found the end of the expression", opText)
	}
	list := p.src[p.off] == '['
	switch {
	case (c.Op == OpIn || c.Op == OpNotIn) && !list:
		return p.errAt(p.off, "%q expects an argument list such as [a, b], found %s", opText, p.found())
	case c.Op != OpIn && c.Op != OpNotIn && list:
		return p.errAt(p.off, "%q expects a single value, not an argument list", opText)
	case !list:
		v, err := p.parseValue(false, opText)
		if err != nil {
			return err
		}
		c.Args = []string{v}
		return nil
	}
	open := p.off
	p.off++
	for {
		p.skipSpace()
		if c.Args == nil && !p.eof() && p.src[p.off] == ']' {
			return p.errAt(p.off, "the argument list is empty")
		}
		v, err := p.parseValue(true, opText)
		if err != nil {
			return err
		}
		c.Args = append(c.Args, v)
		p.skipSpace()
		if p.eof() {
			return p.errAt(open, "this argument list is never closed with \"]\"")
		}
		switch p.src[p.off] {
		case ',':
			p.off++
		case ']':
			p.off++
			return nil
		default:
			return p.errAt(p.off, "expected \",\" or \"]\" in the argument list, found %s", p.found())
		}
	}
}

// parseValue reads a quoted string or a bare word. A bare word ends at
// white space, a parenthesis, && or ||, and in a list also at "," and "]".
func (p *parser) parseValue(inList bool, opText string) (string, error) {
	p.skipSpace()
	if p.eof() {
		return "", p.errAt(p.off, "expected a value after %q, found the end of the expression", opText)
	}
	if q := p.src[p.off]; q == '\'' || q == '"' {
		open := p.off
		var b strings.Builder
		for i := p.off + 1; i < len(p.src); i++ {
			switch c := p.src[i]; {
			case c == '\\' && i+1 < len(p.src) && (p.src[i+1] == q || p.src[i+1] == '\\'):
				b.WriteByte(p.src[i+1])
				i++
			case c == q:
				p.off = i + 1
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", p.errAt(open, "this quoted value is never closed")
	}
	start := p.off
	for !p.eof() {
		c := p.src[p.off]
		if isSpace(c) || c == '(' || c == ')' || c == '\'' || c == '"' ||
			inList && (c == ',' || c == ']' || c == '[') ||
			strings.HasPrefix(p.src[p.off:], "&&") || strings.HasPrefix(p.src[p.off:], "||") {
			break
		}
		p.off++
	}
	if p.off == start {
		return "", p.errAt(start, "expected a value after %q, found %s", opText, p.found())
	}
	return p.src[start:p.off], nil
}

// compile checks the arguments against the subject and prepares them for
// evaluation.
func (p *parser) compile(c *Cond, start int) error {
	bad := func(format string, args ...any) error { return p.errAt(start, format, args...) }
	switch c.Op {
	case OpMatches, OpNotMatches:
		re, err := regexp.Compile("^(?:" + c.Args[0] + ")$")
		if err != nil {
			return bad("invalid regular expression %q: %s", c.Args[0], strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		c.re = re
		return nil
	case OpExists, OpNotExists:
		return nil
	}
	switch c.Subject {
	case SubjectAttribute:
		c.nums = make([]float64, len(c.Args))
		c.isNum = true
		for i, a := range c.Args {
			f, ok := number(a)
			if !ok {
				c.isNum, c.nums = false, nil
				break
			}
			c.nums[i] = f
		}
	case SubjectAgentConnected:
		for i, a := range c.Args {
			if !strings.EqualFold(a, "true") && !strings.EqualFold(a, "false") {
				return bad("agentConnected is true or false, not %q", a)
			}
			c.Args[i] = strings.ToLower(a)
		}
	case SubjectAgentVersion:
		c.version = strings.Split(c.Args[0], ".")
	case SubjectRegisteredAt:
		from, to, ok := parseDate(c.Args[0])
		if !ok {
			return bad("invalid date %q: use 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or 2018-06-18", c.Args[0])
		}
		c.from, c.to = from, to
	case SubjectRunningTasksCount:
		n, err := strconv.Atoi(c.Args[0])
		if err != nil || n < 0 {
			return bad("runningTasksCount compares with a whole number, not %q", c.Args[0])
		}
		c.count = n
	}
	return nil
}

// parseDate reads the date formats ECS documents for registeredAt and returns
// the span of time it names: a whole day for a date, a second for a time
// (without zone: UTC).
func parseDate(s string) (from, to time.Time, ok bool) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, t.AddDate(0, 0, 1), true
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			if strings.Contains(s, ".") {
				return t, t.Add(time.Nanosecond), true
			}
			return t, t.Add(time.Second), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// attrNamePattern is ECS's rule for attribute names.
var attrNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_./\\-]{1,128}$`)

// quote returns v as written in an expression: bare when it reads back as
// the same single value, in single quotes otherwise.
func quote(v string) string {
	bare := v != "" && !strings.Contains(v, "&&") && !strings.Contains(v, "||")
	for i := 0; bare && i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte("()[],'\"", c) >= 0 {
			bare = false
		}
	}
	if bare {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
