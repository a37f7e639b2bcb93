package toolrun

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOK     bool
		wantOut    string // what the flag set's output must contain
	}{
		{"flags", []string{"-n", "3"}, 0, true, ""},
		{"help", []string{"-h"}, 0, false, "Usage of tool run"},
		{"bad flag", []string{"-x"}, 2, false, "flag provided but not defined: -x"},
		{"bad value", []string{"-n", "many"}, 2, false, `invalid value "many"`},
		{"arguments", []string{"-n", "3", "a", "b"}, 2, false, "tool: unexpected arguments: a b\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			fs := flag.NewFlagSet("tool run", flag.ContinueOnError)
			fs.SetOutput(&out)
			n := fs.Int("n", 0, "a number")
			status, ok := ParseFlags(fs, "tool", tt.args)
			if status != tt.wantStatus || ok != tt.wantOK || !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("%d: %d, %v, output %q; want %d, %v, output with %q", i, status, ok, out.String(), tt.wantStatus, tt.wantOK, tt.wantOut)
			}
			if ok && *n != 3 {
				t.Errorf("%d: -n %d", i, *n)
			}
		})
	}
}

// brokenWriter fails every write.
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFinish(t *testing.T) {
	type result struct {
		Scenario string  `json:"scenario"`
		Rate     float64 `json:"rate"`
	}
	res := &result{Scenario: "s", Rate: 0.5}
	tests := []struct {
		name       string
		res        any
		err        error
		broken     bool
		wantStatus int
		wantOut    string
		wantErr    string
	}{
		{"result", res, nil, false, 0, `{"scenario":"s","rate":0.5}` + "\n", ""},
		{"error and result", res, errors.New("tool: no connection logged in"), false, 1,
			`{"scenario":"s","rate":0.5}` + "\n", "tool: no connection logged in\n"},
		{"error without prefix", nil, context.DeadlineExceeded, false, 1, "", "tool: context deadline exceeded\n"},
		{"unwritable", res, nil, true, 1, "", "tool: writing the result: disk full\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			var w io.Writer = &stdout
			if tt.broken {
				w = brokenWriter{}
			}
			status := Finish(w, &stderr, "tool", "", tt.res, tt.err)
			if status != tt.wantStatus || stdout.String() != tt.wantOut || stderr.String() != tt.wantErr {
				t.Errorf("%d: %d, stdout %q, stderr %q; want %d, %q, %q", i, status, stdout.String(), stderr.String(), tt.wantStatus, tt.wantOut, tt.wantErr)
			}
		})
	}
}

// TestEmitAppends: the result line goes to stdout and is appended to the
// file, run after run.
func TestEmitAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	var out bytes.Buffer
	for i := range 2 {
		if err := Emit(&out, path, map[string]int{"pairs": i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"pairs\":1}\n{\"pairs\":2}\n"; string(data) != want || out.String() != want {
		t.Errorf("file %q, stdout %q: want %q in both", data, out.String(), want)
	}
}

func TestRatio(t *testing.T) {
	for i, c := range []struct{ a, b, want float64 }{
		{1, 3, 0.333}, {2, 0, 0}, {5, -1, 0}, {1e6, 7, 142857.143}, {2, 3, 0.667},
		{math.Inf(1), 1, 0}, {math.NaN(), 1, 0},
	} {
		if got := Ratio(c.a, c.b); got != c.want {
			t.Errorf("%d: Ratio(%v, %v) = %v, want %v", i, c.a, c.b, got, c.want)
		}
	}
}

// TestTicker checks the progress lines, one a second with the elapsed
// time truncated to the second, and none after stop, or when quiet.
func TestTicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		p := &Progress{Out: &out}
		stop := p.Ticker(func(elapsed time.Duration) string { return "up " + elapsed.String() })
		time.Sleep(2500 * time.Millisecond)
		stop()
		time.Sleep(2 * time.Second)
		if want := "up 1s\nup 2s\n"; out.String() != want {
			t.Errorf("progress %q, want %q", out.String(), want)
		}

		out.Reset()
		p.Quiet = true
		stop = p.Ticker(func(time.Duration) string { return "line" })
		time.Sleep(2 * time.Second)
		stop()
		p.Printf("said %d\n", 1)
		if want := "said 1\n"; out.String() != want {
			t.Errorf("quiet progress %q, want %q", out.String(), want)
		}
	})
	var silent Progress
	silent.Printf("nowhere")
	silent.Ticker(func(time.Duration) string { return "" })()
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		if !Sleep(ctx, time.Minute) || time.Since(start) != time.Minute {
			t.Errorf("Sleep for a minute: false or %v", time.Since(start))
		}
		if !Sleep(ctx, 0) {
			t.Error("Sleep(0) = false before the end")
		}
		time.AfterFunc(time.Second, cancel)
		start = time.Now()
		if Sleep(ctx, time.Minute) || time.Since(start) != time.Second {
			t.Errorf("Sleep ended after %v, want false after a second", time.Since(start))
		}
		if Sleep(ctx, 0) {
			t.Error("Sleep(0) = true after the end")
		}
	})
}
