// Command hoststate is a test plugin for package pluginhost: a payment
// method and authenticator that lists the host_state capability and keeps
// one record per operation, keyed by payment id, in the host's store.
//
// Every answer about an operation returns its record as a state write
// (Debit "debit/<payment>", Credit "credit/<payment>", Reverse
// "reverse/<payment>", AuthenticateSeller "seller/<payment>"; the value is
// the amount), applied to its memory before it answers; a repeated call
// answers the same record. GetOperationStatus of a debit repeats its
// record, or answers NOT_FOUND. ResolveInstrument answers with display =
// the instance's records in memory as a JSON object, so a test can compare
// them with the store.
//
// A payment id with one of these prefixes makes Debit misbehave:
//
//	"slow:<d>:"   applies the debit, then answers only after d, ignoring the deadline
//	"badkey:"     applies the debit and answers with a 600-byte key
//	"bigvalue:"   applies the debit and answers with a value over 64 KiB
//	"toomany:"    applies the debit and answers with 5,000 writes
//	"refuse:"     answers FAILED_PRECONDITION and changes nothing
//
// Configure takes {"seed": n}: it writes "seed/<i>" for i < n.
// ExportState returns the records of <data_dir>/old.json (a JSON object
// of string keys and values) if that file exists.
//
// It appends what happens to <its own binary>.events, one line each:
// "start <pid>", "export <instance> <records>", "load <instance>
// <records>", "configure <instance>". If <its own binary>.nocap exists it
// does not list the host_state capability (but still answers with
// writes). If <its own binary>.slowload holds a duration (time.ParseDuration),
// LoadState takes that long, whatever its deadline, as the load of a large
// state does. Its config schema has one optional number, seed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

type counter struct {
	exe string

	mu    sync.Mutex
	state map[string]map[string]string // instance -> key -> value
	conf  map[string]bool
}

var (
	_ sdk.PaymentMethod = (*counter)(nil)
	_ sdk.Authenticator = (*counter)(nil)
	_ sdk.StateHolder   = (*counter)(nil)
)

func (c *counter) event(format string, args ...any) {
	f, err := os.OpenFile(c.exe+".events", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, format+"\n", args...)
	f.Close()
}

func (c *counter) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	info := &pb.GetInfoResponse{
		Name: "hoststate", Version: "1.0.0",
		Kinds:            []pb.Kind{pb.Kind_KIND_AUTHENTICATOR, pb.Kind_KIND_PAYMENT_METHOD},
		ProtocolVersions: []uint32{sdk.ProtocolVersion},
		Methods:          []pb.Method{pb.Method_METHOD_CARD},
		Capabilities:     []string{sdk.CapSellerAuth, sdk.CapHostState},
		ConfigSchema: &pb.Schema{Attributes: []*pb.Attribute{
			sdk.Attr("seed", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false, "how many seed records Configure writes"),
		}},
	}
	if _, err := os.Stat(c.exe + ".nocap"); err == nil {
		info.Capabilities = []string{sdk.CapSellerAuth}
	}
	return info, nil
}

func (c *counter) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	var cfg struct {
		Seed int `json:"seed"`
	}
	if err := json.Unmarshal(req.GetConfigJson(), &cfg); err != nil {
		return nil, sdk.InvalidArgument("config_json", "not a JSON object")
	}
	inst := req.GetInstanceId()
	c.mu.Lock()
	defer c.mu.Unlock()
	res := &pb.ConfigureResponse{}
	for i := range cfg.Seed {
		k := "seed/" + strconv.Itoa(i)
		c.put(inst, k, "1")
		res.StateWrites = append(res.StateWrites, &pb.StateWrite{Key: []byte(k), Value: []byte("1")})
	}
	c.conf[inst] = true
	c.event("configure %s", inst)
	return res, nil
}

func (c *counter) put(inst, k, v string) {
	if c.state[inst] == nil {
		c.state[inst] = map[string]string{}
	}
	c.state[inst][k] = v
}

func (c *counter) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{Serving: true}, nil
}

func (c *counter) LoadState(_ context.Context, inst string, records []*pb.StateWrite) error {
	if b, err := os.ReadFile(c.exe + ".slowload"); err == nil {
		d, err := time.ParseDuration(strings.TrimSpace(string(b)))
		if err != nil {
			return sdk.InvalidArgument("slowload", "%v", err)
		}
		time.Sleep(d)
	}
	m := map[string]string{}
	for _, r := range records {
		m[string(r.GetKey())] = string(r.GetValue())
	}
	c.mu.Lock()
	c.state[inst] = m
	c.mu.Unlock()
	c.event("load %s %d", inst, len(records))
	return nil
}

