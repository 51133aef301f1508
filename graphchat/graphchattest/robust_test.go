package graphchattest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// Malformed requests get a Graph error, never a panic.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
	}{
		{"batch method with a space", "POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"GET X","url":"/me/chats"}]}`, 400},
		{"batch method empty", "POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"","url":"/me/chats"}]}`, 400},
		{"batch method unknown", "POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"BREW","url":"/me/chats"}]}`, 400},
		{"batch url with a space", "POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"GET","url":"/users/a b"}]}`, 200},
		{"batch url with a control character", "POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"GET","url":"/users/a\u0000b"}]}`, 200},
		{"batch header with a newline", "POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"POST","url":"/chats","headers":{"Content-Type":"application/json","X\nY":"1"},"body":{}}]}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := graphchattest.New(&graphchattest.Options{Anonymous: true})
			r := serve(emu, tt.method, tt.path, tt.body)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			if r.Code >= 400 {
				graphCode(t, r.Body.Bytes())
			}
			if p := emu.Stats().Panics; p != 0 {
				t.Errorf("%d panics recovered", p)
			}
		})
	}
}

// A panic in a handler is answered 500 with a generic Graph error, counted,
// and the emulator keeps answering; inside a batch it fails only its item.
func TestRecover(t *testing.T) {
	t.Parallel()
	emu := graphchattest.New(&graphchattest.Options{Anonymous: true})
	graphchattest.SetHook(emu, func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/boom") {
			panic("boom")
		}
	})
	r := serve(emu, "GET", "/v1.0/users/boom", "")
	if r.Code != 500 || graphCode(t, r.Body.Bytes()) != "InternalServerError" {
		t.Fatalf("got %d %s", r.Code, r.Body)
	}
	b := serve(emu, "POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"GET","url":"/users/boom"},{"id":"2","method":"GET","url":"/users/megan@contoso.com"}]}`)
	if b.Code != 200 || !strings.Contains(b.Body.String(), `"status":500`) || !strings.Contains(b.Body.String(), `"status":200`) {
		t.Fatalf("batch: %d %s", b.Code, b.Body)
	}
	if r := serve(emu, "GET", "/v1.0/users/megan@contoso.com", ""); r.Code != 200 {
		t.Errorf("after a panic: %d", r.Code)
	}
	st := emu.Stats()
	if st.Panics != 2 || st.ByStatus[500] != 2 {
		t.Errorf("stats %+v", st)
	}
}
