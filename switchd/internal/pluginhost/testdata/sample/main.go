// Command sample is a test plugin for package pluginhost. It is a payment
// method whose ResolveInstrument obeys the payment_id it is given:
//
//	"hang"        never answers, ignoring the deadline
//	"sleep:<d>"   answers after d (a time.Duration), or when ctx ends
//	"crash"       exits the process with status 3
//	anything else answers with display = the instance's configured greeting
//
// On start it appends its pid to <its own binary>.started, so a test can
// tell whether it ever ran. Configure takes {"greeting": "..."} and logs
// "configured" with the instance id.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

type sample struct {
	mu        sync.Mutex
	greetings map[string]string
}

var _ sdk.PaymentMethod = (*sample)(nil)

func (s *sample) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{
		Name: "sample", Version: "1.2.3",
		Kinds:            []pb.Kind{pb.Kind_KIND_PAYMENT_METHOD},
		ProtocolVersions: []uint32{sdk.ProtocolVersion},
		Methods:          []pb.Method{pb.Method_METHOD_CARD},
	}, nil
}

func (s *sample) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	var cfg struct {
		Greeting string `json:"greeting"`
	}
	if err := json.Unmarshal(req.GetConfigJson(), &cfg); err != nil {
		return nil, sdk.InvalidArgument("config_json", "not a JSON object")
	}
	if cfg.Greeting == "" {
		return &pb.ConfigureResponse{Diagnostics: []*pb.Diagnostic{{
			Severity: pb.Severity_SEVERITY_ERROR, Summary: "greeting is required",
		}}}, nil
	}
	s.mu.Lock()
	s.greetings[req.GetInstanceId()] = cfg.Greeting
	s.mu.Unlock()
	sdk.Logger().Info("configured", "instance", req.GetInstanceId())
	return &pb.ConfigureResponse{}, nil
}

func (s *sample) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{Serving: true}, nil
}

func (s *sample) ResolveInstrument(ctx context.Context, req *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	switch id := req.GetPaymentId(); {
	case id == "hang":
		time.Sleep(time.Hour)
	case id == "crash":
		os.Exit(3)
	case strings.HasPrefix(id, "sleep:"):
		d, err := time.ParseDuration(strings.TrimPrefix(id, "sleep:"))
		if err != nil {
			return nil, sdk.InvalidArgument("payment_id", "bad duration")
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	g, ok := s.greetings[req.GetInstanceId()]
	s.mu.Unlock()
	if !ok {
		return nil, sdk.FailedPrecondition("instance %q is not configured", req.GetInstanceId())
	}
	return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Display: g}, nil
}

var errNoMoney = sdk.FailedPrecondition("the sample plugin moves no money")

func (s *sample) Debit(context.Context, *pb.DebitRequest) (*pb.MoneyResult, error) {
	return nil, errNoMoney
}

func (s *sample) Credit(context.Context, *pb.CreditRequest) (*pb.MoneyResult, error) {
	return nil, errNoMoney
}

func (s *sample) Reverse(context.Context, *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return nil, errNoMoney
}

func (s *sample) GetOperationStatus(context.Context, *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return nil, errNoMoney
}

func main() {
	if exe, err := os.Executable(); err == nil {
		if f, err := os.OpenFile(exe+".started", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, os.Getpid())
			f.Close()
		}
	}
	sdk.Serve(&sample{greetings: map[string]string{}})
}
