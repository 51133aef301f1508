package graphchat_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// Message a set of people: their group chat is found or created, then the
// message is posted. A message that mentions someone who is not one of
// them is refused before anything is listed, created or sent.
func ExampleClient_SendTo() {
	srv, err := graphchattest.NewServer("", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	token := graphchattest.DelegatedToken(graphchattest.MeganID, "Chat.Create", "Chat.ReadBasic", "User.ReadBasic.All", "ChatMessage.Send")
	client, err := graphchat.NewFromCredential(graphchat.StaticToken(token), &graphchat.Options{
		BaseURL:    srv.URL,
		Operations: []policy.Operation{policy.OpCreateChat, policy.OpListChats, policy.OpResolveUser, policy.OpSendMessage},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	people := []graphchat.Member{graphchat.User("megan@contoso.com"), graphchat.User("lee@contoso.com"), graphchat.User("nestor@contoso.com")}

	tag, lee := graphchat.Mention(0, graphchattest.LeeID, "Lee")
	sent, err := client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.HTMLMessage("<p>Over to you, "+tag+"</p>", lee), nil)
	var several *graphchat.MatchesError
	switch {
	case errors.As(err, &several): // several chats match: nothing was sent (see SendToOptions.Pick)
		fmt.Println(len(several.Candidates), "chats match")
		return
	case errors.Is(err, graphchat.ErrOutcomeUnknown): // may or may not be posted: read the chat before sending again
		fmt.Println("unknown:", err)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println("chat existed:", sent.Chat.Existed, "message posted:", sent.Message.GetId() != nil)

	tag, jacob := graphchat.Mention(0, graphchattest.JacobID, "Jacob")
	_, err = client.SendTo(ctx, policy.ChatTypeGroup, "Launch", people, graphchat.HTMLMessage("<p>FYI "+tag+"</p>", jacob), nil)
	var refused policy.List
	if errors.As(err, &refused) {
		fmt.Println("refused:", refused.Codes())
	}
	fmt.Println(len(srv.Chats()), "chat,", len(srv.Messages(sent.Chat.ID())), "message on the server")
	// Output:
	// chat existed: false message posted: true
	// refused: [mention_not_member]
	// 1 chat, 1 message on the server
}
