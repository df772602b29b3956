package plugintest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// The host's limits on one record: the daemon's store.MaxStateKey and
// store.MaxStateValue.
const (
	maxStateKey   = 512
	maxStateValue = 64 << 10
)

// host is the kit playing the switch for the plugin. It is the client
// every check calls through. For a plugin that lists sdk.CapHostState it
// keeps a committed state per instance (an in-memory map: the kit's stand-in
// for the switch's database), runs ExportState and LoadState before an
// instance's first Configure in each process, and commits every answer's
// state_writes before the answer is returned to the check, as the daemon
// does. A check that must not commit an answer (the host's crash between
// answer and commit) calls the embedded *sdk.Client directly.
//
// For every plugin it notes answers whose writes break the contract;
// the state_writes check reports them.
type host struct {
	*sdk.Client // the current plugin process

	on bool // the plugin lists host_state

	// secrets are values no record may contain (rule 5): the sensitive
	// attributes of Suite.Config and the card number of Suite.Instrument.
	secrets [][]byte

	mu        sync.Mutex
	committed map[string]sdk.StateMap // by instance
	loaded    map[string]bool         // instances loaded in the current process
	problems  []string
}

func newHost(c *sdk.Client, on bool) *host {
	return &host{Client: c, on: on, committed: map[string]sdk.StateMap{}, loaded: map[string]bool{}}
}

// problem notes a breach of the state contract.
func (h *host) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems = append(h.problems, fmt.Sprintf(format, args...))
}

// writeErrors lists what is wrong with writes as the host would store
// them: a key of 1 to maxStateKey bytes, a value of at most maxStateValue.
func writeErrors(writes []*pb.StateWrite) []string {
	var out []string
	for i, w := range writes {
		switch k := len(w.GetKey()); {
		case k == 0:
			out = append(out, fmt.Sprintf("write %d has an empty key", i))
		case k > maxStateKey:
			out = append(out, fmt.Sprintf("write %d has a %d-byte key; the limit is %d", i, k, maxStateKey))
		}
		if v := len(w.GetValue()); v > maxStateValue {
			out = append(out, fmt.Sprintf("write %d (key %q) has a %d-byte value; the limit is %d", i, clip(w.GetKey()), v, maxStateValue))
		}
	}
	return out
}

// clip shortens a key for a message.
func clip(k []byte) []byte {
	if len(k) > 64 {
		return append(k[:64:64], "…"...)
	}
	return k
}

// take checks the writes of one answer of call about instance and, when
// they are well-formed and the answer is not an error, commits them in one
// go, as the host's transaction would.
func (h *host) take(call, instance string, writes []*pb.StateWrite, isError bool) {
	if len(writes) == 0 {
		return
	}
	if !h.on {
		h.problem("%s answered %d state_writes without the %q capability; the host drops them", call, len(writes), sdk.CapHostState)
		return
	}
	if isError {
		h.problem("%s refused with %d state_writes; an error answer carries none and changes nothing (rule 3)", call, len(writes))
		return
	}
	for i, w := range writes {
		for _, sec := range h.secrets {
			if bytes.Contains(w.GetKey(), sec) || bytes.Contains(w.GetValue(), sec) {
				// The key is not named: it may be what holds the secret.
				h.problem("%s: write %d holds a secret (a sensitive config value or the card number); secrets never go into state_writes (rule 5)", call, i)
			}
		}
	}
	if errs := writeErrors(writes); len(errs) > 0 {
		for _, e := range errs {
			h.problem("%s: %s; the host cannot commit the answer", call, e)
		}
		return
	}
	h.commit(instance, writes)
}

// commit applies writes to instance's committed state.
func (h *host) commit(instance string, writes []*pb.StateWrite) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.committed[instance] == nil {
		h.committed[instance] = sdk.StateMap{}
	}
	h.committed[instance].Apply(writes)
}

// records returns instance's committed records in key order, as the host
// streams them to LoadState.
func (h *host) records(instance string) []*pb.StateWrite {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.committed[instance].Records()
}

// snapshot returns a copy of instance's committed records.
func (h *host) snapshot(instance string) map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for k, v := range h.committed[instance] {
		out[k] = string(v)
	}
	return out
}

