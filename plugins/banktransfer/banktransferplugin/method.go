package banktransferplugin

import (
	"context"

	"github.com/switchd/switchd/plugins/internal/ledger"
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

func checkOrder(o *pb.Order) error {
	if o.GetPaymentId() == "" {
		return sdk.InvalidArgument("order.payment_id", "is required")
	}
	if o.GetAmountMinor() <= 0 {
		return sdk.InvalidArgument("order.amount_minor", "must be positive")
	}
	return nil
}

// Debit implements sdk.PaymentMethod: it moves the amount from the payer's
// account to the bank's clearing account, or declines with
// insufficient_funds when the balance and overdraft do not cover it.
func (p *Plugin) Debit(ctx context.Context, req *pb.DebitRequest) (*pb.MoneyResult, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	o := req.GetOrder()
	if err := checkOrder(o); err != nil {
		return nil, err
	}
	payer, ok := in.Settings.tokens[req.GetToken()]
	if !ok {
		// An account removed since the first attempt still answers a retry.
		if st, err := in.Books.Status(ctx, o.GetPaymentId(), ledger.OpDebit); err == nil && st.State != ledger.StateNotFound {
			return ledger.MoneyResult(st), nil
		}
		return nil, sdk.NotFound("token: no account of this bank has this token")
	}
	r, err := in.Books.Transfer(ctx, ledger.Transfer{
		PaymentID:    o.GetPaymentId(),
		Operation:    ledger.OpDebit,
		From:         ledgerAccount(payer.number),
		To:           ledger.ClearingAccount(o.GetCurrency()),
		Amount:       o.GetAmountMinor(),
		Currency:     o.GetCurrency(),
		ShortDecline: sdk.DeclineInsufficientFunds,
	})
	if err != nil {
		return nil, ledger.SDKError(err)
	}
	return ledger.MoneyResult(r), nil
}

// Credit implements sdk.PaymentMethod: it moves the amount from the bank's
// clearing account to the seller's account (payee_account, an account held
// here). An unknown payee is declined with unknown_account.
func (p *Plugin) Credit(ctx context.Context, req *pb.CreditRequest) (*pb.MoneyResult, error) {
	in, err := p.instance(req.GetInstanceId())
	if err != nil {
		return nil, err
	}
	o := req.GetOrder()
	if err := checkOrder(o); err != nil {
		return nil, err
	}
	if _, ok := in.Settings.accounts[req.GetPayeeAccount()]; !ok {
		if st, err := in.Books.Status(ctx, o.GetPaymentId(), ledger.OpCredit); err == nil && st.State != ledger.StateNotFound {
			return ledger.MoneyResult(st), nil
		}
		return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_DECLINED, DeclineCode: sdk.DeclineUnknownAccount, AmountMinor: o.GetAmountMinor(), Currency: o.GetCurrency()}, nil
	}
	r, err := in.Books.Transfer(ctx, ledger.Transfer{
		PaymentID: o.GetPaymentId(),
		Operation: ledger.OpCredit,
		From:      ledger.ClearingAccount(o.GetCurrency()),
		To:        ledgerAccount(req.GetPayeeAccount()),
		Amount:    o.GetAmountMinor(),
		Currency:  o.GetCurrency(),
	})
	if err != nil {
		return nil, ledger.SDKError(err)
	}
	return ledger.MoneyResult(r), nil
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
