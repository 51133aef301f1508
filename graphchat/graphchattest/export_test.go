package graphchattest

import "net/http"

// SetHook makes the emulator call f before routing each request, so that
// tests can reach the last-resort recovery.
func SetHook(e *Emulator, f func(*http.Request)) { e.hook = f }
