package graphchat_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

func benchMembers(n int) []graphchat.Member {
	out := make([]graphchat.Member, n)
	for i := range out {
		out[i] = graphchat.User(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))
	}
	return out
}

func benchRequest(members []graphchat.Member) *policy.Request {
	r := &policy.Request{ChatType: policy.ChatTypeGroup}
	if len(members) == 2 {
		r.ChatType = policy.ChatTypeOneOnOne
	}
	for _, m := range members {
		r.Members = append(r.Members, policy.Member{User: m.User, Roles: []policy.Role{policy.RoleOwner}, Kind: policy.KindMember})
	}
	return r
}

func benchChat(b testing.TB, members []graphchat.Member) models.Chatable {
	typ := policy.ChatTypeGroup
	if len(members) == 2 {
		typ = policy.ChatTypeOneOnOne
	}
	chat, err := graphchat.ChatModel(graphchat.CloudGlobal, "v1.0", typ, "", members...)
	if err != nil {
		b.Fatal(err)
	}
	return chat
}

// BenchmarkPolicyCheck is the policy's cost for a request; compare it with
// BenchmarkSDKSerialize, the SDK's cost to write the same request as JSON.
func BenchmarkPolicyCheck(b *testing.B) {
	for _, n := range []int{2, 250} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			members := benchMembers(n)
			req := benchRequest(members)
			pc := &policy.Context{Caller: policy.Caller{ID: members[0].User}, Grant: &policy.Grant{Permissions: []string{"Chat.Create"}}}
			b.ReportAllocs()
			for b.Loop() {
				if err := policy.Check(req, pc).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSDKSerialize(b *testing.B) {
	for _, n := range []int{2, 250} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			chat := benchChat(b, benchMembers(n))
			b.ReportAllocs()
			for b.Loop() {
				w := jsonserialization.NewJsonSerializationWriter()
				if err := w.WriteObjectValue("", chat); err != nil {
					b.Fatal(err)
				}
				if _, err := w.GetSerializedContent(); err != nil {
					b.Fatal(err)
				}
				w.Close()
			}
		})
	}
}

// BenchmarkCreate compares graphchat's CreateOneOnOne with the SDK's own
// chats Post of the same chat, through the same adapter and pipeline,
// against an in-process emulator (which answers with the existing chat).
func BenchmarkCreate(b *testing.B) {
	srv := httptest.NewServer(graphchattest.New(&graphchattest.Options{Anonymous: true}))
	defer srv.Close()
	a, l := graphchat.User(graphchattest.MeganID), graphchat.User(graphchattest.LeeID)
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(graphchattest.AppToken("Chat.Create")),
		&graphchat.Options{BaseURL: srv.URL + "/v1.0", Auth: policy.AuthApplication})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("graphchat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.CreateOneOnOne(ctx, a, l); err != nil {
				b.Fatal(err)
			}
		}
	})
	adapter, err := graphchat.NewRequestAdapter(staticAuth{graphchattest.AppToken("Chat.Create")}, &graphchat.Options{BaseURL: srv.URL + "/v1.0"})
	if err != nil {
		b.Fatal(err)
	}
	builder := chats.NewChatsRequestBuilderInternal(map[string]string{}, adapter)
	chat := benchChat(b, []graphchat.Member{a, l})
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := builder.Post(ctx, chat, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
