package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// fakeProc writes files under root/pid for a proc reader.
func fakeProc(t *testing.T, files map[string]string) *proc {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "4242")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &proc{root: root, pid: 4242, hz: 100}
}

// A command name with spaces and parentheses, utime 1234 and stime 566.
const fakeStat = "4242 (beam (smp) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 566 0 0 20 0 30 0 100 2000000000 50000 18446744073709551615\n"

const fakeStatus = `Name:	beam.smp
State:	S (sleeping)
VmPeak:	 2100000 kB
VmRSS:	  204800 kB
RssAnon:	  150000 kB
Threads:	30
`

const fakeRollup = `55d0c0000000-7ffd00000000 ---p 00000000 00:00 0                          [rollup]
Rss:              210000 kB
Pss:              200000 kB
`

func TestProcCPU(t *testing.T) {
	p := fakeProc(t, map[string]string{"stat": fakeStat})
	got, err := p.cpuSeconds()
	if err != nil {
		t.Fatal(err)
	}
	if got != 18.0 {
		t.Errorf("cpuSeconds() = %v, want 18 ((1234+566)/100)", got)
	}
}

func TestProcRSS(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"smaps_rollup first", map[string]string{"status": fakeStatus, "smaps_rollup": fakeRollup}, 210000},
		{"status without smaps_rollup", map[string]string{"status": fakeStatus}, 204800},
		{"status when smaps_rollup is empty", map[string]string{"status": fakeStatus, "smaps_rollup": ""}, 204800},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fakeProc(t, tt.files).rssKiB()
			if err != nil || got != tt.want {
				t.Errorf("%d: rssKiB() = %d, %v; want %d", i, got, err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for i, data := range []string{"", "4242 (x", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 abc 5 6"} {
		if _, err := parseStatTicks([]byte(data)); err == nil {
			t.Errorf("%d: parseStatTicks(%q) succeeded", i, data)
		}
	}
	for i, data := range []string{"", "VmRSS:\n", "VmRSS: x kB\n", "VmRSS: 12 MB\n"} {
		if _, err := parseKiB([]byte(data), "VmRSS:"); err == nil {
			t.Errorf("%d: parseKiB(%q) succeeded", i, data)
		}
	}
	if _, err := fakeProc(t, nil).cpuSeconds(); err == nil {
		t.Error("cpuSeconds of a missing process succeeded")
	}
}

func TestAuxv(t *testing.T) {
	word := int(unsafe.Sizeof(uintptr(0)))
	var data []byte
	put := func(v uint64) {
		b := make([]byte, word)
		if word == 8 {
			binary.NativeEndian.PutUint64(b, v)
		} else {
			binary.NativeEndian.PutUint32(b, uint32(v))
		}
		data = append(data, b...)
	}
	put(6) // AT_PAGESZ
	put(4096)
	put(atClkTck)
	put(250)
	put(0)
	put(0)
	if got := auxvValue(data, atClkTck); got != 250 {
		t.Errorf("auxvValue(AT_CLKTCK) = %d, want 250", got)
	}
	if got := auxvValue(data, 99); got != 0 {
		t.Errorf("auxvValue(99) = %d, want 0", got)
	}
	if hz := clockTicks(); hz <= 0 {
		t.Errorf("clockTicks() = %d", hz)
	}
}

func TestProcSelf(t *testing.T) {
	p := newProc(os.Getpid())
	s := p.read(true, newStats(nil, false))
	if !s.ok || s.cpu < 0 || s.rssKiB <= 0 {
		t.Errorf("read(self) = %+v", s)
	}
	if s := (*proc)(nil).read(true, newStats(nil, false)); s.ok {
		t.Errorf("read without a PID = %+v", s)
	}
}
