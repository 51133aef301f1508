package policy

import (
	"fmt"
	"slices"
	"strings"
)

// The least-privilege engine: Evaluate (the chat catalogue) and
// Metadata.Judge (any method and path of the permissions metadata) describe
// what they judge as needs and leave the judgement to judgeGrant, so that
// both find allowing, missing and excess permissions by the same rules.

// need is one thing a grant is judged for: an operation of the catalogue,
// or a method on a path of the permissions metadata.
type need struct {
	// name says what is needed in messages, such as "create-chat" or
	// "POST /chats".
	name string
	// acceptable are the permissions that allow it with least privilege
	// and can be in a token; any one of them is enough.
	acceptable []string
	// allows are the permissions that allow it, in the order of preference
	// when naming the granted one that does.
	allows []string
}

// excessText says, for a permission_excess message, what is judged
// ("create-chat, list-chats") and what is enough for it ("Chat.Create and
// Chat.ReadBasic").
type excessText struct {
	needs, enough string
}

// message is the permission_excess message of p: a permission that allows
// some of the needs with more privilege than they take is "more privileged
// than" they need; one that allows none of them is "not needed".
func (x excessText) message(p string, allowsSome bool) string {
	if allowsSome {
		return fmt.Sprintf("%s is more privileged than %s needs; least privileged: %s (use a higher privileged permission only if the app requires it)", p, x.needs, x.enough)
	}
	return fmt.Sprintf("%s is not needed by %s: it allows none of these operations; least privileged: %s", p, x.needs, x.enough)
}

// judgement is what judgeGrant found.
type judgement struct {
	// allowedBy[i] is the granted permission that allows needs[i], "" when
	// none does.
	allowedBy []string
	// missing are the needs no granted permission allows.
	missing []int
	// excess are granted permissions the needs do not call for but that
	// allow something known (see judgeGrant); unrelated are the others.
	// unneeded are the excess ones that allow none of the needs.
	excess, unrelated, unneeded []string
	violations                  List
	warnings                    List
}

// judgeGrant judges granted permissions (repeats and empty names dropped,
// names compared case-insensitively) against needs. A need no granted
// permission allows is permission_missing, a violation in every mode but
// ModeOff. A granted permission acceptable for no need is excess when known
// returns its name (as the caller spells it) and unrelated otherwise; excess
// is permission_excess, worded "more privileged than needed" when the
// permission allows some need and "not needed" when it allows none (also
// listed in unneeded), a warning in ModeWarn and a violation in
// ModeStrict. Any other mode gives no excess finding: the caller reports the
// mode itself.
func judgeGrant(needs []need, granted []string, mode Mode, known func(p string) (string, bool), excess excessText) judgement {
	var j judgement
	var k checker
	granted = dedupFold(granted)
	used := map[string]bool{} // granted permissions acceptable for some need
	for i, n := range needs {
		allowedBy := ""
		for _, cand := range n.allows {
			if p, ok := findFold(granted, cand); ok {
				allowedBy = p
				break
			}
		}
		for _, p := range granted {
			if containsFold(n.acceptable, p) {
				used[strings.ToLower(p)] = true
			}
		}
		j.allowedBy = append(j.allowedBy, allowedBy)
		if allowedBy == "" {
			j.missing = append(j.missing, i)
			if mode != ModeOff {
				k.violate(CodePermissionMissing, "grant.permissions", fmt.Sprintf("no granted permission allows %s: want %s", n.name, strings.Join(n.acceptable, " or ")))
			}
		}
	}
	for _, p := range granted {
		if used[strings.ToLower(p)] {
			continue
		}
		name, ok := known(p)
		if !ok {
			j.unrelated = append(j.unrelated, p)
			continue
		}
		j.excess = append(j.excess, name)
		allowsSome := slices.ContainsFunc(needs, func(n need) bool { return containsFold(n.allows, p) })
		if !allowsSome {
			j.unneeded = append(j.unneeded, name)
		}
		msg := excess.message(name, allowsSome)
		switch mode {
		case ModeStrict:
			k.violate(CodePermissionExcess, "grant.permissions", msg)
		case ModeWarn:
			k.warn(CodePermissionExcess, "grant.permissions", msg)
		}
	}
	j.violations, j.warnings = k.violations, k.warnings
	return j
}
