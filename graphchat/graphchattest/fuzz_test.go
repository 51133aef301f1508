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
