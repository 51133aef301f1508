package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/policy"
)

// readmeFile is the README whose commands TestREADMECommands runs:
// README-PROPOSAL.md while a proposed rewrite of README.md waits to be
// folded in (delete it then), README.md otherwise.
func readmeFile(t *testing.T) string {
	root := filepath.Join("..", "..")
	if p := filepath.Join(root, "README-PROPOSAL.md"); fileExists(p) {
		t.Logf("reading %s: fold it into README.md and delete it", p)
		return p
	}
	return filepath.Join(root, "README.md")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// readmeCommand is one "go run ./cmd/demo" line of a README code block.
type readmeCommand struct {
	line   int
	text   string
	assign string   // VAR of VAR=$(go run ./cmd/demo ...)
	args   []string // after "go run ./cmd/demo", expanded
	stdin  string   // < FILE
	jq     string   // | jq -r PATH, in an assignment
	exit   int      // from a "# exit N" comment; 0 without one
}

var (
	exitComment = regexp.MustCompile(`\bexit (\d+)\b`)
	assignment  = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=\$\((.*)\)$`)
)

// readmeCommands extracts the demo's commands from the sh code blocks of a
// README, joining continued lines.
func readmeCommands(t *testing.T, path string) []readmeCommand {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeCommand
	in, cont := false, ""
	contLine := 0
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			in = !in && (trimmed == "```sh" || trimmed == "```bash" || trimmed == "```shell")
			continue
		case !in:
			continue
		}
		if cont == "" {
			contLine = n
		}
		if strings.HasSuffix(line, `\`) {
			cont += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		full := strings.TrimSpace(cont + line)
		cont = ""
		code, comment := splitComment(full)
		if !strings.Contains(code, "go run ./cmd/demo") {
			continue
		}
		c := readmeCommand{line: contLine, text: full}
		if m := exitComment.FindStringSubmatch(comment); m != nil {
			c.exit, _ = strconv.Atoi(m[1])
		}
		if m := assignment.FindStringSubmatch(code); m != nil {
			c.assign, code = m[1], m[2]
			if before, after, ok := strings.Cut(code, "| jq -r "); ok {
				code, c.jq = before, strings.TrimSpace(after)
			}
		}
		if before, after, ok := strings.Cut(code, " < "); ok {
			code, c.stdin = before, strings.TrimSpace(after)
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(code), "go run ./cmd/demo")
		if !ok || strings.ContainsAny(rest, "|;&>`") {
			t.Errorf("%s:%d: a command the test cannot run as written: %s", path, n, full)
			continue
		}
		c.args = append(c.args, rest) // split when run: variables are set by earlier commands
		out = append(out, c)
	}
	return out
}

// splitComment cuts a shell line at a comment: a # that starts a word,
// outside quotes.
func splitComment(s string) (code, comment string) {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimSpace(s[:i]), s[i:]
		}
	}
	return s, ""
}

// shellWords splits like a POSIX shell: quotes, backslashes, and $VAR or
// ${VAR} expanded (outside single quotes) from vars.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord, quote := false, rune(0)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				b.WriteRune(r)
			}
		case r == '\\' && i+1 < len(rs) && quote == 0:
			i++
			b.WriteRune(rs[i])
			inWord = true
		case r == '$' && i+1 < len(rs):
			j := i + 1
			braced := rs[j] == '{'
			if braced {
				j++
			}
			k := j
			for k < len(rs) && (rs[k] == '_' || rs[k] >= 'A' && rs[k] <= 'Z' || rs[k] >= 'a' && rs[k] <= 'z' || rs[k] >= '0' && rs[k] <= '9') {
				k++
			}
			name := string(rs[j:k])
			if braced {
				k++
			}
			v, ok := vars[name]
			if !ok {
				return nil, fmt.Errorf("$%s is not set by an earlier command", name)
			}
			b.WriteString(v)
			i, inWord = k-1, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				b.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c", quote)
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

// jqPath reads a dotted path (.chat.id) from a JSON document.
func jqPath(doc, path string) (string, error) {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return "", err
	}
	for _, k := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("%s: not an object at %q", path, k)
		}
		v = m[k]
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: not a string", path)
	}
	return s, nil
}

