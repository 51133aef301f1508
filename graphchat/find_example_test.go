package graphchat_test

import (
	"context"
	"fmt"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// Reach a set of people: the first call creates their group chat, the
// second finds it (members given in another order, by name or by id), and
// the emulator holds one chat.
func ExampleClient_FindOrCreate() {
	srv, err := graphchattest.NewServer("", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	token := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All")
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(token), &graphchat.Options{
		BaseURL:    srv.URL,
		Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpResolveUser},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	people := []graphchat.Member{graphchat.User("megan@contoso.com"), graphchat.User("lee@contoso.com"), graphchat.User("nestor@contoso.com")}

	first, err := client.FindOrCreate(ctx, policy.ChatTypeGroup, "Launch", people, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("existed:", first.Existed)

	again, err := client.FindOrCreate(ctx, policy.ChatTypeGroup, "Launch", []graphchat.Member{
		graphchat.User(graphchattest.NestorID), graphchat.User("Lee@Contoso.com"), graphchat.User("megan@contoso.com"),
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("existed:", again.Existed, "same chat:", again.ID() == first.ID())
	fmt.Println(len(srv.Chats()), "chat on the server")
	// Output:
	// existed: false
	// existed: true same chat: true
	// 1 chat on the server
}
