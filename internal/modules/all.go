// Package modules lists mote's built-in modules in start order
// (DESIGN.md §4). Each lives in its own folder below.
package modules

import (
	"github.com/mote-xmpp/mote/internal/module"
	"github.com/mote-xmpp/mote/internal/modules/blocking"
	"github.com/mote-xmpp/mote/internal/modules/carbons"
	"github.com/mote-xmpp/mote/internal/modules/disco"
	"github.com/mote-xmpp/mote/internal/modules/entitytime"
	"github.com/mote-xmpp/mote/internal/modules/mam"
	"github.com/mote-xmpp/mote/internal/modules/offline"
	"github.com/mote-xmpp/mote/internal/modules/ping"
	"github.com/mote-xmpp/mote/internal/modules/private"
	"github.com/mote-xmpp/mote/internal/modules/pubsub"
	"github.com/mote-xmpp/mote/internal/modules/register"
	"github.com/mote-xmpp/mote/internal/modules/roster"
	"github.com/mote-xmpp/mote/internal/modules/vcard"
	"github.com/mote-xmpp/mote/internal/modules/version"
)

// Builtin returns a fresh instance of every built-in module, in the order
// they start. A module that others require comes before them.
func Builtin() []module.Module {
	return []module.Module{
		disco.New(),
		ping.New(),
		version.New(),
		entitytime.New(),
		roster.New(),
		offline.New(),
		register.New(),
		vcard.New(),
		private.New(),
		blocking.New(),
		mam.New(), // before carbons: forged stanza-ids are gone from the copies
		carbons.New(),
		pubsub.New(),
	}
}
