package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
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
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.target, "target", "emulator", "where to send: emulator (in-process), a running emulator's `URL` (http://127.0.0.1:8080/v1.0), or graph (Microsoft Graph)")
	fs.StringVar(&t.cloud, "cloud", "global", "Microsoft Graph cloud with --target graph: global, usgov, usgovdod or china")
	fs.BoolVar(&t.useCLI, "use-cli", false, "with --target graph --auth delegated: use the Azure CLI's sign-in instead of a device code")
	fs.BoolVar(&t.verbose, "v", false, "log each HTTP request (method, path, status, latency, request-id, client-request-id) to standard error")
}

// connect returns a client for the target, and a function to release it.
func (e *env) connect(ctx context.Context, t targetFlags, f checkFlags, ops []policy.Operation) (*graphchat.Client, func(), error) {
	opts := &graphchat.Options{Operations: ops, Mode: f.mode(), Logger: e.logger(t.verbose)}
	cloud, err := graphchat.CloudByName(t.cloud)
	if err != nil {
		return nil, nil, usagef("--cloud: %v", err)
	}
	opts.Cloud = cloud
	if t.target == "graph" {
		return e.connectGraph(t, f, opts)
	}
	if t.useCLI || f.set["cloud"] {
		return nil, nil, usagef("--use-cli and --cloud are for --target graph")
	}
	k, err := f.knowledge()
	if err != nil {
		return nil, nil, err
	}
	done := func() {}
	switch {
	case t.target == "emulator":
		srv, err := graphchattest.NewServer("", &graphchattest.Options{Users: directoryOrDefault(k)})
		if err != nil {
			return nil, nil, err
		}
		opts.BaseURL, done = srv.URL, func() { srv.Close() }
	case strings.HasPrefix(t.target, "http://") || strings.HasPrefix(t.target, "https://"):
		opts.BaseURL = strings.TrimRight(t.target, "/")
		if !strings.HasSuffix(opts.BaseURL, "/v1.0") && !strings.HasSuffix(opts.BaseURL, "/beta") {
			opts.BaseURL += "/v1.0"
		}
	default:
		return nil, nil, usagef("--target %q: want emulator, graph, or a running emulator's URL", t.target)
	}
	token := f.token
	if token == "" {
		if token, err = mintToken(f, k, ops); err != nil {
			done()
			return nil, nil, err
		}
	}
	c, err := graphchat.NewFromCredential(graphchat.StaticToken(token), opts)
	if err != nil {
		done()
		return nil, nil, usagef("%v", err)
	}
	return c, done, nil
}

func directoryOrDefault(k *knowledge) []graphchattest.User {
	if len(k.users) > 0 {
		return k.users
	}
	return graphchattest.DefaultUsers()
}

// mintToken makes an emulator token from the flags: the caller (default
// megan@contoso.com) with the given scopes, or the least-privileged ones.
func mintToken(f checkFlags, k *knowledge, ops []policy.Operation) (string, error) {
	pc, err := f.context(ops...)
	if err != nil {
		return "", err
	}
	perms := policy.SplitPermissions(f.scopes)
	if !f.set["scopes"] {
		if perms, err = policy.Minimal(pc.Auth, ops...); err != nil {
			return "", usagef("%v", err)
		}
	}
	tenant := pc.TenantID
	if tenant == "" {
		tenant = graphchattest.DefaultTenantID
	}
	if pc.Auth == policy.AuthApplication {
		return graphchattest.Token(graphchattest.Claims{Roles: perms, TenantID: tenant, ObjectID: "9d3f1c1e-0000-4000-8000-0000000000a1", IDType: "app"}), nil
	}
	who := f.caller
	if who == "" {
		who = "megan@contoso.com"
	}
	claims := graphchattest.Claims{Scopes: strings.Join(perms, " "), TenantID: tenant}
	for _, u := range directoryOrDefault(k) {
		if strings.EqualFold(u.ID, who) || strings.EqualFold(u.UserPrincipalName, who) {
			claims.ObjectID, claims.UserPrincipalName = u.ID, u.UserPrincipalName
		}
	}
	if claims.ObjectID == "" {
		return "", usagef("--caller %q is not in the emulator's directory", who)
	}
	return graphchattest.Token(claims), nil
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

func (e *env) connectGraph(t targetFlags, f checkFlags, opts *graphchat.Options) (*graphchat.Client, func(), error) {
	if f.token != "" {
		return nil, nil, usagef("--token is for emulator targets; --target graph signs in through azidentity")
	}
	auth := policy.AuthType(f.auth)
	if auth != policy.AuthDelegated && auth != policy.AuthApplication {
		return nil, nil, usagef("--auth %q: want delegated or application", f.auth)
	}
	cfg := credentialConfig{Auth: auth, UseCLI: t.useCLI, Cloud: opts.Cloud, TenantID: e.getenv("AZURE_TENANT_ID"), ClientID: e.getenv("AZURE_CLIENT_ID"),
		Prompt: func(msg string) { fmt.Fprintln(e.stderr, msg) }}
	var missing []string
	switch {
	case auth == policy.AuthApplication:
		if t.useCLI {
			return nil, nil, usagef("--use-cli signs in a user: it is for --auth delegated")
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
			return nil, nil, usagef("--target graph --auth application reads the app's credentials from the environment: set %s", strings.Join(missing, ", "))
		}
	case t.useCLI:
		// The Azure CLI takes one resource scope: ask for .default; the
		// token's grant is still judged against the operations.
		opts.TokenScopes = []string{"https://" + opts.Cloud.GraphHost + "/.default"}
	default:
		if cfg.ClientID == "" {
			return nil, nil, usagef("--target graph --auth delegated signs in with a device code for your app registration: set AZURE_CLIENT_ID (and AZURE_TENANT_ID), or use --use-cli after \"az login\"")
		}
	}
	opts.Auth = auth
	if e.transport != nil {
		opts.HTTPClient = &http.Client{Transport: e.transport}
	}
	cred, err := e.newCredential(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("building the credential: %w", err)
	}
	c, err := graphchat.NewFromCredential(cred, opts)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	return c, func() {}, nil
}

// newAzureCredential builds the azidentity credential for a configuration.
func newAzureCredential(cfg credentialConfig) (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{Cloud: azcloud.AzurePublic}
	switch cfg.Cloud.Name {
	case graphchat.CloudUSGov.Name, graphchat.CloudUSGovDoD.Name:
		co.Cloud = azcloud.AzureGovernment
	case graphchat.CloudChina.Name:
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
