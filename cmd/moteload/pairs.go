package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-xmpp/mote/internal/toolrun"
	"github.com/mote-xmpp/mote/stanza"
)

// PairsConfig configures the pairs scenario: K senders each sending
// one-to-one messages to their own receiver.
type PairsConfig struct {
	Options
	Pairs    int           // K; sender i is account 2i-1, its receiver account 2i
	Warmup   time.Duration // sending before the measurement starts
	Duration time.Duration // the measurement
	Drain    time.Duration // longest wait for messages in flight after it (default 2 s)
	// Window > 0 saturates: each sender keeps Window messages in flight.
	// Rate > 0 paces Rate messages per second in total, evenly over the
	// pairs, whatever the server does (open loop). One of them is set;
	// with neither, Window is 16.
	Window int
	Rate   float64
	Size   int // body bytes (default 64)
}

// Phases of a pairs run. A message carries the phase it was sent in (its id
// starts with 'm' during the measurement), so the receiver counts exactly
// the messages the sender counted.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStopped
)

// senderBuffer is a sender's write buffer: one TLS record's worth.
const senderBuffer = 16 << 10

// pairsRun is the state all pairs share.
type pairsRun struct {
	window   int
	size     int
	pad      string // Size bytes of body filler
	st       *stats
	phase    atomic.Int32
	base     time.Time // monotonic origin of the timestamps
	baseUnix int64     // base as Unix nanoseconds
	hist     Histogram // latencies of measured messages
}

// now returns the time as Unix nanoseconds, read from the monotonic clock
// so that sender and receiver agree even if the wall clock steps.
func (r *pairsRun) now() int64 { return r.baseUnix + int64(time.Since(r.base)) }

// pair is one sender and its receiver. The sender side (seq, sent,
// measSent, and the sender's buffer) is guarded by snd.wmu; the receiver
// side (recv, measRecv, dirty) is written only by the receiver's reader.
// The counters are atomic so that progress and results can read them.
type pair struct {
	run      *pairsRun
	snd, rcv *conn
	prefix   []byte // <message to='receiver' type='chat' id='
	seq      int64

	sent, measSent atomic.Int64
	recv, measRecv atomic.Int64
	dirty          bool // the receiver's reader wrote to snd without flushing
}

var _ handler = (*pair)(nil)

// writeLocked appends one message to the sender's buffer: RFC 6121 §5.2
// chat to the receiver's full JID, with the send time in Unix nanoseconds
// at the start of the body. snd.wmu is held.
func (p *pair) writeLocked(phase int32) {
	w := p.snd.w
	if w.Available() < len(p.prefix)+p.run.size+96 {
		p.snd.flushLocked()
	}
	b := w.AvailableBuffer()
	b = append(b, p.prefix...)
	if phase == phaseMeasure {
		b = append(b, 'm')
	} else {
		b = append(b, 'w')
	}
	p.seq++
	b = strconv.AppendInt(b, p.seq, 10)
	b = append(b, "'><body>"...)
	n := len(b)
	b = strconv.AppendInt(b, p.run.now(), 10)
	b = append(b, ' ')
	if pad := p.run.size - (len(b) - n); pad > 0 {
		b = append(b, p.run.pad[:pad]...)
	}
	b = append(b, "</body></message>"...)
	if _, err := w.Write(b); err != nil && p.snd.werr == nil {
		p.snd.werr = err
	}
	p.sent.Add(1)
	if phase == phaseMeasure {
		p.measSent.Add(1)
	}
}

// refillLocked tops the pair's messages in flight up to the window.
// snd.wmu is held.
func (p *pair) refillLocked() {
	phase := p.run.phase.Load()
	if phase == phaseStopped || p.snd.werr != nil {
		return
	}
	for p.sent.Load()-p.recv.Load() < int64(p.run.window) {
		p.writeLocked(phase)
	}
}

// message counts a message arriving at the receiver, records its latency
// if it was sent during the measurement and, in window mode, lets the
// sender send the next one.
func (p *pair) message(el *stanza.Element) {
	body := el.Child(stanza.NSClient, "body")
	if body == nil {
		return
	}
	ts, ok := leadingInt(body.Text())
	if !ok {
		return // not one of ours
	}
	lat := p.run.now() - ts
	p.recv.Add(1)
	if id := el.Attr("id"); id != "" && id[0] == 'm' {
		p.measRecv.Add(1)
		p.run.hist.Record(time.Duration(lat))
	}
	if p.run.window > 0 {
		p.snd.wmu.Lock()
		p.refillLocked()
		p.snd.wmu.Unlock()
		p.dirty = true
	}
}

