package graphchat

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	textserialization "github.com/microsoft/kiota-serialization-text-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"

	"github.com/graphchat/graphchat/policy"
)

// sdkLibraryVersion is the msgraph-sdk-go version graphchat is built with,
// for the SdkVersion header.
const sdkLibraryVersion = "1.89.0"

// defaultTimeout is the timeout of graphchat's HTTP client when
// Options.HTTPClient is not set.
const defaultTimeout = 100 * time.Second

// defaultLookupDelay is the default of Options.LookupDelay.
const defaultLookupDelay = 2 * time.Second

// Options configure a Client. A nil *Options means the documented defaults.
//
// Cloud, BaseURL, HTTPClient, Retry and Logger configure graphchat's
// pipeline, which NewRequestAdapter and NewFromCredential build; the other
// fields configure the Client, which New and NewFromCredential build. A
// constructor refuses a field it cannot honour: New refuses BaseURL,
// HTTPClient, Retry and TokenScopes (the adapter is the caller's),
// NewRequestAdapter refuses the Client's fields, and NewFromCredential
// refuses Grant (the token gives it).
type Options struct {
	// Cloud is the Graph deployment; default CloudGlobal. Bind URLs use its
	// host, and credentials request tokens for it. New takes the cloud of
	// its adapter's base URL when that is a Graph host, and refuses another
	// Cloud.
	Cloud Cloud
	// BaseURL is where requests go, version included; default
	// https://{Cloud.GraphHost}/v1.0. Set it to an emulator's URL to run
	// locally. It must be https on a Microsoft Graph host, or a loopback
	// address: tokens are never sent anywhere else.
	BaseURL string
	// HTTPClient supplies the transport (its Transport) and timeout under
	// graphchat's pipeline; default a client with a 100 s timeout.
	HTTPClient *http.Client
	// Auth is the kind of call: policy.AuthDelegated (default) or
	// policy.AuthApplication. With a credential, it decides the scopes
	// requested; claims of the token, when read, take precedence.
	Auth policy.AuthType
	// TenantID is the caller's tenant, used to tell external users; read
	// from the token when the Client has a credential.
	TenantID string
	// Caller is the signed-in user of delegated calls; read from the token
	// when the Client has a credential.
	Caller policy.Caller
	// Operations the app performs; default create-chat only, whose
	// least-privileged permission is Chat.Create. A Client
	// refuses an operation not declared here, and requests (with a
	// credential) exactly the least-privileged permissions they need.
	Operations []policy.Operation
	// Mode says how a grant more privileged than needed is treated:
	// policy.ModeWarn (default), policy.ModeStrict or policy.ModeOff.
	Mode policy.Mode
	// TokenScopes, when set, replaces the scopes a credential is asked for.
	// Use it only for credentials that take a single resource scope, such
	// as the Azure CLI's ("https://graph.microsoft.com/.default"); the
	// token's grant is still judged against Operations.
	TokenScopes []string
	// Grant are the permissions the app holds, for a Client built on an
	// adapter (New); a Client with a credential reads them from its token,
	// and NewFromCredential refuses Grant.
	Grant []string
	// Directory is what the app knows of users (kinds, home tenants). Every
	// check (create-chat, add-member, each item of CreateMany) gives it to
	// the policy, which applies kinds and the home-tenant rule; a kind
	// declared on a Member must agree with it. It also gives the object ids
	// of members given by user principal name, for the lookup after an
	// ambiguous failure.
	Directory *policy.Directory
	// ResolveKinds looks up members whose kind nothing declares or knows
	// (GET /users/{id}?$select=id,userType,userPrincipalName), once the
	// request is otherwise allowed, and gives what Graph says to the policy
	// with Directory. It adds the get-user operation, whose permission is
	// User.Read.All: userType is not part of the basic profile.
	ResolveKinds bool
	// Retry controls retries of graphchat's own pipeline.
	Retry RetryOptions
	// LookupDelay is how long the Client waits, after a creation or a
	// message whose outcome is unknown, before it looks the chat or the
	// message up, so that a request still being processed can finish; it
	// doubles at each further lookup. Default 2 s. Shorten it against an
	// emulator, whose requests finish at once.
	LookupDelay time.Duration
	// Logger, when set, gets policy warnings and, from graphchat's
	// pipeline (not from an adapter given to New), one line per HTTP
	// attempt (method, path, status, latency, request-id,
	// client-request-id).
	Logger *slog.Logger
}

