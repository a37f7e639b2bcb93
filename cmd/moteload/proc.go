package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"unsafe"
)

// proc reads the CPU time and resident memory of one process from procfs
// (proc(5)): just that process, not its children.
type proc struct {
	root string // "/proc", or a fake tree in tests
	pid  int
	hz   int64 // clock ticks per second
}

// newProc returns the reader for pid, or nil when pid is 0.
func newProc(pid int) *proc {
	if pid == 0 {
		return nil
	}
	return &proc{root: "/proc", pid: pid, hz: clockTicks()}
}

func (p *proc) path(name string) string {
	return filepath.Join(p.root, strconv.Itoa(p.pid), name)
}

// cpuSeconds returns the user plus system CPU time the process has used.
func (p *proc) cpuSeconds() (float64, error) {
	data, err := os.ReadFile(p.path("stat"))
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatTicks(data)
	if err != nil {
		return 0, err
	}
	return float64(ticks) / float64(p.hz), nil
}

// rssKiB returns the resident set size in KiB: Rss from smaps_rollup
// (exact), or VmRSS from status where smaps_rollup is missing or
// unreadable.
func (p *proc) rssKiB() (int64, error) {
	if data, err := os.ReadFile(p.path("smaps_rollup")); err == nil {
		if kib, err := parseKiB(data, "Rss:"); err == nil {
			return kib, nil
		}
	}
	data, err := os.ReadFile(p.path("status"))
	if err != nil {
		return 0, err
	}
	return parseKiB(data, "VmRSS:")
}

// parseStatTicks returns utime + stime (fields 14 and 15 of
// /proc/PID/stat) in clock ticks. The command name, field 2, is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatTicks(data []byte) (uint64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("proc: stat: no command name")
	}
	f := bytes.Fields(data[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("proc: stat: too few fields")
	}
	utime, err := strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc: stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc: stat: stime: %w", err)
	}
	return utime + stime, nil
}

// parseKiB returns the value of the line starting with key in a
// "Key:   1234 kB" file such as /proc/PID/status or smaps_rollup.
func parseKiB(data []byte, key string) (int64, error) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: %s %w", key, err)
		}
		if len(f) > 1 && !bytes.EqualFold(f[1], []byte("kB")) {
			return 0, fmt.Errorf("proc: %s unit %q", key, f[1])
		}
		return n, nil
	}
	return 0, fmt.Errorf("proc: no %s line", key)
}

// atClkTck is AT_CLKTCK, the auxiliary vector entry holding the clock
// tick rate that sysconf(_SC_CLK_TCK) returns (getauxval(3)).
const atClkTck = 17

// clockTicks returns the kernel's USER_HZ: the rate of the tick counts in
// /proc/PID/stat, read from our auxiliary vector; 100 (the value on every
// Linux architecture Go supports) if that fails.
var clockTicks = sync.OnceValue(func() int64 {
	data, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	if hz := auxvValue(data, atClkTck); hz > 0 {
		return int64(hz)
	}
	return 100
})

// auxvValue returns the value of key in an auxiliary vector of native
// words, or 0.
func auxvValue(data []byte, key uint64) uint64 {
	word := int(unsafe.Sizeof(uintptr(0)))
	read := func(b []byte) uint64 {
		if word == 8 {
			return binary.NativeEndian.Uint64(b)
		}
		return uint64(binary.NativeEndian.Uint32(b))
	}
	for i := 0; i+2*word <= len(data); i += 2 * word {
		k := read(data[i:])
		if k == 0 { // AT_NULL
			break
		}
		if k == key {
			return read(data[i+word:])
		}
	}
	return 0
}

// sample is one reading of the server's figures; ok is false without a
// PID or when procfs could not be read.
type sample struct {
	cpu    float64 // seconds
	rssKiB int64
	ok     bool
}

// read takes a sample of p; p may be nil. withRSS also reads memory, which
// walks the page tables of a big process and is not free.
func (p *proc) read(withRSS bool, st *stats) sample {
	if p == nil {
		return sample{}
	}
	cpu, err := p.cpuSeconds()
	if err != nil {
		st.Printf("moteload: server CPU: %v\n", err)
		return sample{}
	}
	s := sample{cpu: cpu, ok: true}
	if withRSS {
		if s.rssKiB, err = p.rssKiB(); err != nil {
			st.Printf("moteload: server RSS: %v\n", err)
			return sample{}
		}
	}
	return s
}
