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
				return serve(cmd.Context(), cfg)
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
	)
	return root
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the server until SIGINT or SIGTERM, then shuts down within
// the configured timeout: every session gets system-shutdown.
func serve(ctx context.Context, cfg *config.Config) error {
	log := newLogger(cfg, os.Stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
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
	select {
	case err := <-errc:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
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

func userCommand(load func() (*config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage accounts (safe while the server runs)"}
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
		Short: "Delete an account",
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
				names, err := u.ListUsers(cmd.Context())
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