func (c *counter) ExportState(_ context.Context, inst, dataDir string) ([]*pb.StateWrite, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "old.json"))
	if errors.Is(err, fs.ErrNotExist) {
		c.event("export %s 0", inst)
		return nil, nil
	}
	if err != nil {
		return nil, sdk.Internal(err)
	}
	var old map[string]string
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, sdk.Internal(err)
	}
	keys := make([]string, 0, len(old))
	for k := range old {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*pb.StateWrite
	for _, k := range keys {
		out = append(out, &pb.StateWrite{Key: []byte(k), Value: []byte(old[k])})
	}
	c.event("export %s %d", inst, len(out))
	return out, nil
}

// apply records an operation and returns the writes that make it true.
func (c *counter) apply(inst, key string, amount int64) ([]*pb.StateWrite, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.conf[inst] {
		return nil, sdk.FailedPrecondition("instance %q is not configured", inst)
	}
	v, ok := c.state[inst][key]
	if !ok {
		v = strconv.FormatInt(amount, 10)
		c.put(inst, key, v)
	}
	return []*pb.StateWrite{{Key: []byte(key), Value: []byte(v)}}, nil
}

func money(id string, amount int64, writes []*pb.StateWrite) *pb.MoneyResult {
	return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_APPROVED, Reference: id, AmountMinor: amount, Currency: "EUR", StateWrites: writes}
}

func (c *counter) Debit(_ context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error) {
	id, amount := req.GetOrder().GetPaymentId(), req.GetOrder().GetAmountMinor()
	if strings.HasPrefix(id, "refuse:") {
		return nil, sdk.FailedPrecondition("refused")
	}
	writes, err := c.apply(req.GetInstanceId(), "debit/"+id, amount)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(id, "slow:"):
		d, err := time.ParseDuration(strings.SplitN(id, ":", 3)[1])
		if err != nil {
			return nil, sdk.InvalidArgument("payment_id", "bad duration")
		}
		time.Sleep(d)
	case strings.HasPrefix(id, "badkey:"):
		writes = append(writes, &pb.StateWrite{Key: []byte(strings.Repeat("k", 600)), Value: []byte("1")})
	case strings.HasPrefix(id, "bigvalue:"):
		writes = append(writes, &pb.StateWrite{Key: []byte("big/" + id), Value: make([]byte, 64<<10+1)})
	case strings.HasPrefix(id, "toomany:"):
		for i := range 5000 {
			writes = append(writes, &pb.StateWrite{Key: []byte(fmt.Sprintf("many/%s/%d", id, i)), Value: []byte("1")})
		}
	}
	return money(id, amount, writes), nil
}

func (c *counter) Credit(_ context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error) {
	id, amount := req.GetOrder().GetPaymentId(), req.GetOrder().GetAmountMinor()
	writes, err := c.apply(req.GetInstanceId(), "credit/"+id, amount)
	if err != nil {
		return nil, err
	}
	return money(id, amount, writes), nil
}

func (c *counter) Reverse(_ context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	writes, err := c.apply(req.GetInstanceId(), "reverse/"+req.GetPaymentId(), 0)
	if err != nil {
		return nil, err
	}
	res := money(req.GetPaymentId(), 0, writes)
	res.State = pb.OperationState_OPERATION_STATE_REVERSED
	return res, nil
}

func (c *counter) GetOperationStatus(_ context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	key := "debit/" + req.GetPaymentId()
	c.mu.Lock()
	v, ok := c.state[req.GetInstanceId()][key]
	c.mu.Unlock()
	if !ok {
		return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_NOT_FOUND}, nil
	}
	amount, _ := strconv.ParseInt(v, 10, 64)
	return money(req.GetPaymentId(), amount, []*pb.StateWrite{{Key: []byte(key), Value: []byte(v)}}), nil
}

func (c *counter) ResolveInstrument(_ context.Context, req *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	c.mu.Lock()
	b, err := json.Marshal(c.state[req.GetInstanceId()])
	c.mu.Unlock()
	if err != nil {
		return nil, sdk.Internal(err)
	}
	return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Display: string(b)}, nil
}

func (c *counter) AuthenticateSeller(_ context.Context, req *pb.AuthenticateSellerRequest) (*pb.AuthenticateSellerResponse, error) {
	writes, err := c.apply(req.GetInstanceId(), "seller/"+req.GetOrder().GetPaymentId(), req.GetOrder().GetAmountMinor())
	if err != nil {
		return nil, err
	}
	return &pb.AuthenticateSellerResponse{Verdict: pb.Verdict_VERDICT_APPROVED, StateWrites: writes}, nil
}

var errNoMutualAuth = sdk.FailedPrecondition("the hoststate test plugin does no mutual authentication")

func (c *counter) BeginMutualAuth(context.Context, *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	return nil, errNoMutualAuth
}

func (c *counter) FinishMutualAuth(context.Context, *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	return nil, errNoMutualAuth
}

func main() {
	exe, _ := os.Executable()
	c := &counter{exe: exe, state: map[string]map[string]string{}, conf: map[string]bool{}}
	c.event("start %d", os.Getpid())
	sdk.Serve(c)
}
