package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// walker reads a body that json.Valid accepted, token by token, for what
// encoding/json hides once it has decoded: a key given twice in one object
// (a map keeps the last) and string values that are not valid UTF-8 or hold
// an unpaired UTF-16 surrogate escape (decoded as U+FFFD). It allocates only
// when it finds something.
type walker struct {
	data []byte
	i    int
	p    *parser
	path []pathSeg
	keys [][]byte // the keys of the objects being read, innermost last
	// badText holds the fields whose text walker reported, so that the
	// parser does not report their decoded (U+FFFD) form again.
	badText []string
}

// pathSeg is one step of a JSON path: a raw key, or an index when key is nil.
type pathSeg struct {
	key   []byte
	index int
}

// field formats the path as the policy names fields: "members[1].roles".
func (w *walker) field(last []byte) string {
	var b strings.Builder
	write := func(s pathSeg) {
		if s.key == nil {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			return
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(decodeKey(s.key))
	}
	for _, s := range w.path {
		write(s)
	}
	if last != nil {
		write(pathSeg{key: last})
	}
	return b.String()
}

// decodeKey returns a key's text; raw is what is between its quotes.
func decodeKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
		return string(raw)
	}
	return s
}

// sameKey reports whether two raw keys decode to the same text.
func sameKey(a, b []byte) bool {
	plain := func(k []byte) bool { return bytes.IndexByte(k, '\\') < 0 && utf8.Valid(k) }
	if plain(a) && plain(b) {
		return bytes.Equal(a, b)
	}
	return decodeKey(a) == decodeKey(b)
}

func (w *walker) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *walker) value() {
	w.space()
	if w.i >= len(w.data) {
		return
	}
	switch w.data[w.i] {
	case '{':
		w.object()
	case '[':
		w.array()
	case '"':
		raw := w.str()
		if problem := rawTextProblem(raw); problem != "" {
			f := w.field(nil)
			w.badText = append(w.badText, f)
			w.p.violate(CodeInvalidText, f, problem+": the service would store another text than the one checked")
		}
	default:
		for w.i < len(w.data) {
			switch w.data[w.i] {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				return
			}
			w.i++
		}
	}
}

// str reads a string at w.i and returns what is between its quotes.
func (w *walker) str() []byte {
	w.i++ // opening quote
	start := w.i
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case '\\':
			w.i += 2
			continue
		case '"':
			w.i++
			return w.data[start : w.i-1]
		}
		w.i++
	}
	return w.data[start:]
}

func (w *walker) object() {
	w.i++ // {
	base := len(w.keys)
	var many map[string]bool // the decoded keys, once the object has many
	defer func() {
		clear(w.keys[base:])
		w.keys = w.keys[:base]
	}()
	for {
		w.space()
		if w.i >= len(w.data) || w.data[w.i] == '}' {
			w.i++
			return
		}
		if w.data[w.i] == ',' {
			w.i++
			continue
		}
		key := w.str()
		dup := false
		if many != nil {
			k := decodeKey(key)
			dup = many[k]
			many[k] = true
		} else {
			for _, k := range w.keys[base:] {
				if sameKey(k, key) {
					dup = true
					break
				}
			}
			w.keys = append(w.keys, key)
			if len(w.keys)-base > 32 {
				many = make(map[string]bool)
				for _, k := range w.keys[base:] {
					many[decodeKey(k)] = true
				}
			}
		}
		if dup {
			w.p.violate(CodeDuplicateKey, w.field(key), fmt.Sprintf("key %q is given twice in one object: the service refuses such a body; give each property once", decodeKey(key)))
		}
		w.space()
		w.i++ // :
		w.path = append(w.path, pathSeg{key: key})
		w.value()
		w.path = w.path[:len(w.path)-1]
	}
}

func (w *walker) array() {
	w.i++ // [
	for n := 0; ; n++ {
		w.space()
		if w.i >= len(w.data) || w.data[w.i] == ']' {
			w.i++
			return
		}
		if w.data[w.i] == ',' {
			w.i++
		}
		w.path = append(w.path, pathSeg{index: n})
		w.value()
		w.path = w.path[:len(w.path)-1]
	}
}

// rawTextProblem describes why the raw content of a JSON string would not
// decode to the text written: bytes that are not valid UTF-8, or a UTF-16
// surrogate escape without its pair. It returns "" when there is none.
func rawTextProblem(raw []byte) string {
	chars := 0
	for i := 0; i < len(raw); {
		chars++
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw) && raw[i+1] == 'u' && i+6 <= len(raw):
			r := hex4(raw[i+2 : i+6])
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
					if lo := hex4(raw[i+8 : i+12]); lo >= 0xDC00 && lo < 0xE000 {
						i += 12
						continue
					}
				}
				return fmt.Sprintf("unpaired UTF-16 surrogate escape \\u%04X at character %d", r, chars)
			case r >= 0xDC00 && r < 0xE000:
				return fmt.Sprintf("unpaired UTF-16 surrogate escape \\u%04X at character %d", r, chars)
			}
			i += 6
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				return fmt.Sprintf("not valid UTF-8 (byte 0x%02X at character %d)", c, chars)
			}
			i += n
		}
	}
	return ""
}

// hex4 decodes four hexadecimal digits (json.Valid checked them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}
