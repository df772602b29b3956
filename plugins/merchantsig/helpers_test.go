package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"slices"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// sellerConfig is the config of instance "acq": the attestation key from
// seed 32 times attByte (id "acq-k") and one shop, "shop", whose seller key
// "s1" is seller's public key.
func sellerConfig(attByte byte, seller ed25519.PrivateKey) []byte {
	cfg, _ := json.Marshal(map[string]any{
		"attestation_key":    base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{attByte}, 32)),
		"attestation_key_id": "acq-k",
		"merchant": []any{map[string]any{"id": "shop", "key": []any{
			map[string]any{"id": "s1", "public_key": base64.StdEncoding.EncodeToString(seller.Public().(ed25519.PublicKey))}}}},
	})
	return cfg
}

// signedRequests returns step B's request for o, its terms signed by
// seller at ms with key "s1", and the same signature replayed for the
// payment replayID.
func signedRequests(seller ed25519.PrivateKey, o *pb.Order, ms int64, replayID string) (req, replay *pb.AuthenticateSellerRequest) {
	d := order.Digest(o)
	req = &pb.AuthenticateSellerRequest{InstanceId: "acq", Order: o, OrderDigest: d[:], SellerKeyId: "s1", SignedAtUnixMs: ms,
		SellerSignature: ed25519.Sign(seller, order.SellerMessage(order.TermsDigest(o), ms))}
	replay = proto.Clone(req).(*pb.AuthenticateSellerRequest)
	replay.Order.PaymentId = replayID
	d2 := order.Digest(replay.Order)
	replay.OrderDigest = d2[:]
	return req, replay
}

// hostRecords stands in for the host's records of one instance: it
// commits an answer's state_writes (an empty value deletes) and returns
// the records in key order, as LoadState gets them.
type hostRecords map[string][]byte

func (h hostRecords) apply(writes []*pb.StateWrite) {
	for _, w := range writes {
		if len(w.GetValue()) == 0 {
			delete(h, string(w.GetKey()))
		} else {
			h[string(w.GetKey())] = bytes.Clone(w.GetValue())
		}
	}
}

func (h hostRecords) records() []*pb.StateWrite {
	out := make([]*pb.StateWrite, 0, len(h))
	for k, v := range h {
		out = append(out, &pb.StateWrite{Key: []byte(k), Value: v})
	}
	slices.SortFunc(out, func(a, b *pb.StateWrite) int { return bytes.Compare(a.Key, b.Key) })
	return out
}