// restarted points the host at a new plugin process, in which no instance
// is loaded yet.
func (h *host) restarted(c *sdk.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Client = c
	h.loaded = map[string]bool{}
}

// load runs, once per instance and process, what the host runs before an
// instance's first Configure: ExportState when it holds no record of the
// instance yet (committing what comes back), then LoadState with the
// committed records.
func (h *host) load(ctx context.Context, instance, dataDir string) error {
	h.mu.Lock()
	loaded, have := h.loaded[instance], len(h.committed[instance]) > 0
	h.mu.Unlock()
	if loaded {
		return nil
	}
	if !have {
		recs, err := h.Client.ExportState(ctx, instance, dataDir)
		if err != nil {
			return fmt.Errorf("ExportState(%q) before the first Configure: %w", instance, err)
		}
		errs := writeErrors(recs)
		for i, r := range recs {
			if len(r.GetValue()) == 0 {
				errs = append(errs, fmt.Sprintf("record %d (key %q) has an empty value", i, clip(r.GetKey())))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("ExportState(%q) streamed records the host cannot commit: %v", instance, errs)
		}
		h.commit(instance, recs)
	}
	if err := h.Client.LoadState(ctx, instance, h.records(instance)); err != nil {
		return fmt.Errorf("LoadState(%q) before the first Configure: %w", instance, err)
	}
	h.mu.Lock()
	h.loaded[instance] = true
	h.mu.Unlock()
	return nil
}

// Configure loads the instance's state first when the plugin keeps it in
// the host, and commits the writes of an accepted Configure.
func (h *host) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if h.on {
		if err := h.load(ctx, r.GetInstanceId(), r.GetDataDir()); err != nil {
			return nil, err
		}
	}
	res, err := h.Client.Configure(ctx, r)
	refused := err != nil || sdk.HasErrors(res.GetDiagnostics())
	h.take(fmt.Sprintf("Configure(%s, %v)", r.GetInstanceId(), r.GetKind()), r.GetInstanceId(), res.GetStateWrites(), refused)
	return res, err
}

// Debit commits the answer's writes before returning it.
func (h *host) Debit(ctx context.Context, r *pb.DebitRequest) (*pb.MoneyResult, error) {
	res, err := h.Client.Debit(ctx, r)
	h.take("Debit "+r.GetOrder().GetPaymentId(), r.GetInstanceId(), res.GetStateWrites(), err != nil)
	return res, err
}

// Credit commits the answer's writes before returning it.
func (h *host) Credit(ctx context.Context, r *pb.CreditRequest) (*pb.MoneyResult, error) {
	res, err := h.Client.Credit(ctx, r)
	h.take("Credit "+r.GetOrder().GetPaymentId(), r.GetInstanceId(), res.GetStateWrites(), err != nil)
	return res, err
}

// Reverse commits the answer's writes before returning it.
func (h *host) Reverse(ctx context.Context, r *pb.ReverseRequest) (*pb.MoneyResult, error) {
	res, err := h.Client.Reverse(ctx, r)
	h.take(fmt.Sprintf("Reverse %s %v", r.GetPaymentId(), r.GetOperation()), r.GetInstanceId(), res.GetStateWrites(), err != nil)
	return res, err
}

// GetOperationStatus commits the answer's writes before returning it.
func (h *host) GetOperationStatus(ctx context.Context, r *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	res, err := h.Client.GetOperationStatus(ctx, r)
	h.take(fmt.Sprintf("GetOperationStatus %s %v", r.GetPaymentId(), r.GetOperation()), r.GetInstanceId(), res.GetStateWrites(), err != nil)
	return res, err
}

// AuthenticateSeller commits the answer's writes before returning it.
func (h *host) AuthenticateSeller(ctx context.Context, r *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	res, err := h.Client.AuthenticateSeller(ctx, r)
	h.take("AuthenticateSeller "+r.GetOrder().GetPaymentId(), r.GetInstanceId(), res.GetStateWrites(), err != nil)
	return res, err
}

// checkStateWrites reports every answer of the run whose state_writes
// broke the contract.
func (e *env) checkStateWrites(t tb) {
	e.c.mu.Lock()
	problems := slices.Clone(e.c.problems)
	e.c.mu.Unlock()
	for _, p := range problems {
		t.Errorf("%s", p)
	}
}
