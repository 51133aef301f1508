package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/graphchat/graphchat/graphchat"
	"github.com/graphchat/graphchat/graphchat/graphchattest"
	"github.com/graphchat/graphchat/policy"
)

// targetFlags say where requests go.
type targetFlags struct {
	target, cloud string
	useCLI        bool
	verbose       bool
	set           map[string]bool
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.target, "target", "emulator", "where to send: emulator (in-process), a running emulator's loopback `URL` (http://127.0.0.1:8080), or graph (Microsoft Graph)")
	fs.StringVar(&t.cloud, "cloud", "global", "Microsoft Graph cloud with --target graph: global, usgov, usgovdod or china")
	fs.BoolVar(&t.useCLI, "use-cli", false, "with --target graph --auth delegated: use the Azure CLI's sign-in instead of a device code")
	fs.BoolVar(&t.verbose, "v", false, "log each HTTP request (method, path, status, latency, request-id, client-request-id) to standard error")
}

func (t *targetFlags) visit(fs *flag.FlagSet) {
	t.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { t.set[fl.Name] = true })
}

// newCallFlags returns the flag set of a command that calls a target, with
// the flags of the call (f) and of the target (t) registered.
func newCallFlags(name string, f *checkFlags, t *targetFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f.register(fs)
	t.register(fs)
	return fs
}

// parseCall parses the flags of a command made with newCallFlags (see
// parse), printing the command's help for -h, and records which flags were
// given in f.set and t.set.
func (e *env) parseCall(fs *flag.FlagSet, args []string, f *checkFlags, t *targetFlags) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, e.helpFor(fs, "", err)
	}
	f.visit(fs)
	t.visit(fs)
	return pos, nil
}

// isEmulator reports whether requests go to an emulator: the embedded one
// or a running one on a loopback address.
func (t *targetFlags) isEmulator() bool { return t.target != "graph" && t.target != "" }

// baseURL checks --target and returns the base URL of a running emulator
// ("" for emulator and graph). Only loopback addresses are accepted: the
// tokens an emulator takes never leave this machine, and Microsoft Graph is
// reached only through --target graph, which signs in for it.
func (t *targetFlags) baseURL() (string, error) {
	switch t.target {
	case "emulator", "graph":
		return "", nil
	case "":
		return "", usagef("--target is empty: want emulator, graph, or a running emulator's URL")
	}
	u, err := url.Parse(t.target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("--target %q: want emulator, graph, or a running emulator's URL such as http://127.0.0.1:8080%s", t.target, suggest(t.target, []string{"emulator", "graph"}))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", usagef("--target %q: want no user information, query or fragment", t.target)
	}
	if !policy.IsLoopbackHost(u.Hostname()) {
		return "", usagef("--target %q is not a loopback address: a URL target is a running emulator on this machine; for Microsoft Graph use --target graph", t.target)
	}
	base := strings.TrimRight(u.String(), "/")
	if !strings.HasSuffix(base, "/v1.0") && !strings.HasSuffix(base, "/beta") {
		base += "/v1.0"
	}
	return base, nil
}

// need is an operation a command performs, and how to do without it when
// the token lacks its permission (such as "run with --lookup=false"); ""
// when the command cannot.
type need struct {
	op      policy.Operation
	without string
}

func opsOf(needs []need) []policy.Operation {
	ops := make([]policy.Operation, len(needs))
	for i, n := range needs {
		ops[i] = n.op
	}
	return ops
}

// session is a command's connection to its target, with everything known
// of its calls. Close releases it.
type session struct {
	client *graphchat.Client
	know   *knowledge
	target string // for messages: the target as given
	base   string // a running emulator's base URL; "" otherwise
	token  string // the token requests carry, when known here; never printed
	close  func()
}

// Close stops the embedded emulator, if any.
func (s *session) Close() {
	if s != nil && s.close != nil {
		s.close()
	}
}

