package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mote-xmpp/mote/internal/config"
)

func TestDefaultsValid(t *testing.T) {
	if err := config.Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestExampleFile: the shipped example decodes strictly and equals the
// defaults where it shows them.
func TestExampleFile(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "mote.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	if c.Domain != d.Domain || c.C2S != d.C2S || c.Storage != d.Storage || c.Log != d.Log {
		t.Fatalf("example differs from defaults:\n%+v\n%+v", c, d)
	}
	var ping struct {
		Interval time.Duration `yaml:"interval"`
		Timeout  time.Duration `yaml:"timeout"`
	}
	if err := c.DecodeModule("ping", &ping); err != nil || ping.Interval != 5*time.Minute {
		t.Fatalf("ping section: %+v %v", ping, err)
	}
}

func TestStrict(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "domian: x\n", "field domian not found"},
		{"unknown nested key", "c2s:\n  listen_addr: x\n", "field listen_addr not found"},
		{"bad duration", "c2s:\n  step_timeout: soon\n", "into time.Duration"},
		{"invalid value", "c2s:\n  outbound_queue: 0\n", "outbound_queue must be positive"},
		{"bad address", "c2s:\n  listen: nope\n", "c2s.listen"},
		{"bad driver", "storage:\n  driver: mysql\n", "not supported"},
		{"bad domain", "domain: 'a b'\n", "domain"},
		{"unnormalised domain", "domain: Example.COM\n", "normalised form \"example.com\""},
		{"origin without scheme", "http:\n  allowed_origins: [app.example.com]\n", "not an origin"},
		{"origin with path", "http:\n  allowed_origins: ['https://app.example.com/']\n", "not an origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(p, []byte(tc.yaml), 0o600)
			_, err := config.Load(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestModuleSectionStrict(t *testing.T) {
	c := config.Default()
	if err := c.Decode(strings.NewReader("modules:\n  ping:\n    intervall: 1s\n")); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Interval time.Duration `yaml:"interval"`
	}
	if err := c.DecodeModule("ping", &v); err == nil || !strings.Contains(err.Error(), "intervall") {
		t.Fatalf("got %v", err)
	}
	if err := c.DecodeModule("absent", &v); err != nil {
		t.Fatal(err)
	}
}
