package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mote-xmpp/mote/internal/accounts"
	"github.com/mote-xmpp/mote/internal/buildinfo"
	"github.com/mote-xmpp/mote/internal/config"
	"github.com/mote-xmpp/mote/internal/server"
	"github.com/mote-xmpp/mote/internal/storage"
)

func newRootCommand() *cobra.Command {
	var cfgPath string
	root := &cobra.Command{
		Use:           "mote",
		Short:         "mote is an XMPP server for the Internet of Things",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML); built-in defaults when empty")
	load := func() (*config.Config, error) { return config.Load(cfgPath) }

	root.AddCommand(
		&cobra.Command{
			Use:   "serve",
			Short: "Run the server",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := load()
				if err != nil {
					return err
				}
				return serve(cmd.Context(), cfg, load)
			},
		},
		&cobra.Command{
			Use:   "check-config",
			Short: "Validate the configuration and exit",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if _, err := load(); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "configuration OK")
				return nil
			},
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "mote", buildinfo.Version())
			},
		},
		userCommand(load),
		deviceCommand(load),
		migrateCommand(),
	)
	return root
}

// newLogger returns the logger log.format selects, at the level held by
// level (set from log.level), which a reload may change.
func newLogger(cfg *config.Config, level *slog.LevelVar, w io.Writer) *slog.Logger {
	setLevel(level, cfg)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// setLevel sets level to log.level (validated by config.Load).
func setLevel(level *slog.LevelVar, cfg *config.Config) {
	var l slog.Level
	l.UnmarshalText([]byte(cfg.Log.Level))
	level.Set(l)
}

// serve runs the server until SIGINT or SIGTERM, then shuts down within
// the configured timeout: every session gets system-shutdown. SIGHUP
// reloads (reload).
func serve(ctx context.Context, cfg *config.Config, load func() (*config.Config, error)) error {
	level := new(slog.LevelVar)
	log := newLogger(cfg, level, os.Stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	log.Info("mote started", "version", buildinfo.Version(), "domain", cfg.Domain, "data_dir", cfg.DataDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
wait:
	for {
		select {
		case err := <-errc:
			srv.Shutdown(context.Background())
			return err
		case <-hup:
			reload(log, level, srv, load)
		case <-ctx.Done():
			break wait
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.C2S.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	<-errc
	log.Info("stopped")
	return nil
}

// reload answers SIGHUP: it reads the configuration file again and applies
// log.level, and loads the TLS certificate and the client-certificate
// revocation lists (devices.crl_files) again from their files. Other
// settings need a restart. A configuration that no longer loads changes
// nothing but is logged; the certificate is reloaded regardless.
func reload(log *slog.Logger, level *slog.LevelVar, srv *server.Server, load func() (*config.Config, error)) {
	log.Info("reloading (SIGHUP)")
	if cfg, err := load(); err != nil {
		log.Error("reload: configuration not applied", "err", err)
	} else {
		setLevel(level, cfg)
		log.Info("log level set", "level", level.Level().String())
	}
	if err := srv.ReloadCertificate(); err != nil {
		log.Error("reload: the certificate stays as it was", "err", err)
	}
	if err := srv.ReloadCRLs(); err != nil {
		log.Error("reload: the revocation lists stay as they were", "err", err)
	}
}

func userCommand(load func() (*config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage accounts in the database (safe while the server runs)",
		Long: `Manage accounts in the database, with the functions the admin HTTP API uses
(internal/accounts). They work on the database directly, which is safe while
the server runs. A running server is not told of a deletion, though: the
account's sessions stay connected until they end, and the modules keep what
they hold in memory about it (such as its subscriptions and affiliations at the
pubsub component) until the server restarts. To remove an account from a
running server, use the admin API (DELETE /api/v1/accounts/USERNAME), which
removes it the way XEP-0077 account cancellation does.`,
	}
	withStore := func(ctx context.Context, f func(storage.Users) error) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		st, err := server.OpenStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		return f(st.Users())
	}
	// withPassword builds a command taking USERNAME and a password from
	// --password, a prompt or stdin.
	withPassword := func(use, short string, run func(ctx context.Context, u storage.Users, cmd *cobra.Command, name, pw string) error) *cobra.Command {
		var password string
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				pw, err := readPassword(cmd, password)
				if err != nil {
					return err
				}
				return withStore(cmd.Context(), func(u storage.Users) error {
					return run(cmd.Context(), u, cmd, args[0], pw)
				})
			},
		}
		c.Flags().StringVar(&password, "password", "", "the password (visible in the process list: prefer stdin)")
		return c
	}
	add := withPassword("add USERNAME", "Create an account; the password is read from --password, or prompted for / read from stdin",
		func(ctx context.Context, u storage.Users, cmd *cobra.Command, username, pw string) error {
			name, err := accounts.Add(ctx, u, username, pw)
			if errors.Is(err, storage.ErrExists) {
				return fmt.Errorf("user %s already exists", name)
			}
			if err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "created", name)
			}
			return err
		})
	passwd := withPassword("passwd USERNAME", "Change an account's password",
		func(ctx context.Context, u storage.Users, _ *cobra.Command, username, pw string) error {
			err := accounts.SetPassword(ctx, u, username, pw)
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("no user %s", username)
			}
			return err
		})
	del := &cobra.Command{
		Use:   "del USERNAME",
		Short: "Delete an account from the database (see 'mote user --help' for a running server)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), func(u storage.Users) error {
				err := accounts.Delete(cmd.Context(), u, args[0])
				if errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("no user %s", args[0])
				}
				return err
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), func(u storage.Users) error {
				names, _, err := accounts.List(cmd.Context(), u, "", 0)
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return err
			})
		},
	}
	cmd.AddCommand(add, passwd, del, list)
	return cmd
}

// readPassword returns flag when set; otherwise it prompts without echo on
// a terminal, or reads one line from a pipe.
func readPassword(cmd *cobra.Command, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return string(b), err
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
