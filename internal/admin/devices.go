package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Devices provisions and manages devices (issue 8): accounts that log in
// with certificates from the device CA, in groups.
type Devices interface {
	// ProvisionDevice creates a device and issues its certificate.
	// LastWill nil means the server's default.
	ProvisionDevice(ctx context.Context, name, group string, lastWill *string) (ProvisionedDevice, error)
	// ListDevices returns at most limit devices after the name after, in
	// ascending order, and whether more follow.
	ListDevices(ctx context.Context, after string, limit int) ([]Device, bool, error)
	// Device returns one device.
	Device(ctx context.Context, name string) (Device, error)
	// RevokeDevice revokes the device's certificates and closes its
	// sessions.
	RevokeDevice(ctx context.Context, name string) error
	// ReissueDevice revokes the device's certificates and issues a new
	// one.
	ReissueDevice(ctx context.Context, name string) (ProvisionedDevice, error)
	// DeleteDevice removes the device's account and telemetry node.
	DeleteDevice(ctx context.Context, name string) error
	// DeviceCA returns the device CA's certificate (PEM).
	DeviceCA(ctx context.Context) ([]byte, error)
	// Groups lists the device groups.
	Groups(ctx context.Context) ([]Group, error)
	// Group returns a group with its members' latest readings.
	Group(ctx context.Context, name string) (GroupDetail, error)
}

// Device is a provisioned device.
type Device struct {
	Name  string `json:"name"`
	JID   string `json:"jid"`
	Group string `json:"group,omitempty"`
	// Node is the device's telemetry node at the pubsub service.
	Node    string    `json:"node"`
	Created time.Time `json:"created"`
	Presence
	// Certificate is the newest certificate issued to it, nil if none.
	Certificate *CertificateInfo `json:"certificate,omitempty"`
}

// CertificateInfo describes an issued certificate.
type CertificateInfo struct {
	Serial   string    `json:"serial"`
	Issued   time.Time `json:"issued"`
	NotAfter time.Time `json:"not_after"`
	Revoked  bool      `json:"revoked"`
}

// ProvisionedDevice is a device with its new credentials: the only time
// the private key is seen, it is not stored.
type ProvisionedDevice struct {
	Name        string          `json:"name"`
	JID         string          `json:"jid"`
	Group       string          `json:"group,omitempty"`
	Node        string          `json:"node"`
	Certificate CertificateInfo `json:"certificate"`
	// Bundle is the private key and the certificate, PEM; CA is the
	// device CA's certificate, PEM.
	Bundle string `json:"bundle"`
	CA     string `json:"ca"`
}

// Group is a device group.
type Group struct {
	Name string `json:"name"`
	// Node is the group's collection at the pubsub service.
	Node    string `json:"node"`
	Members int    `json:"members"`
	Online  int    `json:"online"`
}

// GroupDetail is a group with its members.
type GroupDetail struct {
	Group
	Devices []GroupMember `json:"devices"`
}

// GroupMember is a device of a group with its latest reading.
type GroupMember struct {
	Name   string `json:"name"`
	JID    string `json:"jid"`
	Node   string `json:"node"`
	Online bool   `json:"online"`
	// LastItem is the newest item of its telemetry node, nil if none.
	LastItem *Item `json:"last_item,omitempty"`
}

// provisionRequest is the body of POST /api/v1/devices.
type provisionRequest struct {
	Name     string  `json:"name"`
	Group    string  `json:"group"`
	LastWill *string `json:"last_will"`
}

// maxBulk bounds the devices of one bulk request.
const maxBulk = 1000

// createDevice: POST /api/v1/devices.
func (a *api) createDevice(w http.ResponseWriter, r *http.Request) {
	var req provisionRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if e := required("name", req.Name); e != nil {
		writeError(w, e)
		return
	}
	d, err := a.b.ProvisionDevice(r.Context(), req.Name, req.Group, req.LastWill)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("device provisioned", "device", d.Name, "via", "admin api")
	w.Header().Set("Location", "/api/v1/devices/"+url.PathEscape(d.Name))
	writeJSON(w, http.StatusCreated, d)
}

