package pluginhost_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/pluginhost"

	"crypto/sha256"
	"encoding/hex"
	"os/exec"

	"github.com/hashicorp/go-plugin"
)

// benchMethod answers ResolveInstrument like the sample plugin's plain path,
// for the in-process side of the benchmark.
type benchMethod struct{}

func (benchMethod) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{Name: "sample", Version: "1.2.3", Kinds: []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD}}, nil
}
func (benchMethod) Configure(context.Context, *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return &pb.ConfigureResponse{}, nil
}
func (benchMethod) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{Serving: true}, nil
}
func (benchMethod) ResolveInstrument(context.Context, *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Display: "hello"}, nil
}
func (benchMethod) Debit(context.Context, *pb.DebitRequest) (*pb.MoneyResult, error) {
	return nil, sdk.FailedPrecondition("no money")
}
func (benchMethod) Credit(context.Context, *pb.CreditRequest) (*pb.MoneyResult, error) {
	return nil, sdk.FailedPrecondition("no money")
}
func (benchMethod) Reverse(context.Context, *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return nil, sdk.FailedPrecondition("no money")
}
func (benchMethod) GetOperationStatus(context.Context, *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return nil, sdk.FailedPrecondition("no money")
}

// cpuSelf is this process's user+system CPU time.
func cpuSelf(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPID is process pid's user+system CPU time from /proc/<pid>/stat
// (fields 14 and 15, in clock ticks of 1/100 s).
func cpuPID(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("cannot parse %s", s)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// measure runs call b.N times, one after the other or, when parallel, from
// 64 goroutines at once (the payment load is concurrent), and reports CPU
// per call for this process (host-cpu-ns/op) and, when pid > 0, for the
// plugin process (plugin-cpu-ns/op), and their sum (cpu-ns/op). It returns
// wall and total CPU time per call.
func measure(b *testing.B, pid int, parallel bool, call func(context.Context) error) (nsOp, cpuOp float64) {
	ctx := context.Background()
	b.ReportAllocs()
	if parallel {
		b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	}
	b.ResetTimer()
	start, host0 := time.Now(), cpuSelf(b)
	var plugin0 time.Duration
	if pid > 0 {
		plugin0 = cpuPID(b, pid)
	}
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for b.Loop() {
			if err := call(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed, host := time.Since(start), cpuSelf(b)-host0
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(host.Nanoseconds())/n, "host-cpu-ns/op")
	cpu := float64(host.Nanoseconds())
	if pid > 0 {
		plugin := cpuPID(b, pid) - plugin0
		b.ReportMetric(float64(plugin.Nanoseconds())/n, "plugin-cpu-ns/op")
		cpu += float64(plugin.Nanoseconds())
	}
	b.ReportMetric(cpu/n, "cpu-ns/op")
	return float64(elapsed.Nanoseconds()) / n, cpu / n
}

// resolveCall configures instance bank-a of plugin sample on h and returns
// a ResolveInstrument call through the host's supervised client.
func resolveCall(b *testing.B, h *pluginhost.Host) func(context.Context) error {
	if _, err := h.Configure(context.Background(), "sample", &pb.ConfigureRequest{InstanceId: "bank-a", ConfigJson: []byte(`{"greeting":"hello"}`)}); err != nil {
		b.Fatal(err)
	}
	m, err := h.PaymentMethod("sample")
	if err != nil {
		b.Fatal(err)
	}
	req := &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "p1"}
	return func(ctx context.Context) error {
		res, err := m.ResolveInstrument(ctx, req)
		if err != nil {
			return err
		}
		if res.GetDisplay() != "hello" {
			return fmt.Errorf("display %q, want hello", res.GetDisplay())
		}
		return nil
	}
}

// BenchmarkRoundTrip measures one ResolveInstrument round trip through the
// host, one call at a time: in process (over an in-memory gRPC connection)
// and out of process (a real plugin subprocess over go-plugin's mTLS Unix
// socket). It reports CPU per call for the host and, out of process, the
// plugin, and the ratio of out-of-process to in-process.
func BenchmarkRoundTrip(b *testing.B) {
	benchmarkRoundTrip(b, false)
}

// BenchmarkRoundTripParallel is BenchmarkRoundTrip with 64 goroutines
// calling at once, as the payment load does.
func BenchmarkRoundTripParallel(b *testing.B) {
	benchmarkRoundTrip(b, true)
}

func benchmarkRoundTrip(b *testing.B, parallel bool) {
	var inNs, inCPU float64
	b.Run("in-process", func(b *testing.B) {
		h := pluginhost.InProcess(map[string]sdk.Plugin{"sample": benchMethod{}})
		defer h.Close()
		inNs, inCPU = measure(b, 0, parallel, resolveCall(b, h))
	})
	// go-plugin alone, with the host's client settings but none of its
	// supervision: the floor the host's own layer is measured against.
	b.Run("out-of-process-go-plugin-only", func(b *testing.B) {
		path := mustCopyBinary(b, "./switchd/internal/pluginhost/testdata/sample")
		sum, _ := hex.DecodeString(mustSHA(b, path))
		cmd := exec.Command(path)
		cmd.Env = pluginhost.PluginRuntimeEnv
		c := plugin.NewClient(&plugin.ClientConfig{
			HandshakeConfig: sdk.Handshake, VersionedPlugins: sdk.VersionedPlugins(nil), Cmd: cmd,
			SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
			AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC}, AutoMTLS: true, SkipHostEnv: true,
			GRPCDialOptions: pluginhost.GRPCDialOptions(),
		})
		defer c.Kill()
		rpc, err := c.Client()
		if err != nil {
			b.Fatal(err)
		}
		raw, err := rpc.Dispense(sdk.PluginName)
		if err != nil {
			b.Fatal(err)
		}
		m := raw.(*sdk.Client)
		if _, err := m.Configure(context.Background(), &pb.ConfigureRequest{InstanceId: "bank-a", ConfigJson: []byte(`{"greeting":"hello"}`)}); err != nil {
			b.Fatal(err)
		}
		req := &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "p1"}
		measure(b, cmd.Process.Pid, parallel, func(ctx context.Context) error {
			_, err := m.ResolveInstrument(ctx, req)
			return err
		})
	})
	b.Run("out-of-process", func(b *testing.B) {
		h, _ := mustStartSample(b, pluginhost.Options{})
		st := h.Status(context.Background())
		ns, cpu := measure(b, st[0].PID, parallel, resolveCall(b, h))
		if inNs > 0 {
			b.ReportMetric(ns/inNs, "x-inproc-ns")
			b.ReportMetric(cpu/inCPU, "x-inproc-cpu")
		}
	})
}

