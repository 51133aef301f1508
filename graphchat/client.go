package graphchat

import (
	"context"
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
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
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

// Cloud is a Microsoft Graph deployment: the global service or a national
// cloud.
type Cloud struct {
	Name      string
	GraphHost string // such as graph.microsoft.com
}

// Clouds.
var (
	CloudGlobal   = Cloud{Name: "global", GraphHost: "graph.microsoft.com"}
	CloudUSGov    = Cloud{Name: "usgov", GraphHost: "graph.microsoft.us"}
	CloudUSGovDoD = Cloud{Name: "usgovdod", GraphHost: "dod-graph.microsoft.us"}
	CloudChina    = Cloud{Name: "china", GraphHost: "microsoftgraph.chinacloudapi.cn"}
)

// CloudByName returns the cloud called name: global, usgov, usgovdod or china.
func CloudByName(name string) (Cloud, error) {
	for _, c := range []Cloud{CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina} {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return Cloud{}, fmt.Errorf("graphchat: cloud %q: want global, usgov, usgovdod or china", name)
}

// sdkLibraryVersion is the msgraph-sdk-go version graphchat is built with,
// for the SdkVersion header.
const sdkLibraryVersion = "1.89.0"

// DefaultOperations are the operations a Client performs when
// Options.Operations is empty: creating chats only, so that the
// least-privileged grant is Chat.Create.
var DefaultOperations = []policy.Operation{policy.OpCreateChat}

// Options configure a Client. A nil *Options means the documented defaults.
type Options struct {
	// Cloud is the Graph deployment; default CloudGlobal. Bind URLs use its
	// host, and credentials request tokens for it.
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
	// Operations the app performs; default DefaultOperations. A Client
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
	// adapter; a Client with a credential reads them from its token.
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
	// Logger, when set, gets one line per HTTP attempt (method, path,
	// status, latency, request-id, client-request-id) and policy warnings.
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

	claims atomic.Pointer[tokenClaims] // the last token's claims

	users userCache // what Graph said of users

	mu   sync.Mutex
	seen map[string]struct{} // one-on-one chats this Client has returned
}

// New returns a Client that sends requests through adapter, such as the
// adapter of a GraphServiceClient (graphClient.GetAdapter()). The adapter's
// pipeline is used as it is. Options.Grant, when set, is judged for least
// privilege.
func New(adapter abs.RequestAdapter, opts *Options) (*Client, error) {
	if adapter == nil {
		return nil, errors.New("graphchat: New: adapter is nil")
	}
	return newClient(adapter, nil, opts)
}

// NewFromCredential returns a Client that authenticates with an azcore
// credential (azidentity). Delegated clients request exactly the
// least-privileged scopes of Options.Operations, never ".default";
// application clients request "https://{host}/.default". Tokens go only to
// the base URL's host.
func NewFromCredential(cred azcore.TokenCredential, opts *Options) (*Client, error) {
	if cred == nil {
		return nil, errors.New("graphchat: NewFromCredential: credential is nil")
	}
	o := options(opts)
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
	adapter, err := NewRequestAdapter(absauth.NewBaseBearerTokenAuthenticationProvider(tp), &o)
	if err != nil {
		return nil, err
	}
	return newClient(adapter, tp, &o)
}

func options(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Cloud.GraphHost == "" {
		o.Cloud = CloudGlobal
	}
	if o.Auth == "" {
		o.Auth = policy.AuthDelegated
	}
	return o
}

// operations returns the declared operations, with get-user when the
// resolver is on.
func operations(o Options) []policy.Operation {
	ops := slices.Clone(o.Operations)
	if len(ops) == 0 {
		ops = slices.Clone(DefaultOperations)
	}
	if o.ResolveKinds && !slices.Contains(ops, policy.OpGetUser) {
		ops = append(ops, policy.OpGetUser)
	}
	return ops
}

func baseURL(o Options) (*url.URL, error) {
	raw := o.BaseURL
	if raw == "" {
		raw = "https://" + o.Cloud.GraphHost + "/v1.0"
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
	if cloud.GraphHost == "" {
		cloud = CloudGlobal
	}
	if auth == policy.AuthApplication {
		if _, err := policy.Minimal(auth, ops...); err != nil {
			return nil, err
		}
		return []string{"https://" + cloud.GraphHost + "/.default"}, nil
	}
	perms, err := policy.Minimal(policy.AuthDelegated, ops...)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = "https://" + cloud.GraphHost + "/" + p
	}
	return out, nil
}

// NewRequestAdapter returns a Graph request adapter with graphchat's
// pipeline (fixed order; retries that never duplicate a group chat; one
// client-request-id per request; redirects followed on the base URL's host
// only, any other refused with an error, so that no request and no
// Authorization header leaves it) and its own JSON and text serializers, so
// the SDK's global registries are left alone. It uses msgraph-sdk-go-core,
// not the root SDK package, which keeps builds small.
func NewRequestAdapter(auth absauth.AuthenticationProvider, opts *Options) (*msgraphgocore.GraphRequestAdapterBase, error) {
	o := options(opts)
	base, err := baseURL(o)
	if err != nil {
		return nil, err
	}
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

func newClient(adapter abs.RequestAdapter, tp *tokenProvider, opts *Options) (*Client, error) {
	o := options(opts)
	if o.Auth != policy.AuthDelegated && o.Auth != policy.AuthApplication {
		return nil, fmt.Errorf("graphchat: Options.Auth %q: want %q or %q", o.Auth, policy.AuthDelegated, policy.AuthApplication)
	}
	switch o.Mode {
	case "", policy.ModeWarn, policy.ModeStrict, policy.ModeOff:
	default:
		return nil, fmt.Errorf("graphchat: Options.Mode %q: want warn, strict or off", o.Mode)
	}
	ops := operations(o)
	if _, err := policy.Minimal(o.Auth, ops...); err != nil {
		return nil, fmt.Errorf("graphchat: Options.Operations: %w", err)
	}
	if o.BaseURL != "" || tp != nil {
		if _, err := baseURL(o); err != nil {
			return nil, err
		}
	}
	c := &Client{
		adapter: adapter, cloud: o.Cloud, auth: o.Auth, tenant: o.TenantID, caller: o.Caller,
		ops: ops, mode: o.Mode, grant: slices.Clone(o.Grant), resolve: o.ResolveKinds,
		dir: o.Directory, logger: o.Logger, tokens: tp, seen: map[string]struct{}{},
	}
	return c, nil
}

// chats returns a new request builder for /chats. A builder must not be
// shared between goroutines: the adapter writes the base URL into the path
// parameters, which request information shares with its builder.
func (c *Client) chats() *chats.ChatsRequestBuilder {
	return chats.NewChatsRequestBuilderInternal(map[string]string{}, c.adapter)
}

// tokenProvider gets tokens from an azcore credential for exactly one host,
// and fails (instead of silently sending no token, as the SDK's provider
// does) for any other.
type tokenProvider struct {
	cred     azcore.TokenCredential
	scopes   []string
	host     string
	loopback bool
}

func (p *tokenProvider) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if u == nil || !strings.EqualFold(u.Host, p.host) {
		return "", fmt.Errorf("graphchat: refusing to send a token to %q: only %q is allowed", hostOf(u), p.host)
	}
	if u.Scheme != "https" && !(p.loopback && u.Scheme == "http") {
		return "", fmt.Errorf("graphchat: refusing to send a token over %s", u.Scheme)
	}
	return p.token(ctx)
}

func (p *tokenProvider) token(ctx context.Context) (string, error) {
	tok, err := p.cred.GetToken(ctx, azpolicy.TokenRequestOptions{Scopes: p.scopes})
	if err != nil {
		return "", fmt.Errorf("graphchat: getting a token for %s: %w", strings.Join(p.scopes, " "), err)
	}
	return tok.Token, nil
}

func (p *tokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	v, _ := absauth.NewAllowedHostsValidatorErrorCheck([]string{p.host})
	return v
}

func hostOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Host
}

// StaticToken returns a credential that always hands out token, for a token
// obtained elsewhere or one the emulator minted (graphchattest.Token). It
// never refreshes it.
func StaticToken(token string) azcore.TokenCredential { return staticToken(token) }

type staticToken string

func (s staticToken) GetToken(context.Context, azpolicy.TokenRequestOptions) (azcore.AccessToken, error) {
	if s == "" {
		return azcore.AccessToken{}, errors.New("graphchat: StaticToken: the token is empty")
	}
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
