package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// dirUser is one user of a --directory file: a JSON array of objects with
// these members, the properties Microsoft Graph returns for a user. The
// emulator (demo emulate --directory) and the checks (validate, create,
// add-member, bulk) read the same file.
type dirUser struct {
	ID                string `json:"id"`                    // object id (GUID), required
	UserPrincipalName string `json:"userPrincipalName"`     // required
	DisplayName       string `json:"displayName,omitempty"` // optional
	Mail              string `json:"mail,omitempty"`        // optional
	UserType          string `json:"userType"`              // "Member" or "Guest", required
	// TenantID is the user's home tenant; absent for users of the caller's
	// tenant (the emulator's, for the emulator). A user of another tenant
	// is external.
	TenantID string `json:"tenantId,omitempty"`
}

// parseDirectory reads a --directory file. Every problem names the user by
// its index and the property; unknown, wrongly cased and repeated
// properties are refused (a misspelt "tenantID" would otherwise make an
// external user look local).
func parseDirectory(data []byte) ([]dirUser, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			return nil, fmt.Errorf("line %d: %v", line, se)
		}
		return nil, errors.New("want a JSON array of users ({\"id\", \"userPrincipalName\", \"userType\", \"tenantId\"})")
	}
	users := make([]dirUser, len(raw))
	seen := map[string]int{}
	for i, r := range raw {
		if err := checkKeys(r); err != nil {
			return nil, fmt.Errorf("[%d]: %v", i, err)
		}
		u := &users[i]
		if err := json.Unmarshal(r, u); err != nil {
			return nil, fmt.Errorf("[%d]: want an object of strings: %v", i, strings.TrimPrefix(err.Error(), "json: "))
		}
		switch {
		case !policy.IsObjectID(u.ID):
			return nil, fmt.Errorf("[%d].id %q: want the user's object id (a GUID)", i, u.ID)
		case !policy.IsUserPrincipalName(u.UserPrincipalName):
			return nil, fmt.Errorf("[%d].userPrincipalName %q: want name@domain", i, u.UserPrincipalName)
		case u.UserType != "Member" && u.UserType != "Guest":
			return nil, fmt.Errorf("[%d].userType %q: want \"Member\" or \"Guest\"", i, u.UserType)
		case u.TenantID != "" && !policy.IsObjectID(u.TenantID):
			return nil, fmt.Errorf("[%d].tenantId %q: want a GUID", i, u.TenantID)
		}
		for _, k := range []string{strings.ToLower(u.ID), strings.ToLower(u.UserPrincipalName)} {
			if j, dup := seen[k]; dup {
				return nil, fmt.Errorf("[%d] repeats [%d] (%s)", i, j, k)
			}
			seen[k] = i
		}
	}
	return users, nil
}

// readDirectory reads and parses a --directory file.
func (e *env) readDirectory(ctx context.Context, name string) ([]dirUser, error) {
	data, err := e.readInput(ctx, "--directory", name, maxDirectory)
	if err != nil {
		return nil, err
	}
	users, err := parseDirectory(data)
	if err != nil {
		return nil, usagef("--directory %s: %v", name, err)
	}
	return users, nil
}

// emulatorUsers converts a directory into the emulator's users.
func emulatorUsers(users []dirUser) []graphchattest.User {
	out := make([]graphchattest.User, len(users))
	for i, u := range users {
		out[i] = graphchattest.User{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName,
			Mail: u.Mail, UserType: u.UserType, TenantID: u.TenantID}
	}
	return out
}

// fromEmulator converts the emulator's users into a directory. Users
// without a tenant are the emulator's own (the caller's tenant).
func fromEmulator(users []graphchattest.User) []dirUser {
	out := make([]dirUser, len(users))
	for i, u := range users {
		out[i] = dirUser{ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName, Mail: u.Mail,
			UserType: u.UserType, TenantID: u.TenantID}
	}
	return out
}

// dirKeys are the properties of a directory entry. Names are compared as
// the service compares them: case-sensitively.
var dirKeys = []string{"id", "userPrincipalName", "displayName", "mail", "userType", "tenantId"}

// checkKeys refuses unknown, wrongly cased and repeated properties of one
// entry (encoding/json would match "tenantID" to tenantId, and keep the
// last of two "userType").
func checkKeys(raw json.RawMessage) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("want an object")
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !slices.Contains(dirKeys, key) {
			for _, k := range dirKeys {
				if strings.EqualFold(k, key) {
					return fmt.Errorf("unknown property %q: want %q (property names are case-sensitive)", key, k)
				}
			}
			return fmt.Errorf("unknown property %q: want %s", key, strings.Join(dirKeys, ", "))
		}
		if seen[key] {
			return fmt.Errorf("property %q given twice", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return err
		}
	}
	return nil
}
