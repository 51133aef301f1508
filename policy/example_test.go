package policy_test

import (
	"errors"
	"fmt"

	"github.com/graphchat/graphchat/policy"
)

// Check a raw POST /chats body before sending it: a guest given "owner" and a
// caller missing from a delegated request are both reported at once.
func ExampleCheckJSON() {
	body := []byte(`{
	  "chatType": "group",
	  "topic": "Launch",
	  "members": [
	    {"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
	     "user@odata.bind": "https://graph.microsoft.com/v1.0/users('alex@contoso.com')"},
	    {"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
	     "user@odata.bind": "https://graph.microsoft.com/v1.0/users('megan@contoso.com')"},
	    {"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
	     "user@odata.bind": "https://graph.microsoft.com/v1.0/users('ada_fabrikam.com%23EXT%23@contoso.onmicrosoft.com')"}
	  ]
	}`)
	req, err := policy.ParseCreateChat(body)
	if err != nil {
		fmt.Println(err) // not JSON: nothing could be checked
		return
	}
	req.Members[2].Kind = policy.KindGuest // known from the directory
	res := policy.Check(req, &policy.Context{
		Auth:   policy.AuthDelegated,
		Caller: policy.Caller{UserPrincipalName: "jacob@contoso.com"},
	})
	for _, v := range res.Violations {
		fmt.Printf("%s %s\n", v.Code, v.Field)
	}
	fmt.Println(errors.Is(res.Err(), policy.CodeGuestRole))
	// Output:
	// caller_missing members
	// guest_role members[2].roles
	// true
}

// The least-privileged permissions for what an app does.
func ExampleMinimal() {
	scopes, _ := policy.Minimal(policy.AuthDelegated, policy.OpCreateChat, policy.OpAddMember)
	fmt.Println(scopes)
	roles, _ := policy.Minimal(policy.AuthApplication, policy.OpCreateChat)
	fmt.Println(roles)
	// Output:
	// [Chat.Create ChatMember.ReadWrite]
	// [Chat.Create]
}

// Judge a grant: Chat.ReadWrite allows creating chats, but Chat.Create is
// enough. In strict mode that is a violation; by default, a warning.
func ExampleEvaluate() {
	d := policy.Evaluate(policy.AuthDelegated, policy.Grant{
		Permissions: []string{"Chat.ReadWrite", "User.Read"},
		Operations:  []policy.Operation{policy.OpCreateChat},
		Mode:        policy.ModeStrict,
	})
	fmt.Println(d.Operations[0].AllowedBy, d.Excess, d.Unrelated)
	for _, v := range d.Violations {
		fmt.Println(v.Code)
	}
	// Output:
	// Chat.ReadWrite [Chat.ReadWrite] [User.Read]
	// permission_excess
}

// Build a bind URL with the quoting the service expects.
func ExampleNewBindURL() {
	b, err := policy.NewBindURL("graph.microsoft.com", "v1.0", "ada_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b)
	// Output:
	// https://graph.microsoft.com/v1.0/users('ada_fabrikam.com%23EXT%23@contoso.onmicrosoft.com')
}

// Check a chat message before sending it: a mention without its tag in the
// body and an application token (chat messages are migration-only for
// apps) are both reported at once.
func ExampleCheckMessage() {
	body := []byte(`{
	  "body": {"contentType": "html", "content": "<p>Over to you</p>"},
	  "mentions": [{"id": 0, "mentionText": "Lee",
	    "mentioned": {"user": {"id": "82fe7758-5bb3-4f0d-a43f-e555fd399c6f"}}}]
	}`)
	msg, err := policy.ParseSendMessage(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	res := policy.CheckMessage(msg, &policy.Context{Auth: policy.AuthApplication})
	for _, v := range res.Violations {
		fmt.Printf("%s %s\n", v.Code, orBody(v.Field))
	}
	// Output:
	// operation_not_supported (the request)
	// mention_match mentions[0].id
}

func orBody(field string) string {
	if field == "" {
		return "(the request)"
	}
	return field
}
