package graphchat

import (
	"context"
	"fmt"
	"html"
	"strconv"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

// TextMessage returns a chat message with a plain-text body, for
// SendMessage.
func TextMessage(text string) models.ChatMessageable {
	return messageModel(models.TEXT_BODYTYPE, text, nil)
}

// HTMLMessage returns a chat message with an HTML body and its mentions,
// for SendMessage. Build each mention with Mention and put its tag in the
// body.
func HTMLMessage(content string, mentions ...models.ChatMessageMentionable) models.ChatMessageable {
	return messageModel(models.HTML_BODYTYPE, content, mentions)
}

func messageModel(typ models.BodyType, content string, mentions []models.ChatMessageMentionable) models.ChatMessageable {
	body := models.NewItemBody()
	body.SetContentType(&typ)
	body.SetContent(&content)
	msg := models.NewChatMessage()
	msg.SetBody(body)
	if len(mentions) > 0 {
		msg.SetMentions(mentions)
	}
	return msg
}

// Mention returns the two halves of an @mention of a user: the tag to put
// in an HTML body, <at id="{id}">{name}</at> with the name escaped, and the
// mentions entry with the same id, mentionText name and mentioned.user
// naming the user by object id (the chatMessageMention resource). Ids are
// the mention's index in the message: 0, 1, 2...
func Mention(id int, userID, name string) (tag string, mention models.ChatMessageMentionable) {
	user := models.NewTeamworkUserIdentity()
	user.SetId(&userID)
	if name != "" {
		user.SetDisplayName(&name)
	}
	kind := models.AADUSER_TEAMWORKUSERIDENTITYTYPE
	user.SetUserIdentityType(&kind)
	mentioned := models.NewChatMessageMentionedIdentitySet()
	mentioned.SetUser(user)
	m := models.NewChatMessageMention()
	id32 := int32(id)
	m.SetId(&id32)
	m.SetMentionText(&name)
	m.SetMentioned(mentioned)
	return `<at id="` + strconv.Itoa(id) + `">` + html.EscapeString(name) + `</at>`, m
}

// SendOptions add what is known of the chat to SendMessage.
type SendOptions struct {
	// Members are the chat's members (object ids or user principal names),
	// when known: a mention of anyone else, or a signed-in caller not among
	// them, is refused before sending.
	Members []string
	// FetchMembers lists the chat's members first (GET /chats/{id}/members)
	// to check against them; it needs the list-members operation declared.
	// Members, when also given, are not used.
	FetchMembers bool
}

// MessageAmbiguousError reports a send whose outcome is unknown: the
// request failed in a way that does not say whether the message was posted
// (a timeout, a 502, 503 or 504, a connection dropped after sending, a
// cancellation while in flight). It matches ErrOutcomeUnknown.
type MessageAmbiguousError struct {
	ChatID string
	Err    error // the failure of the send
}

func (e *MessageAmbiguousError) Error() string {
	return "graphchat: send-message: outcome unknown, not retried so that the message is not posted twice (read the chat to find out): " + e.Err.Error()
}

// Unwrap returns the failure of the send.
func (e *MessageAmbiguousError) Unwrap() error { return e.Err }

// Is matches ErrOutcomeUnknown.
func (e *MessageAmbiguousError) Is(target error) bool { return target == ErrOutcomeUnknown }

// SendMessage checks and sends a chat message (POST /chats/{chat-id}/messages)
// and returns the message the service created. The operation send-message
// must be declared in Options.Operations; its least-privileged permission
// is the delegated ChatMessage.Send. Application permissions cannot send
// chat messages (the service allows it only to import history): such a
// send is refused by the policy (operation_not_supported).
//
// The message is checked by policy.CheckMessage first, as the SDK will
// serialize it: content and content type, the size limit, well-formed
// HTML, mentions that match their <at id> tags and name users, and with
// opts, mentions of members only and a caller who is a member. A refused
// message is never sent: the error is a policy.List.
//
// A send is not idempotent: the same message twice is posted twice, and
// the service gives no key to tell a repeat. SendMessage therefore never
// repeats a send that may have reached the service: its pipeline retries a
// 429 (not processed) after Retry-After, and nothing else. A failure that
// leaves the outcome unknown is a *MessageAmbiguousError, which matches
// ErrOutcomeUnknown; the message may or may not be in the chat. graphchat
// does not look for it: that would need a permission to read the chat
// (Chat.Read, beyond what sending needs), and the same text sent twice on
// purpose cannot be told from a repeat. Read the chat, or ask the user,
// before sending again. Other errors are a *Error answered by the service.
func (c *Client) SendMessage(ctx context.Context, chatID string, msg models.ChatMessageable, opts *SendOptions) (models.ChatMessageable, error) {
	op := policy.OpSendMessage
	if _, err := c.CheckMessage(ctx, chatID, msg, opts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("graphchat: %s: %w", op, err) // nothing was sent
	}
	// Not marked idempotent: the pipeline retries only 429.
	cfg := &chats.ItemMessagesRequestBuilderPostRequestConfiguration{}
	got, err := c.chats().ByChatId(chatID).Messages().Post(ctx, msg, cfg)
	if err != nil {
		err = translate(string(op), err)
		if ambiguous(err) {
			return nil, &MessageAmbiguousError{ChatID: chatID, Err: err}
		}
		return nil, err
	}
	return got, nil
}

// CheckMessage checks a message as SendMessage would, without sending it
// (with opts.FetchMembers, it lists the chat's members). It returns the
// policy's result; the error is a policy.List when the message would be
// refused, a *policy.SyntaxError when the model does not serialize to a JSON
// object, or another error when the operation is not declared, the token
// cannot be read or the members cannot be listed.
func (c *Client) CheckMessage(ctx context.Context, chatID string, msg models.ChatMessageable, opts *SendOptions) (*policy.Result, error) {
	op := policy.OpSendMessage
	switch {
	case chatID == "":
		return nil, fmt.Errorf("graphchat: %s: chat id is empty", op)
	case msg == nil:
		return nil, fmt.Errorf("graphchat: %s: message is nil", op)
	}
	pc, err := c.context(ctx, op)
	if err != nil {
		return nil, err
	}
	w := jsonserialization.NewJsonSerializationWriter()
	defer w.Close()
	if err := w.WriteObjectValue("", msg); err != nil {
		return nil, fmt.Errorf("graphchat: serializing the message: %w", err)
	}
	body, err := w.GetSerializedContent()
	if err != nil {
		return nil, fmt.Errorf("graphchat: serializing the message: %w", err)
	}
	m, err := policy.ParseSendMessage(body)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		m.Members = opts.Members
		if opts.FetchMembers {
			members, err := c.ListMembers(ctx, chatID)
			if err != nil {
				return nil, err
			}
			m.Members = []string{}
			for _, x := range members {
				if am, ok := x.(models.AadUserConversationMemberable); ok && am.GetUserId() != nil {
					m.Members = append(m.Members, *am.GetUserId())
				}
			}
		}
	}
	res := policy.CheckMessage(m, pc)
	if err := res.Err(); err != nil {
		return res, err
	}
	c.warn(ctx, op, res.Warnings)
	return res, nil
}
