package flow

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/store"
)

func TestPayerView(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.e.Config().Infos = map[string]*pb.GetInfoResponse{"auth": {Name: "auth", Capabilities: []string{"mutual_auth", "ocra"}}}
	_, token := h.create(1500, "good")
	v, err := h.e.PayerView(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if v.MerchantName != "The Shop" || v.AcquirerName != "Acquirer Bank" || v.IssuerName != "" || v.Mechanism != "" || v.DigestHex != "" {
		t.Fatalf("before A: %+v", v)
	}
	if !slices.Equal(v.Methods, []string{"bank_transfer", "card"}) || len(v.Banks) != 1 || v.Banks[0] != (Bank{ID: "issuer", Name: "Issuer Bank", BankCode: "001"}) {
		t.Fatalf("methods %v banks %v", v.Methods, v.Banks)
	}
	v = must(h.e.ChooseMethod(ctx, token, card))
	if v.IssuerName != "Issuer Bank" || v.Mechanism != "ocra" || len(v.DigestHex) != 64 {
		t.Fatalf("after B: %+v", v)
	}
	for _, tok := range []string{"", "nope", token + "x"} {
		if _, err := h.e.PayerView(ctx, tok); !errors.Is(err, ErrNotFound) {
			t.Fatalf("token %q: %v", tok, err)
		}
	}
}

func TestEnrollment(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		enrolls bool
		choose  bool
		code    string
	}{
		{"before A", true, false, CodeInvalidState},
		{"plugin does not enrol", false, true, CodeInvalidState},
		{"enrols", true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.plugins.auth.enrolls = tc.enrolls
			_, token := h.create(100, "good")
			if tc.choose {
				must(h.e.ChooseMethod(ctx, token, card))
			}
			ch, err := h.e.BeginEnrollment(ctx, token, []byte(`{}`))
			if tc.code != "" {
				var fe *Error
				if !errors.As(err, &fe) || fe.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || string(ch.ChallengeData) != `{"enrol":"alice"}` {
				t.Fatalf("begin: %v %+v", err, ch)
			}
			if err := h.e.FinishEnrollment(ctx, token, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h.plugins.auth.enrolled, []string{"issuer/alice"}) {
				t.Fatalf("enrolled %v", h.plugins.auth.enrolled)
			}
		})
	}
}

// TestMerchantIsolation: another merchant's payment is not found through
// any merchant call, exactly like a payment that does not exist.
func TestMerchantIsolation(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	p, _ := h.create(100, "good")
	calls := map[string]func(merchant, id string) error{
		"get":    func(m, id string) error { _, err := h.e.GetPayment(ctx, m, id); return err },
		"cancel": func(m, id string) error { _, err := h.e.CancelPayment(ctx, m, id); return err },
		"events": func(m, id string) error { _, err := h.e.Events(ctx, m, id); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			for _, id := range []string{p.ID, "pay_doesnotexist"} {
				if err := call("other", id); !errors.Is(err, ErrNotFound) {
					t.Fatalf("%s as other merchant: %v", id, err)
				}
			}
		})
	}
	if ps, _, _ := h.e.ListPayments(ctx, "other", "", 10); len(ps) != 0 {
		t.Fatalf("other merchant lists %d payments", len(ps))
	}
	if got := h.payment(p.ID); got.State != StateCreated {
		t.Fatalf("state %s", got.State)
	}
}

func TestResendWebhook(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	var resent []string
	h.e.opts.Resend = func(_ context.Context, id string) error { resent = append(resent, id); return nil }
	p, _ := h.create(100, "good")
	must(h.e.CancelPayment(ctx, "shop", p.ID))
	h.wg.Wait()
	var msgs []*store.OutboxMessage
	h.st.View(ctx, func(tx store.Tx) error { var err error; msgs, err = tx.OutboxFor(p.ID); return err })
	if len(msgs) != 1 || msgs[0].Kind != store.KindWebhook {
		t.Fatalf("outbox %+v", msgs)
	}
	if err := h.e.ResendWebhook(ctx, msgs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := h.e.ResendWebhook(ctx, "wh_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if !slices.Equal(resent, []string{msgs[0].ID}) {
		t.Fatalf("resent %v", resent)
	}
}

func TestPageURLIsDerivedNotStored(t *testing.T) {
	h := newHarness(t)
	p, token := h.create(100, "good")
	stored := h.payment(p.ID)
	if got := h.e.PageURL(stored); !strings.HasSuffix(got, "/pay/"+token) {
		t.Fatalf("PageURL = %q, want it to end in the token returned at create", got)
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), token) {
		t.Fatal("the payer token is stored in the clear")
	}
}

func TestPluginErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{sdk.InvalidArgument("x", "bad"), CodeInvalidRequest},
		{sdk.FailedPrecondition("the payer already has a passkey"), CodeInvalidState},
		{&sdk.Error{Code: sdk.CodeUnimplemented, Msg: "no enrolment"}, CodeInvalidState},
		{sdk.Unavailable(errors.New("down")), CodePluginUnavailable},
		{sdk.Internal(errors.New("bug")), CodeInternal},
	} {
		if got := pluginErr("p", "rpc", tc.err).Code; got != tc.want {
			t.Errorf("%v -> %s, want %s", tc.err, got, tc.want)
		}
	}
}
