package bulkfile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Key identifies a chat by what a line asks for, not by where the line is:
// the same chat type, topic and members give the same key wherever the line
// stands and however its members are ordered or spelled in letter case.
// It is the first 16 bytes of a SHA-256 of the normalized chat.
type Key [16]byte

// String returns the key as 32 lower-case hexadecimal digits.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// ParseKey reads a key written by String.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != 2*len(k) {
		return k, fmt.Errorf("key %q: want %d hexadecimal digits", s, 2*len(k))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("key %q: %v", s, err)
	}
	return k, nil
}

// Spec returns the chat the line asks for as its key reads it: its type,
// topic and members, users and tenants in lower case, members sorted; no
// line number and no message. Its key is the line's key. Kinds and roles
// stay as written ("" for none declared).
func (c Chat) Spec() Chat {
	s := Chat{Type: c.Type, Topic: c.Topic, Members: make([]Member, len(c.Members))}
	for i, m := range c.Members {
		s.Members[i] = Member{User: strings.ToLower(m.User), Kind: m.Kind, TenantID: strings.ToLower(m.TenantID), Role: m.Role}
	}
	slices.SortFunc(s.Members, func(a, b Member) int {
		return slices.Compare([]string{a.User, a.Kind, a.Role, a.TenantID}, []string{b.User, b.Kind, b.Role, b.TenantID})
	})
	return s
}

// Key returns the chat's key. The normalized chat is its type, its topic
// exactly as it will be sent, and its members as a sorted list of (user in
// lower case, kind with "" read as member, role with "" read as the kind's
// default, tenant in lower case). A user given by object id and the same
// user given by user principal name are different members: the key cannot
// know they are one person.
func (c Chat) Key() Key {
	members := make([][4]string, len(c.Members))
	for i, m := range c.Members {
		kind := m.Kind
		if kind == "" {
			kind = "member"
		}
		role := m.Role
		if role == "" {
			role = "owner"
			if kind == "guest" {
				role = "guest"
			}
		}
		members[i] = [4]string{strings.ToLower(m.User), kind, role, strings.ToLower(m.TenantID)}
	}
	slices.SortFunc(members, func(a, b [4]string) int { return slices.Compare(a[:], b[:]) })
	h := sha256.New()
	field := func(s string) { // length-prefixed: no two lists of fields encode alike
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	field("graphchat-bulk-key-1")
	field(c.Type)
	field(c.Topic)
	h.Write(binary.AppendUvarint(nil, uint64(len(members))))
	for _, m := range members {
		for _, f := range m {
			field(f)
		}
	}
	var k Key
	copy(k[:], h.Sum(nil))
	return k
}