// BenchmarkCardDebitParallel is a round trip with real work behind it: a
// Debit of 1 cent from 64 goroutines at once to the real card plugin
// binary, which checks the order digest, moves money in its bbolt ledger
// and group-commits (fsync) it. Every Debit is a new payment.
func BenchmarkCardDebitParallel(b *testing.B) {
	path := mustCopyBinary(b, "./plugins/card")
	h := pluginhost.New(pluginhost.Options{LogLevel: "error"})
	defer h.Close()
	ctx := context.Background()
	if err := h.Start(ctx, []pluginhost.Spec{{Name: "card", Path: path, SHA256: mustSHA(b, path)}}); err != nil {
		b.Fatal(err)
	}
	const pan = "4111111111111111"
	cfg := []byte(`{"token_key":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"card":[{"label":"bench","pan":"` + pan + `","expiry":"12/39","holder":"payer","credit_limit":1000000000000,"currency":"EUR"}]}`)
	res, err := h.Configure(ctx, "card", &pb.ConfigureRequest{
		InstanceId: "bank-a", Kind: pb.Kind_KIND_PAYMENT_METHOD, Method: pb.Method_METHOD_CARD, ConfigJson: cfg, DataDir: b.TempDir(),
		Institution: &pb.InstitutionInfo{Id: "bank-a", Roles: []string{"issuer"}, BinRanges: []string{"411111-411111"}},
	})
	if err != nil || sdk.HasErrors(res.GetDiagnostics()) {
		b.Fatalf("configure: %v %v", res.GetDiagnostics(), err)
	}
	m, err := h.PaymentMethod("card")
	if err != nil {
		b.Fatal(err)
	}
	inst, err := m.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: "bank-a", PaymentId: "resolve",
		Instrument: &pb.ResolveInstrumentRequest_Card{Card: &pb.CardInstrument{Pan: pan, ExpiryMonth: 12, ExpiryYear: 2039}}})
	if err != nil || inst.GetToken() == "" {
		b.Fatalf("resolve: %v %v", inst, err)
	}
	var seq atomic.Int64
	expires := time.Now().Add(time.Hour).Unix()
	measure(b, h.Status(ctx)[0].PID, true, func(ctx context.Context) error {
		o := &pb.Order{PaymentId: "pay-" + strconv.FormatInt(seq.Add(1), 10), MerchantId: "shop", AcquirerId: "bank-b", IssuerId: "bank-a",
			AmountMinor: 1, Currency: "EUR", Method: pb.Method_METHOD_CARD, OrderRef: "o", ExpiresAtUnix: expires}
		d := order.Digest(o)
		r, err := m.Debit(ctx, &pb.DebitRequest{InstanceId: "bank-a", Order: o, OrderDigest: d[:], Token: inst.GetToken()})
		if err != nil {
			return err
		}
		if r.GetState() != pb.OperationState_OPERATION_STATE_APPROVED {
			return fmt.Errorf("debit %v", r)
		}
		return nil
	})
}
