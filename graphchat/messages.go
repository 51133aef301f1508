package graphchat

import (
	"context"
	"fmt"
	"html"
	"slices"
	"strconv"

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
	// FetchMembers lists the chat's members (GET /chats/{id}/members) to
	// check against them, once the message has passed the rules that need
	// no members; it needs the list-members operation declared. Members,
	// when also given, are not used.
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
// message is never sent: the error is a policy.List. With
// opts.FetchMembers, a message refused by the rules that need no members
// is refused before the members are listed (see CheckMessage).
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
	return c.postMessage(ctx, chatID, msg)
}

// postMessage sends a checked message, once: not marked idempotent, so the
// pipeline retries only a 429. An ambiguous failure is a
// *MessageAmbiguousError.
func (c *Client) postMessage(ctx context.Context, chatID string, msg models.ChatMessageable) (models.ChatMessageable, error) {
	cfg := &chats.ItemMessagesRequestBuilderPostRequestConfiguration{}
	got, err := c.chats().ByChatId(chatID).Messages().Post(ctx, msg, cfg)
	if err != nil {
		err = translate(string(policy.OpSendMessage), err)
		if ambiguous(err) {
			return nil, &MessageAmbiguousError{ChatID: chatID, Err: err}
		}
		return nil, err
	}
	return got, nil
}

// CheckMessage checks a message as SendMessage would, without sending it.
// It returns the policy's result; the error is a policy.List when the
// message would be refused, a *policy.SyntaxError when the model does not
// serialize to a JSON object, or another error when the operation is not
// declared, the token cannot be read or the members cannot be listed.
//
// With opts.FetchMembers, the chat's members are listed only when the
// message passes every rule that does not need them (its body, its
// mentions, the grant): a message those rules refuse is refused at once,
// before any request, with their violations only; the rules that need the
// members (mention_not_member, caller_missing) are applied after the
// listing, to a message that passed the others. A refusal never needs a
// request.
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
	m, err := parseMessage(msg)
	if err != nil {
		return nil, err
	}
	fetch := opts != nil && opts.FetchMembers
	if opts != nil && !fetch {
		m.Members = opts.Members
	}
	// Everything that needs no members is judged first (with FetchMembers,
	// m.Members is still nil, so the member rules are left out): a message
	// refused by those rules is refused before any request.
	res := policy.CheckMessage(m, pc)
	if err := res.Err(); err != nil {
		return res, err
	}
	if fetch {
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
		res = policy.CheckMessage(m, pc)
		if err := res.Err(); err != nil {
			return res, err
		}
	}
	c.warn(ctx, op, res.Warnings)
	return res, nil
}

// parseMessage is the policy's view of a message: the body the SDK will
// send, parsed back.
func parseMessage(msg models.ChatMessageable) (*policy.Message, error) {
	body, err := serializeMessage(msg)
	if err != nil {
		return nil, err
	}
	return policy.ParseSendMessage(body)
}

// SendToOptions control SendTo. A nil *SendToOptions means the defaults.
type SendToOptions struct {
	// Pick says what to do when several group chats match, as
	// FindOrCreateOptions.Pick: by default a *MatchesError, and nothing is
	// sent.
	Pick Pick
	// Index, when set, answers the lookup of a group chat instead of a
	// listing, as FindOrCreateOptions.Index.
	Index *ChatIndex
}

// Sent is what SendTo did: the chat it found or created, and the message.
type Sent struct {
	// Chat is the chat the message went to. Chat.Existed is true when it
	// was found (a group chat with exactly these members and topic, or the
	// one-on-one chat the service keeps for the pair); otherwise this call
	// created it (Chat.Recovered: by a request whose answer was lost).
	Chat *Created
	// Message is the message the service created; nil when the message
	// was not posted, or may have been (see the error).
	Message models.ChatMessageable
	// Warnings are the policy's warnings about the message; those about
	// the chat are in Chat.Warnings.
	Warnings policy.List
}

