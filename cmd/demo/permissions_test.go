package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/graphchat/graphchat/policy"
)

// TestPermissionsSources checks that `permissions --op` prints each entry's
// sources and says when the reference page and the metadata differ.
func TestPermissionsSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args      []string
		want      []string // lines of standard output that must appear
		wantNot   []string
		wantCount int // "differs:" lines
	}{
		{args: []string{"permissions", "--op", "get-chat", "--auth", "application"},
			want: []string{
				"least Chat.ReadBasic.WhereInstalled",
				"reference page: https://learn.microsoft.com/graph/api/chat-get?view=graph-rest-1.0 (microsoftgraph/microsoft-graph-docs-contrib api-reference/v1.0/includes/permissions/chat-get-permissions.md at 286d28db493cde3c4a839d7fa7df962aed159cbf, read 2026-11-27)",
				"metadata: microsoftgraph/microsoft-graph-devx-content permissions/new/permissions.json at 6cbd6bbd665a877560fdefbad74f3bdb5b57af88, GET /chats/{id}",
				"differs: least privileged on the reference page Chat.ReadBasic.WhereInstalled, in the metadata ChatSettings.ReadWrite.Chat or Chat.ReadBasic.All; the catalogue follows the reference page",
			},
			wantCount: 1},
		// Page and metadata agree: sources, no difference.
		{args: []string{"permissions", "--op", "create-chat"},
			want:    []string{"reference page: https://learn.microsoft.com/graph/api/chat-post?view=graph-rest-1.0", "metadata: microsoftgraph/microsoft-graph-devx-content"},
			wantNot: []string{"differs:", "departs"}},
		// Only the operations that differ get the line, for the auth type asked.
		{args: []string{"permissions", "--op", "create-chat,list-members,list-chats", "--auth", "delegated"},
			want:      []string{"differs: least privileged on the reference page Chat.ReadBasic, in the metadata Chat.ReadBasic or ChatMember.ReadWrite; the catalogue follows the reference page"},
			wantCount: 1},
		// The catalogue departs from the page, with its reason.
		{args: []string{"permissions", "--op", "get-user"},
			want: []string{
				"differs: least privileged on the reference page User.Read, in the metadata User.ReadBasic.All",
				"departs from the reference page (least User.Read): User.Read reads only the signed-in user",
			},
			wantNot: []string{"the catalogue follows"}, wantCount: 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d, want %d:\n%s%s", code, exitOK, stdout.String(), stderr.String())
			}
			out := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "differs:"); n != tt.wantCount {
				t.Errorf("%d differs lines, want %d:\n%s", n, tt.wantCount, out)
			}
			if stderr.Len() != 0 {
				t.Errorf("standard error: %s", stderr.String())
			}
		})
	}
}

func TestPermissionsSourcesJSON(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	args := []string{"permissions", "--op", "create-chat,get-chat", "--auth", "application", "--scopes", "Chat.Create Chat.ReadBasic.All", "--json"}
	if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	var out struct {
		Minimal []string               `json:"minimal"`
		Entries []policy.OperationInfo `json:"entries"`
		Allowed bool                   `json:"allowed"`
	}
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&out); err != nil || dec.More() {
		t.Fatalf("want one JSON document: %v", err)
	}
	if len(out.Entries) != 2 {
		t.Fatalf("entries: %+v", out.Entries)
	}
	create, get := out.Entries[0], out.Entries[1]
	if create.Operation != policy.OpCreateChat || create.MetadataDiffers || len(create.Sources) != 2 {
		t.Errorf("create-chat: %+v", create)
	}
	if get.Operation != policy.OpGetChat || !get.MetadataDiffers || len(get.Sources) != 2 ||
		get.Sources[0].Kind != policy.SourceReference || get.Sources[0].Commit != "286d28db493cde3c4a839d7fa7df962aed159cbf" ||
		get.Sources[1].Kind != policy.SourceMetadata || get.Sources[1].Path != "/chats/{id}" ||
		strings.Join(get.Reference.Least, " ") != "Chat.ReadBasic.WhereInstalled" ||
		strings.Join(get.Metadata.Least, " ") != "ChatSettings.ReadWrite.Chat Chat.ReadBasic.All" {
		t.Errorf("get-chat: %+v", get)
	}
	// Chat.ReadBasic.All allows get-chat but is more than it needs: a warning.
	if !out.Allowed || strings.Join(out.Minimal, " ") != "Chat.Create Chat.ReadBasic.WhereInstalled" {
		t.Errorf("allowed %v, minimal %v", out.Allowed, out.Minimal)
	}
}
