// Package mam archives the messages of local accounts and answers queries
// of the archives (Message Archive Management, XEP-0313, urn:xmpp:mam:2),
// with archiving preferences (XEP-0441) and unique and stable stanza IDs
// (XEP-0359). The protocol itself is internal/mam's; this module decides
// what goes into which account's archive, who may read it and how long
// it is kept.
//
// Archiving hangs on the router's message-sent hook, which runs on the
// goroutine that handles a client's stanza, before it is routed. The
// hook decides from memory (preferences are all in memory; the roster
// mode asks the roster module) which archives get the message, removes
// forged <stanza-id/> elements, tells the recipient the ID of its copy
// and hands the copies to one writer goroutine, which appends them in
// batches (storage.Archive.Append commits durably). The hook never waits
// for storage: it holds the client's stanza instead (module.Hold), so
// that stream management acknowledges it only once it is committed.
//
// Lock order: Module.prefsMu and writer.mu are never held together, nor
// while calling the roster module or storage.
package mam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/mam"
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/storage"
	"github.com/mote-xmpp/mote/jid"
	"github.com/mote-xmpp/mote/stanza"
)

// Config is the module's section of the configuration (modules.mam).
type Config struct {
	// DefaultMode is the archiving mode of an account that never set its
	// preferences (XEP-0441): "always", "roster" (only messages with
	// contacts in its roster) or "never".
	DefaultMode string `yaml:"default_mode"`
	// MessageTypes are the message types archived: any of "chat",
	// "normal" (a message without a type is normal) and "headline"
	// (XEP-0313 §6.1.1 suggests chat and normal only). Groupchat and
	// error messages are never archived in an account's archive.
	MessageTypes []string `yaml:"message_types"`
	// RequireBody archives only messages with a <body/> (XEP-0313
	// §6.1.1), or a XEP-0334 <store/> hint; off, chat states, receipts
	// and the like are archived too.
	RequireBody bool `yaml:"require_body"`
	// MaxPageSize caps the results of one query (XEP-0313 §4.3.1); a
	// larger RSM <max/> gets this many.
	MaxPageSize int `yaml:"max_page_size"`
	// MaxAge removes messages older than this from every archive; 0
	// keeps them forever.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxPerAccount keeps only the newest this many messages of each
	// account's archive; 0 is no limit.
	MaxPerAccount int `yaml:"max_per_account"`
	// PurgeInterval is how often MaxAge and MaxPerAccount are applied
	// (archives may exceed them in between).
	PurgeInterval time.Duration `yaml:"purge_interval"`
}

// Module is the message archive module.
type Module struct {
	cfg     Config
	h       module.Host
	log     *slog.Logger
	domain  string
	archive storage.Archive
	users   storage.Users
	ids     mam.IDSource
	types   map[string]bool // cfg.MessageTypes; "" stands for normal
	w       *writer

	// prefs holds the preferences of the accounts that set any, by
	// username (XEP-0441); an account not in it has cfg.DefaultMode. All
	// are loaded at start, so the hot path reads no storage.
	prefsMu sync.RWMutex
	prefs   map[string]storage.ArchivePrefs // guarded by prefsMu
	// mayArchive is false while no account can archive anything (the
	// default mode is never and no preferences say otherwise): the hook
	// then only strips forged stanza ids. Once true it stays true.
	mayArchive atomic.Bool

	stop    chan struct{} // closed by Stop: the purge loop ends
	stopped chan struct{} // closed when the purge loop ended
}

// DefaultConfig returns the defaults of modules.mam.
func DefaultConfig() Config {
	return Config{
		DefaultMode:   storage.ArchiveAlways,
		MessageTypes:  []string{stanza.TypeChat, stanza.TypeNormal},
		RequireBody:   true,
		MaxPageSize:   100,
		PurgeInterval: time.Hour,
	}
}

// New returns the module with its defaults.
func New() *Module { return &Module{cfg: DefaultConfig()} }

