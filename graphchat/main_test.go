package graphchat_test

import (
	"os"
	"testing"

	"github.com/graphchat/graphchat/internal/testrun"
)

func TestMain(m *testing.M) {
	testrun.Parallel(8)
	os.Exit(m.Run())
}
