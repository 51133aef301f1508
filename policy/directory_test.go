package policy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphchat/graphchat/policy"
)

const (
	ownTenant   = "2432b57b-0abd-43db-aa7b-16eadd115d34"
	otherTenant = "4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1"
	thirdTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
	adaID       = "82af01c5-f7cc-4a2e-a728-3a5df21afd9d"
	adaUPN      = "ada@fabrikam.com"
	callerID    = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"
	callerUPN   = "jacob@contoso.com"
)

func TestNewDirectory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		users   []policy.User
		wantErr string // a part of the error; "" for none
		lookup  string
		want    policy.User
	}{
		{name: "by id, any case", users: []policy.User{{ID: adaID, UserPrincipalName: adaUPN, Kind: policy.KindGuest}},
			lookup: strings.ToUpper(adaID), want: policy.User{ID: adaID, UserPrincipalName: adaUPN, Kind: policy.KindGuest}},
		{name: "by upn, any case", users: []policy.User{{ID: adaID, UserPrincipalName: adaUPN}},
			lookup: "ADA@Fabrikam.com", want: policy.User{ID: adaID, UserPrincipalName: adaUPN}},
		{name: "agreeing entries merge", users: []policy.User{{ID: adaID, Kind: policy.KindExternal}, {ID: strings.ToUpper(adaID), UserPrincipalName: adaUPN, HomeTenantID: otherTenant}},
			lookup: adaUPN, want: policy.User{ID: adaID, UserPrincipalName: adaUPN, Kind: policy.KindExternal, HomeTenantID: otherTenant}},
		{name: "unknown user", users: []policy.User{{ID: adaID}}, lookup: callerID},
		{name: "empty lookup", users: []policy.User{{ID: adaID}}, lookup: ""},
		{name: "no name", users: []policy.User{{ID: adaID}, {Kind: policy.KindGuest}}, wantErr: "entry 1: neither"},
		{name: "unknown kind", users: []policy.User{{ID: adaID, Kind: "robot"}}, wantErr: "entry 0"},
		{name: "kinds contradict", users: []policy.User{{ID: adaID, Kind: policy.KindGuest}, {ID: adaID, Kind: policy.KindMember}}, wantErr: "entry 1 (" + adaID + "): kind"},
		{name: "home tenants contradict", users: []policy.User{{UserPrincipalName: adaUPN, HomeTenantID: otherTenant}, {UserPrincipalName: adaUPN, HomeTenantID: thirdTenant}}, wantErr: "entry 1 (" + adaUPN + "): home tenant"},
		{name: "two ids for one upn", users: []policy.User{{ID: adaID, UserPrincipalName: adaUPN}, {ID: callerID, UserPrincipalName: adaUPN}}, wantErr: "entry 1 (" + callerID + "): object id"},
		{name: "id and upn of two users", users: []policy.User{{ID: adaID}, {UserPrincipalName: adaUPN}, {ID: adaID, UserPrincipalName: adaUPN}}, wantErr: "entry 2: object id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := policy.NewDirectory(tt.users...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := d.Lookup(tt.lookup)
			if ok != (tt.want != policy.User{}) {
				t.Fatalf("Lookup(%q) found = %v", tt.lookup, ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tt.lookup, diff)
			}
		})
	}
	var none *policy.Directory
	if _, ok := none.Lookup(adaID); ok || none.Len() != 0 {
		t.Error("a nil directory knows someone")
	}
}