// open connects to the target of t for the needs, builds the one context
// of the command (know), and runs preflight: problems that would fail every
// request are reported once, before anything is sent.
func (e *env) open(ctx context.Context, f *checkFlags, t *targetFlags, needs ...need) (*session, error) {
	s, err := e.connect(ctx, f, t, needs...)
	if err != nil {
		return nil, err
	}
	if err := e.preflight(ctx, s, needs...); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openJudging is open for a command that reports a grant the preflight
// refuses together with its own findings, in one verdict: the session, and
// the preflight's refusal of the grant (denied; nil when granted). Every
// other problem the preflight finds is the error, as with open.
func (e *env) openJudging(ctx context.Context, f *checkFlags, t *targetFlags, needs ...need) (s *session, denied policy.List, err error) {
	if s, err = e.connect(ctx, f, t, needs...); err != nil {
		return nil, nil, err
	}
	if err := e.preflight(ctx, s, needs...); err != nil && !errors.As(err, &denied) {
		s.Close()
		return nil, nil, err
	}
	return s, denied, nil
}

// connect is open without preflight (see openJudging). Nothing is sent to
// the target.
func (e *env) connect(ctx context.Context, f *checkFlags, t *targetFlags, needs ...need) (*session, error) {
	ops := opsOf(needs)
	if err := f.check(); err != nil {
		return nil, err
	}
	base, err := t.baseURL()
	if err != nil {
		return nil, err
	}
	cloud, err := graphchat.CloudByName(t.cloud)
	if err != nil {
		return nil, usagef("--cloud %q: want global, usgov, usgovdod or china", t.cloud)
	}
	if t.target != "graph" && (t.useCLI || t.set["cloud"]) {
		return nil, usagef("--use-cli and --cloud are for --target graph")
	}
	opts := &graphchat.Options{Operations: ops, Mode: f.mode(), Logger: e.logger(t.verbose), Cloud: cloud, LookupDelay: e.lookupDelay}
	s := &session{target: t.target, base: base}
	if t.target == "graph" {
		if err := e.connectGraph(ctx, s, t, f, opts); err != nil {
			return nil, err
		}
	} else {
		k, err := e.know(ctx, f, t, nil, ops)
		if err != nil {
			return nil, err
		}
		s.know, s.token = k, k.token
		opts.Directory = k.pc.Directory
		if t.target == "emulator" {
			srv, err := graphchattest.NewServer("", &graphchattest.Options{Users: k.emulator})
			if err != nil {
				return nil, err
			}
			if e.emulatorStarted != nil {
				e.emulatorStarted(srv)
			}
			opts.BaseURL, s.close = srv.URL, func() { srv.Close() }
		} else {
			opts.BaseURL = base
		}
		if s.client, err = graphchat.NewFromCredential(graphchat.StaticToken(k.token), opts); err != nil {
			s.Close()
			return nil, usagef("%v", err)
		}
	}
	return s, nil
}

// preflight reports, once and before anything is sent, the problems that
// would fail every request of a command: a token that is unreadable or
// expired (exit code 3), a running emulator that does not answer (1), and
// permissions the token lacks for the needs (a policy.List: 1), each with
// its remedy. Commands that send requests call it through open; bulk calls
// open with its needs, such as need{policy.OpListChats, "run with --lookup=false"}.
func (e *env) preflight(ctx context.Context, s *session, needs ...need) error {
	if s.token != "" {
		if _, err := policy.ParseToken(s.token); err != nil {
			return authf(err, "the token cannot be read: %v", err)
		}
		if exp, ok := tokenExpiry(s.token); ok && !exp.After(time.Now()) {
			fix := "sign in again"
			if s.target != "graph" {
				fix = "mint a new one with demo token"
			}
			return authf(nil, "the token expired at %s: %s", exp.UTC().Format(time.RFC3339), fix)
		}
	}
	if s.base != "" {
		u, _ := url.Parse(s.base)
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", host)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("--target %s does not answer (%v): start it with demo emulate --addr %s", s.target, errors.Unwrap(err), host)
		}
		conn.Close()
	}
	if s.know == nil || s.know.pc.Grant == nil {
		return nil // nothing known of the grant: the service judges it
	}
	pc := s.know.pc
	d := policy.Evaluate(pc.Auth, policy.Grant{Permissions: pc.Grant.Permissions, Operations: opsOf(needs), Mode: pc.Grant.Mode})
	if d.Err() == nil {
		return nil
	}
	list := d.Violations
	for _, n := range needs {
		for i, v := range list {
			if n.without != "" && v.Code == policy.CodePermissionMissing && strings.Contains(v.Message, " "+string(n.op)+":") {
				list[i].Message += "; grant it, or " + n.without
			}
		}
	}
	return list
}

// credentialConfig is what a credential for Microsoft Graph is built from.
type credentialConfig struct {
	Auth     policy.AuthType
	UseCLI   bool
	Cloud    graphchat.Cloud
	TenantID string
	ClientID string
	Prompt   func(message string) // device code instructions
}