// Client creates and manages chats through Microsoft Graph, checking every
// request with package policy first. It is safe for concurrent use.
type Client struct {
	adapter abs.RequestAdapter
	cloud   Cloud
	auth    policy.AuthType
	tenant  string
	caller  policy.Caller
	ops     []policy.Operation
	mode    policy.Mode
	grant   []string
	resolve bool
	dir     *policy.Directory
	logger  *slog.Logger
	tokens  *tokenProvider // nil for a Client built on an adapter

	lookupDelay time.Duration // Options.LookupDelay

	claims atomic.Pointer[tokenClaims] // the last token's claims

	users userCache // what Graph said of users

	finding finding // pacers of listings, locks of find-or-create

	mu   sync.Mutex
	seen map[string]struct{} // one-on-one chats this Client has returned
}

// New returns a Client that sends requests through adapter, such as the
// adapter of a GraphServiceClient (graphClient.GetAdapter()). The adapter's
// pipeline is used as it is: its base URL gives the API version and, when
// it is on a Graph host, the cloud. Options.Grant, when set, is judged for
// least privilege. Settings of graphchat's own pipeline (BaseURL,
// HTTPClient, Retry) and of a credential (TokenScopes) are refused, and so
// is a Cloud other than the adapter's.
func New(adapter abs.RequestAdapter, opts *Options) (*Client, error) {
	if adapter == nil {
		return nil, errors.New("graphchat: New: adapter is nil")
	}
	o, err := options(opts)
	if err != nil {
		return nil, err
	}
	if err := refuse("New", "configures graphchat's pipeline or credential, not an adapter's: give it to NewRequestAdapter or NewFromCredential",
		setting{"BaseURL", o.BaseURL != ""}, setting{"HTTPClient", o.HTTPClient != nil},
		setting{"Retry", o.Retry != (RetryOptions{})}, setting{"TokenScopes", len(o.TokenScopes) > 0}); err != nil {
		return nil, err
	}
	if u, err := url.Parse(adapter.GetBaseUrl()); err == nil {
		if cloud, ok := cloudOfHost(u.Hostname()); ok {
			if opts != nil && opts.Cloud != "" && opts.Cloud != cloud {
				return nil, fmt.Errorf("graphchat: New: Options.Cloud %q: the adapter's base URL is on %s, the %s cloud", opts.Cloud, u.Hostname(), cloud)
			}
			o.Cloud = cloud
		}
	}
	return newClient(adapter, nil, o), nil
}

// NewFromCredential returns a Client that authenticates with an azcore
// credential (azidentity). Delegated clients request exactly the
// least-privileged scopes of Options.Operations, never ".default";
// application clients request "https://{host}/.default". Tokens go only to
// the base URL's host. The grant judged is the token's: Options.Grant is
// refused.
func NewFromCredential(cred azcore.TokenCredential, opts *Options) (*Client, error) {
	if cred == nil {
		return nil, errors.New("graphchat: NewFromCredential: credential is nil")
	}
	o, err := options(opts)
	if err != nil {
		return nil, err
	}
	if o.Grant != nil {
		return nil, errors.New("graphchat: NewFromCredential: Options.Grant is for New: a Client with a credential judges the grant of its token")
	}
	base, err := baseURL(o)
	if err != nil {
		return nil, err
	}
	scopes, err := Scopes(o.Auth, o.Cloud, operations(o)...)
	if err != nil {
		return nil, err
	}
	if len(o.TokenScopes) > 0 {
		scopes = slices.Clone(o.TokenScopes)
	}
	tp := &tokenProvider{cred: cred, scopes: scopes, host: base.Host, loopback: isLoopback(base.Hostname())}
	adapter, err := newRequestAdapter(absauth.NewBaseBearerTokenAuthenticationProvider(tp), o, base)
	if err != nil {
		return nil, err
	}
	return newClient(adapter, tp, o), nil
}

