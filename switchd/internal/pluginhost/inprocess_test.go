package pluginhost_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
	"github.com/switchd/switchd/switchd/internal/store"
)

func TestInProcess(t *testing.T) {
	h := pluginhost.InProcess(map[string]sdk.Plugin{"sample": benchMethod{}})
	if info, ok := h.Info("sample"); !ok || info.GetVersion() != "1.2.3" {
		t.Fatalf("Info = %v, %v", info, ok)
	}
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Authenticator("sample"); !errors.Is(err, pluginhost.ErrWrongKind) {
		t.Errorf("Authenticator: err = %v, want ErrWrongKind", err)
	}
	if _, err := h.Configure(context.Background(), "sample", &pb.ConfigureRequest{InstanceId: "bank-a"}); err != nil {
		t.Fatal(err)
	}
	if got, err := resolve(context.Background(), m, "bank-a", "p1"); err != nil || got != "hello" {
		t.Fatalf("ResolveInstrument = %q, %v", got, err)
	}
	// The calls cross the SDK's server adapters: an order that does not
	// match its digest is refused before the implementation sees it.
	_, err = m.Debit(context.Background(), &pb.DebitRequest{InstanceId: "bank-a", Order: &pb.Order{PaymentId: "p1"}, OrderDigest: []byte("nope")})
	if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Errorf("Debit with a wrong digest: err = %v, want invalid_argument", err)
	}
	st := h.Status(context.Background())
	if len(st) != 1 || !st[0].Healthy || st[0].PID != 0 {
		t.Errorf("Status = %+v", st)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve(context.Background(), m, "bank-a", "p1"); !errors.Is(err, pluginhost.ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
}

// memCounter is an in-process host_state payment method: Debit records
// "debit/<payment>" in memory and returns it as a state write; a payment
// id starting with "slow" answers only after 500ms, ignoring the deadline.
type memCounter struct {
	benchMethod
	mu    sync.Mutex
	state map[string]string
	loads int
}

var _ sdk.StateHolder = (*memCounter)(nil)

func (c *memCounter) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{Name: "counter", Version: "1.0.0", Kinds: []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD},
		Capabilities: []string{sdk.CapHostState}}, nil
}

func (c *memCounter) LoadState(_ context.Context, _ string, records []*pb.StateWrite) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = map[string]string{}
	for _, r := range records {
		c.state[string(r.GetKey())] = string(r.GetValue())
	}
	c.loads++
	return nil
}

func (c *memCounter) ExportState(context.Context, string, string) ([]*pb.StateWrite, error) {
	return nil, nil
}

func (c *memCounter) Debit(_ context.Context, r *pb.DebitRequest) (*pb.MoneyResult, error) {
	key := "debit/" + r.GetOrder().GetPaymentId()
	c.mu.Lock()
	c.state[key] = "1"
	c.mu.Unlock()
	if strings.HasPrefix(r.GetOrder().GetPaymentId(), "slow") {
		time.Sleep(500 * time.Millisecond)
	}
	return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_APPROVED, StateWrites: []*pb.StateWrite{{Key: []byte(key), Value: []byte("1")}}}, nil
}

func (c *memCounter) snapshot() (map[string]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.state), c.loads
}

func TestInProcessHostState(t *testing.T) {
	t.Run("no State", func(t *testing.T) {
		h := pluginhost.InProcess(map[string]sdk.Plugin{"counter": &memCounter{}})
		defer h.Close()
		if _, err := h.Configure(context.Background(), "counter", &pb.ConfigureRequest{InstanceId: "bank"}); !errors.Is(err, pluginhost.ErrNoState) {
			t.Fatalf("Configure: err = %v, want ErrNoState", err)
		}
	})
	st := mustStateStore(t)
	c := &memCounter{}
	h := pluginhost.InProcess(map[string]sdk.Plugin{"counter": c}, pluginhost.Options{State: pluginhost.NewStoreState(st)})
	defer h.Close()
	if _, err := h.Configure(context.Background(), "counter", &pb.ConfigureRequest{InstanceId: "bank"}); err != nil {
		t.Fatal(err)
	}
	m, err := h.PaymentMethod("counter")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := debit(context.Background(), m, "p1", 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := debit(ctx, m, "slow1", 1); !errors.Is(err, pluginhost.ErrAnswerLost) || !sdk.IsRetryable(err) {
		t.Fatalf("Debit past its deadline: err = %v, want a retryable ErrAnswerLost", err)
	}
	// The next call waits for the reset: the state loaded again, without
	// the lost debit.
	if _, err := debit(context.Background(), m, "p2", 1); err != nil {
		t.Fatal(err)
	}
	mem, loads := c.snapshot()
	want := map[string]string{"debit/p1": "1", "debit/p2": "1"}
	if !maps.Equal(mem, want) || loads != 2 {
		t.Errorf("in-process plugin holds %v after %d loads, want %v after 2", mem, loads, want)
	}
	got := map[string]string{}
	err = st.View(context.Background(), func(tx store.Tx) error {
		return tx.PluginState("counter", "bank", func(k, v []byte) error {
			got[string(k)] = string(v)
			return nil
		})
	})
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("switchd.db = %v, %v; want %v", got, err, want)
	}
}
