package conformance

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// jsonOf is a value's JSON text.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestEmulator runs the suite against the in-process emulator.
func TestEmulator(t *testing.T) {
	t.Parallel()
	runSuite(t, newEmulatorTarget(t, graphchattest.Options{}))
}

// TestLive runs the suite against Microsoft Graph with the credentials of
// the environment (see doc.go), and is skipped without them.
func TestLive(t *testing.T) {
	t.Parallel()
	cfg, err := liveConfig(os.Getenv)
	if err == errNoCredentials {
		t.Skip(skipLive)
	}
	if err != nil {
		t.Fatal(err)
	}
	runSuite(t, newLiveTarget(cfg, nil))
}
