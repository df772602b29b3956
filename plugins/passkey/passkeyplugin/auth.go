package passkeyplugin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	bolt "go.etcd.io/bbolt"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// ChallengeData is the challenge_data of BeginMutualAuth.
type ChallengeData struct {
	// PublicKey is the PublicKeyCredentialRequestOptions for
	// navigator.credentials.get, with challenge and allowCredentials[].id
	// base64url. The challenge is Challenge(digest, nonce).
	PublicKey protocol.PublicKeyCredentialRequestOptions `json:"publicKey"`
	// Nonce is the issuer's one-time nonce, base64url without padding.
	Nonce string `json:"nonce"`
	// Digest is the order digest the challenge is bound to, lower-case hex.
	Digest string `json:"digest"`
}

// common checks what Begin and Finish share.
func (p *Plugin) common(instanceID string, o *pb.Order, digest []byte, payerRef string) (*instance, error) {
	inst, err := p.instance(instanceID)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, sdk.InvalidArgument("order", "missing")
	}
	if err := order.Verify(o, digest); err != nil {
		return nil, sdk.InvalidArgument("order_digest", "does not match the order")
	}
	if o.GetPaymentId() == "" {
		return nil, sdk.InvalidArgument("order.payment_id", "is empty")
	}
	if o.GetIssuerId() != inst.institutionID {
		return nil, sdk.InvalidArgument("order.issuer_id", "names %q, but this instance is issuer %q", o.GetIssuerId(), inst.institutionID)
	}
	if payerRef == "" {
		return nil, sdk.InvalidArgument("payer_ref", "is empty")
	}
	return inst, nil
}

func pendingKey(payerRef, paymentID string) []byte {
	return []byte(payerRef + "\x00" + paymentID)
}

func beginDecline(code string) *pb.BeginMutualAuthResponse {
	return &pb.BeginMutualAuthResponse{Mechanism: Mechanism, Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}
}

func finishDecline(code string) *pb.FinishMutualAuthResponse {
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_DECLINED, DeclineCode: code}
}

