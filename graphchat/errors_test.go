package graphchat_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// Whatever the form of an error answer, the *Error keeps what the service
// said: status, code, message, request-id and client-request-id.
func TestErrorsKeepWhatTheServiceSaid(t *testing.T) {
	t.Parallel()
	const sentID = "(the client-request-id sent)"
	type said struct {
		Status                                  int
		Code, Message, RequestID, ClientRequest string
	}
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		headers     map[string]string
		body        string
		want        said
		odata       bool // errors.As reaches the SDK's ODataError
	}{
		{
			name: "graph json", status: 403, contentType: "application/json",
			body:  `{"error":{"code":"Forbidden","message":"Missing role permissions.","innerError":{"request-id":"r-1","client-request-id":"c-1"}}}`,
			want:  said{403, "Forbidden", "Missing role permissions.", "r-1", "c-1"},
			odata: true,
		},
		{
			name: "json with charset and ids in headers", status: 404, contentType: "application/json; charset=utf-8",
			headers: map[string]string{"request-id": "r-2", "client-request-id": "c-2"},
			body:    `{"error":{"code":"NotFound","message":"No chat."}}`,
			want:    said{404, "NotFound", "No chat.", "r-2", "c-2"},
			odata:   true,
		},
		{
			name: "json of no declared type", status: 400,
			body: `{"error":{"code":"BadRequest","message":"Bad member.","innererror":{"request-id":"r-3","client-request-id":"c-3"}}}`,
			want: said{400, "BadRequest", "Bad member.", "r-3", "c-3"},
		},
		{
			name: "text", status: 403, contentType: "text/plain; charset=utf-8",
			headers: map[string]string{"request-id": "r-4"},
			body:    "Access denied by policy\r\n",
			want:    said{403, "", "Access denied by policy", "r-4", sentID},
		},
		{
			name: "json declared as text", status: 429, contentType: "text/plain",
			headers: map[string]string{"Retry-After": "120"},
			body:    `{"error":{"code":"TooManyRequests","message":"Slow down.","innerError":{"request-id":"r-8"}}}`,
			want:    said{429, "TooManyRequests", "Slow down.", "r-8", sentID},
		},
		{
			name: "a proxy's html", status: 502, contentType: "text/html",
			headers: map[string]string{"request-id": "r-5", "client-request-id": "c-5"},
			body:    "<html><body><h1>502 Bad Gateway</h1></body></html>",
			want:    said{502, "", "", "r-5", "c-5"},
		},
		{
			name: "malformed json", status: 500, contentType: "application/json",
			headers: map[string]string{"request-id": "r-6"},
			body:    `{"error":{"code":"Internal`,
			want:    said{500, "", "", "r-6", sentID},
		},
		{
			name: "no body", status: 500,
			headers: map[string]string{"request-id": "r-7", "client-request-id": "c-7"},
			want:    said{500, "", "", "r-7", "c-7"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, nil, &graphchat.Options{Operations: []policy.Operation{policy.OpGetChat}}, graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.ReadBasic"))
			e.before = func(w http.ResponseWriter, r *http.Request) bool {
				w.Header()["Content-Type"] = nil // none unless given: no sniffing
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
				return true
			}
			_, err := e.client.GetChat(ctx, "19:x@thread.v2")
			var ge *graphchat.Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v (%T), want an *Error", err, err)
			}
			want := tc.want
			if want.ClientRequest == sentID {
				want.ClientRequest = e.requests()[0].Header.Get("client-request-id")
			}
			got := said{ge.StatusCode, ge.Code, ge.Message, ge.RequestID, ge.ClientRequestID}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if ge.Op != string(policy.OpGetChat) {
				t.Errorf("Op = %q", ge.Op)
			}
			var odata *odataerrors.ODataError
			if errors.As(err, &odata) != tc.odata {
				t.Errorf("errors.As(ODataError) = %v, want %v", !tc.odata, tc.odata)
			}
		})
	}
}