// Info implements module.Module.
func (m *Module) Info() module.Info {
	return module.Info{Name: "mam", Requires: []string{"disco", "roster"}, XEPs: []module.XEP{
		{Number: 313, Version: "1.1.3", Status: "complete for account archives (no groupchat messages, no include-groupchat field)"},
		{Number: 359, Version: "0.7.0", Status: "complete"},
		{Number: 441, Version: "0.2.0", Status: "complete"},
		{Number: 59, Version: "1.0", Status: "partial: archive queries page forwards and from the end, no <index/>"},
		{Number: 297, Version: "1.0", Status: "complete (archive results)"},
	}}
}

// Start implements module.Module.
func (m *Module) Start(ctx context.Context, h module.Host) error {
	if err := h.Config(&m.cfg); err != nil {
		return err
	}
	if err := m.checkConfig(); err != nil {
		return fmt.Errorf("mam: %w", err)
	}
	m.h, m.log, m.domain = h, h.Logger(), h.Domain().Domain()
	m.archive, m.users = h.Storage().Archive(), h.Storage().Users()
	if err := m.loadPrefs(ctx); err != nil {
		return fmt.Errorf("mam: loading preferences: %w", err)
	}
	m.w = newWriter(m.archive, m.users, m.log)
	go m.w.run()
	m.stop, m.stopped = make(chan struct{}), make(chan struct{})
	if m.cfg.MaxAge > 0 || m.cfg.MaxPerAccount > 0 {
		go m.purgeLoop()
	} else {
		close(m.stopped)
	}

	// XEP-0313 §7, XEP-0359 §5: the account advertises its archive.
	for _, f := range []string{mam.NS, mam.NSExtended, mam.NSSID} {
		h.AddFeature(module.ToAccount, f)
	}
	h.HandleIQ(module.ToAccount, stanza.TypeSet, mam.NS, "query", module.IQHandlerFunc(m.query))
	h.HandleIQ(module.ToAccount, stanza.TypeGet, mam.NS, "query", module.IQHandlerFunc(m.form))
	h.HandleIQ(module.ToAccount, stanza.TypeGet, mam.NS, "metadata", module.IQHandlerFunc(m.metadata))
	h.HandleIQ(module.ToAccount, stanza.TypeGet, mam.NS, "prefs", module.IQHandlerFunc(m.getPrefs))
	h.HandleIQ(module.ToAccount, stanza.TypeSet, mam.NS, "prefs", module.IQHandlerFunc(m.setPrefs))
	h.OnMessageSent(m.sent)
	h.OnAccountRemoved(0, func(_ context.Context, account jid.JID) {
		m.prefsMu.Lock()
		delete(m.prefs, account.Local())
		m.prefsMu.Unlock()
	})
	return nil
}

// QueueDepth returns how many messages wait for the archive writer (for
// metrics); 0 before Start.
func (m *Module) QueueDepth() int {
	if m.w == nil {
		return 0
	}
	return m.w.depth()
}

// Stop implements module.Module: the purge loop ends and the writer
// commits what is queued (or, when ctx ends first, gives up, and the
// stanzas it held get an error).
func (m *Module) Stop(ctx context.Context) error {
	if m.stop == nil {
		return nil
	}
	close(m.stop)
	<-m.stopped
	return m.w.close(ctx)
}

// checkConfig validates the configuration.
func (m *Module) checkConfig() error {
	c := &m.cfg
	switch c.DefaultMode {
	case storage.ArchiveAlways, storage.ArchiveRoster, storage.ArchiveNever:
	default:
		return fmt.Errorf("default_mode %q: want always, roster or never", c.DefaultMode)
	}
	m.types = make(map[string]bool, len(c.MessageTypes)+1)
	for _, t := range c.MessageTypes {
		switch t {
		case stanza.TypeChat, stanza.TypeHeadline:
		case stanza.TypeNormal:
			m.types[""] = true
		default:
			return fmt.Errorf("message_types: %q: want chat, normal or headline", t)
		}
		m.types[t] = true
	}
	switch {
	case c.MaxPageSize <= 0:
		return errors.New("max_page_size must be positive")
	case c.MaxAge < 0 || c.MaxPerAccount < 0:
		return errors.New("max_age and max_per_account must not be negative")
	case c.PurgeInterval <= 0:
		return errors.New("purge_interval must be positive")
	}
	return nil
}

// purgeLoop applies the retention limits every PurgeInterval until Stop.
func (m *Module) purgeLoop() {
	defer close(m.stopped)
	t := time.NewTicker(m.cfg.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.purge()
		}
	}
}

