package pubsub_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/pubsub/pubsubtest"
)

func TestMemStore(t *testing.T) {
	pubsubtest.TestStore(t, func(t *testing.T) pubsub.Store { return pubsub.NewMemStore() })
	t.Run("Zero", func(t *testing.T) {
		pubsubtest.TestStore(t, func(t *testing.T) pubsub.Store { return new(pubsub.MemStore) })
	})
}

// memProvider is a StoreProvider of MemStores, to run the provider tests
// of the suite against MemStore.
type memProvider struct {
	mu       sync.Mutex
	services map[string]*pubsub.MemStore
}

func (p *memProvider) PubSubStore(service string) pubsub.Store {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.services[service] == nil {
		p.services[service] = pubsub.NewMemStore()
	}
	return p.services[service]
}

func (p *memProvider) PubSubServices(ctx context.Context, prefix string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k, st := range p.services {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		nodes, err := st.LoadNodes(ctx)
		if err != nil {
			return nil, err
		}
		if len(nodes) > 0 {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func TestMemStoreProvider(t *testing.T) {
	pubsubtest.TestProvider(t, func(t *testing.T) pubsub.StoreProvider {
		return &memProvider{services: make(map[string]*pubsub.MemStore)}
	})
}
