package model_test

import (
	"encoding/xml"
	"math"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/model"
)

func TestXMLWriter(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *model.XMLWriter)
		want  string
	}{
		{"namespace", func(w *model.XMLWriter) {
			w.StartNS("R", `urn:a&"b"`)
			w.Element("A", "x")
			w.End("R")
		}, `<R xmlns="urn:a&amp;&quot;b&quot;"><A>x</A></R>`},
		{"no namespace", func(w *model.XMLWriter) { w.StartNS("R", ""); w.End("R") }, `<R/>`},
		{"self-closed only when empty", func(w *model.XMLWriter) {
			w.Start("A")
			w.Start("B")
			w.End("B")
			w.Element("C", "")
			w.End("A")
		}, `<A><B/><C></C></A>`},
		{"escaping", func(w *model.XMLWriter) {
			w.Element("A", "<a> & \"b\" 'c'\r\n\td\x00\x1b\xff\uFFFE😀")
		}, "<A>&lt;a&gt; &amp; \"b\" 'c'&#xD;\n\td\uFFFD\uFFFD\uFFFD\uFFFD😀</A>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w model.XMLWriter
			tt.write(&w)
			if got := string(w.Bytes()); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if err := xml.Unmarshal(w.Bytes(), new(struct{})); err != nil {
				t.Errorf("not well-formed: %v", err)
			}
		})
	}
}

func TestXMLEncoders(t *testing.T) {
	at := model.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", -3600))}
	whole := model.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	type enum string
	tests := []struct {
		name  string
		write func(w *model.XMLWriter)
		want  string
	}{
		{"string enum", func(w *model.XMLWriter) { v := enum("active"); model.XMLString(w, "S", &v) }, `<S>active</S>`},
		{"bool", func(w *model.XMLWriter) { v := false; model.XMLBool(w, "B", &v) }, `<B>false</B>`},
		{"int32", func(w *model.XMLWriter) { v := int32(-5); model.XMLInt32(w, "I", &v) }, `<I>-5</I>`},
		{"int64", func(w *model.XMLWriter) { v := int64(1) << 40; model.XMLInt64(w, "L", &v) }, `<L>1099511627776</L>`},
		{"double", func(w *model.XMLWriter) { v := 0.1; model.XMLFloat64(w, "D", &v) }, `<D>0.1</D>`},
		{"double whole", func(w *model.XMLWriter) { v := 100.0; model.XMLFloat64(w, "D", &v) }, `<D>100</D>`},
		{"infinity", func(w *model.XMLWriter) { v := math.Inf(-1); model.XMLFloat64(w, "D", &v) }, `<D>-Infinity</D>`},
		{"time in UTC with milliseconds", func(w *model.XMLWriter) { model.XMLTime(w, "T", &at) }, `<T>2026-01-02T04:04:05.678Z</T>`},
		{"whole second", func(w *model.XMLWriter) { model.XMLTime(w, "T", &whole) }, `<T>2026-01-02T03:04:05.000Z</T>`},
		{"unix time", func(w *model.XMLWriter) { model.XMLTimeUnix(w, "T", &at) }, `<T>1767326645.678</T>`},
		{"http time", func(w *model.XMLWriter) { model.XMLTimeHTTP(w, "T", &whole) }, `<T>Fri, 02 Jan 2026 03:04:05 GMT</T>`},
		{"blob", func(w *model.XMLWriter) { v := []byte("hi"); model.XMLBlob(w, "B", &v) }, `<B>aGk=</B>`},
		{"optional nil", func(w *model.XMLWriter) { model.XMLOptional(w, "S", (*string)(nil), model.XMLString[string]) }, ``},
		{"list", func(w *model.XMLWriter) {
			model.XMLList(w, "L", "member", []string{"a", "b"}, model.XMLString[string])
		}, `<L><member>a</member><member>b</member></L>`},
		{"empty list", func(w *model.XMLWriter) { model.XMLList(w, "L", "member", []string{}, model.XMLString[string]) }, `<L/>`},
		{"nil list", func(w *model.XMLWriter) { model.XMLList(w, "L", "member", []string(nil), model.XMLString[string]) }, ``},
		{"flattened list", func(w *model.XMLWriter) {
			model.XMLList(w, "L", "", []string{"a", "b"}, model.XMLString[string])
		}, `<L>a</L><L>b</L>`},
		{"map in key order", func(w *model.XMLWriter) {
			model.XMLMap(w, "M", "entry", "key", "value", map[string]string{"b": "2", "a": "1"}, model.XMLString[string], model.XMLString[string])
		}, `<M><entry><key>a</key><value>1</value></entry><entry><key>b</key><value>2</value></entry></M>`},
		{"flattened map", func(w *model.XMLWriter) {
			model.XMLMap(w, "M", "", "k", "v", map[string]string{"a": "1"}, model.XMLString[string], model.XMLString[string])
		}, `<M><k>a</k><v>1</v></M>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w model.XMLWriter
			tt.write(&w)
			if got := string(w.Bytes()); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