// purge removes from every account's archive the messages beyond the
// retention limits, oldest first so that no gap opens (XEP-0313 §3.2;
// storage.Archive.PurgeArchive). Archives of other kinds (keys with a
// '/', such as a pubsub node's) are not this module's.
func (m *Module) purge() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	keys, err := m.archive.ArchiveKeys(ctx)
	if err != nil {
		m.log.Error("listing archives", "err", err)
		return
	}
	var before time.Time
	if m.cfg.MaxAge > 0 {
		before = time.Now().Add(-m.cfg.MaxAge)
	}
	total := 0
	for _, k := range keys {
		if strings.Contains(k, "/") {
			continue
		}
		n, err := m.archive.PurgeArchive(ctx, k, before, m.cfg.MaxPerAccount)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Error("purging archive", "account", k, "err", err)
			}
			return
		}
		total += n
	}
	if total > 0 {
		m.log.Debug("purged archives", "messages", total)
	}
}

// loadPrefs reads the preferences of the accounts that set any, in one
// storage call at start.
func (m *Module) loadPrefs(ctx context.Context) error {
	all, err := m.archive.AllArchivePrefs(ctx)
	if err != nil {
		return err
	}
	m.prefs = make(map[string]storage.ArchivePrefs, len(all))
	for u, p := range all {
		if explicit(p) {
			m.prefs[u] = p
			m.noteArchiving(p)
		}
	}
	if m.cfg.DefaultMode != storage.ArchiveNever {
		m.mayArchive.Store(true)
	}
	return nil
}

// noteArchiving records that preferences p may archive something.
func (m *Module) noteArchiving(p storage.ArchivePrefs) {
	if p.Default != storage.ArchiveNever || len(p.Always) > 0 {
		m.mayArchive.Store(true)
	}
}

// explicit reports whether p was set by the account: storage reports
// default always with both lists empty for an account that never set
// any, so an account that asks for exactly that is stored with its own
// JID in always (see stored).
func explicit(p storage.ArchivePrefs) bool {
	return p.Default != storage.ArchiveAlways || len(p.Always) > 0 || len(p.Never) > 0
}

// stored returns what to store for the preferences p that account asked
// for: p, or, for default always with both lists empty, the account's
// own bare JID in always, which changes nothing (its messages with
// itself are archived under always anyway) but tells them apart from
// preferences never set, which get default_mode.
func stored(p storage.ArchivePrefs, account string) storage.ArchivePrefs {
	if !explicit(p) {
		p.Always = []string{account}
	}
	return p
}

// shown undoes stored, for the account's view of its preferences.
func shown(p storage.ArchivePrefs, account string) storage.ArchivePrefs {
	if p.Default == storage.ArchiveAlways && len(p.Never) == 0 && slices.Equal(p.Always, []string{account}) {
		p.Always = nil
	}
	return p
}

// prefsOf returns the preferences in force for the account username: its
// own, or default_mode with empty lists.
func (m *Module) prefsOf(username string) storage.ArchivePrefs {
	m.prefsMu.RLock()
	p, ok := m.prefs[username]
	m.prefsMu.RUnlock()
	if !ok {
		return storage.ArchivePrefs{Default: m.cfg.DefaultMode}
	}
	return p
}

// allows reports whether the preferences of account (a bare JID) let a
// message exchanged with peer (bare) into its archive (XEP-0441): peer in
// never, no (never wins over always); in always, yes; otherwise the
// default mode, roster asking the roster module whether peer is in the
// account's roster (any item, whatever its subscription). The account's
// messages with itself are archived in roster mode too.
func (m *Module) allows(ctx context.Context, account, peer jid.JID) bool {
	p := m.prefsOf(account.Local())
	ps := peer.String()
	if _, ok := slices.BinarySearch(p.Never, ps); ok {
		return false
	}
	if _, ok := slices.BinarySearch(p.Always, ps); ok {
		return true
	}
	switch p.Default {
	case storage.ArchiveAlways:
		return true
	case storage.ArchiveRoster:
		if peer == account {
			return true
		}
		r := m.h.Rosters()
		if r == nil {
			return false
		}
		_, ok := r.Contact(ctx, account, peer)
		return ok
	}
	return false
}
