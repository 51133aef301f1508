package bulkfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	chats, bad, err := Read(strings.NewReader("type,topic,members\ngroup,\"a\"b,x\noneOnOne,,a@b.c;d@e.f(guest)\nparty,,x@y.z\ngroup,t,a@b.c(external)\n"), "csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(chats) != 1 || chats[0].Line != 3 || len(chats[0].Members) != 2 || chats[0].Members[1].Kind != "guest" {
		t.Errorf("chats %+v", chats)
	}
	if len(bad) != 3 || bad[0].Line != 2 || bad[1].Line != 4 || bad[2].Line != 5 {
		t.Errorf("bad %+v", bad)
	}
	if _, _, err := Read(strings.NewReader("name,people\nx,y\n"), "csv"); err == nil {
		t.Error("a CSV without the columns was accepted")
	}
	chats, bad, _ = Read(strings.NewReader("{\"type\":\"group\",\"members\":[{\"user\":\"a@b.c\",\"extra\":1}]}\n\n# note\n{\"type\":\"oneOnOne\",\"members\":[{\"user\":\"a@b.c\"},{\"user\":\"d@e.f\"}]}\n{} {}\n"), "jsonl")
	if len(chats) != 1 || chats[0].Line != 4 || len(bad) != 2 || bad[0].Line != 1 || bad[1].Line != 5 {
		t.Errorf("jsonl: %+v %+v", chats, bad)
	}
	if _, _, err := Read(strings.NewReader(""), "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}

// FuzzRead reads arbitrary input in both formats: no panic, the same answer
// twice, every bad line with a positive line number and a message, every
// chat of a known type.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"../../../../testdata/bulk/chats.csv", "../../../../testdata/bulk/chats.jsonl"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("type,topic,members\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{"csv", "jsonl"} {
			chats, bad, err := Read(strings.NewReader(string(data)), format)
			chats2, bad2, err2 := Read(strings.NewReader(string(data)), format)
			if len(chats) != len(chats2) || len(bad) != len(bad2) || (err == nil) != (err2 == nil) {
				t.Fatalf("%s: two reads differ", format)
			}
			for _, b := range bad {
				if b.Line <= 0 || b.Msg == "" {
					t.Fatalf("%s: bad line without a position or message: %+v", format, b)
				}
			}
			for _, c := range chats {
				if c.Line <= 0 || (c.Type != "oneOnOne" && c.Type != "group") || c.check() != nil {
					t.Fatalf("%s: line %+v", format, c)
				}
			}
		}
	})
}

func TestKey(t *testing.T) {
	base := Chat{Line: 3, Type: "group", Topic: "Launch", Members: []Member{{User: "megan@contoso.com"}, {User: "ada@x.com", Kind: "guest"}, {User: "e1", Kind: "external", TenantID: "T1"}}}
	same := []Chat{
		{Line: 99, Type: "group", Topic: "Launch", Members: []Member{{User: "E1", Kind: "external", TenantID: "t1", Role: "owner"}, {User: "ADA@x.com", Kind: "guest", Role: "guest"}, {User: "Megan@Contoso.com", Kind: "member"}}},
	}
	different := []Chat{
		{Type: "group", Topic: "launch", Members: base.Members},
		{Type: "group", Topic: "Launch ", Members: base.Members},
		{Type: "group", Members: base.Members},
		{Type: "oneOnOne", Topic: "Launch", Members: base.Members},
		{Type: "group", Topic: "Launch", Members: base.Members[:2]},
		{Type: "group", Topic: "Launch", Members: []Member{{User: "megan@contoso.com", Role: "guest"}, base.Members[1], base.Members[2]}},
		{Type: "group", Topic: "Launch", Members: []Member{{User: "megan@contoso.com", Kind: "guest"}, base.Members[1], base.Members[2]}},
		{Type: "group", Topic: "Launch", Members: []Member{base.Members[0], base.Members[1], {User: "e1", Kind: "external", TenantID: "T2"}}},
		// fields that run into each other must not collide
		{Type: "group", Topic: "Launchmegan@contoso.com", Members: base.Members[1:]},
	}
	k := base.Key()
	if got, err := ParseKey(k.String()); err != nil || got != k {
		t.Errorf("ParseKey(%s) = %s, %v", k, got, err)
	}
	for i, c := range same {
		if c.Key() != k {
			t.Errorf("same[%d]: %s, want %s", i, c.Key(), k)
		}
	}
	for i, c := range different {
		if c.Key() == k {
			t.Errorf("different[%d] has the same key", i)
		}
	}
	for _, s := range []string{"", "zz", k.String()[:30], k.String() + "00", "g" + k.String()[1:]} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

// The reader reads a line at a time: a bad line does not stop it, and the
// chats come with their line numbers.
func TestReaderNext(t *testing.T) {
	rd, err := NewReader(strings.NewReader("type,topic,members\ngroup,a,x;y;z\nparty,,x\noneOnOne,,a;b\n"), "csv")
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for {
		c, err := rd.Next()
		var le *LineError
		switch {
		case err == nil:
			lines = append(lines, c.Line)
			continue
		case errors.As(err, &le):
			lines = append(lines, -le.Line)
			continue
		case errors.Is(err, io.EOF):
		default:
			t.Fatal(err)
		}
		break
	}
	if want := []int{2, -3, 4}; !slices.Equal(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
	rd, _ = NewReader(strings.NewReader(`{"type":"group","members":[]}`+"\n"+strings.Repeat("x", MaxLine+1)+"\n"), "jsonl")
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	var le *LineError
	if _, err := rd.Next(); !errors.As(err, &le) || le.Line != 2 || !strings.Contains(le.Msg, "1048576") {
		t.Errorf("an over-long line: %v, want a LineError of line 2 naming the limit", err)
	}
}

// A line longer than MaxLine is refused, naming its line and the limit,
// and the messages that quote a value of the input quote a short prefix.
func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	// JSON Lines: the line is refused, the next one read.
	rd, _ := NewReader(strings.NewReader(`{"type":"`+long+`","members":[]}`+"\n"+`{"type":"group","members":[]}`+"\n"), "jsonl")
	var le *LineError
	if _, err := rd.Next(); !errors.As(err, &le) || le.Line != 1 || !strings.Contains(le.Msg, "longer than 1048576 bytes") {
		t.Errorf("jsonl: %v", err)
	}
	if c, err := rd.Next(); err != nil || c.Line != 2 {
		t.Errorf("jsonl, the next line: %+v %v", c, err)
	}
	// CSV: the reading stops at the line, naming it.
	rd, _ = NewReader(strings.NewReader("type,members\ngroup,a;b\ngroup,"+long+"\n"), "csv")
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "line 3: longer than 1048576 bytes") {
		t.Errorf("csv: %v", err)
	}
	// A long value just under the limit is quoted short.
	value := strings.Repeat("y", MaxLine/2)
	for _, in := range []struct{ format, text string }{
		{"jsonl", `{"type":"` + value + `","members":[]}`},
		{"jsonl", `{"type":"group","members":[{"user":"u","kind":"` + value + `"}]}`},
		{"csv", "type,members\ngroup,a;" + value + "(guest\n"},
	} {
		rd, _ := NewReader(strings.NewReader(in.text+"\n"), in.format)
		if _, err := rd.Next(); !errors.As(err, &le) || len(le.Msg) > 300 {
			t.Errorf("%s: a %d-byte message: %.200v", in.format, len(fmt.Sprint(err)), err)
		}
	}
}

