package flow

// Payment states (store.Payment.State).
const (
	StateCreated             = "created"
	StateMethodChosen        = "method_chosen"        // A: method picked, issuer routed, instrument resolved
	StateSellerAuthenticated = "seller_authenticated" // B: acquirer attested the order
	StatePayerAuthenticated  = "payer_authenticated"  // C: payer and issuer mutually authenticated
	StatePaid                = "paid"                 // D: issuer debited; notice to acquirer in the outbox
	StateApproved            = "approved"             // E: acquirer credited; seller's webhook in the outbox
	StateRefused             = "refused"              // B said no
	StateDeclined            = "declined"             // C or D said no (DeclineCode says why)
	StateExpired             = "expired"
	StateCancelled           = "cancelled"
	StateFailed              = "failed" // unrecoverable fault; money put back
)

// States lists every state, non-final first.
var States = []string{
	StateCreated, StateMethodChosen, StateSellerAuthenticated, StatePayerAuthenticated, StatePaid,
	StateApproved, StateRefused, StateDeclined, StateExpired, StateCancelled, StateFailed,
}

// IsFinal reports whether state is a final state: approved, refused,
// declined, expired, cancelled or failed.
func IsFinal(state string) bool {
	switch state {
	case StateApproved, StateRefused, StateDeclined, StateExpired, StateCancelled, StateFailed:
		return true
	}
	return false
}

// Event names what happened to a payment; with the current state it
// selects the next state from the transition table.
type Event string

// Events of the flow.
const (
	EvChoose        Event = "method_chosen"        // A: issuer routed, instrument resolved
	EvSellerOK      Event = "seller_authenticated" // B approved
	EvSellerRefused Event = "seller_refused"       // B declined
	EvPayerOK       Event = "payer_authenticated"  // C approved; Pending=debit is recorded with it
	EvPayerDeclined Event = "payer_declined"       // C declined, finally
	EvPayerRetry    Event = "payer_auth_failed"    // C declined, but the payer may try again in this payment
	EvDebited       Event = "debited"              // D: issuer debit approved
	EvDebitDeclined Event = "debit_declined"       // D: issuer debit declined
	EvReverseStart  Event = "reverse_started"      // a debit is about to be reversed (Pending=reverse_debit)
	EvCredited      Event = "credited"             // E: acquirer credit approved
	EvCreditRefused Event = "credit_refused"       // acquirer refused; the debit has been reversed
	EvExpire        Event = "expired"              // past ExpiresAt; held money released
	EvCancel        Event = "cancelled"            // merchant cancelled before the payer authenticated
	EvFail          Event = "failed"               // unrecoverable fault; money put back
)

// Events lists every event.
var Events = []Event{
	EvChoose, EvSellerOK, EvSellerRefused, EvPayerOK, EvPayerDeclined, EvPayerRetry, EvDebited, EvDebitDeclined,
	EvReverseStart, EvCredited, EvCreditRefused, EvExpire, EvCancel, EvFail,
}

type edge struct {
	from string
	ev   Event
}

// transitions is the one transition table: (from state, event) -> to state.
// A pair that is absent is illegal. Expire and Fail are legal from every
// non-final state; Cancel only before the payer authenticated.
var transitions = func() map[edge]string {
	t := map[edge]string{
		{StateCreated, EvChoose}:                    StateMethodChosen,
		{StateMethodChosen, EvSellerOK}:             StateSellerAuthenticated,
		{StateMethodChosen, EvSellerRefused}:        StateRefused,
		{StateSellerAuthenticated, EvPayerOK}:       StatePayerAuthenticated,
		{StateSellerAuthenticated, EvPayerDeclined}: StateDeclined,
		{StateSellerAuthenticated, EvPayerRetry}:    StateSellerAuthenticated,
		{StatePayerAuthenticated, EvDebited}:        StatePaid,
		{StatePayerAuthenticated, EvDebitDeclined}:  StateDeclined,
		{StatePayerAuthenticated, EvReverseStart}:   StatePayerAuthenticated,
		{StatePaid, EvReverseStart}:                 StatePaid,
		{StatePaid, EvCredited}:                     StateApproved,
		{StatePaid, EvCreditRefused}:                StateDeclined,
		{StateCreated, EvCancel}:                    StateCancelled,
		{StateMethodChosen, EvCancel}:               StateCancelled,
		{StateSellerAuthenticated, EvCancel}:        StateCancelled,
	}
	for _, s := range States {
		if !IsFinal(s) {
			t[edge{s, EvExpire}] = StateExpired
			t[edge{s, EvFail}] = StateFailed
		}
	}
	return t
}()

// Next returns the state that event ev leads to from state from, and false
// when the transition is illegal.
func Next(from string, ev Event) (string, bool) {
	to, ok := transitions[edge{from, ev}]
	return to, ok
}

// webhookType is the webhook event type sent when a payment reaches a
// final state.
func webhookType(state string) string { return "payment." + state }
