package graphchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/graphchat/graphchat/policy"
)

// userCache keeps what Graph said of users, by lower-cased object id and
// user principal name, for the life of a Client.
type userCache struct {
	mu    sync.Mutex
	users map[string]policy.User
}

// maxCachedUsers bounds the cache; it is emptied when full.
const maxCachedUsers = 1 << 14

func (uc *userCache) get(ref string) (policy.User, bool) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	u, ok := uc.users[strings.ToLower(ref)]
	return u, ok
}

// put records u under its id, its user principal name and ref. A kind
// already known is kept when u has none (a basic profile has no userType).
func (uc *userCache) put(ref string, u policy.User) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.users == nil || len(uc.users) >= maxCachedUsers {
		uc.users = map[string]policy.User{}
	}
	if old, ok := uc.users[strings.ToLower(ref)]; ok && u.Kind == policy.KindUnknown {
		u.Kind = old.Kind
	}
	for _, k := range []string{ref, u.ID, u.UserPrincipalName} {
		if k != "" {
			uc.users[strings.ToLower(k)] = u
		}
	}
}

// errUserNotFound is the answer 404 to GET /users/{ref}.
var errUserNotFound = errors.New("no such user in the caller's tenant")

// getUser reads a user: GET /users/{ref}?$select=... for an operation
// (get-user or resolve-user). It returns errUserNotFound for a 404, and
// records the answer in the cache.
func (c *Client) getUser(ctx context.Context, op policy.Operation, ref, sel string) (policy.User, error) {
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET,
		"{+baseurl}/users/{user%2Did}{?%24select}", map[string]string{"user%2Did": ref})
	info.QueryParameters["%24select"] = sel
	info.Headers.TryAdd("Accept", "application/json")
	got, err := c.adapter.Send(ctx, info, models.CreateUserFromDiscriminatorValue,
		abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		err = translate(string(op), err)
		var ge *Error
		if errors.As(err, &ge) && ge.StatusCode == http.StatusNotFound {
			return policy.User{}, fmt.Errorf("graphchat: %s: %q: %w", op, ref, errUserNotFound)
		}
		return policy.User{}, err
	}
	gu, ok := got.(models.Userable)
	if !ok || gu == nil || deref(gu.GetId()) == "" {
		return policy.User{}, fmt.Errorf("graphchat: %s: %q: the answer holds no user id", op, ref)
	}
	u := policy.User{ID: deref(gu.GetId()), UserPrincipalName: deref(gu.GetUserPrincipalName())}
	switch strings.ToLower(deref(gu.GetUserType())) {
	case "guest":
		u.Kind = policy.KindGuest
	case "member":
		u.Kind = policy.KindMember
	}
	c.users.put(ref, u)
	return u, nil
}

// directory returns what is known of the users of a check: the call's
// directory (CreateOptions.Directory), Options.Directory and, when resolve
// is true, what Graph says of members whose kind nothing declares or knows
// (GET /users/{ref}?$select=id,userType,userPrincipalName, cached by the
// Client). The policy applies it (Context.Directory). Entries are taken for
// the members and the caller only; the sources must agree.
func (c *Client) directory(ctx context.Context, members []policy.Member, pc *policy.Context, call *policy.Directory, resolve bool) (*policy.Directory, error) {
	if call == nil && !resolve {
		return c.dir, nil
	}
	var entries []policy.User
	add := func(ref string) bool {
		found := false
		for _, d := range []*policy.Directory{call, c.dir} {
			if u, ok := d.Lookup(ref); ok {
				entries = append(entries, u)
				found = true
			}
		}
		return found
	}
	add(pc.Caller.ID)
	add(pc.Caller.UserPrincipalName)
	for _, m := range members {
		known := add(m.User)
		if !resolve || !needsKind(m, pc.TenantID, entries, known) {
			continue
		}
		u, ok := c.users.get(m.User)
		if !ok || u.Kind == policy.KindUnknown {
			var err error
			u, err = c.getUser(ctx, policy.OpGetUser, m.User, "id,userType,userPrincipalName")
			if errors.Is(err, errUserNotFound) {
				continue // left unknown: the service judges
			}
			if err != nil {
				return nil, err
			}
		}
		entries = append(entries, u)
	}
	d, err := policy.NewDirectory(entries...)
	if err != nil {
		return nil, fmt.Errorf("graphchat: what is known of the users disagrees (Options.Directory, CreateOptions.Directory, Graph): %w", err)
	}
	return d, nil
}

// needsKind reports whether ResolveKinds should look a member up: no kind
// is declared or known for it, and nothing makes it external.
func needsKind(m policy.Member, tenant string, entries []policy.User, known bool) bool {
	if m.User == "" || m.Kind != policy.KindUnknown || otherTenant(m.TenantID, tenant) || otherTenant(m.HomeTenantID, tenant) {
		return false
	}
	if known {
		for _, u := range entries {
			if sameRef(u, m.User) && (u.Kind != policy.KindUnknown || otherTenant(u.HomeTenantID, tenant)) {
				return false
			}
		}
	}
	return true
}

func otherTenant(t, tenant string) bool { return t != "" && !strings.EqualFold(t, tenant) }

func sameRef(u policy.User, ref string) bool {
	return strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UserPrincipalName, ref)
}

// objectID returns the object id of a member given by user principal name,
// for the lookup after an ambiguous failure: from the caller's claims, from
// what is known of users (dir), from the cache, or, when resolve-user is
// declared, from GET /users/{upn}?$select=id. It never guesses: an error
// says why the id is not known.
func (c *Client) objectID(ctx context.Context, ref string, pc *policy.Context, dir *policy.Directory) (string, error) {
	if policy.IsObjectID(ref) {
		return ref, nil
	}
	if strings.EqualFold(ref, pc.Caller.UserPrincipalName) && policy.IsObjectID(pc.Caller.ID) {
		return pc.Caller.ID, nil
	}
	if u, ok := dir.Lookup(ref); ok && policy.IsObjectID(u.ID) {
		return u.ID, nil
	}
	if u, ok := c.users.get(ref); ok && policy.IsObjectID(u.ID) {
		return u.ID, nil
	}
	if !c.declared(policy.OpResolveUser) {
		return "", fmt.Errorf("member %q is given by user principal name, and its object id is unknown: declare %s in Options.Operations (User.ReadBasic.All), give it in Options.Directory, or give the member by object id", ref, policy.OpResolveUser)
	}
	u, err := c.getUser(ctx, policy.OpResolveUser, ref, "id")
	if err != nil {
		return "", err
	}
	if !policy.IsObjectID(u.ID) {
		return "", fmt.Errorf("graphchat: %s: %q: the id %q is not an object id", policy.OpResolveUser, ref, u.ID)
	}
	return u.ID, nil
}