// SendTo posts a message to a set of people: it finds their chat, creating
// it when there is none, as FindOrCreate does, then sends the message as
// SendMessage does. The operations create-chat and send-message must be
// declared, and for a group chat list-chats (and resolve-user for members
// given by user principal name that Options.Directory does not know).
// Application permissions cannot send chat messages: an app-only token is
// refused by the policy (operation_not_supported).
//
// Both requests are checked before anything is listed, created or sent:
// the message by policy.CheckMessage with the members as the chat's (each
// mention must name one of them, and the signed-in caller must be one),
// and the chat by the rules of POST /chats. Their violations come together
// in one policy.List, and nothing is sent. When the members and mentions
// cannot be compared as given (some are named by user principal name and
// others by object id), the members are first identified by object id
// (GET /users/{upn}?$select=id, the only requests made before the message
// is judged).
//
// Errors: a policy.List (nothing was sent); a *MatchesError when several
// group chats match and opts.Pick chooses none (nothing was created or
// sent); a group creation that failed ambiguously and could not be looked
// up is an *AmbiguousError (the chat may exist; the message was not sent).
// Once the chat is known, SendTo returns a *Sent with the error: a send is
// never repeated, so one whose outcome is unknown is a
// *MessageAmbiguousError (both match ErrOutcomeUnknown: tell them apart
// with errors.As), and the message may or may not be in Sent.Chat. Other
// errors are a *Error answered by the service; when Sent.Message is nil
// with any error, the message was not posted, except after a
// *MessageAmbiguousError.
func (c *Client) SendTo(ctx context.Context, typ policy.ChatType, topic string, members []Member, msg models.ChatMessageable, opts *SendToOptions) (*Sent, error) {
	if opts == nil {
		opts = &SendToOptions{}
	}
	if opts.Pick != PickNone && opts.Pick != PickOldest {
		return nil, fmt.Errorf("graphchat: SendToOptions.Pick %q: want \"\" or %q", opts.Pick, PickOldest)
	}
	switch typ {
	case policy.ChatTypeOneOnOne, policy.ChatTypeGroup:
	default:
		return nil, fmt.Errorf("graphchat: send-to: chat type %q: want oneOnOne or group", typ)
	}
	if isNil(msg) {
		return nil, fmt.Errorf("graphchat: %s: message is nil", policy.OpSendMessage)
	}
	msgRes, err := c.checkMessageTo(ctx, typ, topic, members, msg)
	if err != nil {
		return nil, err
	}
	created, err := c.FindOrCreate(ctx, typ, topic, members, &FindOrCreateOptions{Pick: opts.Pick, Index: opts.Index})
	if err != nil {
		if created != nil && created.Chat != nil {
			return &Sent{Chat: created, Warnings: msgRes.Warnings}, err // created, but the check for duplicates failed: not sent
		}
		return nil, err
	}
	sent := &Sent{Chat: created, Warnings: msgRes.Warnings}
	if created.Chat == nil || created.ID() == "" {
		return sent, fmt.Errorf("graphchat: send-to: the service returned no chat id: the message was not sent")
	}
	if err := ctx.Err(); err != nil {
		return sent, fmt.Errorf("graphchat: %s: %w", policy.OpSendMessage, err) // the message was not sent
	}
	got, err := c.postMessage(ctx, created.ID(), msg)
	if err != nil {
		return sent, err
	}
	sent.Message = got
	return sent, nil
}

// sameFinding reports whether a violation of the message says what one of
// the chat says: the same field, or a finding about the call itself (the
// caller, the grant, the operations), which both checks make.
func sameFinding(chat, msg policy.Violation) bool {
	if chat.Code != msg.Code {
		return false
	}
	switch msg.Code {
	case policy.CodeCallerMissing, policy.CodeAuthType, policy.CodePermissionMissing, policy.CodePermissionExcess, policy.CodeOperation, policy.CodeOperationAuth:
		return true
	}
	return chat.Field == msg.Field
}

// checkMessageTo is SendTo's check of both requests before anything is
// listed, created or sent: the message with the members as the chat's, and
// the chat. It returns the message's result, or the violations of both as
// one policy.List (the chat's first; a finding of the message that the
// chat's check already made, such as the caller missing or the grant, is
// not repeated).
func (c *Client) checkMessageTo(ctx context.Context, typ policy.ChatType, topic string, members []Member, msg models.ChatMessageable) (*policy.Result, error) {
	pc, err := c.context(ctx, policy.OpSendMessage)
	if err != nil {
		return nil, err
	}
	pcChat, err := c.context(ctx, policy.OpCreateChat)
	if err != nil {
		return nil, err
	}
	m, err := parseMessage(msg)
	if err != nil {
		return nil, err
	}
	known := *pc
	known.Directory = c.dir
	m.Members = usersOf(members)
	res := policy.CheckMessage(m, &known)
	if err := c.refuseBoth(ctx, typ, topic, members, pcChat, res); err != nil {
		return nil, err
	}

	// Members named one way and mentions or the caller another: identify
	// the members by object id (resolve-user, cached by the Client) and
	// judge the message again, so that a mention of anyone else is refused
	// rather than warned about.
	if slices.ContainsFunc(res.Warnings, func(w policy.Violation) bool {
		return w.Code == policy.CodeMentionUnknown || w.Code == policy.CodeCallerUnknown
	}) {
		for i, x := range members {
			id, err := c.objectID(ctx, x.User, pc, c.dir)
			if err != nil {
				return nil, fmt.Errorf("graphchat: %s: members[%d] %q: %w", policy.OpSendMessage, i, x.User, err)
			}
			m.Members[i] = id
		}
		if res = policy.CheckMessage(m, &known); res.Err() != nil {
			return nil, res.Err()
		}
	}
	c.warn(ctx, policy.OpSendMessage, res.Warnings)
	return res, nil
}

// refuseBoth checks the chat of SendTo (in pcChat, the context of
// create-chat) and returns its violations and
// those of the message (msgRes) as one policy.List, the chat's first and
// without the message's findings the chat's already made; nil when both
// are allowed. The chat's warnings are not logged here: FindOrCreate
// checks the chat again, and logs them.
func (c *Client) refuseBoth(ctx context.Context, typ policy.ChatType, topic string, members []Member, pcChat *policy.Context, msgRes *policy.Result) error {
	req := membersRequest(typ, topicRef(topic), members)
	chatRes, _, err := c.judgeWith(ctx, req.Members, pcChat, nil, func(pc *policy.Context) *policy.Result { return policy.Check(req, pc) })
	if err != nil && chatRes == nil {
		return err // not a refusal: the check could not run
	}
	refused := append(policy.List(nil), chatRes.Violations...)
	for _, v := range msgRes.Violations {
		if !slices.ContainsFunc(chatRes.Violations, func(w policy.Violation) bool { return sameFinding(w, v) }) {
			refused = append(refused, v)
		}
	}
	if len(refused) > 0 {
		return refused
	}
	return nil
}
