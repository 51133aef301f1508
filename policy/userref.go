package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// IsObjectID reports whether s is a GUID in its canonical 8-4-4-4-12 form
// (either case), the form of Microsoft Entra object ids.
func IsObjectID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// IsUserPrincipalName reports whether s has the form of a Microsoft Entra
// user principal name: a local part of letters, digits and ' . - _ ! # ^ ~,
// neither starting nor ending with a dot, then '@' and a domain of labels
// separated by dots. B2B guest names such as
// "ada_contoso.com#EXT#@fabrikam.onmicrosoft.com" are accepted.
func IsUserPrincipalName(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 113 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !isAlnum(c) && !strings.ContainsRune("'.-_!#^~", rune(c)) {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// IsUserReference reports whether s is an object id or a user principal name.
func IsUserReference(s string) bool { return IsObjectID(s) || IsUserPrincipalName(s) }

// sameUser reports whether two user references name the same user: object
// ids and user principal names are both compared case-insensitively.
func sameUser(a, b string) bool { return a != "" && strings.EqualFold(a, b) }

// GraphHosts are the Microsoft Graph hosts of the global service and the
// national clouds. A bind URL must use one of them.
var graphHosts = []string{
	"graph.microsoft.com",             // global
	"graph.microsoft.us",              // US Government L4
	"dod-graph.microsoft.us",          // US Government L5 (DoD)
	"microsoftgraph.chinacloudapi.cn", // China, operated by 21Vianet
}

// GraphHosts returns the Microsoft Graph hosts accepted in bind URLs.
func GraphHosts() []string { return append([]string(nil), graphHosts...) }

// IsGraphHost reports whether host (without port) is a Microsoft Graph host.
func IsGraphHost(host string) bool {
	for _, h := range graphHosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// IsLoopbackHost reports whether host (a URL's Hostname, or a listening
// address's host: no port, no brackets) is this machine: "localhost" in any
// letter case, or a loopback IP address (127.0.0.0/8, ::1, or 127.x mapped
// into IPv6). It is the one rule of where an emulator's tokens may go:
// graphchat sends a token over plain http only to such a host, the demo
// takes only such URL targets, and graphchattest listens only there.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// BindURL is a parsed user@odata.bind value.
type BindURL struct {
	Host    string // a Microsoft Graph host
	Version string // "v1.0" or "beta"
	User    string // object id or user principal name, unescaped
}

// String formats the bind URL in the form the documentation uses:
// https://{host}/{version}/users('{user}'), with ' doubled and the
// characters that would cut or change the URL percent-encoded.
func (b BindURL) String() string {
	return "https://" + b.Host + "/" + b.Version + "/users('" + escapeKey(b.User) + "')"
}

// escapeKey writes an OData string key for a URL path: ' is doubled, and
// every byte a path segment may not hold as it is ('#', '%', '?', '/',
// spaces, quotes, non-ASCII and the like) is percent-encoded.
func escapeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			b.WriteString("''")
		case isAlnum(c) || strings.IndexByte("-._~!$&()*+,;=:@", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// NewBindURL returns the bind URL of a user on a Microsoft Graph host and
// version. It fails when user is not an object id or user principal name,
// host is not a Graph host, or version is not v1.0 or beta.
func NewBindURL(host, version, user string) (BindURL, error) {
	b := BindURL{Host: strings.ToLower(host), Version: version, User: user}
	if !IsGraphHost(host) {
		return BindURL{}, fmt.Errorf("policy: host %q is not a Microsoft Graph host (want one of %s)", host, strings.Join(graphHosts, ", "))
	}
	if version != "v1.0" && version != "beta" {
		return BindURL{}, fmt.Errorf("policy: version %q: want v1.0 or beta", version)
	}
	if !IsUserReference(user) {
		return BindURL{}, fmt.Errorf("policy: user %q is neither an object id (GUID) nor a user principal name", user)
	}
	return b, nil
}

// errEmptyKey is wrapped by ParseBindURL's error for an empty key.
var errEmptyKey = errors.New("empty user key")

var errBindForm = errors.New("want https://graph.microsoft.com/v1.0/users('{id or userPrincipalName}') or .../users/{id}")

// ParseBindURL parses a user@odata.bind value. It accepts https URLs on a
// Microsoft Graph host with the path /v1.0/ or /beta/ followed by
// users('{key}') or users/{key}; in the key, ” stands for ' and percent
// escapes such as %23 are decoded. It never follows or contacts the URL.
// The key itself is not validated: use IsUserReference.
func ParseBindURL(s string) (BindURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return BindURL{}, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "https" {
		return BindURL{}, fmt.Errorf("scheme %q: want https; %w", u.Scheme, errBindForm)
	}
	if u.User != nil || u.Port() != "" {
		return BindURL{}, fmt.Errorf("host %q must have no user information or port", u.Host)
	}
	host := u.Hostname()
	if !IsGraphHost(host) {
		return BindURL{}, fmt.Errorf("host %q is not a Microsoft Graph host (want one of %s)", host, strings.Join(graphHosts, ", "))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return BindURL{}, fmt.Errorf("unexpected query or fragment (an unencoded '#' or '?' in the key cuts the URL: encode it as %%23 or %%3F); %w", errBindForm)
	}
	// The path exactly as written: url.URL.EscapedPath would re-escape
	// quotes and parentheses when any other character needs escaping.
	rest := s[len(u.Scheme)+len("://"):]
	raw := ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		raw = rest[i:]
	}
	var version string
	switch {
	case strings.HasPrefix(raw, "/v1.0/"):
		version = "v1.0"
	case strings.HasPrefix(raw, "/beta/"):
		version = "beta"
	default:
		return BindURL{}, fmt.Errorf("path %q: want /v1.0/ or /beta/ before users; %w", u.Path, errBindForm)
	}
	rest = raw[len(version)+2:]
	var key string
	switch {
	case strings.HasPrefix(rest, "users('") && strings.HasSuffix(rest, "')") && len(rest) >= len("users('')"):
		quoted := rest[len("users('") : len(rest)-2]
		// In an OData string literal a quote is written twice; a lone quote ends it.
		if strings.Count(strings.ReplaceAll(quoted, "''", ""), "'") != 0 {
			return BindURL{}, fmt.Errorf("key %q has an unescaped quote (write ' as '')", quoted)
		}
		key = strings.ReplaceAll(quoted, "''", "'")
	case strings.HasPrefix(rest, "users(") || strings.HasPrefix(rest, "users('"):
		return BindURL{}, fmt.Errorf("path %q: malformed key; %w", u.Path, errBindForm)
	case strings.HasPrefix(rest, "users/"):
		key = rest[len("users/"):]
		if strings.Contains(key, "/") {
			return BindURL{}, fmt.Errorf("path %q: want a single segment after users/", u.Path)
		}
	default:
		return BindURL{}, fmt.Errorf("path %q: want users('{key}') or users/{key}; %w", u.Path, errBindForm)
	}
	key, err = url.PathUnescape(key)
	if err != nil {
		return BindURL{}, fmt.Errorf("key: bad percent escape: %w", err)
	}
	if key == "" {
		return BindURL{}, fmt.Errorf("%w; %w", errEmptyKey, errBindForm)
	}
	return BindURL{Host: strings.ToLower(host), Version: version, User: key}, nil
}
