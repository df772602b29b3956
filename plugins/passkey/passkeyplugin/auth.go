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
	st, rec, err := inst.payer(req.GetPayerRef())
	if err != nil {
		return nil, storeError(ctx, log, err)
	}
	if code := beginCode(st, &rec); code != "" {
		log.Warn("passkey: begin declined", "code", code)
		return beginDecline(code), nil
	}
	assertion, session, err := inst.wa.BeginLogin(&user{rec: &rec, name: inst.displayName(req.GetPayerRef())},
		webauthn.WithChallenge(Challenge(req.GetOrderDigest(), n)))
	if err != nil {
		return nil, sdk.Internal(err)
	}
	data, err := json.Marshal(ChallengeData{
		PublicKey: assertion.Response,
		Nonce:     protocol.URLEncodedBase64(n).String(),
		Digest:    order.String(req.GetOrderDigest()),
	})
	if err != nil {
		return nil, sdk.Internal(err)
	}
	// A new Begin replaces any open challenge for the same payment. It
	// lives in memory only (openSet): Begin writes nothing to disk.
	now := p.now()
	p.open.Put(p.open.Payer(inst.id, req.GetPayerRef()), req.GetOrder().GetPaymentId(), pendingRecord{
		digest:    bytes.Clone(req.GetOrderDigest()),
		nonce:     n,
		session:   *session,
		expiresMS: now.Add(inst.ttl).UnixMilli(),
	}, now.UnixMilli())
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
	code, reason, failures, err := p.spend(ctx, inst, req, parsed)
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

// beginCode is the decline code for a payer who cannot answer a
// challenge now, or "".
func beginCode(st payerState, rec *userRecord) string {
	switch {
	case st.Locked:
		return sdk.DeclineLocked
	case len(rec.Credentials) == 0:
		return DeclineUnknownPayer
	}
	return ""
}

// spend takes the payment's open challenge and checks the assertion: it
// returns "" when the payer is authenticated, else the decline code (and,
// after a failed assertion, why it failed and the payer's failure count).
// The payer's Finishes run one at a time, so the lock, the failure count
// and the credential's sign counter read here are current until they are
// written. A locked payer, or one without a passkey, is refused before the
// challenge is touched; otherwise the challenge is spent, right or wrong.
//
// What must outlive a restart is written to passkey.db before the verdict
// is returned, even if the caller has gone: the failure count after a
// failed assertion, its reset by the next good one, and the credential
// when the assertion changed it. An approved assertion changes the
// credential whenever the authenticator keeps a sign counter (security
// keys; go-webauthn then stores the new count, which must only move
// forward); synced passkeys report 0 every time, so an approved Finish of
// a payer with no failures writes nothing.
func (p *Plugin) spend(ctx context.Context, inst *instance, req *pb.FinishMutualAuthRequest, parsed *protocol.ParsedCredentialAssertionData) (code, reason string, failures int, err error) {
	payerRef := req.GetPayerRef()
	po := p.open.Payer(inst.id, payerRef)
	po.Finish.Lock()
	defer po.Finish.Unlock()
	if err := ctx.Err(); err != nil {
		return "", "", 0, err
	}
	st, rec, err := inst.payer(payerRef)
	if err != nil {
		return "", "", 0, err
	}
	if code := beginCode(st, &rec); code != "" {
		return code, "", 0, nil
	}
	open, ok := p.open.Take(po, req.GetOrder().GetPaymentId())
	if !ok || p.now().UnixMilli() > open.expiresMS {
		// Spent, replaced, expired, forgotten at a restart, or never
		// issued: a new Begin is needed.
		return sdk.DeclineReplay, "", 0, nil
	}
	stored, err := json.Marshal(rec)
	if err != nil {
		return "", "", 0, err
	}
	reason = inst.verify(&rec, payerRef, &open, req.GetOrderDigest(), parsed)
	var updated []byte // the payer's record, if the assertion changed it
	if reason == "" {
		if updated, err = json.Marshal(rec); err != nil {
			return "", "", 0, err
		}
		if bytes.Equal(updated, stored) {
			updated = nil
		}
	}
	writeState := reason != "" || st.Failures != 0
	if !writeState && updated == nil {
		return "", "", 0, nil
	}
	code, failures = st.Answer(reason == "", inst.maxFailures)
	// The fn may run more than once (group commit); it writes the same
	// records each time.
	err = inst.db.Update(context.WithoutCancel(ctx), func(tx *bolt.Tx) error {
		b := inst.buckets(tx)
		if writeState {
			if err := putJSON(b.payers, []byte(payerRef), st); err != nil {
				return err
			}
		}
		if updated != nil {
			return b.users.Put([]byte(payerRef), updated)
		}
		return nil
	})
	return code, reason, failures, err
}

// verify checks the assertion and, when it passes, updates the credential
// (sign counter, flags) in rec. It returns why it failed, for the log, or
// "" when it passed. The challenge is derived again from the request's
// digest and the stored nonce, never trusted from the record or the
// browser.
func (inst *instance) verify(rec *userRecord, payerRef string, open *pendingRecord, digest []byte, parsed *protocol.ParsedCredentialAssertionData) string {
	if subtle.ConstantTimeCompare(open.digest, digest) != 1 {
		return "the challenge was issued for another order"
	}
	session := open.session
	session.Challenge = protocol.URLEncodedBase64(Challenge(digest, open.nonce)).String()
	if subtle.ConstantTimeCompare([]byte(session.Challenge), []byte(open.session.Challenge)) != 1 {
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
