package cardplugin

import (
	"context"

	"github.com/switchd/switchd/plugins/internal/ledgerset"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

func declined(code string) *pb.ResolveInstrumentResponse {
	return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}
}

// ResolveInstrument implements sdk.PaymentMethod. It checks the card's form
// (digits, length, Luhn, expiry month), that the institution issues its BIN,
// that it has not expired, and that it is a card of this issuer with that
// expiry. Only the token, BIN, last four digits, display string and the
// holder's payer reference leave it.
func (p *Plugin) ResolveInstrument(_ context.Context, req *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	c := req.GetCard()
	if c == nil {
		return nil, sdk.InvalidArgument("instrument", "the card plugin needs a card instrument")
	}
	pan := c.GetPan()
	if ValidatePAN(pan) != nil || c.GetExpiryMonth() < 1 || c.GetExpiryMonth() > 12 || c.GetExpiryYear() < 2000 || c.GetExpiryYear() > 2099 {
		return declined(sdk.DeclineInvalidCard), nil
	}
	s := in.Settings
	if !s.issues(pan) {
		return declined(sdk.DeclineNotIssuedHere), nil
	}
	exp := Expiry{Month: int(c.GetExpiryMonth()), Year: int(c.GetExpiryYear())}
	if exp.Expired(p.now()) {
		return declined(sdk.DeclineCardExpired), nil
	}
	tok := Tokenize(s.tokenKey, pan)
	known, ok := s.cards[tok]
	if !ok || known.expiry != exp {
		return declined(sdk.DeclineInvalidCard), nil
	}
	return &pb.ResolveInstrumentResponse{
		Verdict:  pb.Verdict_VERDICT_APPROVED,
		Token:    tok,
		Display:  Display(pan),
		Bin:      pan[:6],
		Last4:    pan[len(pan)-4:],
		PayerRef: known.holder,
	}, nil
}

// Debit implements sdk.PaymentMethod: single-message authorize-and-capture.
// It moves the amount from the card's account to the issuer's clearing
// account at once, or declines with limit_exceeded when the credit line is
// too short. There is no separate hold; Reverse puts the money back.
func (p *Plugin) Debit(ctx context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	_, ok := in.Settings.cards[req.GetToken()]
	return ledgerset.Debit(ctx, in.Books, req.GetOrder(), cardAccount(req.GetToken()), ok,
		sdk.DeclineLimitExceeded, "token: no card of this issuer has this token")
}

// Credit implements sdk.PaymentMethod: it records the seller's receivable,
// moving the amount from the acquirer's clearing account (which goes
// negative: the scheme owes it) to the merchant's settlement account. An
// unknown payee account is declined with unknown_account.
func (p *Plugin) Credit(ctx context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	_, ok := in.Settings.merchants[req.GetPayeeAccount()]
	return ledgerset.Credit(ctx, in.Books, req.GetOrder(), merchantAccount(req.GetPayeeAccount()), ok)
}

// Reverse implements sdk.PaymentMethod: a Debit's money goes back to the
// card, a Credit's back to the clearing account, once.
func (p *Plugin) Reverse(ctx context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return p.insts.Reverse(ctx, req)
}

// GetOperationStatus implements sdk.PaymentMethod.
func (p *Plugin) GetOperationStatus(ctx context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return p.insts.GetOperationStatus(ctx, req)
}
