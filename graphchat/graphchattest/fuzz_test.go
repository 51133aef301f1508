package graphchattest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// FuzzCreateChat sends arbitrary bodies to POST /chats and $batch: the
// emulator never panics, answers 201, 202 or a 4xx, and every error has a
// Graph error body with a code, a message and a request-id.
func FuzzCreateChat(f *testing.F) {
	dir := filepath.Join("..", "..", "testdata", "create-chat")
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, en := range entries {
		if data, err := os.ReadFile(filepath.Join(dir, en.Name())); err == nil && strings.HasSuffix(en.Name(), ".json") && en.Name() != "cases.json" {
			f.Add(data, false)
		}
	}
	f.Add([]byte(`{"requests":[{"id":"1","method":"POST","url":"/chats","headers":{"Content-Type":"application/json"},"body":{}}]}`), true)
	f.Add([]byte(`{"requests":[{"id":"1","method":"GET X","url":"/me/chats"}]}`), true)
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		emu := graphchattest.New(nil)
		path := "/v1.0/chats"
		if batch {
			path = "/v1.0/$batch"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusCreated || rec.Code == http.StatusAccepted || rec.Code == http.StatusOK:
		case rec.Code >= 400 && rec.Code < 500:
			var e struct {
				Error struct {
					Code, Message string
					InnerError    map[string]string
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || e.Error.InnerError["request-id"] == "" {
				t.Fatalf("%d with body %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if p := emu.Stats().Panics; p != 0 {
			t.Fatalf("%d panics recovered for %q", p, body)
		}
	})
}

// FuzzBatch sends arbitrary batch envelopes: the emulator answers the batch
// 200 or 4xx with a Graph error, every item has a status, and no handler
// panics.
func FuzzBatch(f *testing.F) {
	for _, s := range []string{
		`{"requests":[{"id":"1","method":"GET X","url":"/me/chats"}]}`,
		`{"requests":[{"id":"1","method":"GET","url":"/me/chats"},{"id":"2","method":"GET","url":"/chats/x","dependsOn":["1"]}]}`,
		`{"requests":[{"id":"1","method":"POST","url":"/chats","headers":{"Content-Type":"application/json"},"body":{"chatType":"group","members":[]}}]}`,
		`{"requests":[{"id":"1","method":"DELETE","url":"/chats/19:a@thread.v2/members/x"},{"id":"1","method":"GET","url":"https://graph.microsoft.com/v1.0/me"}]}`,
		`{"requests":[{"id":"a","method":"PATCH","url":"chats/19:a@thread.v2","headers":{"content-type":"application/json"},"body":{"topic":"x"},"dependsOn":["b"]},{"id":"b","method":"get","url":"/users/megan@contoso.com?$select=id"}]}`,
	} {
		f.Add([]byte(s))
	}
	tok := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadWrite", "User.Read.All")
	f.Fuzz(func(t *testing.T, body []byte) {
		emu := graphchattest.New(nil)
		req := httptest.NewRequest(http.MethodPost, "/v1.0/$batch", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			var out struct {
				Responses []struct {
					ID     string
					Status int
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Responses) == 0 {
				t.Fatalf("batch answer %q", rec.Body.String())
			}
			for _, r := range out.Responses {
				if r.Status < 200 || r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
					t.Fatalf("item %q status %d for %q", r.ID, r.Status, body)
				}
			}
		case rec.Code >= 400 && rec.Code < 500:
			graphCode(t, rec.Body.Bytes())
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if p := emu.Stats().Panics; p != 0 {
			t.Fatalf("%d panics recovered for %q", p, body)
		}
	})
}

// graphCode returns the code of a Graph error body, failing when the body
// lacks a code, a message or a request-id.
func graphCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Code, Message string
			InnerError    map[string]string `json:"innerError"`
		}
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || e.Error.InnerError["request-id"] == "" {
		t.Fatalf("not a Graph error body: %q", body)
	}
	return e.Error.Code
}