// bulkDevices: POST /api/v1/device-batches {"devices": [...]}: each device
// is provisioned in turn; one that fails gets its error and the others go
// on.
func (a *api) bulkDevices(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Devices []provisionRequest `json:"devices"`
	}
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if len(req.Devices) == 0 || len(req.Devices) > maxBulk {
		writeError(w, Errorf(CodeBadRequest, "give from 1 to %d devices", maxBulk))
		return
	}
	type result struct {
		*ProvisionedDevice
		Name  string `json:"name,omitempty"`
		Error *Error `json:"error,omitempty"`
	}
	out := make([]result, 0, len(req.Devices))
	for _, d := range req.Devices {
		if d.Name == "" {
			out = append(out, result{Error: Errorf(CodeBadRequest, "name is required")})
			continue
		}
		p, err := a.b.ProvisionDevice(r.Context(), d.Name, d.Group, d.LastWill)
		if err != nil {
			out = append(out, result{Name: d.Name, Error: a.asError(r, err)})
			continue
		}
		out = append(out, result{ProvisionedDevice: &p})
	}
	a.log.Info("devices provisioned in bulk", "requested", len(req.Devices), "via", "admin api")
	writeJSON(w, http.StatusOK, struct {
		Devices []result `json:"devices"`
	}{out})
}

// listDevices: GET /api/v1/devices?limit=&after=.
func (a *api) listDevices(w http.ResponseWriter, r *http.Request) {
	after, limit, perr := page(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	ds, more, err := a.b.ListDevices(r.Context(), after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp := struct {
		Devices []Device `json:"devices"`
		Next    string   `json:"next,omitempty"`
	}{Devices: ds}
	if resp.Devices == nil {
		resp.Devices = []Device{}
	}
	if more && len(ds) > 0 {
		resp.Next = ds[len(ds)-1].Name
	}
	writeJSON(w, http.StatusOK, resp)
}

// getDevice: GET /api/v1/devices/{name}.
func (a *api) getDevice(w http.ResponseWriter, r *http.Request) {
	d, err := a.b.Device(r.Context(), r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// deleteDevice: DELETE /api/v1/devices/{name}.
func (a *api) deleteDevice(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := a.b.DeleteDevice(r.Context(), name); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("device removed", "device", name, "via", "admin api")
	w.WriteHeader(http.StatusNoContent)
}

// revokeDevice: POST /api/v1/devices/{name}/revoke.
func (a *api) revokeDevice(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := a.b.RevokeDevice(r.Context(), name); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("device certificates revoked", "device", name, "via", "admin api")
	w.WriteHeader(http.StatusNoContent)
}

// reissueDevice: POST /api/v1/devices/{name}/certificate.
func (a *api) reissueDevice(w http.ResponseWriter, r *http.Request) {
	d, err := a.b.ReissueDevice(r.Context(), r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("device certificate reissued", "device", d.Name, "via", "admin api")
	writeJSON(w, http.StatusCreated, d)
}

// deviceCA: GET /api/v1/device-ca, the CA certificate as PEM.
func (a *api) deviceCA(w http.ResponseWriter, r *http.Request) {
	pem, err := a.b.DeviceCA(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pem)
}

// listGroups: GET /api/v1/groups.
func (a *api) listGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := a.b.Groups(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if gs == nil {
		gs = []Group{}
	}
	writeJSON(w, http.StatusOK, struct {
		Groups []Group `json:"groups"`
	}{gs})
}

// getGroup: GET /api/v1/groups/{group}.
func (a *api) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := a.b.Group(r.Context(), r.PathValue("group"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if g.Devices == nil {
		g.Devices = []GroupMember{}
	}
	writeJSON(w, http.StatusOK, g)
}
