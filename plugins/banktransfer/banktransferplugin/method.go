package banktransferplugin

import (
	"context"

	"github.com/switchd/switchd/plugins/internal/ledgerset"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// ResolveInstrument implements sdk.PaymentMethod. The bank code must be the
// institution's (else not_issued_here); the number must match the bank's
// pattern and check digit (else INVALID_ARGUMENT: the payer mistyped it);
// it must be an account held here (else unknown_account). The token is a
// keyed hash of the account number.
func (p *Plugin) ResolveInstrument(_ context.Context, req *pb.ResolveInstrumentRequest) (*pb.ResolveInstrumentResponse, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	acct := req.GetAccount()
	if acct == nil {
		return nil, sdk.InvalidArgument("instrument", "the bank_transfer plugin needs an account instrument")
	}
	s := in.Settings
	if acct.GetBankCode() == "" || acct.GetBankCode() != s.bankCode {
		return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineNotIssuedHere}, nil
	}
	if err := s.format.ValidateAccount(acct.GetAccountNumber()); err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidArgument, Field: "account.account_number", Msg: "not an account number of this bank", Err: err}
	}
	a, ok := s.accounts[acct.GetAccountNumber()]
	if !ok {
		return &pb.ResolveInstrumentResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: sdk.DeclineUnknownAccount}, nil
	}
	return &pb.ResolveInstrumentResponse{
		Verdict:  pb.Verdict_VERDICT_APPROVED,
		Token:    a.token,
		Display:  Display(a.number),
		Last4:    last4(a.number),
		PayerRef: a.holder,
	}, nil
}

// Debit implements sdk.PaymentMethod: it moves the amount from the payer's
// account to the bank's clearing account, or declines with
// insufficient_funds when the balance and overdraft do not cover it.
func (p *Plugin) Debit(ctx context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	payer, ok := in.Settings.tokens[req.GetToken()]
	return ledgerset.Debit(ctx, in.Books, req.GetOrder(), ledgerAccount(payer.number), ok,
		sdk.DeclineInsufficientFunds, "token: no account of this bank has this token")
}

// Credit implements sdk.PaymentMethod: it moves the amount from the bank's
// clearing account to the seller's account (payee_account, an account held
// here). An unknown payee is declined with unknown_account.
func (p *Plugin) Credit(ctx context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	_, ok := in.Settings.accounts[req.GetPayeeAccount()]
	return ledgerset.Credit(ctx, in.Books, req.GetOrder(), ledgerAccount(req.GetPayeeAccount()), ok)
}

// Reverse implements sdk.PaymentMethod: a Debit's money goes back to the
// payer, a Credit's back to the clearing account, once.
func (p *Plugin) Reverse(ctx context.Context, req *pb.ReverseRequest) (*pb.MoneyResult, error) {
	return p.insts.Reverse(ctx, req)
}

// GetOperationStatus implements sdk.PaymentMethod.
func (p *Plugin) GetOperationStatus(ctx context.Context, req *pb.OperationStatusRequest) (*pb.MoneyResult, error) {
	return p.insts.GetOperationStatus(ctx, req)
}
