package graphchattest

import "net/http"

// SetHook makes the emulator call f before routing each request, so that
// tests can reach the last-resort recovery.
func SetHook(e *Emulator, f func(*http.Request)) { e.hook = f }

// PermissionTable returns the emulator's permission table by operation
// name: least and higher privileged permissions, delegated then application.
func PermissionTable() map[string][4][]string {
	out := map[string][4][]string{}
	for op, g := range permissionTable {
		out[string(op)] = [4][]string{g.delegatedLeast, g.delegatedHigher, g.applicationLeast, g.applicationHigher}
	}
	return out
}
