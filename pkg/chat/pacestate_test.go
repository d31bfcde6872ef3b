package chat_test

import (
	"testing"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/chat/pacetest"
)

// One process: every handle is the same memory.
func TestMemoryPaceContract(t *testing.T) {
	pacetest.Run(t, func(t *testing.T, n int) []chat.PaceState {
		m := &chat.MemoryPace{}
		states := make([]chat.PaceState, n)
		for i := range states {
			states[i] = m
		}
		return states
	})
}
