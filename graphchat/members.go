package graphchat

import (
	"errors"
	"fmt"
	"time"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/graphchat/graphchat/policy"
)

// Member describes a chat member to add: who the user is and what is known
// of them. Build one with User, Guest or External.
type Member struct {
	// User is the user's object id or user principal name.
	User string
	// Kind is what is known of the user; it decides the role.
	Kind policy.Kind
	// TenantID is the home tenant of an external user.
	TenantID string
	// Role overrides the role derived from Kind (guest for in-tenant guests,
	// owner otherwise). The policy still checks it.
	Role policy.Role
	// VisibleHistoryStart, for AddMember only, is the time from which the
	// new member sees the chat's history; nil for none (the service's
	// default). Set it with WithHistory. The zero time is refused: sharing
	// the whole history is the explicit AllHistory.
	VisibleHistoryStart *time.Time
	// AllHistory, for AddMember only, shares the chat's whole history with
	// the new member. Set it with WithAllHistory; it excludes
	// VisibleHistoryStart.
	AllHistory bool
}

// User returns a user given by object id or user principal name, whose
// kind is not declared. Its role is owner. Options.ResolveKinds (or what
// the app knows of its users) then decides its kind, so that a guest given
// this way is refused the owner role before anything is sent; without them,
// the rules that depend on the kind are left to the service. To declare an
// in-tenant member, and so have it never looked up, set Kind:
// Member{User: ref, Kind: policy.KindMember}.
func User(idOrUPN string) Member { return Member{User: idOrUPN} }

// Guest returns a B2B guest account of the caller's tenant. Its role is
// guest, as the service requires.
func Guest(idOrUPN string) Member { return Member{User: idOrUPN, Kind: policy.KindGuest} }

// External returns a user of another tenant (external, federated), by
// object id, with its home tenant. Its role is owner, as the service
// requires.
func External(id, tenantID string) Member {
	return Member{User: id, Kind: policy.KindExternal, TenantID: tenantID}
}

// WithHistory returns a copy of m that sees the chat's history from t when
// added to a chat. t must not be the zero time (AddMember refuses it): use
// WithAllHistory to share the whole history.
func (m Member) WithHistory(t time.Time) Member {
	m.VisibleHistoryStart, m.AllHistory = &t, false
	return m
}

// WithAllHistory returns a copy of m that sees the chat's whole history when
// added to a chat.
func (m Member) WithAllHistory() Member {
	m.VisibleHistoryStart, m.AllHistory = nil, true
	return m
}

// history returns the visibleHistoryStartDateTime to send: nil for none,
// the zero time (as the service expects) for the whole history.
func (m Member) history() (*time.Time, error) {
	switch {
	case m.AllHistory && m.VisibleHistoryStart != nil:
		return nil, fmt.Errorf("graphchat: member %q: AllHistory and VisibleHistoryStart are both set: want one of them", m.User)
	case m.AllHistory:
		return &time.Time{}, nil
	case m.VisibleHistoryStart == nil:
		return nil, nil
	case m.VisibleHistoryStart.IsZero():
		return nil, fmt.Errorf("graphchat: member %q: VisibleHistoryStart is the zero time: want a time, or AllHistory (WithAllHistory) to share the whole history", m.User)
	}
	t := m.VisibleHistoryStart.UTC()
	return &t, nil
}

func (m Member) role() policy.Role {
	switch {
	case m.Role != "":
		return m.Role
	case m.Kind == policy.KindGuest:
		return policy.RoleGuest
	}
	return policy.RoleOwner
}

func (m Member) policy() policy.Member {
	return policy.Member{User: m.User, Roles: []policy.Role{m.role()}, TenantID: m.TenantID, Kind: m.Kind}
}

// Model returns the SDK model of the member for a cloud and API version
// ("v1.0" or "beta"): @odata.type aadUserConversationMember, one role, the
// tenantId of an external user, and user@odata.bind with ' doubled and #
// percent-encoded, and visibleHistoryStartDateTime when AllHistory or
// VisibleHistoryStart is set. It fails when User is not an object id or a
// user principal name, or when the history is not one of none, all or a
// non-zero time.
func (m Member) Model(cloud Cloud, version string) (models.AadUserConversationMemberable, error) {
	bind, err := policy.NewBindURL(cloud.GraphHost(), version, m.User)
	if err != nil {
		return nil, fmt.Errorf("graphchat: member %q: %w", m.User, err)
	}
	history, err := m.history()
	if err != nil {
		return nil, err
	}
	am := models.NewAadUserConversationMember() // sets @odata.type
	am.SetRoles([]string{string(m.role())})
	if m.TenantID != "" {
		tid := m.TenantID
		am.SetTenantId(&tid)
	}
	if history != nil {
		am.SetVisibleHistoryStartDateTime(history)
	}
	am.SetAdditionalData(map[string]any{"user@odata.bind": bind.String()})
	return am, nil
}

// ChatModel returns the SDK model of a chat to create: its type, its topic
// ("" for none) and its members, each built by Member.Model for the cloud
// and API version ("v1.0" or "beta"). It checks only what building needs
// (user references); package policy checks the rest.
func ChatModel(cloud Cloud, version string, typ policy.ChatType, topic string, members ...Member) (models.Chatable, error) {
	chat := models.NewChat()
	var ct models.ChatType
	switch typ {
	case policy.ChatTypeOneOnOne:
		ct = models.ONEONONE_CHATTYPE
	case policy.ChatTypeGroup:
		ct = models.GROUP_CHATTYPE
	default:
		return nil, fmt.Errorf("graphchat: chat type %q: want oneOnOne or group", typ)
	}
	chat.SetChatType(&ct)
	if topic != "" {
		chat.SetTopic(&topic)
	}
	ms := make([]models.ConversationMemberable, len(members))
	for i, m := range members {
		model, err := m.Model(cloud, version)
		if err != nil {
			return nil, err
		}
		ms[i] = model
	}
	chat.SetMembers(ms)
	return chat, nil
}

// DecodeChat reads a POST /chats JSON body into the SDK's model, keeping
// properties the model does not define (such as a misspelt bind key) in its
// additional data, so that Create and Check see them.
func DecodeChat(body []byte) (models.Chatable, error) {
	node, err := jsonserialization.NewJsonParseNode(body)
	if err != nil {
		return nil, fmt.Errorf("graphchat: reading the chat: %w", err)
	}
	v, err := node.GetObjectValue(models.CreateChatFromDiscriminatorValue)
	if err != nil {
		return nil, fmt.Errorf("graphchat: reading the chat: %w", err)
	}
	chat, ok := v.(models.Chatable)
	if !ok || chat == nil {
		return nil, errors.New("graphchat: reading the chat: not a chat object")
	}
	return chat, nil
}
