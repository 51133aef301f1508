package bulkfile

import (
	"os"
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