// connectGraph signs in to Microsoft Graph: the credential comes from the
// environment (application), a device code or the Azure CLI (delegated).
// The token is fetched once here, so that a failed sign-in is reported
// before anything else (exit code 3), and its claims give the context.
func (e *env) connectGraph(ctx context.Context, s *session, t *targetFlags, f *checkFlags, opts *graphchat.Options) error {
	if f.token != "" {
		return usagef("--token is for emulator targets; --target graph signs in through azidentity")
	}
	auth := policy.AuthType(f.auth)
	cfg, err := e.credentialConfig(auth, t.useCLI, opts)
	if err != nil {
		return err
	}
	opts.Auth = auth
	if e.transport != nil {
		opts.HTTPClient = &http.Client{Transport: e.transport}
	}
	cred, err := e.newCredential(cfg)
	if err != nil {
		return authf(err, "building the credential: %v", err)
	}
	if s.token, err = signIn(ctx, cred, auth, t.useCLI, opts); err != nil {
		return err
	}
	// Tokens are opaque to clients: a token that cannot be read (such as a
	// personal account's) leaves the context to the flags.
	claims, _ := policy.ParseToken(s.token)
	if claims == nil {
		fmt.Fprintln(e.stderr, "warning: the token's claims cannot be read: the caller and the grant are not checked before sending")
		s.token = ""
	}
	if s.know, err = e.know(ctx, f, t, claims, opts.Operations); err != nil {
		return err
	}
	opts.Directory = s.know.pc.Directory
	if s.client, err = graphchat.NewFromCredential(cred, opts); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// credentialConfig checks that the environment has what signing in with
// auth (and --use-cli) needs, and returns the credential's configuration.
// With the Azure CLI it sets opts.TokenScopes.
func (e *env) credentialConfig(auth policy.AuthType, useCLI bool, opts *graphchat.Options) (credentialConfig, error) {
	cfg := credentialConfig{Auth: auth, UseCLI: useCLI, Cloud: opts.Cloud, TenantID: e.getenv("AZURE_TENANT_ID"), ClientID: e.getenv("AZURE_CLIENT_ID"),
		Prompt: func(msg string) { fmt.Fprintln(e.stderr, msg) }}
	var missing []string
	switch {
	case auth == policy.AuthApplication:
		if useCLI {
			return cfg, usagef("--use-cli signs in a user: it is for --auth delegated")
		}
		for _, v := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID"} {
			if e.getenv(v) == "" {
				missing = append(missing, v)
			}
		}
		if e.getenv("AZURE_CLIENT_SECRET") == "" && e.getenv("AZURE_CLIENT_CERTIFICATE_PATH") == "" {
			missing = append(missing, "AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)")
		}
		if len(missing) > 0 {
			return cfg, authf(nil, "--target graph --auth application reads the app's credentials from the environment: set %s", strings.Join(missing, ", "))
		}
	case useCLI:
		// The Azure CLI takes one resource scope: ask for .default; the
		// token's grant is still judged against the operations.
		opts.TokenScopes = []string{"https://" + opts.Cloud.GraphHost() + "/.default"}
	default:
		if cfg.ClientID == "" {
			return cfg, authf(nil, "--target graph --auth delegated signs in with a device code for your app registration: set AZURE_CLIENT_ID (and AZURE_TENANT_ID), or use --use-cli after \"az login\"")
		}
	}
	return cfg, nil
}

// signIn fetches a token for opts.TokenScopes, or the scopes of
// opts.Operations, and returns it; a failure is an authentication error
// (exit code 3) that says what to do.
func signIn(ctx context.Context, cred azcore.TokenCredential, auth policy.AuthType, useCLI bool, opts *graphchat.Options) (string, error) {
	scopes := opts.TokenScopes
	if len(scopes) == 0 {
		var err error
		if scopes, err = graphchat.Scopes(auth, opts.Cloud, opts.Operations...); err != nil {
			return "", usagef("%v", err)
		}
	}
	tok, err := cred.GetToken(ctx, azpolicy.TokenRequestOptions{Scopes: scopes})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		fix := "check the settings above"
		if useCLI {
			fix = "run \"az login\" (the Azure CLI must be installed)"
		}
		return "", authf(err, "signing in for %s: %v: %s", strings.Join(scopes, " "), firstLine(err), fix)
	}
	return tok.Token, nil
}

func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// newAzureCredential builds the azidentity credential for a configuration.
func newAzureCredential(cfg credentialConfig) (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{Cloud: azcloud.AzurePublic}
	switch cfg.Cloud {
	case graphchat.CloudUSGov, graphchat.CloudUSGovDoD:
		co.Cloud = azcloud.AzureGovernment
	case graphchat.CloudChina:
		co.Cloud = azcloud.AzureChina
	}
	switch {
	case cfg.Auth == policy.AuthApplication:
		return azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: co})
	case cfg.UseCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: cfg.TenantID})
	}
	tenant := cfg.TenantID
	if tenant == "" {
		tenant = "organizations"
	}
	return azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: co, ClientID: cfg.ClientID, TenantID: tenant,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			if cfg.Prompt == nil {
				return errors.New("no way to show the device code")
			}
			cfg.Prompt(m.Message)
			return nil
		},
	})
}
