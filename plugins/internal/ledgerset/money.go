package ledgerset

import (
	"context"

	"github.com/switchd/switchd/plugins/internal/ledger"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// CheckOrder checks what Debit and Credit need of an order: a payment id
// (the idempotency key) and a positive amount.
func CheckOrder(o *pb.Order) error {
	if o.GetPaymentId() == "" {
		return sdk.InvalidArgument("order.payment_id", "is required")
	}
	if o.GetAmountMinor() <= 0 {
		return sdk.InvalidArgument("order.amount_minor", "must be positive")
	}
	return nil
}

// Debit moves o's amount from the payer's account from to the clearing
// account of o's currency, or declines with short when the balance and
// the limit do not cover it. known says whether the instrument is one the
// instance holds now; an unknown one still answers a retry of a debit made
// before it was removed, and is otherwise NotFound with notFound as the
// message.
func Debit(ctx context.Context, books ledger.Core, o *pb.Order, from string, known bool, short, notFound string) (*pb.MoneyResult, error) {
	if err := CheckOrder(o); err != nil {
		return nil, err
	}
	if !known {
		if st, w, err := books.Status(ctx, o.GetPaymentId(), ledger.OpDebit); err == nil && st.State != ledger.StateNotFound {
			return ledger.MoneyResult(st, w), nil
		}
		return nil, sdk.NotFound("%s", notFound)
	}
	return transfer(ctx, books, ledger.Transfer{
		PaymentID: o.GetPaymentId(), Operation: ledger.OpDebit,
		From: from, To: ledger.ClearingAccount(o.GetCurrency()),
		Amount: o.GetAmountMinor(), Currency: o.GetCurrency(), ShortDecline: short,
	})
}

// Credit moves o's amount from the clearing account of o's currency to
// the payee's account to. known says whether the payee account is one the
// instance holds now; an unknown one still answers a retry of a credit made
// before it was removed, and is otherwise declined with unknown_account.
func Credit(ctx context.Context, books ledger.Core, o *pb.Order, to string, known bool) (*pb.MoneyResult, error) {
	if err := CheckOrder(o); err != nil {
		return nil, err
	}
	if !known {
		if st, w, err := books.Status(ctx, o.GetPaymentId(), ledger.OpCredit); err == nil && st.State != ledger.StateNotFound {
			return ledger.MoneyResult(st, w), nil
		}
		return &pb.MoneyResult{State: pb.OperationState_OPERATION_STATE_DECLINED, DeclineCode: sdk.DeclineUnknownAccount,
			AmountMinor: o.GetAmountMinor(), Currency: o.GetCurrency()}, nil
	}
	return transfer(ctx, books, ledger.Transfer{
		PaymentID: o.GetPaymentId(), Operation: ledger.OpCredit,
		From: ledger.ClearingAccount(o.GetCurrency()), To: to,
		Amount: o.GetAmountMinor(), Currency: o.GetCurrency(),
	})
}

func transfer(ctx context.Context, books ledger.Core, t ledger.Transfer) (*pb.MoneyResult, error) {
	r, w, err := books.Transfer(ctx, t)
	if err != nil {
		return nil, ledger.SDKError(err)
	}
	return ledger.MoneyResult(r, w), nil
}
