package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
)

const hostStatePkg = "./switchd/internal/pluginhost/testdata/hoststate"

// stateEnv is one host_state test plugin behind a host whose StateStore is
// a real bbolt file opened with store.Open.
type stateEnv struct {
	h     *pluginhost.Host
	st    *store.BoltStore
	state pluginhost.StateStore
	exe   string
	data  string // data_dir of instance "bank"
}

// mustStateStore opens switchd.db in a fresh directory and closes it when
// the test ends.
func mustStateStore(t *testing.T) *store.BoltStore {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "switchd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// startHostState starts the hoststate plugin (a fresh copy of it, so its
// .events file belongs to this test) with state as the host's StateStore;
// prepare runs before the start (to drop a .nocap marker).
func startHostState(t *testing.T, st *store.BoltStore, state pluginhost.StateStore, prepare func(exe string)) *stateEnv {
	t.Helper()
	exe := mustCopyBinary(t, hostStatePkg)
	if prepare != nil {
		prepare(exe)
	}
	e := &stateEnv{st: st, state: state, exe: exe, data: t.TempDir()}
	e.h = e.newHost(t)
	return e
}

func (e *stateEnv) newHost(t *testing.T) *pluginhost.Host {
	t.Helper()
	h := pluginhost.New(pluginhost.Options{State: e.state, CallTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = h.Close() })
	if err := h.Start(context.Background(), []pluginhost.Spec{{Name: "hoststate", Path: e.exe, SHA256: mustSHA(t, e.exe)}}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (e *stateEnv) configure(ctx context.Context, seed int) (*pb.ConfigureResponse, error) {
	return e.h.Configure(ctx, "hoststate", &pb.ConfigureRequest{InstanceId: "bank", Kind: pb.Kind_KIND_PAYMENT_METHOD,
		Method: pb.Method_METHOD_CARD, ConfigJson: fmt.Appendf(nil, `{"seed":%d}`, seed), DataDir: e.data})
}

func (e *stateEnv) mustConfigure(t *testing.T, seed int) {
	t.Helper()
	if _, err := e.configure(context.Background(), seed); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

func (e *stateEnv) method(t *testing.T) sdk.PaymentMethod {
	t.Helper()
	m, err := e.h.PaymentMethod("hoststate")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testOrder(paymentID string, amount int64) (*pb.Order, []byte) {
	o := &pb.Order{PaymentId: paymentID, MerchantId: "shop", AcquirerId: "acq", IssuerId: "bank", AmountMinor: amount,
		Currency: "EUR", Method: pb.Method_METHOD_CARD, ExpiresAtUnix: 2000000000}
	d := order.Digest(o)
	return o, d[:]
}

func debit(ctx context.Context, m sdk.PaymentMethod, paymentID string, amount int64) (*pb.MoneyResult, error) {
	o, d := testOrder(paymentID, amount)
	return m.Debit(ctx, &pb.DebitRequest{InstanceId: "bank", Order: o, OrderDigest: d})
}

// stored is what switchd.db holds for instance "bank".
func (e *stateEnv) stored(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		return tx.PluginState("hoststate", "bank", func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// memory is what the plugin's current process holds for "bank", asked
// through the host (so it waits for a restart in progress).
func (e *stateEnv) memory(t *testing.T) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := e.method(t)
	for {
		res, err := m.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: "bank", PaymentId: "dump"})
		if sdk.IsRetryable(err) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("reading the plugin's memory: %v", err)
		}
		out := map[string]string{}
		if err := json.Unmarshal([]byte(res.GetDisplay()), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// events is the plugin's event log with the given prefix ("load",
// "export", "start", "configure").
func (e *stateEnv) events(t *testing.T, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(e.exe + ".events")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			out = append(out, l)
		}
	}
	return out
}

func (e *stateEnv) pid(t *testing.T) int {
	t.Helper()
	for _, s := range e.h.Status(context.Background()) {
		if s.Name == "hoststate" {
			return s.PID
		}
	}
	t.Fatal("no hoststate plugin")
	return 0
}

// waitNewPID waits until the plugin runs in a process other than old.
func (e *stateEnv) waitNewPID(t *testing.T, old int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if p := e.pid(t); p != 0 && p != old {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("plugin (pid %d) was not restarted", old)
	return 0
}

// startConfigured starts the test plugin with a new switchd.db as its
// state store, configures its instance with seed, and returns the
// environment and the instance's payment method.
func startConfigured(t *testing.T, seed int) (*stateEnv, sdk.PaymentMethod) {
	t.Helper()
	st := mustStateStore(t)
	e := startHostState(t, st, pluginhost.NewStoreState(st), nil)
	e.mustConfigure(t, seed)
	return e, e.method(t)
}

// restartedWith waits until the host has restarted the plugin (it runs in
// a process other than old), then checks that switchd.db and the new
// process's memory both hold exactly want: the plugin was loaded with
// what the host committed, no more and no less.
func (e *stateEnv) restartedWith(t *testing.T, old int, want map[string]string) {
	t.Helper()
	e.waitNewPID(t, old)
	if got := e.stored(t); !maps.Equal(got, want) {
		t.Errorf("switchd.db = %v, want %v", got, want)
	}
	if mem := e.memory(t); !maps.Equal(mem, want) {
		t.Errorf("plugin memory after the restart = %v, want the committed %v", mem, want)
	}
}

func TestHostStateWritesCommittedBeforeAnswer(t *testing.T) {
	st := mustStateStore(t)
	e := startHostState(t, st, pluginhost.NewStoreState(st), nil)
	res, err := e.configure(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetStateWrites()) != 0 {
		t.Errorf("Configure answer still carries %d state writes; the host must strip them", len(res.GetStateWrites()))
	}
	if got := e.stored(t); !maps.Equal(got, map[string]string{"seed/0": "1", "seed/1": "1"}) {
		t.Fatalf("after Configure switchd.db holds %v, want the two seed records", got)
	}
	ctx := context.Background()
	m := e.method(t)
	a, err := e.h.Authenticator("hoststate")
	if err != nil {
		t.Fatal(err)
	}
	o, d := testOrder("p1", 700)
	calls := []struct {
		name string
		call func() (writes int, err error)
		key  string
	}{
		{"Debit", func() (int, error) {
			r, err := debit(ctx, m, "p1", 700)
			return len(r.GetStateWrites()), err
		}, "debit/p1"},
		{"Credit", func() (int, error) {
			r, err := m.Credit(ctx, &pb.CreditRequest{InstanceId: "bank", Order: o, OrderDigest: d})
			return len(r.GetStateWrites()), err
		}, "credit/p1"},
		{"Reverse", func() (int, error) {
			r, err := m.Reverse(ctx, &pb.ReverseRequest{InstanceId: "bank", PaymentId: "p1", Operation: pb.Operation_OPERATION_DEBIT})
			return len(r.GetStateWrites()), err
		}, "reverse/p1"},
		{"AuthenticateSeller", func() (int, error) {
			r, err := a.AuthenticateSeller(ctx, &pb.AuthenticateSellerRequest{InstanceId: "bank", Order: o, OrderDigest: d})
			return len(r.GetStateWrites()), err
		}, "seller/p1"},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			n, err := c.call()
			if err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("answer still carries %d state writes", n)
			}
			if got := e.stored(t)[c.key]; got == "" {
				t.Errorf("switchd.db has no %s when %s returned", c.key, c.name)
			}
		})
	}
	// A status query repeats the record; committing it again changes nothing.
	before := e.stored(t)
	r, err := m.GetOperationStatus(ctx, &pb.OperationStatusRequest{InstanceId: "bank", PaymentId: "p1", Operation: pb.Operation_OPERATION_DEBIT})
	if err != nil || r.GetState() != pb.OperationState_OPERATION_STATE_APPROVED || len(r.GetStateWrites()) != 0 {
		t.Fatalf("GetOperationStatus = %v, %v; want APPROVED without writes", r, err)
	}
	if after := e.stored(t); !maps.Equal(before, after) {
		t.Errorf("status query changed switchd.db: %v -> %v", before, after)
	}
	if mem := e.memory(t); !maps.Equal(mem, e.stored(t)) {
		t.Errorf("plugin memory %v != switchd.db %v", mem, e.stored(t))
	}
}

func TestHostStateRestartLoadsCommittedRecords(t *testing.T) {
	e, m := startConfigured(t, 1)
	for _, id := range []string{"p1", "p2", "p3"} {
		if _, err := debit(context.Background(), m, id, 100); err != nil {
			t.Fatal(err)
		}
	}
	old := e.pid(t)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitNewPID(t, old)
	want := e.stored(t)
	if len(want) != 4 {
		t.Fatalf("switchd.db holds %v, want seed/0 and three debits", want)
	}
	if mem := e.memory(t); !maps.Equal(mem, want) {
		t.Errorf("restarted plugin holds %v, want exactly the committed records %v", mem, want)
	}
	loads := e.events(t, "load")
	if len(loads) != 2 || loads[1] != "load bank 4" {
		t.Errorf("loads = %q, want the first (empty) and then the 4 committed records", loads)
	}
	// The store held records at the restart, so nothing was exported again.
	if ex := e.events(t, "export"); len(ex) != 1 {
		t.Errorf("exports = %q, want only the first launch's", ex)
	}
	// The replayed Configure's seed write was committed again (idempotent).
	if got := e.stored(t); !maps.Equal(got, want) {
		t.Errorf("after the replay switchd.db holds %v, want %v", got, want)
	}
}

func TestHostStateLostAnswerResetsPlugin(t *testing.T) {
	e, m := startConfigured(t, 1)
	if _, err := debit(context.Background(), m, "kept", 100); err != nil {
		t.Fatal(err)
	}
	old := e.pid(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := debit(ctx, m, "slow:2s:lost", 100)
	if !sdk.IsRetryable(err) || !errors.Is(err, pluginhost.ErrAnswerLost) {
		t.Fatalf("Debit past its deadline: err = %v, want a retryable error wrapping ErrAnswerLost", err)
	}
	// The lost answer is not committed, and the plugin forgot it.
	e.restartedWith(t, old, map[string]string{"seed/0": "1", "debit/kept": "100"})
}

func TestHostStateCallerHangupDoesNotLoseAnswer(t *testing.T) {
	e, m := startConfigured(t, 0)
	old := e.pid(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := debit(ctx, m, "slow:300ms:hangup", 100)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel() // the payer hangs up while the plugin works
	if err := <-done; err != nil {
		t.Fatalf("Debit whose caller hung up: %v; the host should still take the answer", err)
	}
	if got := e.stored(t)["debit/slow:300ms:hangup"]; got != "100" {
		t.Errorf("switchd.db has %q for the debit, want it committed", got)
	}
	if p := e.pid(t); p != old {
		t.Errorf("plugin restarted (pid %d -> %d) although nothing was lost", old, p)
	}
}

func TestHostStateInvalidWritesRefused(t *testing.T) {
	e, m := startConfigured(t, 1)
	for _, id := range []string{"badkey:1", "bigvalue:1", "toomany:1"} {
		t.Run(id, func(t *testing.T) {
			before := e.stored(t)
			old := e.pid(t)
			_, err := debit(context.Background(), m, id, 100)
			if !sdk.IsRetryable(err) || !errors.Is(err, pluginhost.ErrInvalidStateWrites) {
				t.Fatalf("err = %v, want a retryable error wrapping ErrInvalidStateWrites", err)
			}
			e.restartedWith(t, old, before)
		})
	}
	t.Run("plugin's own error", func(t *testing.T) {
		old := e.pid(t)
		_, err := debit(context.Background(), m, "refuse:1", 100)
		if sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
			t.Fatalf("err = %v, want the plugin's FAILED_PRECONDITION", err)
		}
		if p := e.pid(t); p != old {
			t.Errorf("plugin restarted (pid %d -> %d) after an error it answered itself", old, p)
		}
	})
}

// failingState fails the first n Commits of the StateStore it wraps.
type failingState struct {
	pluginhost.StateStore
	fail atomic.Int32
}

var errDiskFull = errors.New("test: disk full")

func (f *failingState) Commit(ctx context.Context, plugin, instance string, writes []*pb.StateWrite) error {
	if f.fail.Add(-1) >= 0 {
		return errDiskFull
	}
	return f.StateStore.Commit(ctx, plugin, instance, writes)
}

func TestHostStateExportOnce(t *testing.T) {
	st := mustStateStore(t)
	fs := &failingState{StateStore: pluginhost.NewStoreState(st)}
	e := startHostState(t, st, fs, nil)
	if err := os.WriteFile(filepath.Join(e.data, "old.json"), []byte(`{"acct/alice":"500","acct/bob":"20"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The host stops between the export and its commit (here: the commit
	// fails): nothing is committed, and the next Configure exports again.
	fs.fail.Store(1)
	_, err := e.configure(context.Background(), 0)
	if !errors.Is(err, pluginhost.ErrStateCommit) {
		t.Fatalf("Configure whose export did not commit: err = %v, want ErrStateCommit", err)
	}
	if got := e.stored(t); len(got) != 0 {
		t.Fatalf("switchd.db = %v after a failed import, want nothing", got)
	}
	e.mustConfigure(t, 0)
	want := map[string]string{"acct/alice": "500", "acct/bob": "20"}
	if got := e.stored(t); !maps.Equal(got, want) {
		t.Fatalf("switchd.db = %v, want the exported %v", got, want)
	}
	if ex := e.events(t, "export"); len(ex) != 2 {
		t.Errorf("exports = %q, want two (the first was not committed)", ex)
	}
	if mem := e.memory(t); !maps.Equal(mem, want) {
		t.Errorf("plugin memory = %v, want %v", mem, want)
	}
	// A second launch (a new daemon on the same switchd.db) does not
	// export again: the store holds the instance's records.
	if err := e.h.Close(); err != nil {
		t.Fatal(err)
	}
	e.h = e.newHost(t)
	e.mustConfigure(t, 0)
	if ex := e.events(t, "export"); len(ex) != 2 {
		t.Errorf("exports = %q after a second launch, want still two", ex)
	}
	if loads := e.events(t, "load"); len(loads) == 0 || loads[len(loads)-1] != "load bank 2" {
		t.Errorf("loads = %q, want the second launch loaded the 2 imported records", loads)
	}
	if mem := e.memory(t); !maps.Equal(mem, want) {
		t.Errorf("plugin memory after the second launch = %v, want %v", mem, want)
	}
}

func TestHostStateFailedCommitResetsPlugin(t *testing.T) {
	st := mustStateStore(t)
	fs := &failingState{StateStore: pluginhost.NewStoreState(st)}
	e := startHostState(t, st, fs, nil)
	t.Run("Configure", func(t *testing.T) {
		fs.fail.Store(1)
		if _, err := e.configure(context.Background(), 1); !errors.Is(err, pluginhost.ErrStateCommit) {
			t.Fatalf("Configure whose writes did not commit: err = %v, want ErrStateCommit", err)
		}
		// It was not accepted: a Debit finds the instance unconfigured
		// (once the reset plugin serves again).
		m := e.method(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		for {
			_, err = debit(ctx, m, "p0", 1)
			if !sdk.IsRetryable(err) || ctx.Err() != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
			t.Errorf("Debit after a failed Configure: err = %v, want FAILED_PRECONDITION (not configured)", err)
		}
		e.mustConfigure(t, 1)
	})
	t.Run("Debit", func(t *testing.T) {
		m := e.method(t)
		old := e.pid(t)
		fs.fail.Store(1)
		_, err := debit(context.Background(), m, "p1", 100)
		if !sdk.IsRetryable(err) || !errors.Is(err, pluginhost.ErrStateCommit) {
			t.Fatalf("Debit whose writes did not commit: err = %v, want a retryable error wrapping ErrStateCommit", err)
		}
		e.waitNewPID(t, old)
		want := map[string]string{"seed/0": "1"}
		if mem := e.memory(t); !maps.Equal(mem, want) {
			t.Errorf("plugin memory after the reset = %v, want the committed %v", mem, want)
		}
		// The retry is applied again and committed.
		if _, err := debit(context.Background(), m, "p1", 100); err != nil {
			t.Fatal(err)
		}
		if got := e.stored(t)["debit/p1"]; got != "100" {
			t.Errorf("retried debit in switchd.db = %q, want 100", got)
		}
	})
}

func TestHostStateRefusedWithoutStateStore(t *testing.T) {
	e := startHostState(t, mustStateStore(t), nil, nil)
	_, err := e.configure(context.Background(), 0)
	if !errors.Is(err, pluginhost.ErrNoState) {
		t.Fatalf("Configure of a host_state plugin on a host without State: err = %v, want ErrNoState", err)
	}
	for _, want := range []string{`"hoststate"`, "host_state", "no state store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if got := e.events(t, "configure"); len(got) != 0 {
		t.Errorf("the plugin was configured anyway: %q", got)
	}
}

func TestHostStateWritesWithoutCapabilityRefused(t *testing.T) {
	st := mustStateStore(t)
	e := startHostState(t, st, pluginhost.NewStoreState(st), func(exe string) {
		if err := os.WriteFile(exe+".nocap", nil, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := e.configure(context.Background(), 1); !errors.Is(err, pluginhost.ErrUnexpectedStateWrites) || sdk.CodeOf(err) != sdk.CodeInternal {
		t.Errorf("Configure with writes, no capability: err = %v, want CodeInternal wrapping ErrUnexpectedStateWrites", err)
	}
	e.mustConfigure(t, 0)
	_, err := debit(context.Background(), e.method(t), "p1", 100)
	if !errors.Is(err, pluginhost.ErrUnexpectedStateWrites) || sdk.CodeOf(err) != sdk.CodeInternal {
		t.Errorf("Debit with writes, no capability: err = %v, want CodeInternal wrapping ErrUnexpectedStateWrites", err)
	}
	if got := e.stored(t); len(got) != 0 {
		t.Errorf("switchd.db = %v, want nothing from a plugin without the capability", got)
	}
	if ex := e.events(t, "export"); len(ex) != 0 {
		t.Errorf("a plugin without the capability was asked to export: %q", ex)
	}
}

// TestHostStateConcurrentRestarts runs Debits from many goroutines while
// the plugin is killed again and again: nothing deadlocks, every
// acknowledged debit is in switchd.db, and the last process holds exactly
// the committed records.
func TestHostStateConcurrentRestarts(t *testing.T) {
	e, m := startConfigured(t, 1)
	var (
		mu    sync.Mutex
		acked []string
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				for !stop.Load() {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					_, err := debit(ctx, m, id, 1)
					cancel()
					if err == nil {
						mu.Lock()
						acked = append(acked, id)
						mu.Unlock()
						break
					}
					if !sdk.IsRetryable(err) && sdk.CodeOf(err) != sdk.CodeDeadlineExceeded {
						t.Errorf("Debit %s: %v", id, err)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	for range 4 {
		time.Sleep(300 * time.Millisecond)
		old := e.pid(t)
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		e.waitNewPID(t, old)
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("calls did not finish within 30s of the last restart: deadlock")
	}
	stored := e.stored(t)
	for _, id := range acked {
		if stored["debit/"+id] != "1" {
			t.Errorf("acknowledged debit %s is not in switchd.db", id)
		}
	}
	if mem := e.memory(t); !maps.Equal(mem, stored) {
		t.Errorf("plugin memory (%d records) != switchd.db (%d records)", len(mem), len(stored))
	}
	if loads := e.events(t, "load"); len(loads) < 5 {
		t.Errorf("loads = %q, want one per launch (5)", loads)
	}
	t.Logf("%d debits acknowledged across 4 restarts", len(acked))
}

// slowState delays the Commits of debits whose payment id starts with
// "delay".
type slowState struct {
	pluginhost.StateStore
	delay time.Duration
}

func (s *slowState) Commit(ctx context.Context, plugin, instance string, writes []*pb.StateWrite) error {
	for _, w := range writes {
		if strings.HasPrefix(string(w.GetKey()), "debit/delay") {
			time.Sleep(s.delay)
		}
	}
	return s.StateStore.Commit(ctx, plugin, instance, writes)
}

// TestHostStateRestartWaitsForCommitsInFlight kills the plugin after it
// answered a Debit but before the host committed that answer: the new
// process must not be loaded before the commit, or it would miss a debit
// the host then reports as done.
func TestHostStateRestartWaitsForCommitsInFlight(t *testing.T) {
	st := mustStateStore(t)
	e := startHostState(t, st, &slowState{StateStore: pluginhost.NewStoreState(st), delay: time.Second}, nil)
	e.mustConfigure(t, 1)
	m := e.method(t)
	done := make(chan error, 1)
	go func() {
		_, err := debit(context.Background(), m, "delay:1", 100)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // answered; its commit is under way
	old := e.pid(t)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Debit answered before the plugin died: %v", err)
	}
	// A plugin loaded before the debit committed would not hold it.
	e.restartedWith(t, old, map[string]string{"seed/0": "1", "debit/delay:1": "100"})
}

// TestHostStateLoadNotHeldToCallTimeout: an instance's state grows with
// its history, so loading it (before its first Configure, and again after
// a restart) is bounded by StateLoadTimeout, not by CallTimeout or the
// caller's deadline; the Configure after the load still gets its own
// CallTimeout. A load past StateLoadTimeout fails the Configure.
func TestHostStateLoadNotHeldToCallTimeout(t *testing.T) {
	for _, tc := range []struct {
		name        string
		loadTimeout time.Duration // 0: the default
		wantErr     bool
	}{
		{"load longer than CallTimeout and the caller's deadline", 0, false},
		{"load longer than StateLoadTimeout", 300 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := mustStateStore(t)
			e := &stateEnv{st: st, state: pluginhost.NewStoreState(st), exe: mustCopyBinary(t, hostStatePkg), data: t.TempDir()}
			if err := os.WriteFile(e.exe+".slowload", []byte("1500ms"), 0o600); err != nil {
				t.Fatal(err)
			}
			e.h = pluginhost.New(pluginhost.Options{State: e.state, CallTimeout: time.Second, StateLoadTimeout: tc.loadTimeout})
			t.Cleanup(func() { _ = e.h.Close() })
			if err := e.h.Start(context.Background(), []pluginhost.Spec{{Name: "hoststate", Path: e.exe, SHA256: mustSHA(t, e.exe)}}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := e.configure(ctx, 1)
			if tc.wantErr {
				if err == nil {
					t.Fatal("a load past StateLoadTimeout configured the instance")
				}
				if !strings.Contains(err.Error(), "LoadState") {
					t.Errorf("error %q does not say the LoadState failed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Configure after a 1.5 s load: %v", err)
			}
			if got := e.stored(t); got["seed/0"] == "" {
				t.Fatalf("Configure's write not committed: %v", got)
			}
			// After a restart the replay loads as slowly, and serves.
			old := e.pid(t)
			if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			e.waitNewPID(t, old)
			dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer dcancel()
			if _, err := debit(dctx, e.method(t), "after-restart", 100); err != nil {
				t.Fatalf("Debit after a restart with a slow load: %v", err)
			}
			if loads := e.events(t, "load"); len(loads) != 2 {
				t.Errorf("loads = %q, want one per process", loads)
			}
		})
	}
}
