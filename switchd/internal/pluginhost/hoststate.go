package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"syscall"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// hostState reports whether the plugin lists sdk.CapHostState.
func (s *supervised) hostState() bool {
	return slices.Contains(s.getInfoCached().GetCapabilities(), sdk.CapHostState)
}

// detach returns a context with ctx's deadline but not its cancellation:
// a caller hanging up must not lose an answer the plugin already applied
// to its memory.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(context.WithoutCancel(ctx))
	}
	return context.WithDeadline(context.WithoutCancel(ctx), d)
}

// loadInstance hands p the instance's committed records (LoadState),
// importing the plugin's own files first (ExportState, committed in one
// transaction) when the store holds no record of the instance. cfgMu and
// a side of stateMu are held.
func (s *supervised) loadInstance(ctx context.Context, p *proc, inst, dataDir string) error {
	st := s.opts.State
	has, err := st.Has(ctx, s.name, inst)
	if err != nil {
		return fmt.Errorf("pluginhost: plugin %q, instance %q: reading its state: %w", s.name, inst, err)
	}
	if !has {
		recs, err := p.conn.ExportState(ctx, inst, dataDir)
		if err != nil {
			return fmt.Errorf("pluginhost: plugin %q, instance %q: ExportState: %w", s.name, inst, err)
		}
		for i, r := range recs {
			if len(r.GetValue()) == 0 {
				return fmt.Errorf("pluginhost: plugin %q, instance %q: ExportState: %w: record %d has an empty value", s.name, inst, ErrInvalidStateWrites, i)
			}
		}
		if err := s.commitWrites(ctx, "ExportState", inst, recs, math.MaxInt); err != nil {
			return fmt.Errorf("pluginhost: plugin %q, instance %q: ExportState: %w", s.name, inst, err)
		}
		if len(recs) > 0 {
			s.log.Info("imported plugin state", "instance", inst, "records", len(recs))
		}
	}
	start := time.Now()
	var recs []*pb.StateWrite
	err = st.Load(ctx, s.name, inst, func(k, v []byte) error {
		recs = append(recs, &pb.StateWrite{Key: slices.Clone(k), Value: slices.Clone(v)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("pluginhost: plugin %q, instance %q: reading its state: %w", s.name, inst, err)
	}
	if err := p.conn.LoadState(ctx, inst, recs); err != nil {
		return fmt.Errorf("pluginhost: plugin %q, instance %q: LoadState: %w", s.name, inst, err)
	}
	// The load grows with the instance's history (see
	// Options.StateLoadTimeout): say how long it took, so that an operator
	// sees it coming.
	s.log.Info("plugin state loaded", "instance", inst, "records", len(recs), "seconds", time.Since(start).Seconds())
	p.loaded[inst] = true
	return nil
}

// loadWithin is loadInstance under StateLoadTimeout, from ctx's values
// but not its deadline or cancellation: an instance's state grows with
// its history, and an interrupted load only has to be done again.
func (s *supervised) loadWithin(ctx context.Context, p *proc, inst, dataDir string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.StateLoadTimeout)
	defer cancel()
	err := s.loadInstance(ctx, p, inst, dataDir)
	if err != nil && p.diedDuring(ctx, err) {
		s.markDown(p)
		return exitedErr(s.name, err)
	}
	return err
}

// failed handles the error of a call to a host_state plugin that holds
// the read side of stateMu. An error the plugin answered changes nothing
// (the contract's rule 3). An answer that may have been lost (the
// deadline ended, the connection broke) may have left the plugin's memory
// ahead of the store, so the plugin is reset.
func (s *supervised) failed(ctx context.Context, p *proc, rpc string, err error) error {
	if p.diedDuring(ctx, err) {
		s.markDown(p)
		return exitedErr(s.name, err)
	}
	switch code := sdk.CodeOf(err); {
	case ctx.Err() != nil, code == sdk.CodeDeadlineExceeded, code == sdk.CodeUnavailable:
		s.reset(p, rpc, err)
		return &sdk.Error{Code: sdk.CodeUnavailable, Msg: fmt.Sprintf("plugin %q: the answer to %s was lost; the plugin is being reset to its committed state", s.name, rpc),
			Err: fmt.Errorf("%w: %w", ErrAnswerLost, err)}
	}
	return err
}

// commitWrites checks writes (checkWrites, at most limit of them) and
// commits them between the pluginhost.commit failpoints; with no writes
// nothing is committed. A check failure wraps ErrInvalidStateWrites, a
// commit failure ErrStateCommit.
func (s *supervised) commitWrites(ctx context.Context, rpc, inst string, writes []*pb.StateWrite, limit int) error {
	if err := checkWrites(writes, limit); err != nil {
		return err
	}
	if len(writes) == 0 {
		return nil
	}
	failpointHit("pluginhost.commit.before", rpc)
	if err := s.opts.State.Commit(ctx, s.name, inst, writes); err != nil {
		return fmt.Errorf("%w: %w", ErrStateCommit, err)
	}
	failpointHit("pluginhost.commit.after", rpc)
	return nil
}

// commit commits the writes of an answer to rpc (commitWrites). If they
// are invalid or do not commit, the plugin's memory is ahead of the store:
// it is reset and the caller gets a retryable error.
func (s *supervised) commit(ctx context.Context, p *proc, rpc, inst string, writes []*pb.StateWrite) error {
	if len(writes) == 0 {
		return nil
	}
	// The commit is not cut short by the caller's deadline: the plugin has
	// applied the answer, and committing it is cheaper than a reset.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.CallTimeout)
	defer cancel()
	err := s.commitWrites(cctx, rpc, inst, writes, MaxStateWrites)
	if err == nil {
		return nil
	}
	s.reset(p, rpc, err)
	msg := fmt.Sprintf("plugin %q: the state writes of %s did not commit; the plugin is being reset", s.name, rpc)
	if errors.Is(err, ErrInvalidStateWrites) {
		msg = fmt.Sprintf("plugin %q answered %s with invalid state writes; the plugin is being reset", s.name, rpc)
	}
	return &sdk.Error{Code: sdk.CodeUnavailable, Msg: msg, Err: err}
}

// reset takes p out of service because its memory may be ahead of the
// store. A process is killed, and its watcher restarts it, which loads the
// committed state (LoadState) before it serves again. An InProcess plugin
// has no process: its state is reloaded over the same connection by a
// restart of its own.
func (s *supervised) reset(p *proc, rpc string, cause error) {
	s.log.Error("plugin's memory may be ahead of its committed state; resetting it", "rpc", rpc, "error", cause)
	s.markDown(p)
	if s.inproc != nil {
		s.mu.Lock()
		closed := s.closed
		if !closed {
			s.wg.Add(1)
		}
		s.mu.Unlock()
		if !closed {
			go func() {
				defer s.wg.Done()
				s.restart()
			}()
		}
		return
	}
	if p.pid > 0 {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

// unexpectedWrites is the error for state writes from a plugin that does
// not list sdk.CapHostState: dropping them would lose durability the
// plugin counted on.
func (s *supervised) unexpectedWrites(rpc string) error {
	return &sdk.Error{Code: sdk.CodeInternal, Msg: fmt.Sprintf("plugin %q answered %s with state writes but does not list the %q capability; answer refused", s.name, rpc, sdk.CapHostState),
		Err: ErrUnexpectedStateWrites}
}

// stateAnswer is an answer that may carry state writes.
type stateAnswer interface {
	comparable
	GetStateWrites() []*pb.StateWrite
}

// stateCall runs a call whose answer may carry state writes: for a
// host_state plugin the writes are committed before the answer is
// returned, without them; otherwise an answer with writes is refused.
func stateCall[Req interface{ GetInstanceId() string }, Res stateAnswer](ctx context.Context, s *supervised, rpc string,
	fn func(*sdk.Client, context.Context, Req) (Res, error), strip func(Res), req Req) (Res, error) {
	var zero Res
	if !s.hostState() {
		res, err := call(ctx, s, fn, req)
		if err == nil && res != zero && len(res.GetStateWrites()) > 0 {
			return zero, s.unexpectedWrites(rpc)
		}
		return res, err
	}
	if s.opts.State == nil {
		return zero, &sdk.Error{Code: sdk.CodeInternal, Msg: fmt.Sprintf("plugin %q", s.name), Err: ErrNoState}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.CallTimeout)
		defer cancel()
	}
	for {
		p, err := s.acquire(ctx)
		if err != nil {
			return zero, err
		}
		s.stateMu.RLock()
		if s.current() != p {
			// Restarted (and reloaded) while we waited: use the new process.
			s.stateMu.RUnlock()
			continue
		}
		res, err := stateCallOn(ctx, s, p, rpc, fn, strip, req)
		s.stateMu.RUnlock()
		return res, err
	}
}

func stateCallOn[Req interface{ GetInstanceId() string }, Res stateAnswer](ctx context.Context, s *supervised, p *proc, rpc string,
	fn func(*sdk.Client, context.Context, Req) (Res, error), strip func(Res), req Req) (Res, error) {
	var zero Res
	ctx, cancel := detach(ctx)
	defer cancel()
	res, err := fn(p.conn, ctx, req)
	if err != nil {
		return zero, s.failed(ctx, p, rpc, err)
	}
	if res == zero {
		return res, nil
	}
	if err := s.commit(ctx, p, rpc, req.GetInstanceId(), res.GetStateWrites()); err != nil {
		return zero, err
	}
	strip(res)
	return res, nil
}