// batchEnd flushes what the batch of arrivals made the sender send.
func (p *pair) batchEnd() {
	if !p.dirty {
		return
	}
	p.dirty = false
	p.snd.wmu.Lock()
	p.snd.flushLocked()
	p.snd.wmu.Unlock()
}

// leadingInt parses the decimal number at the start of s.
func leadingInt(s string) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(s) && i < 19 && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n, i > 0
}

// RunPairs runs the pairs scenario: it logs in 2K connections, sends for
// Warmup, measures for Duration (throughput, latency, server CPU), stops
// sending, waits up to Drain for the messages in flight and counts the
// measured messages that did not arrive.
//
// The result is returned even when err is not nil (a cancelled run).
func RunPairs(ctx context.Context, cfg PairsConfig) (*PairsResult, error) {
	cfg.Options = cfg.Options.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Pairs <= 0 {
		cfg.Pairs = 50
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 2 * time.Second
	}
	if cfg.Size <= 0 {
		cfg.Size = 64
	}
	switch {
	case cfg.Window > 0 && cfg.Rate > 0:
		return nil, errors.New("moteload: pairs takes -window or -rate, not both")
	case cfg.Window < 0 || cfg.Rate < 0:
		return nil, errors.New("moteload: -window and -rate must be positive")
	case cfg.Window == 0 && cfg.Rate == 0:
		cfg.Window = 16
	}
	res := &PairsResult{Scenario: "pairs", Label: cfg.Label, Mode: "window", Window: cfg.Window, Rate: cfg.Rate}
	if cfg.Rate > 0 {
		res.Mode = "rate"
	}
	st := newStats(cfg.Progress, cfg.Quiet)
	run := &pairsRun{window: cfg.Window, size: cfg.Size, pad: strings.Repeat("x", cfg.Size), st: st}
	run.base = time.Now()
	run.baseUnix = run.base.UnixNano()

	pairs, err := loginPairs(ctx, &cfg, run)
	res.Pairs = len(pairs)
	if err != nil {
		res.Errors = st.errors.Load()
		return res, err
	}
	all := make([]*conn, 0, 2*len(pairs))
	for _, p := range pairs {
		all = append(all, p.snd, p.rcv)
	}
	total := func(f func(p *pair) int64) (n int64) {
		for _, p := range pairs {
			n += f(p)
		}
		return n
	}
	stop := st.Ticker(func(el time.Duration) string {
		return fmt.Sprintf("pairs %v: %s sent=%d received=%d errors=%d", el,
			[...]string{"warmup", "measure", "drain"}[run.phase.Load()],
			total(func(p *pair) int64 { return p.sent.Load() }),
			total(func(p *pair) int64 { return p.recv.Load() }), st.errors.Load())
	})
	defer stop()

	var pacer sync.WaitGroup
	if cfg.Rate > 0 {
		pacer.Go(func() { run.pace(ctx, pairs, cfg.Rate) })
	} else {
		for _, p := range pairs {
			p.snd.wmu.Lock()
			p.refillLocked()
			p.snd.flushLocked()
			p.snd.wmu.Unlock()
		}
	}
	srv := newProc(cfg.PID)
	arrived := func() int64 { return total(func(p *pair) int64 { return p.recv.Load() }) }

	toolrun.Sleep(ctx, cfg.Warmup)
	run.phase.Store(phaseMeasure)
	t0, cpu0, arrived0 := time.Now(), srv.read(false, st), arrived()
	toolrun.Sleep(ctx, cfg.Duration)
	run.phase.Store(phaseStopped)
	t1, cpu1, arrived1 := time.Now(), srv.read(false, st), arrived()
	pacer.Wait()
	// A sender that saw the measurement phase finishes its write before we
	// get its lock: after this the sent counts are final.
	for _, p := range pairs {
		p.snd.wmu.Lock()
		p.snd.flushLocked()
		p.snd.wmu.Unlock()
	}
	sent := total(func(p *pair) int64 { return p.measSent.Load() })
	received := func() int64 { return total(func(p *pair) int64 { return p.measRecv.Load() }) }
	for deadline := time.Now().Add(cfg.Drain); received() < sent && time.Now().Before(deadline) && ctxErr(ctx) == nil; {
		time.Sleep(10 * time.Millisecond) // polling for arrivals, bounded by the drain
	}

	res.Sent, res.Received = sent, received()
	res.Lost = res.Sent - res.Received
	secs := t1.Sub(t0).Seconds()
	res.Seconds = toolrun.Round3(secs)
	res.MsgsPerSec = toolrun.Ratio(float64(arrived1-arrived0), secs)
	res.ServerCPUS, res.MsgsPerCPUSec = perServerCPU(cpu0, cpu1, float64(arrived1-arrived0))
	res.P50MS, res.P99MS, res.P999MS = quantilesMS(&run.hist)

	if err := ctxErr(ctx); err != nil {
		for _, c := range all {
			c.abort()
		}
		res.Errors = st.errors.Load()
		return res, err
	}
	closeAll(all, cfg.Concurrency)
	res.Errors = st.errors.Load()
	return res, nil
}

