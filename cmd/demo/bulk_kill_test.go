package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/internal/testrun"
)

// asProgram, set in a process's environment, makes the test binary run as
// the demo program: the tests that need the program as a process of its
// own (killed with SIGKILL, or an emulator apart) run this binary again,
// with no build of their own.
const asProgram = "GRAPHCHAT_TEST_AS_DEMO"

// TestMain runs the program when asked to (see asProgram); otherwise the
// tests, 8 parallel ones at a time (see testrun.Parallel).
func TestMain(m *testing.M) {
	if os.Getenv(asProgram) == "1" {
		main()
	}
	testrun.Parallel(8)
	os.Exit(m.Run())
}

// program returns a command that runs the demo program with args.
func program(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), asProgram+"=1")
	return cmd
}

// startEmulator runs "demo emulate" as its own process on a free loopback
// port and returns its URL.
func startEmulator(t *testing.T, args ...string) string {
	t.Helper()
	cmd := program(t, append([]string{"emulate", "--addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "emulating Microsoft Graph at "); ok {
			url, _, _ := strings.Cut(rest, " ")
			go func() { // keep reading, so that the emulator never blocks on its stderr
				for sc.Scan() {
				}
			}()
			return url
		}
	}
	t.Fatalf("the emulator did not start: %v", sc.Err())
	return ""
}

// killUser is a user of the kill test's directory.
type killUser struct{ id, upn string }

func killUsers(n int) []killUser {
	users := []killUser{{graphchattest.MeganID, "megan@contoso.com"}}
	for i := range n {
		users = append(users, killUser{fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fmt.Sprintf("user%03d@contoso.com", i)})
	}
	return users
}

// killLine is a chat the kill test asks for, and what identifies it in the
// emulator: its type, topic and members' ids.
type killLine struct {
	json    string
	want    string
	message bool // the line carries a first message
}

// shuffledPairs returns the pairs of users other than megan, shuffled.
func shuffledPairs(rng *rand.Rand, users []killUser) [][2]int {
	var pairs [][2]int
	for a := 1; a < len(users); a++ {
		for b := a + 1; b < len(users); b++ {
			pairs = append(pairs, [2]int{a, b})
		}
	}
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	return pairs
}

// killLines returns n distinct chats with megan in each: groups with a
// topic of their own, groups with a topic they share ("Weekly"), groups
// without a topic, and one-on-one chats, with members by user principal
// name or by id.
func killLines(rng *rand.Rand, users []killUser, pairs *[][2]int, n int, salt string) []killLine {
	var out []killLine
	nextPair := func() (killUser, killUser) { // a pair of users other than megan no other line has
		p := (*pairs)[0]
		*pairs = (*pairs)[1:]
		return users[p[0]], users[p[1]]
	}
	ref := func(u killUser, byID bool) string {
		if byID {
			return u.id
		}
		return u.upn
	}
	oneOnOne := 1
	for i := 0; len(out) < n; i++ {
		byID := rng.IntN(2) == 0
		var topic string
		switch i % 4 {
		case 0:
			topic = fmt.Sprintf("%s topic %04d", salt, i)
		case 1:
			topic = salt + " Weekly"
		case 3:
			if oneOnOne < len(users) && salt == "a" {
				u := users[oneOnOne]
				oneOnOne++
				out = append(out, killLine{
					json:    fmt.Sprintf(`{"type":"oneOnOne","members":[{"user":%q},{"user":%q}],"message":"hi %d"}`, ref(users[0], byID), ref(u, byID), i),
					want:    "oneOnOne||" + strings.Join(sorted(users[0].id, u.id), ","),
					message: true,
				})
				continue
			}
		}
		a, b := nextPair()
		members := fmt.Sprintf(`[{"user":%q},{"user":%q},{"user":%q}]`, ref(users[0], byID), ref(a, byID), ref(b, !byID && rng.IntN(2) == 0))
		line := fmt.Sprintf(`{"type":"group","members":%s`, members)
		if topic != "" {
			line = fmt.Sprintf(`{"type":"group","topic":%q,"members":%s`, topic, members)
		}
		if i%2 == 0 { // half the groups carry a first message
			line += fmt.Sprintf(`,"message":"hello %s %d"`, salt, i)
		}
		out = append(out, killLine{json: line + "}", want: "group|" + topic + "|" + strings.Join(sorted(users[0].id, a.id, b.id), ","), message: i%2 == 0})
	}
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// emulatorChats lists every chat of the emulator through its API (megan is
// in all of them), as type|topic|sorted member ids; messages counts the
// messages of each (from each chat's messages, listed through the API);
// ids0, when not nil, receives every chat's id.
func emulatorChats(t *testing.T, base string, messages map[string]int, ids0 map[string]bool) map[string]int {
	t.Helper()
	tok := graphchattest.AppToken("Chat.ReadBasic.All", "Chat.Read.All")
	out := map[string]int{}
	next := base + "/users/" + graphchattest.MeganID + "/chats?$expand=members&$top=50"
	for next != "" {
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		var page struct {
			Value []struct {
				ID       string
				ChatType string
				Topic    *string
				Members  []struct{ UserID string }
			}
			Next string `json:"@odata.nextLink"`
		}
		for attempt := 0; ; attempt++ { // the emulator injects faults into listings too
			resp, err := http.DefaultClient.Do(req)
			if err == nil && resp.StatusCode == http.StatusOK {
				err = json.NewDecoder(resp.Body).Decode(&page)
				resp.Body.Close()
				if err == nil {
					break
				}
			} else if err == nil {
				resp.Body.Close()
				err = errors.New(resp.Status)
			}
			if attempt == 20 {
				t.Fatalf("listing the emulator's chats: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, c := range page.Value {
			var ids []string // the members'
			chatIDs := ids0
			for _, m := range c.Members {
				ids = append(ids, m.UserID)
			}
			topic := ""
			if c.Topic != nil {
				topic = *c.Topic
			}
			k := c.ChatType + "|" + topic + "|" + strings.Join(sorted(ids...), ",")
			out[k]++
			if chatIDs != nil {
				chatIDs[c.ID] = true
			}
			if messages != nil {
				messages[k] += countMessages(t, base, tok, c.ID)
			}
		}
		next = page.Next
	}
	return out
}

// countMessages counts a chat's messages through the API.
func countMessages(t *testing.T, base, tok, chatID string) int {
	t.Helper()
	n := 0
	next := base + "/chats/" + url.PathEscape(chatID) + "/messages?$top=50"
	for next != "" {
		var page struct {
			Value []json.RawMessage
			Next  string `json:"@odata.nextLink"`
		}
		for attempt := 0; ; attempt++ { // faults are injected here too
			req, _ := http.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err == nil && resp.StatusCode == http.StatusOK {
				err = json.NewDecoder(resp.Body).Decode(&page)
				resp.Body.Close()
				if err == nil {
					break
				}
			} else if err == nil {
				resp.Body.Close()
				err = errors.New(resp.Status)
			}
			if attempt == 20 {
				t.Fatalf("listing the messages of %s: %v", chatID, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		n += len(page.Value)
		next = page.Next
	}
	return n
}

// killPoint is where runBulk kills the program: once its results file has
// grown by records lines, after pause (so that some kills land while it
// writes or sends). Progress, not time, places the kills: a run is killed
// mid-way however fast the machine. A close of stop kills it too. The zero
// value never kills.
type killPoint struct {
	records int
	pause   time.Duration
	stop    <-chan struct{}
}

// runBulk runs the demo's bulk command as a process, with the extra flags,
// killed with SIGKILL at kill if still running. It returns the exit code
// (-1 when killed) and standard error.
func runBulk(t *testing.T, url, input string, kill killPoint, extra ...string) (int, string) {
	t.Helper()
	// The emulator processes a request before it fails it: nothing is
	// still in flight after an answer, so lookups need not wait long.
	cmd := program(t, append(append([]string{"bulk", "--target", url, "--rate", "150", "--lookup-delay", "100ms"}, extra...), input)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	results := input + ".results.jsonl"
	before := countLines(results)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	if kill.records > 0 || kill.stop != nil {
		go func() {
			for kill.records == 0 || countLines(results) < before+kill.records {
				select {
				case <-done:
					return
				case <-kill.stop:
					cmd.Process.Signal(syscall.SIGKILL)
					return
				case <-time.After(time.Millisecond):
				}
			}
			time.Sleep(kill.pause)
			cmd.Process.Signal(syscall.SIGKILL)
		}()
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), stderr.String()
	case errors.As(err, &ee):
		return -1, stderr.String()
	}
	t.Fatal(err)
	return 0, ""
}

// The test users break things with: the real program against an emulator
// process that injects faults, killed with SIGKILL at random points and run
// again until done; two runs at once; the input edited between runs. Then
// the chats the emulator holds are counted: each line's chat exactly once,
// no other chat. GRAPHCHAT_KILL_LINES sets the size (60 by default),
// GRAPHCHAT_KILL_SEED the seed.
func TestBulkKillAndResume(t *testing.T) { killAndResume(t, false, 60) }

// The same with --reuse, when a third of the group lines' chats exist
// before the first run (created without their messages by runs of their
// own input): those lines find them, the others are created, and each
// line's chat is still there exactly once, with its one message.
func TestBulkKillAndResumeReuse(t *testing.T) { killAndResume(t, true, 30) }

func killAndResume(t *testing.T, reuse bool, n int) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the program as processes")
	}
	if v := os.Getenv("GRAPHCHAT_KILL_LINES"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("GRAPHCHAT_KILL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (GRAPHCHAT_KILL_SEED), %d lines", seed, n)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	users := killUsers(60)
	var directory []graphchattest.User
	for _, u := range users {
		directory = append(directory, graphchattest.User{ID: u.id, UserPrincipalName: u.upn, Mail: u.upn, UserType: "Member"})
	}
	data, _ := json.Marshal(directory)
	dirFile := filepath.Join(dir, "directory.json")
	os.WriteFile(dirFile, data, 0o644)
	url := startEmulator(t, "--directory", dirFile, "--seed", strconv.FormatUint(seed, 10),
		"--faults", "503=0.03,504=0.03,504-after=0.04,drop-after=0.04")

	pairs := shuffledPairs(rng, users)
	lines := killLines(rng, users, &pairs, n, "a")
	input := filepath.Join(dir, "chats.jsonl")
	write := func(ls []killLine) {
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(l.json + "\n")
		}
		if err := os.WriteFile(input, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(lines)
	// The runs know the users from the emulator's directory, as a user with
	// an export of theirs would: names need no lookups (each run is a new
	// process with an empty cache, and injected faults make lookups slow).
	extra := []string{"--directory", dirFile}
	seeded := 0
	if reuse {
		extra = append(extra, "--reuse")
		var b strings.Builder
		for i, l := range lines {
			if strings.HasPrefix(l.json, `{"type":"group"`) && i%3 == 0 {
				j, _, _ := strings.Cut(l.json, `,"message":`)
				b.WriteString(strings.TrimSuffix(j, "}") + "}\n")
				seeded++
			}
		}
		seedInput := filepath.Join(dir, "seed.jsonl")
		if err := os.WriteFile(seedInput, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ { // faults are injected: a run may end with some lines unknown
			code, stderr := runBulk(t, url, seedInput, killPoint{})
			if code == exitOK {
				break
			}
			if i == 10 {
				t.Fatalf("seeding: exit %d\n%s", code, stderr)
			}
		}
	}

	// kill draws where a run is killed: after 1 to half the lines' count
	// of records, and up to 4 ms more.
	kill := func() killPoint {
		return killPoint{records: 1 + rng.IntN(len(lines)/2+1), pause: time.Duration(rng.IntN(4000)) * time.Microsecond}
	}
	type ended struct {
		code   int
		stderr string
	}
	// Two runs at once: a run started while the first holds the results
	// file (it writes the file's header once it holds its lock) is
	// refused, naming the first; the first is then killed.
	stop := make(chan struct{})
	first := make(chan ended, 1)
	go func() {
		code, stderr := runBulk(t, url, input, killPoint{stop: stop}, extra...)
		first <- ended{code, stderr}
	}()
	var second ended
	for waiting := true; waiting; {
		select {
		case e := <-first:
			t.Fatalf("the first run ended before a second could start: exit %d\n%s", e.code, e.stderr)
		case <-time.After(time.Millisecond):
			waiting = countLines(input+".results.jsonl") == 0
		}
	}
	second.code, second.stderr = runBulk(t, url, input, killPoint{}, extra...)
	close(stop)
	<-first
	if second.code != exitUsage || !strings.Contains(second.stderr, "in use by another run") || !strings.Contains(second.stderr, "pid ") {
		t.Errorf("a second run at once: exit %d, want %d, naming the first\n%s", second.code, exitUsage, second.stderr)
	}

	killed, runs := 0, 0
	finish := func(what string, kills int) {
		t.Helper()
		for i := range kills {
			code, stderr := runBulk(t, url, input, kill(), extra...)
			runs++
			if code == -1 {
				killed++
			}
			if code != -1 && code != exitOK && code != exitUnknown && code != exitRefused {
				t.Fatalf("%s, run %d: exit %d\n%s", what, i, code, stderr)
			}
		}
		for i := 0; ; i++ {
			code, stderr := runBulk(t, url, input, killPoint{}, extra...)
			runs++
			if code == exitOK {
				return
			}
			if i == 10 {
				t.Fatalf("%s: not done after %d runs: exit %d\n%s", what, i, code, stderr)
			}
		}
	}
	finish("the first input", 8)

	// Edit: reorder, remove some lines, insert new ones; then again.
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	removed := lines[:5]
	kept := slices.Clone(lines[5:])
	added := killLines(rng, users, &pairs, 10, "b")
	edited := slices.Concat(added[:5], kept[:len(kept)/2], added[5:], kept[len(kept)/2:])
	write(edited)
	finish("the edited input", 3)

	gotMessages := map[string]int{}
	chatIDs := map[string]bool{}
	got := emulatorChats(t, url, gotMessages, chatIDs)
	// Every chat on the service is in a results file: none was created
	// without a record of it, though lines were removed after kills.
	recorded := map[string]bool{}
	resultsFiles := []string{input + ".results.jsonl"}
	if reuse {
		resultsFiles = append(resultsFiles, filepath.Join(dir, "seed.jsonl.results.jsonl"))
	}
	for _, f := range resultsFiles {
		for _, r := range records(t, f) {
			recorded[r.ID] = true
		}
	}
	for id := range chatIDs {
		if !recorded[id] {
			t.Errorf("chat %s is on the service but in no record", id)
		}
	}
	want, wantMessages := map[string]int{}, map[string]int{}
	for _, l := range slices.Concat(removed, kept, added) {
		want[l.want]++
		if l.message {
			wantMessages[l.want]++
		}
	}
	var dupMessages, lostMessages int
	for k := range want {
		switch g, w := gotMessages[k], wantMessages[k]; {
		case g > w:
			dupMessages += g - w
			t.Errorf("%d messages in %s, want %d", g, k, w)
		case g < w:
			lostMessages += w - g
			t.Errorf("no message in %s", k)
		}
	}
	var duplicates, lost, unexpected int
	for k, w := range want {
		switch g := got[k]; {
		case g > w:
			duplicates += g - w
			t.Errorf("%d chats for %s, want %d", g, k, w)
		case g < w:
			lost += w - g
			t.Errorf("no chat for %s", k)
		}
	}
	for k, g := range got {
		if want[k] == 0 {
			unexpected += g
			t.Errorf("%d chats nobody asked for: %s", g, k)
		}
	}
	total := 0
	for _, g := range got {
		total += g
	}
	statuses := map[string]int{}
	for _, r := range records(t, input+".results.jsonl") {
		statuses[r.Status]++
	}
	t.Logf("%d runs, %d killed; records %v", runs, killed, statuses)
	if killed < 2 {
		t.Errorf("%d of %d runs killed: the kills did not land mid-run", killed, runs)
	}
	if reuse && statuses["existing"] < seeded {
		t.Errorf("%d existing records, want at least the %d lines whose chats existed", statuses["existing"], seeded)
	}
	t.Logf("%d lines asked for %d chats; the emulator holds %d: %d duplicates, %d lost, %d unexpected", len(removed)+len(kept)+len(added), len(want), total, duplicates, lost, unexpected)
	nMessages := 0
	for _, g := range gotMessages {
		nMessages += g
	}
	t.Logf("%d lines asked for a first message; the emulator holds %d: %d duplicates, %d lost", len(wantMessages), nMessages, dupMessages, lostMessages)
}

// countLines counts the lines of a file; 0 when it cannot be read.
func countLines(name string) int {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}
