// Command rootsdk creates a one-on-one chat with the root SDK client
// (msgraphsdk.GraphServiceClient), as most samples do. It exists only to
// compare its cold build and binary size with cmd/demo's; it lives under
// testdata so that "./..." patterns (tests, vet, CI) never build it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

func main() {
	cred, err := azidentity.NewEnvironmentCredential(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	client, err := msgraphsdk.NewGraphServiceClientWithCredentials(cred, []string{"https://graph.microsoft.com/.default"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	chat := models.NewChat()
	ct := models.ONEONONE_CHATTYPE
	chat.SetChatType(&ct)
	var members []models.ConversationMemberable
	for _, id := range os.Args[1:] {
		m := models.NewAadUserConversationMember()
		m.SetRoles([]string{"owner"})
		m.SetAdditionalData(map[string]any{"user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + id + "')"})
		members = append(members, m)
	}
	chat.SetMembers(members)
	got, err := client.Chats().Post(context.Background(), chat, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(*got.GetId())
}
