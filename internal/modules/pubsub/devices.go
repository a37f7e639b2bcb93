package pubsub

import (
	"context"
	"errors"
	"slices"

	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/jid"
)

// Device nodes (issue 8): provisioning gives each device a telemetry leaf
// node on the component, in its group's collection, with the device as a
// publisher and a last will (lastwill.go). The service itself owns both
// nodes: the device publishes, the operator configures.

// DeviceNode describes a device's telemetry node for ProvisionDeviceNode.
type DeviceNode struct {
	// Node is the leaf's NodeID (devices/<name>).
	Node ps.NodeID
	// Title names the node (the device's name).
	Title string
	// Group is the collection the leaf belongs to (groups/<group>), ""
	// for none; it is created when missing, titled GroupTitle.
	Group      ps.NodeID
	GroupTitle string
	// Device is the device's bare JID, made a publisher of the leaf.
	Device jid.JID
	// LastWill is the leaf's mote#last_will ("" for none).
	LastWill string
}

// ProvisionDeviceNode creates the device's telemetry node, or brings an
// existing one to d (its collection and last will; its items stay), and
// makes the device a publisher.
func (m *Module) ProvisionDeviceNode(ctx context.Context, d DeviceNode) error {
	sv := m.comp
	a := sv.serviceActor()
	var parents []ps.NodeID
	if d.Group != "" {
		parents = []ps.NodeID{d.Group}
		if _, err := sv.svc.Node(ctx, d.Group); errors.Is(err, ps.ErrNodeNotFound) {
			cfg := ps.DefaultConfig()
			cfg.Title = d.GroupTitle
			_, err := sv.svc.CreateNode(ctx, a, ps.NodeSpec{ID: d.Group, Type: ps.Collection, Config: &cfg})
			if err != nil && !errors.Is(err, ps.ErrConflict) { // made meanwhile: fine
				return err
			}
			sv.nodeChanged(d.Group)
		} else if err != nil {
			return err
		}
	}
	n, err := sv.svc.Node(ctx, d.Node)
	switch {
	case errors.Is(err, ps.ErrNodeNotFound):
		cfg := ps.DefaultConfig()
		cfg.Title, cfg.LastWill = d.Title, d.LastWill
		if _, err := sv.svc.CreateNode(ctx, a, ps.NodeSpec{ID: d.Node, Type: ps.Leaf, Parents: parents, Config: &cfg}); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if n.Type != ps.Leaf {
			return ps.ErrConflict
		}
		cfg := n.Config.Clone()
		cfg.LastWill = d.LastWill
		if err := sv.svc.Configure(ctx, a, d.Node, cfg); err != nil {
			return err
		}
		if !slices.Equal(n.Parents, parents) {
			if err := sv.svc.SetParents(ctx, a, d.Node, parents); err != nil {
				return err
			}
		}
	}
	err = sv.svc.SetAffiliations(ctx, a, d.Node, []ps.Affiliated{{JID: d.Device, Affiliation: ps.AffPublisher}})
	sv.nodeChanged(d.Node)
	return err
}
