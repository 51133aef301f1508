package policy_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphchat/graphchat/policy"
)

var (
	commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
	dateRE   = regexp.MustCompile(`^20[0-9]{2}-[01][0-9]-[0-3][0-9]$`)
	auths    = []policy.AuthType{policy.AuthDelegated, policy.AuthApplication}
)

// TestCatalogSources checks that every entry names its reference page and
// its permissions metadata, records the metadata's answer, and records the
// reference page's answer where it departs from it, with the reason.
func TestCatalogSources(t *testing.T) {
	t.Parallel()
	for _, op := range policy.Operations() {
		for _, auth := range auths {
			t.Run(string(op)+"/"+string(auth), func(t *testing.T) {
				info, err := policy.Describe(op, auth)
				if err != nil {
					t.Fatal(err)
				}
				if len(info.Sources) != 2 {
					t.Fatalf("sources: %+v, want the reference page and the metadata", info.Sources)
				}
				ref, meta := info.Sources[0], info.Sources[1]
				if ref.Kind != policy.SourceReference || !strings.HasPrefix(ref.URL, "https://learn.microsoft.com/graph/api/") ||
					!strings.HasSuffix(ref.URL, "?view=graph-rest-1.0") || ref.Repo != "microsoftgraph/microsoft-graph-docs-contrib" ||
					!strings.HasPrefix(ref.File, "api-reference/v1.0/") || !dateRE.MatchString(ref.Read) {
					t.Errorf("reference source: %+v", ref)
				}
				if ref.Commit == "" && ref.Note == "" || ref.Commit != "" && !commitRE.MatchString(ref.Commit) {
					t.Errorf("reference source: want a commit, or a note saying what was read: %+v", ref)
				}
				if meta.Kind != policy.SourceMetadata || meta.Repo != "microsoftgraph/microsoft-graph-devx-content" ||
					meta.File != "permissions/new/permissions.json" || !commitRE.MatchString(meta.Commit) || !strings.HasPrefix(meta.Path, "/") {
					t.Errorf("metadata source: %+v", meta)
				}
				if len(info.Metadata.Least)+len(info.Metadata.Higher) == 0 {
					t.Error("no metadata answer recorded")
				}
				if len(info.Reference.Least) == 0 {
					t.Errorf("no least-privileged permission on the reference page: %+v", info.Reference)
				}
				for name, list := range map[string][]string{"least": info.Least, "higher": info.Higher,
					"reference least": info.Reference.Least, "reference higher": info.Reference.Higher,
					"metadata least": info.Metadata.Least, "metadata higher": info.Metadata.Higher} {
					for i, p := range list {
						if p == "" || slices.IndexFunc(list[:i], func(q string) bool { return strings.EqualFold(p, q) }) >= 0 {
							t.Errorf("%s %v: empty or repeated %q", name, list, p)
						}
					}
				}
				// Without a deviation, Reference is the catalogue's own answer.
				follows := cmp.Equal(info.Reference, policy.PermissionSet{Least: info.Least, Higher: info.Higher}, cmpopts.EquateEmpty())
				switch {
				case info.Deviation != "" && follows:
					t.Errorf("deviation %q, but the catalogue follows the reference page", info.Deviation)
				case info.Unsupported != "" && info.Deviation == "":
					t.Error("unsupported with no record of the reference page's answer")
				}
			})
		}
	}
}

// TestCatalogDifferences lists where the reference page and the metadata
// disagree on the least-privileged permissions.
func TestCatalogDifferences(t *testing.T) {
	t.Parallel()
	differ := map[policy.Operation][]policy.AuthType{
		// The page: Chat.ReadBasic.WhereInstalled; the metadata: Chat.ReadBasic.All
		// (application); and, delegated, Chat.ReadWrite as well, as its GET and
		// PATCH share a path set.
		policy.OpGetChat: auths,
		// The metadata adds ChatMember.ReadWrite and Chat.Manage.Chat.
		policy.OpListMembers: auths,
		// The page: Teamwork.Migrate.All; the metadata: no least one.
		policy.OpSendMessage: {policy.AuthApplication},
		// The page: User.Read (the signed-in user) and User.Read.All; the
		// metadata: User.ReadBasic.All for both.
		policy.OpGetUser:     auths,
		policy.OpResolveUser: auths,
	}
	for _, op := range policy.Operations() {
		for _, auth := range auths {
			info, err := policy.Describe(op, auth)
			if err != nil {
				t.Fatal(err)
			}
			if want := slices.Contains(differ[op], auth); info.MetadataDiffers != want {
				t.Errorf("%s %s: MetadataDiffers = %v, want %v (page %v, metadata %v)", op, auth, info.MetadataDiffers, want, info.Reference.Least, info.Metadata.Least)
			}
		}
	}

	info, err := policy.Describe(policy.OpGetChat, policy.AuthApplication)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.OperationInfo{Least: []string{"Chat.ReadBasic.WhereInstalled"}, Metadata: policy.PermissionSet{
		Least: []string{"ChatSettings.ReadWrite.Chat", "Chat.ReadBasic.All"}, Higher: []string{"ChatSettings.Read.Chat", "Chat.Manage.Chat", "Chat.Read.All"}}}
	got := policy.OperationInfo{Least: info.Least, Metadata: info.Metadata}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get-chat application (-want +got):\n%s", diff)
	}
	// The empty auth type is delegated, deviations included.
	d, err := policy.Describe(policy.OpGetUser, "")
	if err != nil || d.Deviation == "" || !cmp.Equal(d.Reference.Least, []string{"User.Read"}) {
		t.Errorf("get-user, auth \"\": %v %+v", err, d)
	}
}

// TestCatalogMetadataFile compares the recorded metadata answers with a copy
// of Microsoft's permissions.json (or a subset of it in the same format)
// named by GRAPHCHAT_PERMISSIONS_METADATA; entries whose path it lacks are
// skipped. The file is not part of the repository.
func TestCatalogMetadataFile(t *testing.T) {
	t.Parallel()
	file := os.Getenv("GRAPHCHAT_PERMISSIONS_METADATA")
	if file == "" {
		t.Skip("GRAPHCHAT_PERMISSIONS_METADATA names no permissions metadata file")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.ParseMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, op := range policy.Operations() {
		for _, auth := range auths {
			info, err := policy.Describe(op, auth)
			if err != nil {
				t.Fatal(err)
			}
			path := info.Sources[1].Path
			tmpl, grants := m.Lookup(info.Method, path, policy.SchemeFor(auth))
			if tmpl == "" {
				t.Logf("%s: %s not in %s", op, path, file)
				continue
			}
			compared++
			var got policy.PermissionSet
			for _, g := range grants {
				if g.Least {
					got.Least = append(got.Least, g.Permission)
				} else {
					got.Higher = append(got.Higher, g.Permission)
				}
			}
			if diff := cmp.Diff(info.Metadata, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s %s %s %s: recorded (-) and file (+) differ:\n%s", op, auth, info.Method, path, diff)
			}
		}
	}
	if compared == 0 {
		t.Errorf("%s holds none of the catalogue's paths", file)
	}
}