// loginPairs logs in both ends of every pair and starts their readers.
// A pair with a failed login is left out (the failure is counted).
func loginPairs(ctx context.Context, cfg *PairsConfig, run *pairsRun) ([]*pair, error) {
	conns := make([]*conn, 2*cfg.Pairs)
	forEach(len(conns), cfg.Concurrency, func(i int) {
		if ctxErr(ctx) != nil {
			return
		}
		c, err := cfg.login(ctx, i, cfg.user(i+1), run.st)
		if err != nil {
			if ctxErr(ctx) == nil {
				run.st.fail("login", err)
			}
			return
		}
		conns[i] = c
	})
	var pairs []*pair
	for i := 0; i < len(conns); i += 2 {
		snd, rcv := conns[i], conns[i+1]
		if snd == nil || rcv == nil || ctxErr(ctx) != nil {
			for _, c := range []*conn{snd, rcv} {
				if c != nil {
					c.abort()
				}
			}
			continue
		}
		p := &pair{run: run, snd: snd, rcv: rcv}
		p.prefix = append(p.prefix, "<message to='"...)
		p.prefix = appendEscaped(p.prefix, rcv.JID)
		p.prefix = append(p.prefix, "' type='chat' id='"...)
		snd.w = bufio.NewWriterSize(snd.NC, senderBuffer)
		snd.startReader(nil)
		rcv.startReader(p)
		pairs = append(pairs, p)
	}
	if err := ctxErr(ctx); err != nil {
		for _, p := range pairs {
			p.snd.abort()
			p.rcv.abort()
		}
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, errNoSessions
	}
	return pairs, nil
}

// pace sends rate messages per second in total, round-robin over the
// pairs, until the run stops. Each message is timestamped when it is
// written, so client-side delays show as lower throughput, not as server
// latency.
func (r *pairsRun) pace(ctx context.Context, pairs []*pair, rate float64) {
	interval := float64(time.Second) / rate
	start := time.Now()
	dirty := make([]bool, len(pairs))
	var touched []int // the pairs written to since the last flush
	var i int64
	for r.phase.Load() != phaseStopped && ctxErr(ctx) == nil {
		due := int64(float64(time.Since(start))/interval) + 1
		for ; i < due; i++ {
			k := int(i % int64(len(pairs)))
			p := pairs[k]
			p.snd.wmu.Lock()
			if phase := r.phase.Load(); phase != phaseStopped && p.snd.werr == nil {
				p.writeLocked(phase)
			}
			p.snd.wmu.Unlock()
			if !dirty[k] {
				dirty[k] = true
				touched = append(touched, k)
			}
		}
		for _, k := range touched {
			dirty[k] = false
			p := pairs[k]
			p.snd.wmu.Lock()
			p.snd.flushLocked()
			p.snd.wmu.Unlock()
		}
		touched = touched[:0]
		if wait := time.Duration(float64(i)*interval) - time.Since(start); wait > 0 {
			time.Sleep(wait) // pacing the open loop, not synchronising
		}
	}
}