// setting is a field of Options and whether it is set.
type setting struct {
	field string
	set   bool
}

// refuse returns the error of the first setting that is set, which the
// constructor ctor cannot honour for the reason given.
func refuse(ctor, reason string, settings ...setting) error {
	for _, s := range settings {
		if s.set {
			return fmt.Errorf("graphchat: %s: Options.%s %s", ctor, s.field, reason)
		}
	}
	return nil
}

// options applies the defaults to opts and checks the fields every
// constructor reads: Cloud, Auth, Mode, Operations and LookupDelay.
func options(opts *Options) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Cloud == "" {
		o.Cloud = CloudGlobal
	}
	if o.Cloud.GraphHost() == "" {
		return o, fmt.Errorf("graphchat: Options.Cloud %q: want global, usgov, usgovdod or china", o.Cloud)
	}
	if o.Auth == "" {
		o.Auth = policy.AuthDelegated
	}
	if err := o.Auth.Validate(); err != nil {
		return o, fmt.Errorf("graphchat: Options.Auth: %w", err)
	}
	if o.Mode != "" {
		if err := o.Mode.Validate(); err != nil {
			return o, fmt.Errorf("graphchat: Options.Mode: %w", err)
		}
	}
	if _, err := policy.Minimal(o.Auth, operations(o)...); err != nil {
		return o, fmt.Errorf("graphchat: Options.Operations: %w", err)
	}
	if o.LookupDelay < 0 {
		return o, fmt.Errorf("graphchat: Options.LookupDelay %s: want a positive duration, or 0 for the default", o.LookupDelay)
	}
	if o.LookupDelay == 0 {
		o.LookupDelay = defaultLookupDelay
	}
	return o, nil
}

// operations returns the declared operations (create-chat when none is),
// with get-user when the resolver is on.
func operations(o Options) []policy.Operation {
	ops := slices.Clone(o.Operations)
	if len(ops) == 0 {
		ops = []policy.Operation{policy.OpCreateChat}
	}
	if o.ResolveKinds && !slices.Contains(ops, policy.OpGetUser) {
		ops = append(ops, policy.OpGetUser)
	}
	return ops
}

