package graphchat_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// Create chats against the local emulator, signed in as Megan with only
// Chat.Create. A one-on-one chat asked for twice is the same chat; a guest
// given the owner role is refused before anything is sent.
func Example() {
	srv, err := graphchattest.NewServer("", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	token := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create")
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(token), &graphchat.Options{BaseURL: srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	chat, err := client.CreateOneOnOne(ctx, graphchat.User("megan@contoso.com"), graphchat.User("lee@contoso.com"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(chat.ID(), chat.Existed)
	again, _ := client.CreateOneOnOne(ctx, graphchat.User("lee@contoso.com"), graphchat.User("megan@contoso.com"))
	fmt.Println(again.ID() == chat.ID(), again.Existed)

	ada := graphchat.Guest("ada_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	ada.Role = policy.RoleOwner
	_, err = client.CreateGroup(ctx, "Launch", graphchat.User("megan@contoso.com"), graphchat.User("lee@contoso.com"), ada)
	var violations policy.List
	if errors.As(err, &violations) {
		for _, v := range violations {
			fmt.Println(v.Code, v.Field)
		}
	}
	fmt.Println(len(srv.Chats()), "chats on the server")
	// Output:
	// 19:82fe7758-5bb3-4f0d-a43f-e555fd399c6f_8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca@unq.gbl.spaces false
	// true true
	// guest_role members[2].roles
	// 1 chats on the server
}