func TestReadMessages(t *testing.T) {
	tests := []struct {
		name, format, input string
		want                []*Message // per readable line
		bad                 []int      // lines refused
	}{
		{"csv column", "csv", "type,members,message\ngroup,a;b,Hello there \noneOnOne,a;b,\n", []*Message{{Text: "Hello there "}, nil}, nil},
		{"csv without the column", "csv", "type,members\ngroup,a;b\n", []*Message{nil}, nil},
		{"jsonl string and object", "jsonl", `{"type":"group","members":[{"user":"a"}],"message":"Hi"}` + "\n" +
			`{"type":"group","members":[{"user":"a"}],"message":{"text":"<p>Hi</p>","html":true}}` + "\n" +
			`{"type":"group","members":[{"user":"a"}]}` + "\n",
			[]*Message{{Text: "Hi"}, {Text: "<p>Hi</p>", HTML: true}, nil}, nil},
		{"jsonl bad messages", "jsonl", `{"type":"group","members":[{"user":"a"}],"message":""}` + "\n" +
			`{"type":"group","members":[{"user":"a"}],"message":{"html":true}}` + "\n" +
			`{"type":"group","members":[{"user":"a"}],"message":{"text":"x","format":"md"}}` + "\n" +
			`{"type":"group","members":[{"user":"a"}],"message":7}` + "\n", nil, []int{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chats, bad, err := Read(strings.NewReader(tt.input), tt.format)
			if err != nil {
				t.Fatal(err)
			}
			var got []*Message
			for _, c := range chats {
				got = append(got, c.Message)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d chats, want %d (bad %+v)", len(got), len(tt.want), bad)
			}
			for i := range got {
				if (got[i] == nil) != (tt.want[i] == nil) || got[i] != nil && *got[i] != *tt.want[i] {
					t.Errorf("line %d: message %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			var lines []int
			for _, b := range bad {
				lines = append(lines, b.Line)
			}
			if !slices.Equal(lines, tt.bad) {
				t.Errorf("bad lines %v, want %v", lines, tt.bad)
			}
			has, err := HasMessages(strings.NewReader(tt.input), tt.format)
			if want := strings.Contains(tt.input, "message"); err != nil || has != want {
				t.Errorf("HasMessages %v, %v; want %v", has, err, want)
			}
		})
	}
	// A topic that says "message" is not a message.
	if has, _ := HasMessages(strings.NewReader(`{"type":"group","topic":"message","members":[{"user":"a"}]}`+"\n"), "jsonl"); has {
		t.Error(`HasMessages: a topic "message" taken for a message`)
	}
}