// TestKnowledge: declared kinds, declared home tenants, the directory and the
// tenantId sent, for one member besides the caller.
func TestKnowledge(t *testing.T) {
	t.Parallel()
	dir := func(users ...policy.User) *policy.Directory {
		d, err := policy.NewDirectory(users...)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	owner := []policy.Role{policy.RoleOwner}
	guest := []policy.Role{policy.RoleGuest}
	tests := []struct {
		name   string
		m      policy.Member
		dir    *policy.Directory
		want   []policy.Code
		fields []string
	}{
		{name: "nothing known", m: policy.Member{User: adaID, Roles: owner}},
		{name: "directory guest as owner", m: policy.Member{User: adaID, Roles: owner},
			dir: dir(policy.User{ID: adaID, Kind: policy.KindGuest}), want: []policy.Code{policy.CodeGuestRole}, fields: []string{"members[1].roles"}},
		{name: "directory guest by upn", m: policy.Member{User: "ADA@fabrikam.com", Roles: guest},
			dir: dir(policy.User{ID: adaID, UserPrincipalName: adaUPN, Kind: policy.KindGuest})},
		{name: "directory home tenant makes external", m: policy.Member{User: adaID, Roles: guest, TenantID: otherTenant},
			dir: dir(policy.User{ID: adaID, Kind: policy.KindMember, HomeTenantID: otherTenant}), want: []policy.Code{policy.CodeExternalRole}, fields: []string{"members[1].roles"}},
		{name: "directory external without tenantId", m: policy.Member{User: adaID, Roles: owner},
			dir: dir(policy.User{ID: adaID, HomeTenantID: otherTenant}), want: []policy.Code{policy.CodeExternalTenant}, fields: []string{"members[1].tenantId"}},
		{name: "directory external with its tenantId", m: policy.Member{User: adaID, Roles: owner, TenantID: otherTenant},
			dir: dir(policy.User{ID: adaID, HomeTenantID: otherTenant})},
		{name: "tenantId against directory home", m: policy.Member{User: adaID, Roles: owner, TenantID: thirdTenant},
			dir: dir(policy.User{ID: adaID, HomeTenantID: otherTenant}), want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1].tenantId"}},
		{name: "declared kind against directory", m: policy.Member{User: adaID, Roles: owner, Kind: policy.KindMember},
			dir: dir(policy.User{ID: adaID, Kind: policy.KindGuest}), want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1]"}},
		{name: "declared member, directory external", m: policy.Member{User: adaID, Roles: owner, Kind: policy.KindMember},
			dir: dir(policy.User{ID: adaID, HomeTenantID: otherTenant}), want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1]"}},
		{name: "declared home against directory", m: policy.Member{User: adaID, Roles: owner, HomeTenantID: thirdTenant, TenantID: thirdTenant},
			dir: dir(policy.User{ID: adaID, HomeTenantID: otherTenant}), want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1]"}},
		{name: "declared agrees with directory", m: policy.Member{User: adaID, Roles: owner, Kind: policy.KindExternal, HomeTenantID: otherTenant, TenantID: otherTenant},
			dir: dir(policy.User{ID: adaID, HomeTenantID: otherTenant})},
		{name: "declared home makes external", m: policy.Member{User: adaID, Roles: guest, HomeTenantID: otherTenant, TenantID: otherTenant},
			want: []policy.Code{policy.CodeExternalRole}, fields: []string{"members[1].roles"}},
		{name: "declared home, tenantId missing", m: policy.Member{User: adaID, Roles: owner, HomeTenantID: otherTenant},
			want: []policy.Code{policy.CodeExternalTenant}, fields: []string{"members[1].tenantId"}},
		{name: "tenantId against declared home", m: policy.Member{User: adaID, Roles: owner, Kind: policy.KindExternal, HomeTenantID: otherTenant, TenantID: thirdTenant},
			want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1].tenantId"}},
		{name: "tenantId against declared home, any case", m: policy.Member{User: adaID, Roles: owner, HomeTenantID: strings.ToUpper(otherTenant), TenantID: otherTenant}},
		{name: "declared guest with another home", m: policy.Member{User: adaID, Roles: guest, Kind: policy.KindGuest, HomeTenantID: otherTenant},
			want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1]"}},
		{name: "declared external with own home", m: policy.Member{User: adaID, Roles: owner, Kind: policy.KindExternal, HomeTenantID: ownTenant},
			want: []policy.Code{policy.CodeExternalTenant}, fields: []string{"members[1].tenantId"}},
		{name: "declared guest, other tenantId", m: policy.Member{User: adaID, Roles: guest, Kind: policy.KindGuest, TenantID: otherTenant},
			want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1].tenantId"}},
		{name: "directory member, other tenantId", m: policy.Member{User: adaID, Roles: owner, TenantID: otherTenant},
			dir: dir(policy.User{ID: adaID, Kind: policy.KindMember}), want: []policy.Code{policy.CodeKindConflict}, fields: []string{"members[1].tenantId"}},
		{name: "empty user", m: policy.Member{Roles: owner},
			want: []policy.Code{policy.CodeUserMissing}, fields: []string{"members[1].user@odata.bind"}},
		{name: "user with control character", m: policy.Member{User: "ada\x00@fabrikam.com", Roles: owner},
			want: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1].user@odata.bind"}},
		{name: "user not UTF-8", m: policy.Member{User: "ad\xffa@fabrikam.com", Roles: owner},
			want: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1].user@odata.bind"}},
		{name: "tenantId with control character", m: policy.Member{User: adaID, Roles: owner, TenantID: otherTenant + "\n"},
			want: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1].tenantId"}},
		{name: "home tenant not UTF-8", m: policy.Member{User: adaID, Roles: owner, HomeTenantID: "\xc3"},
			want: []policy.Code{policy.CodeInvalidText}, fields: []string{"members[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &policy.Request{ChatType: policy.ChatTypeOneOnOne, Members: []policy.Member{{User: callerID, Roles: owner}, tt.m}}
			before := tt.m
			res := policy.Check(r, &policy.Context{TenantID: ownTenant, Caller: policy.Caller{ID: callerID}, Directory: tt.dir})
			opt := cmpopts.EquateEmpty()
			if diff := cmp.Diff(tt.want, res.Violations.Codes(), opt); diff != "" {
				t.Errorf("violations (-want +got):\n%s\n%v", diff, res.Violations)
			}
			var fields []string
			for _, v := range res.Violations {
				fields = append(fields, v.Field)
			}
			if diff := cmp.Diff(tt.fields, fields, opt); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, r.Members[1]); diff != "" {
				t.Errorf("Check modified the member:\n%s", diff)
			}
			// CheckMember applies the same rules, under "member".
			one := policy.CheckMember(&tt.m, &policy.Context{TenantID: ownTenant, Directory: tt.dir})
			if diff := cmp.Diff(tt.want, one.Violations.Codes(), opt); diff != "" {
				t.Errorf("CheckMember violations (-want +got):\n%s\n%v", diff, one.Violations)
			}
			for i, v := range one.Violations {
				if want := strings.Replace(tt.fields[i], "members[1]", "member", 1); v.Field != want {
					t.Errorf("CheckMember field %q, want %q", v.Field, want)
				}
			}
		})
	}
}

