package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/internal/storage/postgres"
	"github.com/mote-xmpp/mote/internal/storage/sqlite"
	"github.com/mote-xmpp/mote/internal/storage/storecopy"
)

func migrateCommand() *cobra.Command {
	var from, to string
	var maxConns int
	cmd := &cobra.Command{
		Use:   "migrate --from sqlite:PATH --to postgres://...",
		Short: "Copy a deployment's data from one database to another, then verify the counts",
		Long: `Copy every account (credentials, roster, pending requests, offline messages,
vCard and private data, blocklist, device enrolment and certificates), every
message archive and every publish-subscribe service from one database to
another, then count both and compare. The destination must be empty. Stop
the server first: writes made during the copy would be missed.

A database is sqlite:PATH (the embedded one, data_dir/mote.db by default) or
a PostgreSQL URL (postgres://user@host/db). Then set storage.driver: postgres
and storage.dsn in the configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			src, err := openStore(ctx, from, maxConns)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer src.Close()
			dst, err := openStore(ctx, to, maxConns)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			defer dst.Close()
			return migrate(ctx, src, dst, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "source database: sqlite:PATH or postgres://...")
	cmd.Flags().StringVar(&to, "to", "", "destination database: sqlite:PATH or postgres://... (empty)")
	cmd.Flags().IntVar(&maxConns, "max-conns", 4, "PostgreSQL connections")
	cmd.MarkFlagRequired("from")
	cmd.MarkFlagRequired("to")
	return cmd
}

// openStore opens sqlite:PATH or a PostgreSQL DSN.
func openStore(ctx context.Context, spec string, maxConns int) (storage.Store, error) {
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(spec, "sqlite:"))
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"), strings.Contains(spec, "="):
		// A URL, or key=value pairs (host=... dbname=...).
		return postgres.Open(ctx, spec, postgres.Options{MaxConns: maxConns})
	}
	return nil, fmt.Errorf("%q: want sqlite:PATH, or a PostgreSQL URL (postgres://...) or key=value DSN", spec)
}

// migrate copies src into dst with a progress bar per step, then compares
// the counts of both.
func migrate(ctx context.Context, src, dst storage.Store, out, progress io.Writer) error {
	var bar *progressbar.ProgressBar
	step := ""
	copied, err := storecopy.Copy(ctx, src, dst, func(what string, done, total int) {
		if what != step {
			if bar != nil {
				bar.Finish()
			}
			step = what
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
		}
		bar.Set(done)
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	want, err := storecopy.Count(ctx, src)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tsource\tdestination\t")
	wv, cv := reflect.ValueOf(want), reflect.ValueOf(copied)
	for i := range wv.NumField() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", wv.Type().Field(i).Name, wv.Field(i).Int(), cv.Field(i).Int())
	}
	tw.Flush()
	if want != copied {
		return fmt.Errorf("the counts differ: the copy is incomplete")
	}
	fmt.Fprintln(out, "copied and verified")
	return nil
}