func baseURL(o Options) (*url.URL, error) {
	raw := o.BaseURL
	if raw == "" {
		raw = "https://" + o.Cloud.GraphHost() + "/v1.0"
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("graphchat: BaseURL %q: want a URL such as https://graph.microsoft.com/v1.0", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("graphchat: BaseURL %q: want no user information, query or fragment", raw)
	}
	switch {
	case isLoopback(u.Hostname()) && (u.Scheme == "http" || u.Scheme == "https"): // a local emulator
	case u.Scheme == "https" && policy.IsGraphHost(u.Hostname()) && u.Port() == "":
	default:
		return nil, fmt.Errorf("graphchat: BaseURL %q: want https on a Microsoft Graph host (%s), or a loopback address for an emulator", raw, strings.Join(policy.GraphHosts(), ", "))
	}
	if !strings.HasSuffix(u.Path, "/v1.0") && !strings.HasSuffix(u.Path, "/beta") {
		return nil, fmt.Errorf("graphchat: BaseURL %q: want a path ending in /v1.0 or /beta", raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Scopes returns the scopes to request for the operations: for delegated
// calls the least-privileged permissions, qualified with the cloud's Graph
// resource ("https://graph.microsoft.com/Chat.Create"); for application
// calls "https://{host}/.default", as app-only tokens carry the roles an
// administrator granted.
func Scopes(auth policy.AuthType, cloud Cloud, ops ...policy.Operation) ([]string, error) {
	host := cloud.GraphHost()
	if host == "" {
		return nil, fmt.Errorf("graphchat: cloud %q: want global, usgov, usgovdod or china", cloud)
	}
	if auth == policy.AuthApplication {
		if _, err := policy.Minimal(auth, ops...); err != nil {
			return nil, err
		}
		return []string{"https://" + host + "/.default"}, nil
	}
	perms, err := policy.Minimal(policy.AuthDelegated, ops...)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = "https://" + host + "/" + p
	}
	return out, nil
}

// NewRequestAdapter returns a Graph request adapter with graphchat's
// pipeline (fixed order; retries that never duplicate a group chat; one
// client-request-id per request; redirects followed on the base URL's host
// only, any other refused with an error, so that no request and no
// Authorization header leaves it) and its own JSON and text serializers, so
// the SDK's global registries are left alone. It uses msgraph-sdk-go-core,
// not the root SDK package, which keeps builds small. It reads the
// pipeline's settings of opts (Cloud, BaseURL, HTTPClient, Retry, Logger)
// and refuses the Client's: give those to New.
func NewRequestAdapter(auth absauth.AuthenticationProvider, opts *Options) (*msgraphgocore.GraphRequestAdapterBase, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := refuse("NewRequestAdapter", "configures a Client, not its pipeline: give it to New",
		setting{"Auth", o.Auth != ""}, setting{"TenantID", o.TenantID != ""}, setting{"Caller", !o.Caller.IsZero()},
		setting{"Operations", o.Operations != nil}, setting{"Mode", o.Mode != ""}, setting{"TokenScopes", o.TokenScopes != nil},
		setting{"Grant", o.Grant != nil}, setting{"Directory", o.Directory != nil}, setting{"ResolveKinds", o.ResolveKinds},
		setting{"LookupDelay", o.LookupDelay != 0}); err != nil {
		return nil, err
	}
	o, err := options(&o)
	if err != nil {
		return nil, err
	}
	base, err := baseURL(o)
	if err != nil {
		return nil, err
	}
	return newRequestAdapter(auth, o, base)
}

// newRequestAdapter builds graphchat's pipeline (see NewRequestAdapter) on
// base, from checked options.
func newRequestAdapter(auth absauth.AuthenticationProvider, o Options, base *url.URL) (*msgraphgocore.GraphRequestAdapterBase, error) {
	client := &http.Client{}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		client = &c
	} else {
		client.Timeout = defaultTimeout
	}
	parent := client.Transport
	if parent == nil {
		parent = http.DefaultTransport
	}
	client.Transport = khttp.NewCustomTransportWithParentTransport(parent, middlewares(base, o.Retry, o.Logger)...)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	parsers := absser.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = jsonserialization.NewJsonParseNodeFactory()
	parsers.ContentTypeAssociatedFactories["text/plain"] = textserialization.NewTextParseNodeFactory()
	writers := absser.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = jsonserialization.NewJsonSerializationWriterFactory()
	writers.ContentTypeAssociatedFactories["text/plain"] = textserialization.NewTextSerializationWriterFactory()

	adapter, err := msgraphgocore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, msgraphgocore.GraphClientOptions{GraphServiceLibraryVersion: sdkLibraryVersion}, parsers, writers, client)
	if err != nil {
		return nil, fmt.Errorf("graphchat: %w", err)
	}
	// Before any request builder is made, or batch URLs come out absolute.
	adapter.SetBaseUrl(base.String())
	return adapter, nil
}

// newClient builds a Client from checked options; tp is nil for a Client
// built on an adapter.
func newClient(adapter abs.RequestAdapter, tp *tokenProvider, o Options) *Client {
	return &Client{
		adapter: adapter, cloud: o.Cloud, auth: o.Auth, tenant: o.TenantID, caller: o.Caller,
		ops: operations(o), mode: o.Mode, grant: slices.Clone(o.Grant), resolve: o.ResolveKinds,
		dir: o.Directory, logger: o.Logger, tokens: tp, seen: map[string]struct{}{},
		lookupDelay: o.LookupDelay,
	}
}

// chats returns a new request builder for /chats. A builder must not be
// shared between goroutines: the adapter writes the base URL into the path
// parameters, which request information shares with its builder.
func (c *Client) chats() *chats.ChatsRequestBuilder {
	return chats.NewChatsRequestBuilderInternal(map[string]string{}, c.adapter)
}
