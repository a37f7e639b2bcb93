package server

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/mote-xmpp/mote/internal/admin"
	ps "github.com/mote-xmpp/mote/internal/pubsub"
	"github.com/mote-xmpp/mote/internal/storage"
)

// The admin API's device endpoints (admin.Devices), over devices.go.

// deviceError maps the device errors to the API's codes.
func deviceError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoDeviceCA):
		return admin.Errorf(admin.CodeUnavailable, "the device CA is off (devices.ca)")
	case errors.Is(err, ErrNotDevice):
		return admin.Errorf(admin.CodeNotFound, "no such device")
	case errors.Is(err, errBadGroup):
		return admin.Errorf(admin.CodeBadRequest, "%s", strings.TrimPrefix(err.Error(), "server: "))
	}
	return apiError(err)
}

func provisioned(p Provisioned) admin.ProvisionedDevice {
	return admin.ProvisionedDevice{Name: p.Name, JID: p.JID.String(), Group: p.Group, Node: p.Node,
		Certificate: certInfo(p.Certificate), Bundle: string(p.Bundle), CA: string(p.CA)}
}

func certInfo(c storage.Certificate) admin.CertificateInfo {
	return admin.CertificateInfo{Serial: c.Serial, Issued: c.Issued.UTC(), NotAfter: c.NotAfter.UTC(), Revoked: !c.Revoked.IsZero()}
}

func (b adminBackend) ProvisionDevice(ctx context.Context, name, group string, lastWill *string) (admin.ProvisionedDevice, error) {
	p, err := b.s.ProvisionDevice(ctx, ProvisionRequest{Name: name, Group: group, LastWill: lastWill})
	if err != nil {
		return admin.ProvisionedDevice{}, deviceError(err)
	}
	return provisioned(p), nil
}

func (b adminBackend) ListDevices(ctx context.Context, after string, limit int) ([]admin.Device, bool, error) {
	all, err := b.s.store.Devices().ListDevices(ctx)
	if err != nil {
		return nil, false, err
	}
	all = all[sortSearch(all, after):]
	more := len(all) > limit
	if more {
		all = all[:limit]
	}
	out := make([]admin.Device, 0, len(all))
	for _, d := range all {
		ad, err := b.device(ctx, d)
		if err != nil {
			return nil, false, err
		}
		out = append(out, ad)
	}
	return out, more, nil
}

// sortSearch returns the index of the first device after name.
func sortSearch(ds []storage.Device, after string) int {
	i, found := slices.BinarySearchFunc(ds, after, func(d storage.Device, name string) int { return strings.Compare(d.Username, name) })
	if found {
		i++
	}
	return i
}

func (b adminBackend) device(ctx context.Context, d storage.Device) (admin.Device, error) {
	ad := admin.Device{Name: d.Username, JID: d.Username + "@" + b.s.cfg.Domain, Group: d.Group,
		Node: devicePrefix + d.Username, Created: d.Created.UTC(), Presence: b.Presence(d.Username)}
	certs, err := b.s.store.Devices().Certificates(ctx, d.Username)
	if err != nil {
		return admin.Device{}, err
	}
	if len(certs) > 0 {
		ci := certInfo(certs[0])
		ad.Certificate = &ci
	}
	return ad, nil
}

func (b adminBackend) Device(ctx context.Context, name string) (admin.Device, error) {
	d, err := b.s.device(ctx, name)
	if err != nil {
		return admin.Device{}, deviceError(err)
	}
	return b.device(ctx, d)
}

func (b adminBackend) RevokeDevice(ctx context.Context, name string) error {
	return deviceError(b.s.RevokeDevice(ctx, name))
}

func (b adminBackend) ReissueDevice(ctx context.Context, name string) (admin.ProvisionedDevice, error) {
	p, err := b.s.ReissueDevice(ctx, name)
	if err != nil {
		return admin.ProvisionedDevice{}, deviceError(err)
	}
	return provisioned(p), nil
}

func (b adminBackend) DeleteDevice(ctx context.Context, name string) error {
	return deviceError(b.s.DeleteDevice(ctx, name))
}

func (b adminBackend) DeviceCA(ctx context.Context) ([]byte, error) {
	pem := b.s.DeviceCA()
	if pem == nil {
		return nil, deviceError(ErrNoDeviceCA)
	}
	return pem, nil
}

func (b adminBackend) Groups(ctx context.Context) ([]admin.Group, error) {
	all, err := b.s.store.Devices().ListDevices(ctx)
	if err != nil {
		return nil, err
	}
	index := map[string]int{} // group name → index in out
	var out []admin.Group
	for _, d := range all {
		if d.Group == "" {
			continue
		}
		i, ok := index[d.Group]
		if !ok {
			i = len(out)
			index[d.Group] = i
			out = append(out, admin.Group{Name: d.Group, Node: groupPrefix + d.Group})
		}
		out[i].Members++
		if b.Presence(d.Username).Online {
			out[i].Online++
		}
	}
	slices.SortFunc(out, func(x, y admin.Group) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func (b adminBackend) Group(ctx context.Context, name string) (admin.GroupDetail, error) {
	all, err := b.s.store.Devices().ListDevices(ctx)
	if err != nil {
		return admin.GroupDetail{}, err
	}
	g := admin.GroupDetail{Group: admin.Group{Name: name, Node: groupPrefix + name}}
	p := b.s.pubsubModule()
	for _, d := range all {
		if d.Group != name {
			continue
		}
		m := admin.GroupMember{Name: d.Username, JID: d.Username + "@" + b.s.cfg.Domain, Node: devicePrefix + d.Username,
			Online: b.Presence(d.Username).Online}
		if p != nil {
			page, err := p.ComponentItems(ctx, ps.NodeID(m.Node), "", 1)
			if err != nil && !errors.Is(err, ps.ErrNodeNotFound) {
				return admin.GroupDetail{}, apiError(err)
			}
			if len(page.Items) > 0 {
				it := adminItem(page.Items[0])
				m.LastItem = &it
			}
		}
		g.Members++
		if m.Online {
			g.Online++
		}
		g.Devices = append(g.Devices, m)
	}
	if g.Members == 0 {
		return admin.GroupDetail{}, admin.Errorf(admin.CodeNotFound, "no such group")
	}
	return g, nil
}
