// Package toolrun is what mote's client tools share around a run:
// moteload, the load generator, and motesim, the device simulator. It
// parses their command lines, prints their progress, waits, and writes
// their result: one JSON line whose figures are rounded alike.
package toolrun

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

// ParseFlags parses args into fs and reports whether the tool goes on.
// When it does not, status is the exit status: 0 after -h (fs printed the
// usage), 2 for a bad flag (fs described it) or for arguments after the
// flags, which it describes on fs.Output() after prog, the tool's name.
func ParseFlags(fs *flag.FlagSet, prog string, args []string) (status int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments: %s\n", prog, strings.Join(fs.Args(), " "))
		return 2, false
	}
	return 0, true
}

// Progress is a run's progress output: a line a second while it runs
// (Ticker) and whatever else the tool describes (Printf). Its methods may
// be called concurrently; its lock is held only while a line is written,
// so it comes last in any lock order.
type Progress struct {
	Out   io.Writer // where the lines go; nil for silence
	Quiet bool      // no ticker lines; Printf still writes

	mu sync.Mutex // guards writes to Out
}

// Printf writes to Out, if any.
func (p *Progress) Printf(format string, args ...any) {
	if p.Out == nil {
		return
	}
	p.mu.Lock()
	fmt.Fprintf(p.Out, format, args...)
	p.mu.Unlock()
}

// Ticker writes line(elapsed), elapsed truncated to the second, once a
// second until stop is called, unless Out is nil or Quiet. stop returns
// once no line is being written.
func (p *Progress) Ticker(line func(elapsed time.Duration) string) (stop func()) {
	if p.Out == nil || p.Quiet {
		return func() {}
	}
	start := time.Now()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				p.Printf("%s\n", line(time.Since(start).Truncate(time.Second)))
			}
		}
	}()
	return func() { close(quit); <-done }
}

// Sleep waits for d or until ctx is done, reporting whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Finish ends a run of the tool prog and returns its exit status. It
// describes err on stderr, after "prog: " unless the message starts so,
// and writes res, unless nil, as the result line (Emit) to stdout and the
// file at path. The status is 0, or 1 after err or when the result could
// not be written.
func Finish(stdout, stderr io.Writer, prog, path string, res any, err error) int {
	status := 0
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, prog+": ") {
			msg = prog + ": " + msg
		}
		fmt.Fprintln(stderr, msg)
		status = 1
	}
	if res != nil {
		if err := Emit(stdout, path, res); err != nil {
			fmt.Fprintf(stderr, "%s: writing the result: %v\n", prog, err)
			status = 1
		}
	}
	return status
}

// Emit writes v as one JSON line to w and, when path is not empty,
// appends the same line to the file at path.
func Emit(w io.Writer, path string, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if _, err := w.Write(line); err != nil {
		return err
	}
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Round3 rounds x to three decimals, enough for every figure reported,
// and maps NaN and infinities (a division by a zero interval) to 0, which
// JSON cannot carry.
func Round3(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Round(x*1000) / 1000
}

// Ratio returns a/b rounded by Round3, or 0 when b is not positive.
func Ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return Round3(a / b)
}
