package policy

import (
	"fmt"
	"strings"
)

// User is what is known of one user.
type User struct {
	ID                string // object id; may be empty
	UserPrincipalName string // may be empty
	// Kind is the user's kind relative to the caller's tenant; KindUnknown
	// when only the home tenant is known.
	Kind Kind
	// HomeTenantID is the user's home tenant, known for external users. An
	// entry whose home tenant differs from the caller's tenant is external,
	// whatever its Kind says.
	HomeTenantID string
}

// Directory is what is known of users, looked up by object id or user
// principal name, case-insensitively. A nil *Directory knows nobody.
//
// A Directory is immutable once made and safe for concurrent use.
type Directory struct {
	users []User
	index map[string]int // lower-cased id or user principal name -> users index
}

// NewDirectory returns a directory of the users. Entries that name the same
// user (by object id or user principal name) are merged when they agree: a
// field left empty in one entry takes the other's value. The error names the
// entry (by its position, from 0) when an entry has neither id nor user
// principal name, has an unknown Kind, or contradicts an earlier entry (a
// different id, user principal name, kind or home tenant for the same user,
// or an id and a user principal name that belong to two different users).
func NewDirectory(users ...User) (*Directory, error) {
	d := &Directory{index: make(map[string]int, 2*len(users))}
	for i, u := range users {
		if u.ID == "" && u.UserPrincipalName == "" {
			return nil, fmt.Errorf("policy: directory entry %d: neither an object id nor a user principal name", i)
		}
		switch u.Kind {
		case KindUnknown, KindMember, KindGuest, KindExternal:
		default:
			return nil, fmt.Errorf("policy: directory entry %d (%s): kind %q: want %q, %q, %q or none", i, u.name(), u.Kind, KindMember, KindGuest, KindExternal)
		}
		byID, okID := d.index[strings.ToLower(u.ID)]
		byUPN, okUPN := d.index[strings.ToLower(u.UserPrincipalName)]
		okID = okID && u.ID != ""
		okUPN = okUPN && u.UserPrincipalName != ""
		at := -1
		switch {
		case okID && okUPN && byID != byUPN:
			return nil, fmt.Errorf("policy: directory entry %d: object id %q and user principal name %q belong to two different users", i, u.ID, u.UserPrincipalName)
		case okID:
			at = byID
		case okUPN:
			at = byUPN
		}
		if at < 0 {
			d.users = append(d.users, u)
			at = len(d.users) - 1
		} else {
			merged, field, ok := merge(d.users[at], u)
			if !ok {
				return nil, fmt.Errorf("policy: directory entry %d (%s): %s contradicts an earlier entry for the same user", i, u.name(), field)
			}
			d.users[at] = merged
		}
		if u.ID != "" {
			d.index[strings.ToLower(u.ID)] = at
		}
		if u.UserPrincipalName != "" {
			d.index[strings.ToLower(u.UserPrincipalName)] = at
		}
	}
	return d, nil
}

// merge combines two entries for one user; ok is false, with the field
// that differs, when they contradict each other.
func merge(a, b User) (u User, field string, ok bool) {
	pick := func(x, y string) (string, bool) {
		switch {
		case x == "":
			return y, true
		case y == "" || strings.EqualFold(x, y):
			return x, true
		}
		return "", false
	}
	if u.ID, ok = pick(a.ID, b.ID); !ok {
		return User{}, "object id", false
	}
	if u.UserPrincipalName, ok = pick(a.UserPrincipalName, b.UserPrincipalName); !ok {
		return User{}, "user principal name", false
	}
	k, ok := pick(string(a.Kind), string(b.Kind))
	if !ok {
		return User{}, "kind", false
	}
	u.Kind = Kind(k)
	if u.HomeTenantID, ok = pick(a.HomeTenantID, b.HomeTenantID); !ok {
		return User{}, "home tenant", false
	}
	return u, "", true
}

func (u User) name() string {
	if u.ID != "" {
		return u.ID
	}
	return u.UserPrincipalName
}

// Lookup returns what is known of the user with the object id or user
// principal name, compared case-insensitively.
func (d *Directory) Lookup(idOrUPN string) (User, bool) {
	if d == nil || idOrUPN == "" {
		return User{}, false
	}
	i, ok := d.index[strings.ToLower(idOrUPN)]
	if !ok {
		return User{}, false
	}
	return d.users[i], true
}

// Len returns the number of users the directory knows.
func (d *Directory) Len() int {
	if d == nil {
		return 0
	}
	return len(d.users)
}

// kindIn returns the user's kind relative to the caller's tenant: external
// when its home tenant is known and differs from callerTenant, its Kind
// otherwise.
func (u User) kindIn(callerTenant string) Kind {
	if u.HomeTenantID != "" && callerTenant != "" && !strings.EqualFold(u.HomeTenantID, callerTenant) {
		return KindExternal
	}
	return u.Kind
}
