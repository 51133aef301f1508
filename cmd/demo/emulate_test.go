package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// runEmulate runs "demo emulate" with args on a free port until the test
// ends, and returns its server.
func runEmulate(t *testing.T, args ...string) *graphchattest.Server {
	t.Helper()
	e, _, errOut := newEnv("")
	started := make(chan *graphchattest.Server, 1)
	e.emulatorStarted = func(s *graphchattest.Server) { started <- s }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- e.run(ctx, append([]string{"emulate", "--addr", "127.0.0.1:0"}, args...)) }()
	var srv *graphchattest.Server
	select {
	case srv = <-started:
	case code := <-done:
		cancel()
		t.Fatalf("emulate %v: exit %d before serving: %s", args, code, errOut.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("emulate %v: not started: %s", args, errOut.String())
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("emulate %v: exit %d: %s", args, code, errOut.String())
		}
	})
	return srv
}

// send sends one request to a running emulator as Megan, with every
// permission the chat endpoints need, and returns the status, the Graph
// error code (if any) and the response.
func send(t *testing.T, srv *graphchattest.Server, method, path, body string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadWrite", "ChatMember.ReadWrite"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	return resp.StatusCode, doc.Error.Code, resp
}

func groupBody(users ...string) string {
	var ms []string
	for _, u := range users {
		ms = append(ms, `{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('`+u+`')"}`)
	}
	return `{"chatType":"group","members":[` + strings.Join(ms, ",") + `]}`
}

// "demo emulate -h" documents every option of the emulator.
func TestEmulateHelp(t *testing.T) {
	t.Parallel()
	r := demo(t, nil, "emulate", "-h")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		// flags
		"--addr", "--directory", "--anonymous", "--latency", "--rate-limit", "--throttle", "--faults", "--seed", "--slow-delay",
		"--reported-add-member-blocked", "--max-chats", "--forget-old-chats", "--max-body-bytes", "--max-log",
		// what they do
		"documented", "30 requests/s per app", "4 member additions a minute per chat", "RosterAddMemberBlocked", "507 InsufficientStorage",
		"413", "429", "503", "504-after", "drop-after", "slow-after", "/members/add", "/messages", "$batch", "401", "403",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("emulate -h does not mention %q", want)
		}
	}
	if h := demo(t, nil, "help", "emulate"); h.stdout != r.stdout {
		t.Error("help emulate and emulate -h differ")
	}
}

// Each option flag changes what the served emulator answers.
func TestEmulateOptions(t *testing.T) {
	t.Parallel()
	group := groupBody(graphchattest.MeganID, graphchattest.LeeID, graphchattest.NestorID)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, srv *graphchattest.Server)
	}{
		{"max chats", []string{"--max-chats", "2"}, func(t *testing.T, srv *graphchattest.Server) {
			for i, want := range []int{201, 201, 507} {
				if status, _, resp := send(t, srv, "POST", "/chats", group); status != want || status == 507 && resp.Header.Get("Retry-After") != "" {
					t.Fatalf("chat %d: %d, want %d without Retry-After", i, status, want)
				}
			}
		}},
		{"forget old chats", []string{"--max-chats", "2", "--forget-old-chats"}, func(t *testing.T, srv *graphchattest.Server) {
			for i := range 3 {
				if status, _, _ := send(t, srv, "POST", "/chats", group); status != 201 {
					t.Fatalf("chat %d: %d", i, status)
				}
			}
			if st := srv.Stats(); st.ChatsEvicted != 1 {
				t.Errorf("%d evicted, want 1", st.ChatsEvicted)
			}
		}},
		{"throttle documented", []string{"--throttle", "documented"}, func(t *testing.T, srv *graphchattest.Server) {
			for i := range 10 { // 5 a second per user listing chats
				if status, code, resp := send(t, srv, "GET", "/me/chats", ""); status == 429 {
					if i < 5 || code != "TooManyRequests" || resp.Header.Get("Retry-After") == "" {
						t.Fatalf("429 at request %d, code %q", i+1, code)
					}
					return
				}
			}
			t.Fatal("no 429 in 10 listings")
		}},
		{"throttle off", nil, func(t *testing.T, srv *graphchattest.Server) {
			for i := range 10 {
				if status, _, _ := send(t, srv, "GET", "/me/chats", ""); status != 200 {
					t.Fatalf("listing %d: %d", i+1, status)
				}
			}
		}},
		{"reported add member blocked", []string{"--reported-add-member-blocked"}, func(t *testing.T, srv *graphchattest.Server) {
			if status, _, _ := send(t, srv, "POST", "/chats", groupBody(graphchattest.MeganID, graphchattest.LeeID)); status != 201 {
				t.Fatalf("create: %d", status)
			}
			id := url.PathEscape(srv.Chats()[0].ID)
			add := `{"values":[{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('alex@contoso.com')"}]}`
			if status, code, _ := send(t, srv, "POST", "/chats/"+id+"/members/add", add); status != 400 || code != "RosterAddMemberBlocked" {
				t.Errorf("add: %d %q", status, code)
			}
		}},
		{"max body bytes", []string{"--max-body-bytes", "100"}, func(t *testing.T, srv *graphchattest.Server) {
			if status, code, _ := send(t, srv, "POST", "/chats", group); status != 413 || code != "RequestEntityTooLarge" {
				t.Errorf("large body: %d %q", status, code)
			}
		}},
		{"max log", []string{"--max-log", "2"}, func(t *testing.T, srv *graphchattest.Server) {
			for range 5 {
				send(t, srv, "GET", "/me/chats", "")
			}
			if n, st := len(srv.Entries()), srv.Stats(); n != 2 || st.Requests != 5 {
				t.Errorf("%d entries, %d requests; want 2 and 5", n, st.Requests)
			}
		}},
		{"max log none", []string{"--max-log", "0"}, func(t *testing.T, srv *graphchattest.Server) {
			send(t, srv, "GET", "/me/chats", "")
			if n := len(srv.Entries()); n != 0 {
				t.Errorf("%d entries kept", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, runEmulate(t, tt.args...))
		})
	}
}

// Values the emulator cannot honour are usage errors, naming the flag.
func TestEmulateBadOptions(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{"--throttle", "nope"},
		{"--max-chats", "0"},
		{"--max-chats", "-2"},
		{"--max-body-bytes", "0"},
		{"--max-log", "-1"},
		{"--slow-delay", "0s"},
	}
	for _, args := range tests {
		r := demo(t, nil, append([]string{"emulate", "--addr", "127.0.0.1:0"}, args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
