package graphchat

import (
	"context"
	"log/slog"

	"github.com/graphchat/graphchat/policy"
)

// checkWith applies a policy check (of create-chat or add-member) to
// members, giving the policy what is known of their users: first what the
// app knows (CreateOptions.Directory and Options.Directory), then, when
// that allows the request and Options.ResolveKinds is on, also what Graph
// says of members of unknown kind, so that a refused request costs no
// lookup. pc is not modified. The warnings of an allowed request are
// logged.
func (c *Client) checkWith(ctx context.Context, op policy.Operation, members []policy.Member, pc *policy.Context, call *policy.Directory, check func(*policy.Context) *policy.Result) (*policy.Result, *policy.Directory, error) {
	res, dir, err := c.judgeWith(ctx, members, pc, call, check)
	if err != nil {
		return res, dir, err
	}
	c.warn(ctx, op, res.Warnings)
	return res, dir, nil
}

// judgeWith is checkWith without logging, for a check whose warnings the
// caller's next step logs.
func (c *Client) judgeWith(ctx context.Context, members []policy.Member, pc *policy.Context, call *policy.Directory, check func(*policy.Context) *policy.Result) (*policy.Result, *policy.Directory, error) {
	known := *pc
	dir, err := c.directory(ctx, members, &known, call, false)
	if err != nil {
		return nil, nil, err
	}
	known.Directory = dir
	res := check(&known)
	if res.Err() == nil && c.resolve {
		if dir, err = c.directory(ctx, members, &known, call, true); err != nil {
			return nil, nil, err
		}
		known.Directory = dir
		res = check(&known)
	}
	return res, dir, res.Err()
}

// checkGrant applies the permission rules to an operation with no body.
func (c *Client) checkGrant(ctx context.Context, op policy.Operation) error {
	pc, err := c.context(ctx, op)
	if err != nil {
		return err
	}
	if pc.Grant == nil {
		return nil
	}
	d := policy.Evaluate(pc.Auth, *pc.Grant)
	if err := d.Err(); err != nil {
		return err
	}
	c.warn(ctx, op, d.Warnings)
	return nil
}

// warn logs the policy's warnings about an operation.
func (c *Client) warn(ctx context.Context, op policy.Operation, warnings policy.List) {
	if c.logger == nil {
		return
	}
	for _, w := range warnings {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "policy warning", slog.String("operation", string(op)),
			slog.String("code", string(w.Code)), slog.String("field", w.Field), slog.String("message", w.Message))
	}
}
