package graphchattest_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// serve answers one request through the handler, without a network.
func serve(emu *graphchattest.Emulator, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	emu.ServeHTTP(rec, req)
	return rec
}

// The request log keeps the last MaxEntries requests, whatever the traffic;
// the counters count every one.
func TestLogBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		max      int
		requests int
		want     int
	}{
		{"option", 50, 1000, 50},
		{"default", 0, graphchattest.DefaultMaxEntries + 500, graphchattest.DefaultMaxEntries},
		{"fewer than the limit", 50, 20, 20},
		{"none kept", -1, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := graphchattest.New(&graphchattest.Options{Anonymous: true, MaxEntries: tt.max})
			for i := range tt.requests {
				serve(emu, "GET", "/v1.0/users/megan@contoso.com", "", "client-request-id", fmt.Sprint(i))
			}
			got := emu.Entries()
			if len(got) != tt.want {
				t.Fatalf("%d entries, want %d", len(got), tt.want)
			}
			for i, en := range got { // the most recent, oldest first
				if want := fmt.Sprint(tt.requests - tt.want + i); en.ClientRequestID != want {
					t.Fatalf("entry %d is request %s, want %s", i, en.ClientRequestID, want)
				}
			}
			st := emu.Stats()
			if st.Requests != int64(tt.requests) || st.ByStatus[200] != int64(tt.requests) {
				t.Errorf("stats %+v, want %d requests answered 200", st, tt.requests)
			}
			emu.Reset()
			if len(emu.Entries()) != 0 || emu.Stats().Requests != 0 {
				t.Error("Reset kept entries or counts")
			}
		})
	}
}

// At MaxChats, a new chat is refused 507 without Retry-After and every
// chat is kept; an existing one-on-one chat is still returned. With
// ForgetOldChats the oldest is forgotten instead, and a one-on-one chat
// forgotten is created anew.
func TestChatsBounded(t *testing.T) {
	t.Parallel()
	group := `{"chatType":"group","members":[` + memberJSON(graphchattest.MeganID, "owner") + `,` + memberJSON(graphchattest.LeeID, "owner") + `,` + memberJSON(graphchattest.NestorID, "owner") + `]}`
	one := `{"chatType":"oneOnOne","members":[` + memberJSON(graphchattest.MeganID, "owner") + `,` + memberJSON(graphchattest.LeeID, "owner") + `]}`
	t.Run("refused", func(t *testing.T) {
		emu := graphchattest.New(&graphchattest.Options{Anonymous: true, MaxChats: 10})
		if r := serve(emu, "POST", "/v1.0/chats", one); r.Code != 201 {
			t.Fatalf("one-on-one: %d %s", r.Code, r.Body)
		}
		refused := 0
		for i := range 25 {
			r := serve(emu, "POST", "/v1.0/chats", group)
			switch {
			case i < 9 && r.Code != 201:
				t.Fatalf("group %d: %d %s", i, r.Code, r.Body)
			case i >= 9 && r.Code != http.StatusInsufficientStorage:
				t.Fatalf("group %d at the limit: %d %s", i, r.Code, r.Body)
			case i >= 9:
				refused++
				if code := graphCode(t, r.Body.Bytes()); code != "InsufficientStorage" || r.Header().Get("Retry-After") != "" {
					t.Fatalf("refusal: code %q, Retry-After %q", code, r.Header().Get("Retry-After"))
				}
			}
		}
		st := emu.Stats()
		if n := len(emu.Chats()); n != 10 || st.ChatsEvicted != 0 || st.ChatsRefused != int64(refused) {
			t.Fatalf("%d chats, %d evicted, %d refused; want 10, 0, %d", n, st.ChatsEvicted, st.ChatsRefused, refused)
		}
		if r := serve(emu, "POST", "/v1.0/chats", one); r.Code != 201 || len(emu.Chats()) != 10 {
			t.Errorf("the existing one-on-one chat at the limit: %d", r.Code)
		}
	})
	t.Run("default", func(t *testing.T) {
		// The former default, 10,000, silently forgot the oldest chat here.
		if graphchattest.DefaultMaxChats < 100_000 {
			t.Errorf("DefaultMaxChats %d: a run of 10^5 chats would be refused", graphchattest.DefaultMaxChats)
		}
		if testing.Short() {
			t.Skip("creates 10,001 chats")
		}
		emu := graphchattest.New(&graphchattest.Options{Anonymous: true, MaxEntries: -1})
		for i := range 10_001 {
			if r := serve(emu, "POST", "/v1.0/chats", group); r.Code != 201 {
				t.Fatalf("group %d: %d %s", i, r.Code, r.Body)
			}
		}
		if n, st := len(emu.Chats()), emu.Stats(); n != 10_001 || st.ChatsEvicted != 0 || st.ChatsRefused != 0 {
			t.Errorf("%d chats, %d evicted, %d refused: want every chat kept", n, st.ChatsEvicted, st.ChatsRefused)
		}
	})
	t.Run("forgotten", func(t *testing.T) {
		emu := graphchattest.New(&graphchattest.Options{Anonymous: true, MaxChats: 10, ForgetOldChats: true})
		if r := serve(emu, "POST", "/v1.0/chats", one); r.Code != 201 {
			t.Fatalf("one-on-one: %d %s", r.Code, r.Body)
		}
		for i := range 25 {
			if r := serve(emu, "POST", "/v1.0/chats", group); r.Code != 201 {
				t.Fatalf("group %d: %d %s", i, r.Code, r.Body)
			}
		}
		if n, ev := len(emu.Chats()), emu.Stats().ChatsEvicted; n != 10 || ev != 16 {
			t.Fatalf("%d chats, %d evicted; want 10 and 16", n, ev)
		}
		if r := serve(emu, "POST", "/v1.0/chats", one); r.Code != 201 || len(emu.Chats()) != 10 || emu.Chats()[9].ChatType != "oneOnOne" {
			t.Errorf("the forgotten one-on-one chat: %d, chats %v", r.Code, emu.Chats())
		}
	})
}

func memberJSON(user, role string) string {
	return fmt.Sprintf(`{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":[%q],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('%s')"}`, role, user)
}

// A body larger than MaxBodyBytes, plain or once decompressed, gets a 413
// with a Graph error body.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Anonymous: true, MaxBodyBytes: 1000})
	big := `{"chatType":"group","topic":"` + strings.Repeat("a", 2000) + `"}`
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(big))
	zw.Close()
	tests := []struct {
		name string
		body string
		hdr  []string
		want int
	}{
		{"plain", big, nil, http.StatusRequestEntityTooLarge},
		{"gzip", zipped.String(), []string{"Content-Encoding", "gzip"}, http.StatusRequestEntityTooLarge},
		{"at the limit", `{"chatType":"group","topic":"` + strings.Repeat("a", 1000-len(`{"chatType":"group","topic":""}`)) + `"}`, nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serve(emu, "POST", "/v1.0/chats", tt.body, tt.hdr...)
			if r.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.want, r.Body)
			}
			if code := graphCode(t, r.Body.Bytes()); tt.want == 413 && code != "RequestEntityTooLarge" {
				t.Errorf("code %q", code)
			}
		})
	}
}