// Every "go run ./cmd/demo" command of the README runs as written from a
// fresh checkout (in a copy of testdata, so that bulk's results file stays
// out of the tree) and exits with the code its "# exit N" comment gives
// (0 without one). "emulate" runs in the background until the end, on a
// free port that replaces the README's in later commands; --target graph
// needs a Microsoft tenant and is skipped.
func TestREADMECommands(t *testing.T) {
	path, err := filepath.Abs(readmeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t, path)
	if len(cmds) < 10 {
		t.Fatalf("%s: only %d demo commands found", path, len(cmds))
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	work := t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "testdata"), os.DirFS(filepath.Join(root, "testdata"))); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)

	vars := map[string]string{}
	var replaceAddr, withAddr string
	var stopEmulator func()
	defer func() {
		if stopEmulator != nil {
			stopEmulator()
		}
	}()
	for _, c := range cmds {
		name := fmt.Sprintf("line %d", c.line)
		words, err := shellWords(c.args[0], vars)
		if err != nil {
			t.Errorf("%s: %v: %s", name, err, c.text)
			continue
		}
		if replaceAddr != "" {
			for i, w := range words {
				words[i] = strings.ReplaceAll(w, replaceAddr, withAddr)
			}
		}
		if i := indexOf(words, "--target"); i >= 0 && i+1 < len(words) && words[i+1] == "graph" {
			t.Logf("%s: skipped (--target graph needs a Microsoft tenant): %s", name, c.text)
			continue
		}
		if len(words) > 0 && words[0] == "emulate" {
			if stopEmulator != nil {
				stopEmulator()
			}
			stopEmulator, replaceAddr, withAddr = startReadmeEmulator(t, name, words)
			continue
		}
		stdin := ""
		if c.stdin != "" {
			data, err := os.ReadFile(c.stdin)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			stdin = string(data)
		}
		e, _, _ := newEnv(stdin)
		r := demo(t, e, words...)
		if r.code != c.exit {
			t.Errorf("%s: exit %d, the README says %d: %s\n%s\n%s", name, r.code, c.exit, c.text, r.stdout, r.stderr)
		}
		// The tokens the README mints fit the commands they serve: a
		// permission_excess warning shows only where the line says so.
		if _, comment := splitComment(c.text); excessWarned(r) && !strings.Contains(comment, string(policy.CodePermissionExcess)) {
			t.Errorf("%s: a permission_excess warning the README does not mention: %s\n%s%s", name, c.text, r.stdout, r.stderr)
		}
		if c.assign != "" {
			v := strings.TrimSpace(r.stdout)
			if c.jq != "" {
				if v, err = jqPath(r.stdout, c.jq); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			vars[c.assign] = v
		}
	}
}

// startReadmeEmulator runs an emulate command on a free port and returns
// how to stop it, and the README's URL with the one to use instead.
func startReadmeEmulator(t *testing.T, name string, words []string) (stop func(), from, to string) {
	i := indexOf(words, "--addr")
	if i < 0 || i+1 >= len(words) {
		t.Fatalf("%s: emulate without --addr", name)
	}
	from = "http://" + words[i+1]
	args := append([]string(nil), words...)
	args[i+1] = "127.0.0.1:0"
	e, _, errOut := newEnv("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- e.run(ctx, args) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, after, ok := strings.Cut(errOut.String(), "Graph at "); ok {
			to, _, _ = strings.Cut(after, " ")
			to = strings.TrimSuffix(to, "/v1.0")
			break
		}
	}
	if to == "" {
		cancel()
		t.Fatalf("%s: the emulator did not start: %s", name, errOut.String())
	}
	return func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("%s: emulate exit %d: %s", name, code, errOut.String())
		}
	}, from, to
}

// excessWarned reports whether a run warned of permission_excess: on
// standard error, or among the warnings of its JSON document.
func excessWarned(r result) bool {
	if strings.Contains(r.stderr, string(policy.CodePermissionExcess)) {
		return true
	}
	var doc struct{ Warnings policy.List }
	if json.Unmarshal([]byte(r.stdout), &doc) != nil {
		return false
	}
	return slices.Contains(doc.Warnings.Codes(), policy.CodePermissionExcess)
}

func indexOf(words []string, w string) int {
	for i, x := range words {
		if x == w {
			return i
		}
	}
	return -1
}
