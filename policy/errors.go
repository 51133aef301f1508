package policy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Code is a stable, machine-readable identifier of a rule. Codes are the
// contract of this package; messages may change. A Code is an error so that
// errors.Is(err, policy.CodeGuestRole) reports whether err holds a violation
// of that rule.
type Code string

// Error returns the code itself.
func (c Code) Error() string { return string(c) }

// Codes of the create-chat rules.
const (
	CodeChatType          Code = "chat_type"               // chatType is not oneOnOne or group
	CodeMemberCount       Code = "member_count"            // wrong number of members for the chat type
	CodeSmallGroup        Code = "small_group"             // warning: a group of exactly 2 refuses later additions
	CodeTopicOneOnOne     Code = "topic_on_one_on_one"     // topic given on a oneOnOne chat
	CodeTopicLength       Code = "topic_length"            // topic longer than 250 characters
	CodeTopicColon        Code = "topic_colon"             // topic contains ':'
	CodeRoleCount         Code = "role_count"              // member has no role or more than one
	CodeRoleValue         Code = "role_value"              // role is not owner or guest
	CodeGuestRole         Code = "guest_role"              // in-tenant guest without role guest
	CodeExternalRole      Code = "external_role"           // external user without role owner
	CodeExternalTenant    Code = "external_tenant"         // external user without its home tenantId
	CodeKindConflict      Code = "kind_conflict"           // declared kind, home tenant, directory or tenantId contradict each other
	CodeCallerMissing     Code = "caller_missing"          // delegated call whose caller is not a member
	CodeCallerUnknown     Code = "caller_unknown"          // warning: delegated call with no caller to check
	CodeDuplicateMember   Code = "duplicate_member"        // the same user listed twice
	CodeUserReference     Code = "user_reference"          // neither an object id nor a user principal name
	CodeUserMissing       Code = "user_missing"            // an empty user: users(''), users/ or Member.User ""
	CodeInvalidText       Code = "invalid_text"            // a string that is not valid UTF-8 or holds control characters
	CodeDuplicateKey      Code = "duplicate_key"           // a key given twice in one JSON object
	CodePropertyCase      Code = "property_case"           // a key differing from a defined property only in letter case
	CodeInstalledApps     Code = "installed_apps"          // more than one app to install
	CodeODataType         Code = "odata_type"              // member @odata.type missing or wrong
	CodeBindKey           Code = "bind_key"                // misspelt bind key, such as user@odata_bind
	CodeBindMissing       Code = "bind_missing"            // member without user@odata.bind
	CodeBindURL           Code = "bind_url"                // bind URL that is not a Microsoft Graph user URL
	CodeFieldType         Code = "field_type"              // a property of the wrong JSON type
	CodeUnknownProperty   Code = "unknown_property"        // warning: a property POST /chats does not define
	CodeAuthType          Code = "auth_type"               // context with an unknown authentication type
	CodePermissionMissing Code = "permission_missing"      // the grant allows none of an operation's permissions
	CodePermissionExcess  Code = "permission_excess"       // the grant is more privileged than needed
	CodeOperation         Code = "operation"               // an unknown operation name
	CodeOperationAuth     Code = "operation_not_supported" // the operation is not available for this auth type
)

// codes are every code this package can report, in a stable order.
var codes = []Code{
	CodeChatType, CodeMemberCount, CodeSmallGroup, CodeTopicOneOnOne, CodeTopicLength,
	CodeTopicColon, CodeRoleCount, CodeRoleValue, CodeGuestRole, CodeExternalRole,
	CodeExternalTenant, CodeKindConflict, CodeCallerMissing, CodeCallerUnknown,
	CodeDuplicateMember, CodeUserReference, CodeUserMissing, CodeInvalidText, CodeDuplicateKey,
	CodePropertyCase, CodeInstalledApps, CodeODataType, CodeBindKey,
	CodeBindMissing, CodeBindURL, CodeFieldType, CodeUnknownProperty, CodeAuthType,
	CodePermissionMissing, CodePermissionExcess, CodeOperation, CodeOperationAuth,
	// The send-message rules (message.go).
	CodeBodyMissing, CodeContentType, CodeMessageSize, CodeHTMLMalformed, CodeMentionHTML,
	CodeMentionMatch, CodeMentionText, CodeMentionUser, CodeMentionNotMember, CodeMentionUnknown,
}

// Codes returns every code this package can report, in a stable order.
func Codes() []Code { return append([]Code(nil), codes...) }

// Violation is one problem found in a request or a grant.
type Violation struct {
	Code    Code   `json:"code"`
	Field   string `json:"field"`   // JSON path such as "members[2].roles"; "" for the whole request
	Message string `json:"message"` // what was found and what is expected
}

// Error formats the violation as "field: message (code)".
func (v Violation) Error() string {
	if v.Field == "" {
		return fmt.Sprintf("%s (%s)", v.Message, v.Code)
	}
	return fmt.Sprintf("%s: %s (%s)", v.Field, v.Message, v.Code)
}

// Is reports whether target is the violation's Code, so that
// errors.Is(err, CodeGuestRole) works on a violation or a List.
func (v Violation) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == v.Code
}

// List is an ordered list of violations. As an error it reports all of them.
type List []Violation

// MarshalJSON writes the list as a JSON array, [] when it is empty, so that
// a document always has the same shape.
func (l List) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Violation(l))
}

// Error joins the violations, one per line, prefixed by the package name.
func (l List) Error() string {
	switch len(l) {
	case 0:
		return "policy: no violations"
	case 1:
		return "policy: " + l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "policy: %d violations:", len(l))
	for _, v := range l {
		b.WriteString("\n\t")
		b.WriteString(v.Error())
	}
	return b.String()
}

// Unwrap returns each violation, for errors.Is and errors.As.
func (l List) Unwrap() []error {
	errs := make([]error, len(l))
	for i, v := range l {
		errs[i] = v
	}
	return errs
}

// Err returns the list as an error, or nil when it is empty (never a typed nil).
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Has reports whether the list holds a violation with the code.
func (l List) Has(c Code) bool {
	for _, v := range l {
		if v.Code == c {
			return true
		}
	}
	return false
}

// Codes returns the codes of the list in order.
func (l List) Codes() []Code {
	out := make([]Code, len(l))
	for i, v := range l {
		out[i] = v.Code
	}
	return out
}

// Result is the outcome of a check: violations block the request, warnings
// do not. Use Err to get an error that is nil when nothing blocks.
type Result struct {
	Violations List `json:"violations"`
	Warnings   List `json:"warnings"`
	// Permissions is the permission decision, when the check was given a grant.
	Permissions *Decision `json:"permissions,omitempty"`
}

// Err returns the violations as an error, or nil when there are none.
func (r *Result) Err() error {
	if r == nil {
		return nil
	}
	return r.Violations.Err()
}

// Allowed reports whether the request has no violations.
func (r *Result) Allowed() bool { return r == nil || len(r.Violations) == 0 }
