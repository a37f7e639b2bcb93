package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/mote-xmpp/mote/internal/config"
)

// The device commands talk to the running server's admin API (admin.listen,
// with the admin token): provisioning creates pubsub nodes and changes
// what the server holds in memory, so it goes through the server, like the
// dashboard.

// apiClient calls the admin API.
type apiClient struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// newAPIClient finds the admin API from the configuration: admin.listen
// (a wildcard host means loopback), and admin.token or the token in the
// data directory.
func newAPIClient(cfg *config.Config) (*apiClient, error) {
	host, port, err := net.SplitHostPort(cfg.Admin.Listen)
	if err != nil || cfg.Admin.Listen == "" {
		return nil, fmt.Errorf("admin.listen %q: the device commands need the admin API", cfg.Admin.Listen)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	token := cfg.Admin.Token
	if token == "" {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "admin-token"))
		if err != nil {
			return nil, fmt.Errorf("admin token: %w (has the server started once?)", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return &apiClient{base: "http://" + net.JoinHostPort(host, port), token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message + " (" + e.Code + ")" }

// do sends a request with a JSON body (nil for none) and decodes a JSON
// answer into out (nil to ignore it).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w (is the server running?)", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("admin API: %s", resp.Status)
		}
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out == nil {
		return nil
	}
	if s, ok := out.(*[]byte); ok {
		*s = b
		return nil
	}
	return json.Unmarshal(b, out)
}

// provisioned is the API's answer to a provisioning.
type provisioned struct {
	Name        string `json:"name"`
	JID         string `json:"jid"`
	Group       string `json:"group"`
	Node        string `json:"node"`
	Certificate struct {
		Serial   string    `json:"serial"`
		NotAfter time.Time `json:"not_after"`
	} `json:"certificate"`
	Bundle string `json:"bundle"`
	CA     string `json:"ca"`
}

// writeBundle writes dir/<name>.pem (the key and certificate, 0600) and
// dir/ca.pem.
func writeBundle(dir string, p provisioned) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := filepath.Join(dir, p.Name+".pem")
	if err := os.WriteFile(name, []byte(p.Bundle), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte(p.CA), 0o644); err != nil {
		return "", err
	}
	return name, nil
}