// BeginMutualAuth poses the issuer's WebAuthn challenge, bound to the order
// digest and a one-time nonce. payer_data must be empty or {}.
func (p *Plugin) BeginMutualAuth(ctx context.Context, req *pb.BeginMutualAuthRequest) (*pb.BeginMutualAuthResponse, error) {
	inst, err := p.common(req.GetInstanceId(), req.GetOrder(), req.GetOrderDigest(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	if err := emptyPayerData(req.GetPayerData()); err != nil {
		return nil, err
	}
	log := sdk.Logger().With("instance", inst.id, "payment_id", req.GetOrder().GetPaymentId(), "payer_ref", req.GetPayerRef())
	if _, ok := inst.payers[req.GetPayerRef()]; !ok {
		log.Warn("passkey: begin declined", "code", DeclineUnknownPayer)
		return beginDecline(DeclineUnknownPayer), nil
	}
	n, err := nonce()
	if err != nil {
		return nil, sdk.Internal(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var code string
	var data []byte
	// The fn may run more than once (group commit): it sets code and data
	// afresh.
	err = inst.db.Update(ctx, func(tx *bolt.Tx) error {
		code, data = "", nil
		b := inst.buckets(tx)
		var st payerState
		if _, err := getJSON(b.payers, []byte(req.GetPayerRef()), &st); err != nil {
			return err
		}
		if st.Locked {
			code = sdk.DeclineLocked
			return nil
		}
		var rec userRecord
		if _, err := getJSON(b.users, []byte(req.GetPayerRef()), &rec); err != nil {
			return err
		}
		if len(rec.Credentials) == 0 {
			code = DeclineUnknownPayer
			return nil
		}
		assertion, session, err := inst.wa.BeginLogin(&user{rec: &rec, name: inst.displayName(req.GetPayerRef())},
			webauthn.WithChallenge(Challenge(req.GetOrderDigest(), n)))
		if err != nil {
			return err
		}
		if data, err = json.Marshal(ChallengeData{
			PublicKey: assertion.Response,
			Nonce:     protocol.URLEncodedBase64(n).String(),
			Digest:    order.String(req.GetOrderDigest()),
		}); err != nil {
			return err
		}
		// A new Begin replaces any open challenge for the same payment.
		return putJSON(b.pending, pendingKey(req.GetPayerRef(), req.GetOrder().GetPaymentId()), pendingRecord{
			Digest:        req.GetOrderDigest(),
			Nonce:         n,
			Session:       *session,
			ExpiresUnixMS: p.now().Add(inst.ttl).UnixMilli(),
		})
	})
	if err != nil {
		return nil, storeError(ctx, log, err)
	}
	if code != "" {
		log.Warn("passkey: begin declined", "code", code)
		return beginDecline(code), nil
	}
	log.Info("passkey: challenge issued")
	return &pb.BeginMutualAuthResponse{Mechanism: Mechanism, ChallengeData: data, Verdict: pb.Verdict_VERDICT_APPROVED}, nil
}

// FinishMutualAuth verifies the payer's assertion against the challenge
// recomputed from this request's digest and the stored nonce. The open
// challenge is spent, right or wrong.
func (p *Plugin) FinishMutualAuth(ctx context.Context, req *pb.FinishMutualAuthRequest) (*pb.FinishMutualAuthResponse, error) {
	inst, err := p.common(req.GetInstanceId(), req.GetOrder(), req.GetOrderDigest(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(req.GetPayerData())
	if err != nil {
		return nil, sdk.InvalidArgument("payer_data", "not a WebAuthn assertion response: %s", details(err))
	}
	log := sdk.Logger().With("instance", inst.id, "payment_id", req.GetOrder().GetPaymentId(), "payer_ref", req.GetPayerRef())
	if _, ok := inst.payers[req.GetPayerRef()]; !ok {
		log.Warn("passkey: finish declined", "code", DeclineUnknownPayer)
		return finishDecline(DeclineUnknownPayer), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var code, reason string
	var failures int
	// The fn may run more than once (group commit): it sets code, reason
	// and failures afresh. The challenge is spent inside the transaction,
	// so two Finishes for one challenge cannot both see it, batched or not.
	err = inst.db.Update(ctx, func(tx *bolt.Tx) error {
		code, reason, failures = "", "", 0
		b := inst.buckets(tx)
		ref := []byte(req.GetPayerRef())
		var st payerState
		if _, err := getJSON(b.payers, ref, &st); err != nil {
			return err
		}
		if st.Locked {
			code = sdk.DeclineLocked
			return nil
		}
		var rec userRecord
		if _, err := getJSON(b.users, ref, &rec); err != nil {
			return err
		}
		if len(rec.Credentials) == 0 {
			code = DeclineUnknownPayer
			return nil
		}
		key := pendingKey(req.GetPayerRef(), req.GetOrder().GetPaymentId())
		var open pendingRecord
		found, err := getJSON(b.pending, key, &open)
		if err != nil {
			return err
		}
		if !found {
			// Spent, replaced, or never issued: a new Begin is needed.
			code = sdk.DeclineReplay
			return nil
		}
		if err := b.pending.Delete(key); err != nil {
			return err
		}
		if p.now().UnixMilli() > open.ExpiresUnixMS {
			code = sdk.DeclineReplay
			return nil
		}
		if reason = inst.verify(&rec, req.GetPayerRef(), &open, req.GetOrderDigest(), parsed); reason != "" {
			st.Failures++
			st.Locked = st.Failures >= inst.maxFailures
			failures = st.Failures
			code = sdk.DeclineAuthFailed
			return putJSON(b.payers, ref, st)
		}
		if st.Failures != 0 {
			if err := putJSON(b.payers, ref, payerState{}); err != nil {
				return err
			}
		}
		return putJSON(b.users, ref, rec)
	})
	if err != nil {
		return nil, storeError(ctx, log, err)
	}
	if code != "" {
		// reason stays in the issuer's log; the payer only sees the code.
		log.Warn("passkey: finish declined", "code", code, "reason", reason, "failures", failures)
		return finishDecline(code), nil
	}
	log.Info("passkey: payer authenticated")
	return &pb.FinishMutualAuthResponse{Verdict: pb.Verdict_VERDICT_APPROVED, Attestation: inst.attest(req.GetOrderDigest())}, nil
}

// verify checks the assertion and, when it passes, updates the credential
// (sign counter, flags) in rec. It returns why it failed, for the log, or
// "" when it passed. The challenge is derived again from the request's
// digest and the stored nonce, never trusted from the record or the
// browser.
func (inst *instance) verify(rec *userRecord, payerRef string, open *pendingRecord, digest []byte, parsed *protocol.ParsedCredentialAssertionData) string {
	if subtle.ConstantTimeCompare(open.Digest, digest) != 1 {
		return "the challenge was issued for another order"
	}
	session := open.Session
	session.Challenge = protocol.URLEncodedBase64(Challenge(digest, open.Nonce)).String()
	if subtle.ConstantTimeCompare([]byte(session.Challenge), []byte(open.Session.Challenge)) != 1 {
		return "the stored challenge is not bound to the order"
	}
	cred, err := inst.wa.ValidateLogin(&user{rec: rec, name: inst.displayName(payerRef)}, session, parsed)
	if err != nil {
		return details(err)
	}
	if cred.Authenticator.CloneWarning {
		return "the sign counter did not move forward (possible cloned authenticator)"
	}
	for i := range rec.Credentials {
		if bytes.Equal(rec.Credentials[i].ID, cred.ID) {
			rec.Credentials[i] = *cred
			return ""
		}
	}
	return "the credential is not the payer's"
}