// With a directory, the caller is found by either name, and one user given
// by id and by user principal name is a duplicate.
func TestDirectoryNames(t *testing.T) {
	t.Parallel()
	d, err := policy.NewDirectory(policy.User{ID: callerID, UserPrincipalName: callerUPN}, policy.User{ID: adaID, UserPrincipalName: adaUPN})
	if err != nil {
		t.Fatal(err)
	}
	owner := []policy.Role{policy.RoleOwner}
	tests := []struct {
		name     string
		members  []string
		caller   policy.Caller
		dir      *policy.Directory
		want     []policy.Code
		warnings []policy.Code
	}{
		{name: "caller by upn, member by id", members: []string{callerID, adaUPN}, caller: policy.Caller{UserPrincipalName: callerUPN}, dir: d},
		{name: "caller by id, member by upn", members: []string{"JACOB@contoso.com", adaID}, caller: policy.Caller{ID: callerID}, dir: d},
		{name: "without directory it cannot be decided", members: []string{callerUPN, adaID}, caller: policy.Caller{ID: callerID},
			warnings: []policy.Code{policy.CodeCallerUnknown}},
		{name: "directory decides the caller is absent", members: []string{"zoe@contoso.com", adaUPN}, caller: policy.Caller{ID: callerID},
			dir: d, want: []policy.Code{policy.CodeCallerMissing}, warnings: nil},
		{name: "same user by id and upn", members: []string{callerID, adaID, "Ada@Fabrikam.com"}, caller: policy.Caller{ID: callerID},
			dir: d, want: []policy.Code{policy.CodeDuplicateMember}},
		{name: "same user by id and upn, no directory", members: []string{callerID, adaID, adaUPN}, caller: policy.Caller{ID: callerID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &policy.Request{ChatType: policy.ChatTypeGroup}
			for _, u := range tt.members {
				r.Members = append(r.Members, policy.Member{User: u, Roles: owner})
			}
			res := policy.Check(r, &policy.Context{TenantID: ownTenant, Caller: tt.caller, Directory: tt.dir})
			opt := cmpopts.EquateEmpty()
			if diff := cmp.Diff(tt.want, res.Violations.Codes(), opt); diff != "" {
				t.Errorf("violations (-want +got):\n%s\n%v", diff, res.Violations)
			}
			wantWarnings := tt.warnings
			if len(tt.members) == 2 {
				wantWarnings = append(wantWarnings, policy.CodeSmallGroup)
			}
			if diff := cmp.Diff(wantWarnings, res.Warnings.Codes(), cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b policy.Code) bool { return a < b })); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\n%v", diff, res.Warnings)
			}
		})
	}
}