func deviceCommand(load func() (*config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Provision and manage devices (through the running server's admin API)",
		Long: `Provision and manage devices: accounts that log in with a client certificate
(SASL EXTERNAL, XEP-0178) issued by mote's device CA, in groups, each with a
telemetry node devices/NAME at the pubsub service (in the collection
groups/GROUP). These commands call the running server's admin API
(admin.listen, with the admin token from the configuration or the data
directory).`,
	}
	client := func() (*apiClient, error) {
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		return newAPIClient(cfg)
	}
	var group, out, lastWill string
	provision := &cobra.Command{
		Use:   "provision NAME",
		Short: "Create a device and write its key and certificate to DIR/NAME.pem (and the CA to DIR/ca.pem)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			req := map[string]any{"name": args[0], "group": group}
			if cmd.Flags().Changed("last-will") {
				req["last_will"] = lastWill
			}
			var p provisioned
			if err := c.do(cmd.Context(), "POST", "/api/v1/devices", req, &p); err != nil {
				return err
			}
			file, err := writeBundle(out, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s provisioned: %s, node %s, certificate %s valid until %s\n",
				p.Name, file, p.Node, p.Certificate.Serial, p.Certificate.NotAfter.Format(time.DateOnly))
			return nil
		},
	}
	provision.Flags().StringVar(&group, "group", "", "device group")
	provision.Flags().StringVar(&out, "out", "devices", "directory for the certificate bundle")
	provision.Flags().StringVar(&lastWill, "last-will", "", "last-will payload (XML; empty for none); default: devices.last_will")

	var csvFile, enrolOut string
	enrol := &cobra.Command{
		Use:     "enrol --csv FILE",
		Aliases: []string{"enroll"},
		Short:   "Provision the devices listed in a CSV file (name[,group] per line), with a progress bar",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			rows, err := readDeviceCSV(csvFile)
			if err != nil {
				return err
			}
			return enrolAll(cmd.Context(), c, rows, enrolOut, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	enrol.Flags().StringVar(&csvFile, "csv", "", "CSV file: name[,group] per line (a first line name,group is a header)")
	enrol.Flags().StringVar(&enrolOut, "out", "devices", "directory for the certificate bundles")
	enrol.MarkFlagRequired("csv")

	list := &cobra.Command{
		Use:   "list",
		Short: "List devices with their group, state and certificate expiry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGROUP\tONLINE\tCERTIFICATE\tEXPIRES")
			after := ""
			for {
				var page struct {
					Devices []struct {
						Name        string `json:"name"`
						Group       string `json:"group"`
						Online      bool   `json:"online"`
						Certificate *struct {
							Serial   string    `json:"serial"`
							NotAfter time.Time `json:"not_after"`
							Revoked  bool      `json:"revoked"`
						} `json:"certificate"`
					} `json:"devices"`
					Next string `json:"next"`
				}
				if err := c.do(cmd.Context(), "GET", "/api/v1/devices?limit=1000&after="+url.QueryEscape(after), nil, &page); err != nil {
					return err
				}
				for _, d := range page.Devices {
					serial, expires := "-", "-"
					if ce := d.Certificate; ce != nil {
						serial, expires = ce.Serial, ce.NotAfter.Format(time.DateOnly)
						if ce.Revoked {
							expires = "revoked"
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", d.Name, d.Group, d.Online, serial, expires)
				}
				if page.Next == "" {
					break
				}
				after = page.Next
			}
			return tw.Flush()
		},
	}

	simple := func(use, short, method, suffix, done string) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := client()
				if err != nil {
					return err
				}
				if err := c.do(cmd.Context(), method, "/api/v1/devices/"+url.PathEscape(args[0])+suffix, nil, nil); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), args[0], done)
				return nil
			},
		}
	}
	var reissueOut string
	reissue := &cobra.Command{
		Use:   "reissue NAME",
		Short: "Revoke a device's certificates and write a new key and certificate to DIR/NAME.pem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			var p provisioned
			if err := c.do(cmd.Context(), "POST", "/api/v1/devices/"+url.PathEscape(args[0])+"/certificate", nil, &p); err != nil {
				return err
			}
			file, err := writeBundle(reissueOut, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: new certificate %s in %s\n", p.Name, p.Certificate.Serial, file)
			return nil
		},
	}
	reissue.Flags().StringVar(&reissueOut, "out", "devices", "directory for the certificate bundle")
	ca := &cobra.Command{
		Use:   "ca",
		Short: "Print the device CA's certificate (PEM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			var pem []byte
			if err := c.do(cmd.Context(), "GET", "/api/v1/device-ca", nil, &pem); err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(pem)
			return err
		},
	}
	cmd.AddCommand(provision, enrol, list, reissue, ca,
		simple("revoke", "Revoke a device's certificates and disconnect it", "POST", "/revoke", "revoked"),
		simple("remove", "Remove a device: its account, certificates and node", "DELETE", "", "removed"))
	return cmd
}

// deviceRow is a line of an enrolment CSV.
type deviceRow struct{ Name, Group string }

// readDeviceCSV reads name[,group] lines; a first line "name,group" (or
// "name") is a header; blank names are errors.
func readDeviceCSV(file string) ([]deviceRow, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var rows []deviceRow
	for i, rec := range records {
		if i == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "name") {
			continue
		}
		if len(rec) > 2 || strings.TrimSpace(rec[0]) == "" {
			return nil, fmt.Errorf("%s: line %d: want name[,group]", file, i+1)
		}
		row := deviceRow{Name: strings.TrimSpace(rec[0])}
		if len(rec) == 2 {
			row.Group = strings.TrimSpace(rec[1])
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no devices", file)
	}
	return rows, nil
}

// enrolAll provisions rows one by one, writing their bundles to dir, with
// a progress bar on progress; failures are listed at the end.
func enrolAll(ctx context.Context, c *apiClient, rows []deviceRow, dir string, out, progress io.Writer) error {
	bar := progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("provisioning"), progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
	var failed []string
	for _, row := range rows {
		var p provisioned
		err := c.do(ctx, "POST", "/api/v1/devices", map[string]string{"name": row.Name, "group": row.Group}, &p)
		if err == nil {
			_, err = writeBundle(dir, p)
		}
		if err != nil {
			failed = append(failed, row.Name+": "+err.Error())
			var ae *apiError
			if !errors.As(err, &ae) {
				bar.Exit()
				return fmt.Errorf("%s: %w", row.Name, err) // the server is gone: stop
			}
		}
		bar.Add(1)
	}
	fmt.Fprintf(out, "%d of %d devices provisioned; bundles in %s\n", len(rows)-len(failed), len(rows), dir)
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(out, "  failed:", f)
		}
		return fmt.Errorf("%d devices failed", len(failed))
	}
	return nil
}
